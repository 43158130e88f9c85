"""Layouts: nested documents folded into one graph, checked with the page, rendered alike."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

import engine
from engine import Fragment, Graph, Layout, Page, Query, Shell
from engine.cli import main
from engine.testing import assert_contract, render_timeline

from .test_html5 import TEMPLATE, apply, parse, without_scripts

PAGES = Path(__file__).parent / "pages"
INTRO = PAGES / "docs" / "intro.toml"
SITE = (PAGES / "layouts" / "site.toml").resolve()
SECTION = (PAGES / "layouts" / "section.toml").resolve()
HEAD = '<!doctype html><html><head><meta charset="utf-8"></head><body>'


def problems_of(page: Page, source: str | Path | None = None) -> list[engine.Problem]:
    with pytest.raises(engine.PageError) as caught:
        Graph.build(page, source=None if source is None else str(source))
    return [p for p in caught.value.problems if p.severity == "error"]


def write(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path / next(iter(files))


def build_file(path: Path) -> Graph:
    return Graph.build(engine.load(path), source=str(path))


def file_problems(path: Path) -> list[engine.Problem]:
    with pytest.raises(engine.PageError) as caught:
        build_file(path)
    return [p for p in caught.value.problems if p.severity == "error"]


# -- folding ---------------------------------------------------------------------------


def test_nested_layouts_fold_into_one_graph() -> None:
    graph = build_file(INTRO)
    assert [q.name for q in graph.queries] == ["user", "menu", "toc", "body"]
    assert [f.target for f in graph.fragments] == ["menu", "toc", "body"]
    assert [graph.queries[q].name for q in graph.shell_queries] == ["user"]
    assert [graph.fragments[f].target for f in graph.shell_children] == ["menu", "body", "toc"]
    assert graph.page.layout == str(SECTION)  # load() made the path absolute
    assert graph.warnings == ()


async def test_a_layout_page_renders_every_layer(autojump_clock) -> None:
    timeline = await render_timeline(build_file(INTRO), mode="buffered")
    html = timeline.html
    assert html.startswith(
        '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        '<title>Docs</title><meta name="description" content="the intro"></head>'
    )
    assert "<nav><b>Ann &lt;admin&gt;</b>" in html
    assert (
        '<main><article><h1>Intro</h1><div class="body"><?start name="body">'
        "<p>Welcome &amp; hello</p><?end></div></article>"
        '<aside><?start name="toc"><a>intro</a><a>setup</a><?end></aside></main>'
    ) in html
    assert html.endswith("<footer>end</footer></body></html>")


async def test_every_mode_renders_a_layout_page_to_the_same_document(autojump_clock) -> None:
    graph = build_file(INTRO)
    latencies = {"user": 0.1, "menu": 0.3, "toc": 0.2, "body": 0.4}
    documents = {}
    for mode in ("out-of-order", "in-order", "buffered"):
        timeline = await render_timeline(graph, mode=mode, latencies=latencies)
        assert_contract(timeline)
        html = timeline.html
        if mode == "out-of-order":
            html = apply(TEMPLATE.sub("", html), TEMPLATE.findall(html))
        documents[mode] = without_scripts(parse(html))
    assert documents["out-of-order"] == documents["in-order"] == documents["buffered"]
    assert "Welcome &amp; hello" in documents["buffered"]


async def test_the_layouts_shell_query_gates_the_first_byte(autojump_clock) -> None:
    timeline = await render_timeline(
        build_file(INTRO), latencies={"user": 0.25, "menu": 0.1, "toc": 0.5, "body": 0.05}
    )
    assert_contract(timeline)
    assert timeline.writes[0].time == 0.25  # the layout's shell query, not the page's
    assert timeline.time_of("toc") == 0.5
    assert timeline.order() == ["menu", "body", "toc"]


def test_a_python_page_passes_its_layout_object() -> None:
    async def user() -> str:
        return "ann"

    site = Layout(
        name="site",
        shell=Shell(
            html=HEAD + '<nav><?marker name="nav"></nav><?marker name="content"></body></html>',
            head="",
        ),
        queries=(Query(name="user", call=user, result=str),),
        fragments=(Fragment(target="nav", uses=("user",), template="{{ user }}", fallback="…"),),
    )
    page = Page(
        name="p",
        layout=site,
        shell=Shell(html="<h1>p</h1>", head="<title>P</title>"),
    )
    graph = Graph.build(page)
    assert graph.page is page
    assert graph.shell.render({}) == (
        '<!doctype html><html><head><meta charset="utf-8"><title>P</title></head><body>'
        '<nav><?marker name="nav"></nav><h1>p</h1>'
    )


def test_a_custom_content_slot_name() -> None:
    site = Layout(shell=Shell(html=HEAD + '<main><?marker name="main"></main>'), content="main")
    graph = Graph.build(Page(name="p", layout=site, shell=Shell(html="<p>x</p>")))
    assert graph.shell.render({}) == HEAD + "<main><p>x</p></main>"


# -- mistakes, each reported once, in the file that holds it -----------------------------


def test_a_slot_nobody_fills_names_the_layout_file(tmp_path) -> None:
    page = write(
        tmp_path,
        {
            "pages/p.toml": 'name = "p"\nlayout = "../layouts/site.toml"\n[shell]\nhtml = "x"\n',
            "layouts/site.toml": "[shell]\nhtml = '''"
            + HEAD
            + '<?marker name="ads"><?marker name="content"></body></html>\'\'\'\n',
        },
    )
    [problem] = file_problems(page)
    assert problem.file == str(tmp_path / "layouts" / "site.toml")
    assert problem.key == "$.shell.html"
    assert problem.node == "ads"
    assert "slot 'ads' in the shell of layout 'site' is filled by no fragment" in problem.message


def test_names_declared_by_a_layout_and_its_page_collide(tmp_path) -> None:
    page = write(
        tmp_path,
        {
            "p.toml": 'name = "p"\nlayout = "site.toml"\n[shell]\nhtml = "<?marker name=\'m\'>"\n'
            '[[queries]]\nname = "user"\ncall = "tests.pages.fixtures:user"\nresult = "str"\n'
            '[[fragments]]\ntarget = "m"\nuses = ["user"]\ntemplate = "{{ user }}"\n'
            'fallback = "…"\n'
            '[[fragments]]\ntarget = "menu"\nuses = ["user"]\ntemplate = "{{ user }}"\n'
            'fallback = "…"\n',
            "site.toml": f'layout = "{SITE}"\n',
        },
    )
    # site.toml here has no shell: a decode error in the layout file, named by the file.
    [problem] = file_problems(page)
    assert problem.file == str(tmp_path / "site.toml")
    assert (problem.key, problem.message) == ("$.shell", "missing required key 'shell'")
    (tmp_path / "site.toml").unlink()
    text = page.read_text().replace('layout = "site.toml"', f'layout = "{SITE}"')
    page.write_text(text)
    found = file_problems(page)
    assert [(p.file, p.key, p.node) for p in found] == [
        (str(page), "$.queries[0]", "user"),
        (str(page), "$.fragments[1]", "menu"),
    ]
    assert found[0].message == (
        f"query 'user' is declared both by {SITE} and by {page}: rename one"
        " (a layout and its pages share one graph)"
    )
    assert found[1].message.startswith(f"fragment for slot 'menu' is declared both by {SITE}")


def test_a_layout_without_its_content_slot(tmp_path) -> None:
    page = write(
        tmp_path,
        {
            "p.toml": 'name = "p"\nlayout = "site.toml"\n[shell]\nhtml = "x"\n',
            "site.toml": f"[shell]\nhtml = '{HEAD}</body></html>'\n",
        },
    )
    [problem] = file_problems(page)
    assert (problem.file, problem.key) == (str(tmp_path / "site.toml"), "$.shell.html")
    assert problem.message == (
        "the shell of layout 'site' must hold its content slot"
        ' <?marker name="content"> exactly once, for the page to fill; found 0'
    )


def test_a_missing_layout_file_and_a_layout_cycle(tmp_path) -> None:
    page = write(tmp_path, {"p.toml": 'name = "p"\nlayout = "nope.toml"\n[shell]\nhtml = "x"\n'})
    [problem] = file_problems(page)
    assert (problem.file, problem.key) == (str(page), "$.layout")
    assert problem.message == f"layout file '{tmp_path}/nope.toml' not found"  # load() resolved it
    [problem] = problems_of(msgspec.structs.replace(engine.load(page), layout="nope.toml"), page)
    assert problem.message == f"layout file 'nope.toml' not found (looked at {tmp_path}/nope.toml)"
    write(
        tmp_path,
        {
            "a.toml": "layout = 'b.toml'\n[shell]\nhtml = '<?marker name=\"content\">'\n",
            "b.toml": "layout = 'a.toml'\n[shell]\nhtml = '<?marker name=\"content\">'\n",
        },
    )
    page.write_text(page.read_text().replace("nope.toml", "a.toml"))
    [problem] = file_problems(page)
    assert (problem.file, problem.key) == (str(tmp_path / "b.toml"), "$.layout")
    assert problem.message == (
        f"layout cycle: {tmp_path}/a.toml -> {tmp_path}/b.toml -> {tmp_path}/a.toml"
    )


def test_head_needs_a_head_element() -> None:
    site = Layout(name="bare", shell=Shell(html='<body><?marker name="content"></body>'))
    [problem] = problems_of(Page(name="p", layout=site, shell=Shell(html="x", head="<title>")))
    assert problem.key == "$.shell.head"
    assert "the document has no </head>" in problem.message


def test_a_placeholder_split_between_a_layout_and_its_page_is_one_error() -> None:
    # Neither layer alone holds a placeholder; the folded document holds "{{ a b }}".
    site = Layout(name="site", shell=Shell(html=HEAD + '<p>{{ <?marker name="content"></p>'))
    [problem] = problems_of(Page(name="p", layout=site, shell=Shell(html="a b }}")))
    assert (problem.key, problem.file) == ("$.shell.html", None)
    assert problem.message.startswith("cannot read '{{ a b }}': a placeholder is a path")


def test_a_slot_twice_in_a_layouts_shell_is_keyed_in_the_layout() -> None:
    site = Layout(
        name="site",
        shell=Shell(html=HEAD + '<?marker name="nav"><?marker name="content"><?marker name="nav">'),
        fragments=(Fragment(target="nav", template="nav", fallback="…"),),
    )
    [problem] = problems_of(Page(name="p", layout=site, shell=Shell(html="x")))
    assert (problem.key, problem.message) == (
        "$.layout.shell.html",
        "slot 'nav' appears twice in the shell",
    )


def test_problems_inside_a_python_layout_are_keyed_from_the_page() -> None:
    inner = Layout(
        name="section",
        shell=Shell(html='<?marker name="content"><?marker name="toc">'),
        fragments=(Fragment(target="toc", uses=("nothing",), template="x", fallback="…"),),
        layout=Layout(
            name="site",
            shell=Shell(html=HEAD + '<?marker name="nav"><?marker name="content">'),
            fragments=(Fragment(target="nav", template="nav", fallback="…"),),
        ),
    )
    [problem] = problems_of(Page(name="p", layout=inner, shell=Shell(html="x")))
    assert problem.key == "$.layout.fragments[0].uses[0]"  # the second fragment of the graph
    assert problem.file is None
    assert "uses unknown query 'nothing'" in problem.message


def test_engine_check_reports_layout_problems_with_their_file(tmp_path, capsys) -> None:
    page = write(
        tmp_path,
        {
            "p.toml": 'name = "p"\nlayout = "site.toml"\n[shell]\nhtml = "x"\n',
            "site.toml": "[shell]\nhtml = '''"
            + HEAD
            + '<?marker name="ads"><?marker name="content">\'\'\'\n',
        },
    )
    assert main(["check", str(page)]) == 1
    err = capsys.readouterr().err
    assert re.search(
        rf"^{re.escape(str(tmp_path / 'site.toml'))}:\$\.shell\.html: error: page 'p' \[ads\]:"
        r" slot 'ads' in the shell of layout 'site' is filled by no fragment$",
        err,
        re.MULTILINE,
    )
    assert main(["check", str(INTRO)]) == 0
    assert "page 'intro': ok (4 queries, 3 fragments, 0 warnings)" in capsys.readouterr().out
