"""The benchmark scripts that need the `bench` extra say so instead of failing on an import."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# runs a benchmark script as `python script.py --quick` would, with libcosimpy not importable
WITHOUT_LIBCOSIM = """
import runpy, sys
sys.modules["libcosimpy"] = None
sys.argv = [sys.argv[1], "--quick"]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_compare_cosim_names_the_bench_extra_when_libcosim_is_missing():
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_LIBCOSIM, str(ROOT / "benchmarks" / "compare_cosim.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == (
        'this benchmark compares against libcosim: pip install "fmitwin[bench]"'
    )
