"""The documentation: the site builds with warnings as errors, and every snippet in README.md and
docs/ runs, so none goes stale.

Snippet convention (one test per page; the page's snippets run in order, in a fresh temporary
folder that is the working directory):

* ```python fences run in one namespace shared by the page's python fences;
* a fence with a title (```toml title="twin.toml") is written to that file first;
* ```console fences: each ``$ `` line (continued by a trailing backslash) is a shell command that
  must exit 0; other lines are sample output;
* anything else (```text, ```bash install lines, untitled ```toml) is shown, not run.

A failure names the page and the line of the fence or command.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
COMMAND_TIMEOUT_S = 120

_OPENING = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_TITLE = re.compile(r"""title=(?:"([^"]*)"|'([^']*)'|(\S+))""")


@dataclass(frozen=True)
class Fence:
    language: str
    title: str | None
    line: int  # 1-based line number of the fence's first content line
    text: str


def fences(page: Path) -> list[Fence]:
    """The fenced code blocks of a Markdown page, dedented by their opening fence's indent."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found, index = [], 0
    while index < len(lines):
        opening = _OPENING.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, marker, info = opening["indent"], opening["fence"], opening["info"].strip()
        closing = re.compile(rf"^[ \t]*{re.escape(marker[0])}{{{len(marker)},}}\s*$")
        body, index = [], index + 1
        first = index + 1
        while index < len(lines) and not closing.match(lines[index]):
            line = lines[index]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            index += 1
        if index == len(lines):
            raise AssertionError(f"{_name(page)}:{first - 1}: code fence is never closed")
        index += 1
        title = _TITLE.search(info)
        found.append(
            Fence(
                language=info.split()[0].lower() if info else "",
                title=next(g for g in title.groups() if g is not None) if title else None,
                line=first,
                text="\n".join(body) + "\n",
            )
        )
    return found


def commands(fence: Fence) -> list[tuple[int, str]]:
    """The ``$ `` lines of a console fence, with their page line, continuations joined."""
    found: list[tuple[int, str]] = []
    continuing = False
    for offset, line in enumerate(fence.text.splitlines()):
        if continuing:
            found[-1] = (found[-1][0], found[-1][1] + "\n" + line)
        elif line.startswith("$ "):
            found.append((fence.line + offset, line[2:]))
        else:
            continue
        continuing = line.endswith("\\")
    return found


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else str(page)


def _environment() -> dict[str, str]:
    """The commands' environment: this interpreter's scripts (``fmitwin``) first on PATH."""
    env = dict(os.environ, MPLBACKEND="Agg", NO_MKDOCS_2_WARNING="1")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def run_page(page: Path, folder: Path) -> None:
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for fence in fences(page):
        where = f"{_name(page)}:{fence.line}"
        if fence.title:
            target = folder / fence.title
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(fence.text, encoding="utf-8")
        elif fence.language == "python":
            # padded so that a traceback's line numbers are the page's
            code = compile("\n" * (fence.line - 1) + fence.text, str(page), "exec")
            try:
                exec(code, namespace)
            except Exception as error:
                trace = "".join(traceback.format_exception(error))
                pytest.fail(f"{where}: python snippet failed:\n{trace}", pytrace=False)
        elif fence.language == "console":
            for line, command in commands(fence):
                done = subprocess.run(
                    command,
                    shell=True,
                    cwd=folder,
                    env=_environment(),
                    capture_output=True,
                    text=True,
                    timeout=COMMAND_TIMEOUT_S,
                )
                if done.returncode != 0:
                    pytest.fail(
                        f"{_name(page)}:{line}: `{command}` exited {done.returncode}\n"
                        f"{done.stdout}{done.stderr}",
                        pytrace=False,
                    )


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_snippets_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    run_page(page, tmp_path)


def test_site_builds_strict(tmp_path: Path) -> None:
    """``mkdocs build --strict``: a broken link, a missing page in the nav or a docstring the API
    reference cannot render is an error."""
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", "mkdocs.yml", "-d", site],
        cwd=ROOT,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site / "index.html").exists()
    # the compiled core is in the reference (inspected from the installed extension module)
    filters = (site / "reference" / "filters.html").read_text(encoding="utf-8")
    assert 'id="fmitwin.filters.ExtendedKalmanFilter.predict"' in filters
    # reStructuredText markup in docstrings renders as Markdown would (no ":class:" text, no
    # "~" before a shortened name, no "::" before a literal block)
    for page in (site / "reference").glob("*.html"):
        html = page.read_text(encoding="utf-8")
        for markup in (":class:", ":func:", "<code>~", "::</p>"):
            assert markup not in html, f"{page.name} shows {markup!r}"


def test_reference_lists_public_api() -> None:
    import fmitwin

    page = (ROOT / "docs" / "reference" / "index.md").read_text(encoding="utf-8")
    missing = [name for name in fmitwin.__all__ if f"`fmitwin.{name}`" not in page]
    assert not missing, f"docs/reference/index.md does not list {missing}"


def test_ci_runs_the_readme_test_command() -> None:
    readme = fences(ROOT / "README.md")
    test_commands = [f.text.strip() for f in readme if f.language == "bash" and "pytest" in f.text]
    assert len(test_commands) == 1, f"README.md: one bash fence runs the tests, got {test_commands}"
    ci = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ci == ["set -euo pipefail", 'cd "$(dirname "$0")/.."', test_commands[0]]


def test_fence_parser(tmp_path: Path) -> None:
    page = tmp_path / "sample.md"
    page.write_text(
        'text\n```python\nx = 1\n```\n\n  ```toml title="a.toml"\n  k = 1\n  ```\n'
        "```console\n$ echo a \\\n  b\noutput\n$ true\n```\n",
        encoding="utf-8",
    )
    found = fences(page)
    assert [(f.language, f.title, f.line) for f in found] == [
        ("python", None, 3),
        ("toml", "a.toml", 7),
        ("console", None, 10),
    ]
    assert found[1].text == "k = 1\n"
    assert commands(found[2]) == [(10, "echo a \\\n  b"), (13, "true")]


def test_readme_links_resolve() -> None:
    """The README's relative links (into docs/) point at files that exist."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    relative = [t for t in targets if "://" not in t]
    assert relative, "README.md links into docs/"
    missing = [t for t in relative if not (ROOT / t).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


def test_failing_snippets_name_page_and_line(tmp_path: Path) -> None:
    page = tmp_path / "broken.md"
    page.write_text("# t\n\n```python\nx = 1\nraise RuntimeError('stale')\n```\n")
    with pytest.raises(pytest.fail.Exception, match=r"broken\.md:4: python snippet failed") as err:
        run_page(page, tmp_path)
    assert f'File "{page}", line 5' in str(err.value)  # the traceback has the page's line
    page.write_text("```console\n$ true\n$ exit 3\n```\n")
    with pytest.raises(pytest.fail.Exception, match=r"broken\.md:3: `exit 3` exited 3"):
        run_page(page, tmp_path)
