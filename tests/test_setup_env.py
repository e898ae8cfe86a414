"""scripts/setup-test-env (the README's test command): where a system package the tests need
cannot be installed, it names the package, what it is for and the command to run, and stops
before installing anything else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "setup-test-env"


def test_system_packages_include_the_mqtt_broker() -> None:
    assert '"mosquitto:mosquitto:' in SCRIPT.read_text()


def test_uninstallable_package_is_named_with_the_command(tmp_path: Path) -> None:
    # a copy whose package list names a program that is nowhere, run where apt-get is not found
    text = SCRIPT.read_text()
    entry = next(line for line in text.splitlines() if line.startswith('  "mosquitto:'))
    copy = tmp_path / "scripts" / "setup-test-env"
    copy.parent.mkdir()
    copy.write_text(text.replace(entry, '  "no-such-program:no-such-package:a test entry"'))
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("id", "env", "cat"):  # what the script uses besides bash builtins
        for folder in ("/usr/bin", "/bin"):
            if Path(folder, tool).exists():
                (tools / tool).symlink_to(Path(folder, tool))
                break
    done = subprocess.run(
        ["/bin/bash", str(copy)],
        cwd=tmp_path,
        env={"PATH": str(tools), "PYTHON": sys.executable, "HOME": os.environ.get("HOME", "/")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "no-such-package: a test entry" in done.stderr
    assert "sudo apt-get install no-such-package" in done.stderr
    assert "pip" not in done.stdout  # stopped before installing the Python packages
