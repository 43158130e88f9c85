"""The README's example page runs as written, and its commands are the ones CI runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import engine
from engine.testing import assert_contract, render_timeline

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def readme_page_code() -> str:
    """The README's one python block: the page a new user copies first."""
    (code,) = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
    return code


def _example_page() -> engine.Page:
    code = readme_page_code()
    assert len(code.strip().splitlines()) <= 25
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace["page"]


async def test_readme_page_streams_and_keeps_the_contract(autojump_clock) -> None:
    page = _example_page()
    assert engine.Graph.build(page).warnings == ()
    timeline = await render_timeline(page, params={"product_id": "1"})
    assert_contract(timeline)
    assert timeline.time_of("reviews") == 0.3
    assert "<li>ann: Great &amp; sturdy</li><li>bob: &lt;b&gt;ok&lt;/b&gt;</li>" in timeline.html


def readme_run_command() -> list[str]:
    """The README's first command, after ``pip install ... &&``: how a new user runs the site
    (tests/asgi/test_site_servers.py serves exactly this)."""
    run = re.findall(r"```\n(.*?)\n```", README, re.DOTALL)[0].strip()
    install, _, serve = run.partition(" && ")
    assert install == "pip install -e '.[site]'", "one command, on a fresh machine"
    return shlex.split(serve)


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"```\n(.*?)\n```", README, re.DOTALL)
    assert len(commands) == 2, "the README holds exactly two set-up commands"
    test_command = commands[1].strip()
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci
