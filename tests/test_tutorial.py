"""docs/tutorial.md builds examples/site/ for real.

Its files are written into an empty folder in the order they appear, every ``$`` command of a
``console`` block runs there and must print what the tutorial shows (``...`` stands for text that
varies), and the folder must end up identical to examples/site/.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
SITE = Path("examples", "site")

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.DOTALL | re.MULTILINE)
_SITE_PATH = re.compile(r"`(examples/site/[^`]+)`")


@attrs.frozen
class Block:
    line: int
    kind: str  # "file" or "console"
    path: str | None
    text: str


def blocks(markdown: str) -> list[Block]:
    """Console blocks, and file blocks: those after a paragraph naming `examples/site/...` and
    ending with a colon."""
    found = []
    for fence in _FENCE.finditer(markdown):
        line = markdown.count("\n", 0, fence.start()) + 1
        paragraph = markdown[: fence.start()].rstrip().rsplit("\n\n", 1)[-1]
        named = _SITE_PATH.findall(paragraph)
        if fence[1] == "console":
            found.append(Block(line, "console", None, fence[2]))
        elif named and paragraph.endswith(":"):
            found.append(Block(line, "file", named[-1], fence[2]))
    return found


def commands(console: str) -> list[tuple[str, list[str]]]:
    """``$ command`` lines, each with the output lines shown after it."""
    runs: list[tuple[str, list[str]]] = []
    for line in console.splitlines():
        if line.startswith("$ "):
            runs.append((line[2:], []))
        else:
            runs[-1][1].append(line)
    return runs


def shows(expected: list[str], output: str) -> bool:
    """Every expected line, in order, matches a whole output line; ``...`` matches anything."""
    lines = iter(output.splitlines())
    for want in expected:
        if want == "...":
            continue
        pattern = re.compile(".*".join(map(re.escape, want.split("..."))))
        if not any(pattern.fullmatch(line.rstrip()) for line in lines):
            return False
    return True


def site_files(root: Path) -> dict[str, str]:
    skip = {"__pycache__", ".pytest_cache"}
    return {
        str(path.relative_to(root)): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*"))
        if path.is_file() and not skip & set(path.parts) and path.suffix != ".db"
    }


def test_the_parser_sees_files_and_commands() -> None:
    text = (
        "Create `examples/site/a.py` (not `x.py`)\nnow:\n\n```python\nx = 1\n```\n\n"
        "```console\n$ ls\na.py\n```\n\nNot a file: `examples/site/b.py`.\n\n```sh\nls\n```\n"
    )
    assert blocks(text) == [
        Block(4, "file", "examples/site/a.py", "x = 1\n"),
        Block(8, "console", None, "$ ls\na.py\n"),
    ]
    assert commands("$ a\nx\n$ b\n") == [("a", ["x"]), ("b", [])]
    assert shows(["3 passed in ..."], "...\n3 passed in 0.2s\n")
    assert not shows(["3 passed in ..."], "2 passed in 0.2s\n")
    assert not shows(["b", "a"], "a\nb\n"), "in order"


def test_the_tutorial_builds_the_example_site(tmp_path) -> None:
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "__init__.py").write_text("")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
        "SITE_DB": str(tmp_path / "cache" / "acme.db"),
    }
    steps = blocks(TUTORIAL.read_text(encoding="utf-8"))
    assert {b.kind for b in steps} == {"file", "console"}
    for block in steps:
        if block.kind == "file":
            target = tmp_path / block.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.text, encoding="utf-8")
            continue
        for command, expected in commands(block.text):
            done = subprocess.run(
                command,
                shell=True,
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            output = done.stdout + done.stderr
            if not shows(expected, output):
                pytest.fail(
                    f"docs/tutorial.md:{block.line}: `{command}` printed\n{output}\n"
                    f"instead of\n" + "\n".join(expected)
                )
    built, example = site_files(tmp_path / SITE), site_files(ROOT / SITE)
    assert sorted(built) == sorted(example), "the tutorial writes every file of the site"
    for name, text in example.items():
        assert built[name] == text, f"the tutorial's last {name} differs from examples/site/{name}"
