"""Definition mistakes that used to hang, crash or multiply: each is one clear error now."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import typing
import uuid
from pathlib import Path

import msgspec
import pytest

import engine
from engine import Fragment, Graph, Page, Query, Shell
from engine.cli import main

ROOT = Path(__file__).resolve().parents[1]
SHELL = '<!doctype html><html><head><meta charset="utf-8"></head><body>{}</body></html>'


def errors_of(page: Page) -> list[str]:
    with pytest.raises(engine.PageError) as caught:
        Graph.build(page)
    return [str(p) for p in caught.value.problems if p.severity == "error"]


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out + err


def unique_module(directory: Path, source: str) -> str:
    """A module no other test imported (``sys.modules`` would hide a second version)."""
    name = f"m_{uuid.uuid4().hex[:12]}"
    (directory / f"{name}.py").write_text(source)
    return name


async def _one() -> int:
    return 1


# -- slot cycles (item 5) ----------------------------------------------------------------


@pytest.mark.timeout(10)
def test_a_fragment_holding_its_own_slot_is_an_error_not_a_hang() -> None:
    page = Page(
        name="p",
        shell=Shell(html=SHELL.format("")),
        fragments=(Fragment(target="a", template='<div><?marker name="a"></div>', fallback="…"),),
    )
    assert errors_of(page) == [
        "$.fragments[0].template: error: page 'p' [a]: slot cycle: a -> a (fragment 'a' holds"
        " its own slot, so it can never be placed): remove the marker"
    ]


@pytest.mark.timeout(10)
def test_a_cycle_of_slots_is_printed() -> None:
    page = Page(
        name="p",
        shell=Shell(html=SHELL.format('<?marker name="top">')),
        fragments=(
            Fragment(target="top", template="x", fallback="…"),
            Fragment(target="a", template='<?marker name="b">', fallback="…"),
            Fragment(target="b", slots=("c",), render=lambda: "", fallback="…"),
            Fragment(target="c", template='<p><?marker name="a"></p>', fallback="…"),
        ),
    )
    (error,) = errors_of(page)
    assert "slot cycle: a -> b -> c -> a (each fragment's HTML holds the next one's slot" in error


@pytest.mark.timeout(90)
def test_render_and_app_of_a_slot_cycle_fail_at_once(tmp_path: Path) -> None:
    page = tmp_path / "cycle.toml"
    page.write_text(
        'name = "c"\n[shell]\nhtml = \'<meta charset="utf-8"><?marker name="x">\'\n'
        '[[fragments]]\ntarget = "x"\ntemplate = "x"\nfallback = "…"\n'
        '[[fragments]]\ntarget = "loop"\ntemplate = \'<?marker name="loop">\'\nfallback = "…"\n'
    )
    for command in ("check", "render", "graph"):
        result = subprocess.run(
            [sys.executable, "-m", "engine", command, str(page)],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert result.returncode == 1, command
        assert "slot cycle: loop -> loop" in result.stderr, command
        assert "Traceback" not in result.stderr


# -- deep definitions (item 10) ------------------------------------------------------------


@pytest.mark.timeout(30)
def test_a_long_dependency_chain_declared_dependents_first_checks(tmp_path: Path) -> None:
    async def step(**values: int) -> int:
        return 1

    count = 1100
    queries = tuple(
        Query(
            name=f"q{i}",
            call=step,
            result=int,
            depends_on=(f"q{i + 1}",) if i < count - 1 else (),
        )
        for i in range(count)
    )
    fragments = (Fragment(target="out", uses=("q0",), template="{{ q0 }}", fallback="…"),)
    page = Page(
        name="chain", shell=Shell(html=SHELL.format('<?marker name="out">')), queries=queries
    )
    graph = Graph.build(
        Page(name=page.name, shell=page.shell, queries=queries, fragments=fragments)
    )
    assert len(graph.queries) == count
    looped = (*queries[:-1], Query(name=f"q{count - 1}", call=step, result=int, depends_on=("q0",)))
    (error,) = errors_of(Page(name="chain", shell=page.shell, queries=looped, fragments=fragments))
    assert "dependency cycle: q0 -> q1 -> q2 -> q3 -> q4 -> q5" in error
    assert error.endswith(f"q{count - 1} -> q0")


@pytest.mark.timeout(30)
def test_deeply_nested_fragments_check() -> None:
    depth = 1100
    fragments = [
        Fragment(target=f"f{i}", template=f'<i><?marker name="f{i + 1}"></i>', fallback="…")
        for i in range(depth)
    ]
    fragments.append(Fragment(target=f"f{depth}", template="end", fallback="…"))
    page = Page(
        name="deep",
        shell=Shell(html=SHELL.format('<?marker name="f0">')),
        fragments=tuple(fragments),
    )
    graph = Graph.build(page)
    assert graph.fragments[-1].depth == depth


def test_a_deeply_nested_type_is_a_clear_error() -> None:
    problems = errors_of(
        Page(
            name="t",
            shell=Shell(html=SHELL.format("")),
            queries=(Query(name="q", call=_one, result="list[" * 5000 + "int" + "]" * 5000),),
        )
    )
    assert len(problems) == 1
    assert "nests deeper than 32 levels" in problems[0]
    assert problems[0].startswith("$.queries[0].result: error: page 't' [q]:")


# -- imports (items 15, 16) ----------------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_module_exiting_on_import_is_an_error(tmp_path: Path) -> None:
    module = unique_module(tmp_path, "import sys\nsys.exit(0)\n")
    page = tmp_path / "exits.toml"
    page.write_text(
        f'name = "e"\n[shell]\nhtml = "<meta charset=utf-8>"\n'
        f'[[queries]]\nname = "a"\ncall = "{module}:f"\nresult = "int"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "engine", "check", str(page)],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"{page}:$.queries[0].call: error: page 'e' [a]: importing module {module!r} for"
        f" '{module}:f' called sys.exit(0): a module a page uses must not exit when imported\n"
    )


SLOTS_S3 = 'slots = ["s3"]'


def test_a_missing_module_says_where_modules_resolve_from(tmp_path: Path) -> None:
    module = f"nowhere_{uuid.uuid4().hex[:10]}"
    page = Page(
        name="p",
        shell=Shell(html='<meta charset="utf-8">'),
        queries=(Query(name="q", call=f"{module}.data:q", result=int),),
    )
    in_python = "; modules resolve from the current directory and PYTHONPATH"
    in_a_file = "; modules resolve from the current directory and the page file's directory"
    (python_error,) = errors_of(page)
    assert python_error.endswith(f"No module named {module!r}{in_python}")
    with pytest.raises(engine.PageError) as caught:
        Graph.build(page, source=str(tmp_path / "p.toml"))
    (file_error,) = [str(p) for p in caught.value.problems if p.severity == "error"]
    assert file_error.endswith(f"No module named {module!r}{in_a_file}")


def test_a_page_run_from_the_wrong_directory_is_one_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    package = f"pkg_{uuid.uuid4().hex[:10]}"
    (tmp_path / package / "site").mkdir(parents=True)
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / "site" / "__init__.py").write_text("")
    page = tmp_path / package / "site" / "page.toml"
    queries = "".join(
        f'[[queries]]\nname = "q{i}"\ncall = "{package}.site.data:q"\n'
        f'result = "{package}.site.data:T"\n'
        for i in range(4)
    )
    fragments = "".join(
        f'[[fragments]]\ntarget = "s{i}"\nuses = ["q{i}"]\nrender = "{package}.site.views:r"\n'
        f'fallback = "…"\n{SLOTS_S3 if i == 2 else ""}\n'
        for i in range(4)
    )
    page.write_text(
        'name = "site"\n[shell]\nhtml = \'<meta charset="utf-8"><?marker name="s0">'
        '<?marker name="s1"><?marker name="s2">\'\n' + queries + fragments
    )
    monkeypatch.chdir(tmp_path / package)  # the wrong directory: one level too deep
    code, output = check(capsys, str(page))
    assert code == 1
    (line,) = output.splitlines()
    assert line.startswith(
        f"{page}:$.queries[0].call: error: page 'site' [q0]: cannot import module"
        f" '{package}.site.data' for '{package}.site.data:q': No module named {package!r}"
    )
    assert f"{package!r} is in {str(tmp_path)!r}, run the command from there" in line
    assert line.endswith(f"(and 11 more reference(s) under {package!r})")


def test_an_unimportable_renderer_does_not_hide_the_slots_it_declares() -> None:
    page = Page(
        name="p",
        shell=Shell(html=SHELL.format('<?marker name="reviews">')),
        fragments=(
            Fragment(
                target="reviews",
                render="tests.pages.nowhere:reviews",
                slots=("rating",),
                fallback="…",
            ),
            Fragment(target="rating", template="*", fallback="…"),
        ),
    )
    (error,) = errors_of(page)
    assert "cannot import module 'tests.pages.nowhere'" in error


def test_a_misspelled_attribute_or_type_suggests_the_nearest() -> None:
    (error,) = errors_of(
        Page(
            name="p",
            shell=Shell(html=SHELL.format("")),
            queries=(Query(name="q", call="tests.pages.fixtures:iems", result="int"),),
        )
    )
    assert "module 'tests.pages.fixtures' has no attribute 'iems' (did you mean 'items'?)" in error
    (error,) = errors_of(
        Page(
            name="p",
            shell=Shell(html=SHELL.format("")),
            queries=(Query(name="q", call=_one, result="list[strr]"),),
        )
    )
    assert "unknown type 'strr' in 'list[strr]' (did you mean 'str'?)" in error


# -- one mistake, one error (item 15) -------------------------------------------------------


def test_a_misspelled_name_in_uses_is_one_error_with_a_suggestion() -> None:
    def render(oncall: int) -> str:
        return ""

    page = Page(
        name="p",
        shell=Shell(html=SHELL.format('<?marker name="a">')),
        queries=(Query(name="oncall", call=_one, result=int),),
        fragments=(Fragment(target="a", uses=("oncal",), render=render, fallback="…"),),
    )
    assert errors_of(page) == [
        "$.fragments[0].uses[0]: error: page 'p' [a]: uses unknown query 'oncal'"
        " (did you mean 'oncall'?)"
    ]


def test_a_misspelled_dependency_is_one_error_with_a_suggestion() -> None:
    async def total(oncall: int) -> int:
        return oncall

    page = Page(
        name="p",
        shell=Shell(html=SHELL.format('<?marker name="a">')),
        queries=(
            Query(name="oncall", call=_one, result=int),
            Query(name="total", call=total, result=int, depends_on=("oncal",)),
        ),
        fragments=(Fragment(target="a", uses=("total",), template="{{ total }}", fallback="…"),),
    )
    assert errors_of(page) == [
        "$.queries[1].depends_on[0]: error: page 'p' [total]: depends on unknown query 'oncal'"
        " (did you mean 'oncall'?)"
    ]


def test_misspelled_slots_and_shell_queries_suggest_the_nearest() -> None:
    page = Page(
        name="p",
        shell=Shell(html=SHELL.format('<?marker name="reviews">'), queries=("titel",)),
        queries=(Query(name="title", call=_one, result=int),),
        fragments=(Fragment(target="review", uses=("title",), template="x", fallback="…"),),
    )
    text = "\n".join(errors_of(page))
    assert "unknown shell query 'titel' (did you mean 'title'?)" in text
    assert "slot 'reviews' in the shell is filled by no fragment (did you mean 'review'?)" in text
    assert (
        "fills slot 'review', which appears in no shell or fragment (did you mean 'reviews'?)"
    ) in text


# -- pages built in Python are validated like files (item 13) -------------------------------


async def _team(team_id: int) -> int:
    return team_id


def test_python_pages_go_through_the_schema_like_files() -> None:
    shell = Shell(html=SHELL.format('<?marker name="a">'))
    urgent = Page(
        name="p",
        shell=shell,
        fragments=(Fragment(target="a", template="x", fallback="…", priority="urgent"),),  # type: ignore[arg-type]
    )
    assert errors_of(urgent) == [
        "$.fragments[0].priority: error: page 'p' [a]: invalid value 'urgent': expected one of"
        " 'high', 'low', 'normal' or an integer"
    ]
    quoted = Page(
        name="p",
        shell=Shell(html=SHELL.format("")),
        queries=(Query(name="t", call=_team, result=int, params=("team_id",), timeout="3"),),  # type: ignore[arg-type]
    )
    assert errors_of(quoted) == [
        "$.queries[0].timeout: error: page 'p' [t]: expected a number, got the string '3':"
        " write 3 without quotes"
    ]
    no_comma = Page(
        name="p",
        shell=Shell(html=SHELL.format("")),
        queries=(Query(name="t", call=_team, result=int, params=("team_id")),),  # type: ignore[arg-type]
    )
    assert errors_of(no_comma) == [
        "$.queries[0].params: error: page 'p' [t]: expected a list of names, got the string"
        " 'team_id': write ('team_id',) (a one-element tuple needs its trailing comma)"
    ]


def test_every_node_reports_its_first_structural_problem(tmp_path: Path) -> None:
    page = tmp_path / "multi.json"
    page.write_text(
        '{"name": "x", "shell": {"html": "a"}, "modee": "buffered",'
        ' "queries": [{"name": "a", "call": "m:f", "result": "int", "timout": 3},'
        ' {"name": "b", "call": "m:f", "result": "int", "dependson": []}],'
        ' "fragments": [{"target": "a", "priority": "hihg"}, {"target": "b", "uses": "b"}]}'
    )
    with pytest.raises(engine.PageError) as caught:
        engine.load(page)
    assert [str(p).removeprefix(f"{page}:") for p in caught.value.problems] == [
        "$.queries[0].timout: error: page 'x' [a]: unknown key 'timout' (did you mean 'timeout'?)",
        "$.queries[1].dependson: error: page 'x' [b]: unknown key 'dependson'"
        " (did you mean 'depends_on'?)",
        "$.fragments[0].priority: error: page 'x' [a]: invalid value 'hihg' (did you mean"
        " 'high'?): expected one of 'high', 'low', 'normal' or an integer",
        "$.fragments[1].uses: error: page 'x' [b]: expected a list of names, got the string 'b':"
        ' write ["b"]',
        "$.modee: error: page 'x': unknown key 'modee' (did you mean 'mode'?)",
    ]


# -- what a file is made of (items 10, 16) ---------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "text", "expected"),
    [
        (
            ".json",
            '{"name": "a", "shell": {"html": "x"}, "name": "b"}',
            "$.name: error: page 'dup': key 'name' is written twice in one object",
        ),
        (
            ".json",
            '{"name": "a", "shell": {"html": "x"}, "queries": [{"name": "q", "name": "r"}]}',
            "$.queries[0].name: error: page 'dup': key 'name' is written twice in one object",
        ),
        (
            ".yaml",
            "name: a\nshell:\n  html: x\n  html: y\n",
            "$.shell.html: error: page 'dup': key 'html' is written twice (line 4;",
        ),
        (
            ".toml",
            'name = "a"\nname = "b"\n',
            "error: page 'dup': key 'name' is written twice (line 2): remove one",
        ),
    ],
)
def test_duplicate_keys_are_errors_naming_the_key(
    tmp_path: Path, suffix: str, text: str, expected: str
) -> None:
    page = tmp_path / f"dup{suffix}"
    page.write_text(text)
    with pytest.raises(engine.PageError) as caught:
        engine.load(page)
    (problem,) = caught.value.problems
    assert str(problem).startswith(f"{page}:")
    assert expected in str(problem)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("suffix", [".json", ".yaml", ".toml"])
def test_a_file_nested_50000_deep_is_a_clear_error(tmp_path: Path, suffix: str) -> None:
    depth = 50_000
    nested = "[" * depth + "]" * depth
    text = {
        ".json": f'{{"name": "x", "shell": {{"html": ""}}, "queries": {nested}}}',
        ".yaml": f'name: x\nshell: {{html: ""}}\nqueries: {nested}\n',
        ".toml": f'name = "x"\nshell = {{html = ""}}\nqueries = {nested}\n',
    }[suffix]
    page = tmp_path / f"deep{suffix}"
    page.write_text(text)
    with pytest.raises(engine.PageError) as caught:
        engine.load(page)
    (problem,) = caught.value.problems
    assert problem.file == str(page)
    assert "nest" in problem.message


# -- templates checked against declared types (items 11, 12, 14) and URLs (item 3) ------------


class Person(msgspec.Struct):
    login: str
    manager: Person | None = None


class Product(msgspec.Struct):
    name: str
    tags: list[str] = []
    links: tuple[str, str] = ("", "")


@dataclasses.dataclass
class Shipment:
    carrier: str
    weight: float


async def _person() -> Person:
    return Person("ann")


async def _maybe_product() -> Product | None:
    return None


def _template_page(template: str, *, result: object = Person, call: object = _person) -> Page:
    return Page(
        name="p",
        shell=Shell(html=SHELL.format('<?marker name="a">')),
        queries=(Query(name="q", call=call, result=result),),  # type: ignore[arg-type]
        fragments=(Fragment(target="a", uses=("q",), template=template, fallback="…"),),
    )


@pytest.mark.parametrize(
    ("template", "result", "message"),
    [
        (
            "{{ q.logn }}",
            Person,
            "{{ q.logn }}: q is Person, which has no field 'logn' (did you mean 'login'?)",
        ),
        (
            "{{ q.manager.login }}",
            Person,
            "{{ q.manager.login }}: 'q.manager' is declared"
            " Person | None, so .login fails whenever it is None: raise in the query instead of"
            " returning None (the fragment then shows its error HTML), or render with a function"
            " that handles None",
        ),
        (
            "{{ q.name }}",
            Product | None,
            "{{ q.name }}: query 'q' is declared Product | None, so"
            " .name fails whenever it is None",
        ),
        (
            "{{ q.0.nme }}",
            list[Product],
            "{{ q.0.nme }}: q.0 is Product, which has no field 'nme' (did you mean 'name'?)",
        ),
        (
            "{{ q.tags.first }}",
            Product,
            "q.tags is list[str], which has no attribute 'first' (an item is .0, .1, ...)",
        ),
        (
            "{{ q.links.2 }}",
            Product,
            "q.links is tuple[str, str], which has 2 items, so item 2 never exists",
        ),
        ("{{ q.login.0.x }}", Person, "q.login.0 is str, which has no attribute 'x'"),
        ("{{ q.x }}", int, "{{ q.x }}: q is int, which has no attribute 'x'"),
        ("{{ q.3 }}", int, "{{ q.3 }}: q is int, which has no items"),
        (
            "{{ q.carier }}",
            Shipment,
            "{{ q.carier }}: q is Shipment, which has no field 'carier' (did you mean 'carrier'?)",
        ),
        (
            "{{ q.7.nme }}",
            dict[int, Product],
            "{{ q.7.nme }}: q.7 is Product, which has no field 'nme' (did you mean 'name'?)",
        ),
    ],
)
def test_template_paths_are_checked_against_declared_results(
    template: str, result: object, message: str
) -> None:
    (error,) = errors_of(_template_page(template, result=result))
    assert error.startswith("$.fragments[0].template: error: page 'p' [a]: ")
    assert message in error


@pytest.mark.parametrize(
    ("template", "result"),
    [
        ("{{ q.login }} {{ q.manager }} {{ q.login.upper }}", Person),
        ("{{ q.0.name }} {{ q.0.tags.0 }} {{ q.0.links.1 }}", list[Product]),
        ("{{ q.anything.at.all }}", dict),
        ("{{ q.k.deeper }}", dict[str, typing.Any]),
        ("{{ q.key.login }}", dict[str, Person]),
        ("{{ q.whatever }}", typing.Any),
        ("{{ q.attr }}", type("Plain", (), {})),  # a plain class: instance attributes unknown
        ("{{ q | url }}", str),
        ("{{ q }}", Product | None),  # prints None: no path through it
    ],
)
def test_template_paths_that_can_work_pass(template: str, result: object) -> None:
    Graph.build(_template_page(template, result=result))


def test_shell_paths_are_checked_before_any_request(tmp_path: Path) -> None:
    page = Page(
        name="p",
        shell=Shell(
            html=SHELL.format("<title>{{ product.name }} {{ team.nam }}</title>"),
            queries=("product", "team"),
        ),
        queries=(
            Query(name="product", call=_maybe_product, result=Product | None),
            Query(name="team", call=_person, result=Person),
        ),
    )
    assert errors_of(page) == [
        "$.shell.html: error: page 'p': {{ product.name }}: query 'product' is declared"
        " Product | None, so .name fails whenever it is None: raise engine.NotFound in the"
        " query instead of returning None (a 404), or declare the result without None",
        "$.shell.html: error: page 'p': {{ team.nam }}: team is Person, which has no field 'nam'",
    ]


def test_jinja_syntax_in_a_template_or_the_shell_is_an_error_with_the_way_out() -> None:
    (error,) = errors_of(_template_page("{% if q %}{{ q.login }}{% endif %}"))
    assert error == (
        "$.fragments[0].template: error: page 'p' [a]: '{% if q %}' is Jinja syntax, and {{ }}"
        " templates only interpolate values: use a Jinja2 template (jinja = ...) or a render"
        " function"
    )
    page = Page(name="p", shell=Shell(html=SHELL.format("{{ user.name | title }}")))
    (error,) = errors_of(page)
    assert error.startswith(
        "$.shell.html: error: page 'p': unknown filter 'title' in '{{ user.name | title }}'"
    )


def test_placeholders_after_the_body_are_an_error() -> None:
    page = Page(name="p", shell=Shell(html=SHELL.format("") + "{{ csp_nonce }}"))
    assert errors_of(page) == [
        "$.shell.html: error: page 'p': placeholders after </body> are never filled: move them"
        " before it"
    ]


def test_check_warns_about_a_placeholder_that_decides_a_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "links.toml"
    page.write_text(
        'name = "links"\n[shell]\nqueries = ["q"]\n'
        'html = \'<meta charset="utf-8"><a href="{{ q.login }}">me</a><?marker name="a">\'\n'
        '[[queries]]\nname = "q"\ncall = "tests.test_definition_errors:_person"\n'
        'result = "tests.test_definition_errors:Person"\n'
        '[[fragments]]\ntarget = "a"\nuses = ["q"]\nfallback = "…"\n'
        'template = \'<img src="{{ q.login }}"><a href="{{ q.login | url }}">x</a>\'\n'
    )
    assert main(["check", str(page)]) == 0
    out, err = capsys.readouterr()
    assert out == "page 'links': ok (1 queries, 1 fragments, 2 warnings)\n"
    assert err.splitlines() == [
        f"{page}:$.fragments[0].template: warning: page 'links' [a]: {{{{ q.login }}}} starts"
        " the URL in src=: escaping does not stop a javascript: URL from running; write"
        " {{ q.login | url }} (http(s), mailto and relative URLs pass, anything else becomes"
        " about:blank#blocked)",
        f"{page}:$.shell.html: warning: page 'links': {{{{ q.login }}}} starts the URL in"
        " href=: escaping does not stop a javascript: URL from running; write"
        " {{ q.login | url }} (http(s), mailto and relative URLs pass, anything else becomes"
        " about:blank#blocked)",
    ]
