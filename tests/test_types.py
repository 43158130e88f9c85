"""Types, checked as a user's code is: the README's page and the examples pass ``mypy --strict``
against the package's own annotations (it ships ``py.typed``), and those annotations are precise
enough to reject a misdeclared page before it runs.

The package itself is checked by ``mypy`` in ``.ci/run`` (``[tool.mypy]`` in pyproject.toml).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .test_readme import readme_page_code

ROOT = Path(__file__).parent.parent


def _mypy_strict(tmp_path: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    """Run ``mypy --strict`` outside the project (so its config does not apply), with the
    package importable the way an installed one is."""
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / "cache"),
            *targets,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_readme_page_and_examples_pass_mypy_strict(tmp_path: Path) -> None:
    (tmp_path / "readme_page.py").write_text(readme_page_code(), encoding="utf-8")
    result = _mypy_strict(tmp_path, "readme_page.py", str(ROOT / "examples"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in" in result.stdout


MISDECLARED = """
from engine import Fragment, Query

async def reviews(product_id: int) -> list[str]:
    return []

params_not_a_tuple = Query(name="r", call=reviews, result=list[str], params="product_id")
timeout_as_text = Query(name="r", call=reviews, result=list[str], timeout="3")
unknown_priority = Fragment(target="r", priority="urgent")
unknown_key = Fragment(target="r", uses=("r",), timeout=3)
"""


def test_mypy_rejects_a_misdeclared_page(tmp_path: Path) -> None:
    (tmp_path / "page.py").write_text(MISDECLARED, encoding="utf-8")
    result = _mypy_strict(tmp_path, "page.py")
    errors = [line for line in result.stdout.splitlines() if ": error: " in line]
    assert errors == [
        'page.py:7: error: Argument "params" to "Query" has incompatible type "str"; expected'
        ' "tuple[str, ...] | Params"  [arg-type]',
        'page.py:8: error: Argument "timeout" to "Query" has incompatible type "str"; expected'
        ' "float | None"  [arg-type]',
        'page.py:9: error: Argument "priority" to "Fragment" has incompatible type'
        " \"Literal['urgent']\"; expected \"Literal['high', 'normal', 'low'] | int\"  [arg-type]",
        'page.py:10: error: Unexpected keyword argument "timeout" for "Fragment"  [call-arg]',
    ], result.stdout
