"""The ``engine`` command: check, render, graph, schema and trace, as a user runs them."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import trio

import engine
from engine import Page, Query, Shell
from engine.cli import main

ROOT = Path(__file__).resolve().parents[1]
OK = str(ROOT / "tests" / "pages" / "ok.toml")
BROKEN = str(ROOT / "tests" / "pages" / "broken.toml")
SVG = "{http://www.w3.org/2000/svg}"


async def _lookup(product_id: int) -> str:
    return f"product #{product_id}"


PARAM_PAGE = Page(
    name="params",
    shell=Shell(
        html='<!doctype html><html><head><meta charset="utf-8"><title>{{ lookup }}</title>'
        "</head><body></body></html>",
        queries=("lookup",),
    ),
    queries=(Query(name="lookup", call=_lookup, result=str, params=("product_id",)),),
)
"""A page named as ``module:attr``, with a typed request parameter."""
PARAM_REF = f"{__name__}:PARAM_PAGE"
NO_CHARSET = Page(name="no-charset", shell=Shell(html="<html><body><p>hi</p></body></html>"))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- check -----------------------------------------------------------------------------


def test_check_ok_prints_a_summary(capsys) -> None:
    assert run(capsys, "check", OK) == (
        0,
        "page 'ok': ok (3 queries, 2 fragments, 0 warnings)\n",
        "",
    )


def test_check_a_module_attr_page(capsys) -> None:
    code, out, err = run(capsys, "check", PARAM_REF)
    assert (code, err) == (0, "")
    assert out == "page 'params': ok (1 queries, 0 fragments, 0 warnings)\n"


def test_check_prints_warnings_and_still_passes(capsys) -> None:
    code, out, err = run(capsys, "check", f"{__name__}:NO_CHARSET")
    assert code == 0
    assert out == "page 'no-charset': ok (0 queries, 0 fragments, 1 warnings)\n"
    assert err.startswith(
        "$.shell.html: warning: page 'no-charset': the shell has no <meta charset"
    )
    assert len(err.splitlines()) == 1


def test_check_broken_lists_every_problem_naming_file_and_key(capsys) -> None:
    with pytest.raises(engine.PageError) as caught:
        engine.Graph.build(engine.load(BROKEN), source=BROKEN)
    problems = caught.value.problems
    errors = [p for p in problems if p.severity == "error"]
    assert len(errors) >= 8
    code, out, err = run(capsys, "check", BROKEN)
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines == [str(p) for p in problems]
    for line in lines:
        assert line.startswith(f"{BROKEN}:") and "page 'broken'" in line
    keyed = [p for p in problems if p.key]
    assert len(keyed) >= 6
    for problem in keyed:
        assert f"{BROKEN}:{problem.key}: {problem.severity}: " in err
    for expected in (
        "dependency cycle: a -> b -> a",
        ":$.queries[2].name: error: page 'broken' [a]: duplicate query name",
        "cannot import module 'tests.pages.nowhere'",
        ":$.queries[3].depends_on[0]: error: page 'broken' [ghost]: depends on unknown query",
        "slot 'orphan' in the shell is filled by no fragment",
        ":$.fragments[1].target: error: page 'broken' [nowhere]: fills slot 'nowhere'",
        ":$.fragments[0].render: error: page 'broken' [list]: renderer parameter 'count'",
    ):
        assert expected in err


def test_check_a_file_with_an_unknown_key(capsys) -> None:
    path = str(ROOT / "tests" / "pages" / "unknown_field.toml")
    code, out, err = run(capsys, "check", path)
    assert (code, out) == (1, "")
    assert len(err.splitlines()) == 1
    assert err.startswith(f"{path}:$.") and "error:" in err


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("no/such/page.toml", "no/such/page.toml: error: page 'page': No such file or directory"),
        ("no_such_module:page", "cannot import module 'no_such_module'"),
        ("not-a-page", "expected a page file (.toml, .json, .yaml) or 'module:attribute'"),
        (f"{__name__}:ROOT", "is a PosixPath, not a schemas.Page"),
    ],
)
@pytest.mark.parametrize("command", ["check", "render", "graph", "trace"])
def test_a_bad_page_is_one_clear_line(capsys, command, page, expected) -> None:
    code, out, err = run(capsys, command, page)
    assert (code, out) == (1, "")
    assert len(err.splitlines()) == 1, err
    assert expected in err


# -- render ----------------------------------------------------------------------------


def test_render_streams_the_page_to_stdout(capsys) -> None:
    code, out, err = run(capsys, "render", OK)
    assert (code, err) == (0, "")
    assert out.startswith('<!doctype html><html><head><meta charset="utf-8">')
    assert "<title>Items &amp; more</title>" in out
    assert '<script type="application/json" data-query="items">' in out
    assert '<template for="count"><?start name="count">2 items<?end></template>' in out
    assert "<li>a</li><li>b</li>" in out
    assert out.endswith("</body></html>")


def test_render_buffered_is_exactly_the_library_output(capsys) -> None:
    code, out, err = run(capsys, "render", OK, "--mode", "buffered")
    assert (code, err) == (0, "")
    graph = engine.Graph.build(engine.load(OK))
    assert out == trio.run(lambda: engine.render_to_bytes(graph, mode="buffered")).decode()


def test_render_in_order_is_complete_without_running_a_script(capsys) -> None:
    code, out, err = run(capsys, "render", OK, "--mode", "in-order")
    assert (code, err) == (0, "")
    assert "<template" not in out
    # The page exposes data, so $E comes along (runtime, then swap scripts that announce what
    # landed), but the content is already in place: nothing needs to run.
    scripts = re.findall(r"<script[^>]*>", out)
    assert scripts.count('<script type="application/json" data-query="items">') == 1
    assert set(scripts) == {"<script>", '<script type="application/json" data-query="items">'}
    assert out.index("<li>a</li>") < out.index("2 items") < out.index("</body></html>")


def test_render_with_a_nonce(capsys) -> None:
    code, out, _ = run(capsys, "render", OK, "--nonce", "abcdef123456")
    assert code == 0
    executable = [t for t in re.findall(r"<script[^>]*>", out) if "application/json" not in t]
    assert executable and all('nonce="abcdef123456"' in t for t in executable)
    code, out, err = run(capsys, "render", OK, "--nonce", '"><b>')
    assert (code, out) == (1, "")
    assert err.startswith("error: ") and "nonce" in err and len(err.splitlines()) == 1


def test_render_params_and_their_errors(capsys) -> None:
    code, out, err = run(capsys, "render", PARAM_REF, "--param", "product_id=42")
    assert (code, err) == (0, "")
    assert "<title>product #42</title>" in out
    code, out, err = run(capsys, "render", PARAM_REF, "-p", "product_id=abc")
    assert (code, out) == (1, "")
    assert err.startswith("error: page 'params': request parameter 'product_id'='abc'")
    assert "is not a valid int" in err and len(err.splitlines()) == 1
    code, out, err = run(capsys, "render", PARAM_REF)
    assert (code, out) == (1, "")
    assert err == (
        "error: page 'params': missing request parameter 'product_id'"
        " (path or query string, query 'lookup')\n"
    )


def test_render_param_without_equals_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["render", OK, "--param", "product_id"])
    assert caught.value.code == 2
    assert "expected NAME=VALUE, got 'product_id'" in capsys.readouterr().err


def test_render_trace_prints_the_timeline_to_stderr(capsys) -> None:
    code, out, err = run(capsys, "render", OK, "--trace")
    assert code == 0 and out.endswith("</body></html>")
    lines = err.splitlines()
    queries = [line for line in lines if line.startswith("query  ")]
    writes = [line for line in lines if line.startswith("write  ")]
    assert len(queries) == 3 and len(queries) + len(writes) == len(lines)
    assert {line.split()[1] for line in queries} == {"title", "items", "count"}
    assert all(
        re.fullmatch(r"query  \w+ +start +[\d.]+ ms  end +[\d.]+ ms  done", line)
        for line in queries
    )
    assert re.fullmatch(r"write  #0 +at +[\d.]+ ms +\d+ bytes  shell.*", writes[0])
    assert writes[-1].endswith("close")
    total = sum(int(re.search(r"(\d+) bytes", line)[1]) for line in writes)
    assert total == len(out.encode())


# -- graph, schema, trace --------------------------------------------------------------


def test_graph_prints_mermaid_with_edges(capsys) -> None:
    code, out, err = run(capsys, "graph", OK)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "flowchart LR"
    names = {}
    for line in lines[1:]:
        if m := re.fullmatch(r'  (\w+)\(\["(\w+)[^"]*"\]\)', line):
            names[m[1]] = m[2]
        elif m := re.fullmatch(r'  (\w+)\["#(\w+) \(priority (-?\d+)\)"\]', line):
            names[m[1]] = f"#{m[2]}"
    names["shell"] = "shell"
    edges = set()
    for line in lines:
        if m := re.fullmatch(r"  (\w+) (-->|-\.->) (\w+)", line):
            edges.add((names[m[1]], m[2], names[m[3]]))
    assert edges == {
        ("title", "-->", "shell"),
        ("items", "-->", "#items"),
        ("items", "-->", "count"),
        ("count", "-->", "#count"),
        ("shell", "-.->", "#items"),
        ("shell", "-.->", "#count"),
    }
    assert '(["items (exposed)"])' in out and '["#count (priority 1)"]' in out


def test_schema_is_the_committed_file(capsys) -> None:
    code, out, err = run(capsys, "schema")
    assert (code, err) == (0, "")
    assert out == (ROOT / "schemas" / "page.schema.json").read_text(encoding="utf-8")
    assert '"forbid_unknown_fields"' not in out and '"Page"' in out


def test_trace_writes_a_waterfall_svg(capsys, tmp_path) -> None:
    target = tmp_path / "out.svg"
    code, out, err = run(capsys, "trace", OK, "-o", str(target))
    assert (code, out) == (0, "")
    assert "write  #0" in err  # the timeline goes to stderr when the SVG goes to a file
    root = ET.fromstring(target.read_text(encoding="utf-8"))
    assert root.tag == f"{SVG}svg"
    title = "".join(root.find(f"{SVG}text").itertext())
    assert title == "ok (out-of-order): critical path items → count"
    bars = {
        "".join(r.find(f"{SVG}title").itertext()).split(":")[0] for r in root.iter(f"{SVG}rect")
    }
    assert {"title", "items", "count"} <= bars


def test_trace_to_stdout_with_mode(capsys) -> None:
    code, out, err = run(capsys, "trace", OK, "--mode", "in-order")
    assert (code, err) == (0, "")
    root = ET.fromstring(out)
    assert "ok (in-order): critical path items → count" in "".join(root.itertext())


def test_the_console_script_is_installed() -> None:
    exe = shutil.which("engine")
    assert exe is not None, "pip install -e . should install the `engine` command"
    result = subprocess.run(
        [exe, "check", OK], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "page 'ok': ok (3 queries, 2 fragments, 0 warnings)\n"


def test_no_command_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: engine")
    assert err.rstrip().endswith("the following arguments are required: COMMAND")
