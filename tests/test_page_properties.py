"""Generated page files, valid and then broken: ``engine check`` passes or fails cleanly.

A strategy builds valid pages (a DAG of queries, fragments nested in the shell and in
each other, shell queries, both kinds of renderer) in TOML, JSON or YAML; mutations
then drop a key, misspell a key or a name, change a type, add a dependency or slot
cycle, or damage the bytes. Whatever comes out, ``engine check`` exits 0 or 1 with
one line per problem naming the file: never a traceback, never a hang.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cli import main

from .pagefiles import FORMATS, write, write_module

MOD = f"props_{uuid.uuid4().hex[:10]}"


@st.composite
def pages(draw: st.DrawFn) -> dict[str, Any]:
    """A valid page: queries form a DAG, every slot is filled exactly once."""
    n_queries = draw(st.integers(1, 6))
    queries: list[dict[str, Any]] = []
    for i in range(n_queries):
        query: dict[str, Any] = {"name": f"q{i}", "call": f"{MOD}:anything", "result": "int"}
        depends = draw(st.lists(st.sampled_from(range(i)), unique=True) if i else st.just([]))
        if depends:
            query["depends_on"] = [f"q{d}" for d in depends]
        if draw(st.booleans()):
            query["timeout"] = draw(st.floats(0.1, 10))
        queries.append(query)
    names = [q["name"] for q in queries]
    n_fragments = draw(st.integers(0, 5))
    holders: list[int | None] = [
        draw(st.sampled_from([None, *range(i)])) if i else None for i in range(n_fragments)
    ]
    fragments: list[dict[str, Any]] = []
    for i in range(n_fragments):
        uses = draw(st.lists(st.sampled_from(names), unique=True, max_size=3))
        children = "".join(f'<?marker name="s{j}">' for j, h in enumerate(holders) if h == i)
        fragment: dict[str, Any] = {"target": f"s{i}", "uses": uses, "fallback": "…"}
        if children or draw(st.booleans()):
            fragment["template"] = "".join(f"<b>{{{{ {u} }}}}</b>" for u in uses) + children
        else:
            fragment["render"] = f"{MOD}:render_any"
        fragment["priority"] = draw(st.sampled_from(["high", "normal", "low", 3, -2]))
        fragments.append(fragment)
    shell_queries = draw(st.lists(st.sampled_from(names), unique=True, max_size=2))
    top = "".join(f'<?marker name="s{j}">' for j, h in enumerate(holders) if h is None)
    title = " ".join(f"{{{{ {q} }}}}" for q in shell_queries)
    page: dict[str, Any] = {
        "name": "generated",
        "shell": {
            "html": f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
            f"</head><body>{top}</body></html>",
        },
        "queries": queries,
        "fragments": fragments,
    }
    if shell_queries:
        page["shell"]["queries"] = shell_queries
    if draw(st.booleans()):
        page["mode"] = draw(st.sampled_from(["out-of-order", "in-order", "buffered"]))
    return page


def _nodes(page: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """Every dict and list in the page, with its path."""
    found = [(path, page)]
    if isinstance(page, dict):
        for key, value in page.items():
            found += _nodes(value, (*path, key))
    elif isinstance(page, list):
        for i, value in enumerate(page):
            found += _nodes(value, (*path, i))
    return [(p, v) for p, v in found if isinstance(v, dict | list)]


def _misspell(draw: st.DrawFn, word: str) -> str:
    position = draw(st.integers(0, max(len(word) - 1, 0)))
    letter = draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz_"))
    return word[:position] + letter + word[position + 1 :] if word else letter


@st.composite
def mutated_pages(draw: st.DrawFn) -> tuple[dict[str, Any] | bytes, str]:
    page = copy.deepcopy(draw(pages()))
    fmt = draw(st.sampled_from(FORMATS))
    kind = draw(
        st.sampled_from(
            [
                "drop",
                "misspell-key",
                "misspell-name",
                "retype",
                "cycle",
                "slot-cycle",
                "truncate",
                "garble",
            ]
        )
    )
    dicts = [(p, d) for p, d in _nodes(page) if isinstance(d, dict) and d]
    if kind == "drop":
        _, node = draw(st.sampled_from(dicts))
        del node[draw(st.sampled_from(sorted(node)))]
    elif kind == "misspell-key":
        _, node = draw(st.sampled_from(dicts))
        key = draw(st.sampled_from(sorted(node)))
        node[_misspell(draw, key)] = node.pop(key)
    elif kind == "misspell-name":
        references = [(q, "depends_on") for q in page["queries"] if q.get("depends_on")] + [
            (f, "uses") for f in page["fragments"] if f.get("uses")
        ]
        if page["shell"].get("queries"):
            references.append((page["shell"], "queries"))
        if references:
            node, field = draw(st.sampled_from(references))
            i = draw(st.integers(0, len(node[field]) - 1))
            node[field][i] = _misspell(draw, node[field][i])
        else:
            page["fragments"].append({"target": "x", "uses": ["q9"], "template": "x"})
    elif kind == "retype":
        _, node = draw(st.sampled_from(dicts))
        key = draw(st.sampled_from(sorted(node)))
        node[key] = draw(
            st.one_of(
                st.integers(-5, 5),
                st.booleans(),
                st.text(max_size=5),
                st.lists(st.integers(), max_size=2),
                st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                st.none(),
            )
        )
    elif kind == "cycle":
        last = page["queries"][-1]["name"]
        page["queries"][0]["depends_on"] = [last]
    elif kind == "slot-cycle" and page["fragments"]:
        fragment = draw(st.sampled_from(page["fragments"]))
        fragment.pop("render", None)
        fragment["template"] = fragment.get("template", "") + (
            f'<?marker name="{fragment["target"]}">'
        )
    elif kind in ("truncate", "garble"):
        data = _write(page, fmt)
        if kind == "truncate":
            return data[: draw(st.integers(0, max(len(data) - 1, 0)))], fmt
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:], fmt
    return page, fmt


def _write(page: dict[str, Any], fmt: str) -> bytes:
    try:
        return write(page, fmt)
    except (TypeError, ValueError):  # TOML has no null, tomli-w no mixed arrays: use JSON
        return json.dumps(page).encode()


@pytest.fixture(scope="module")
def page_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("generated")
    write_module(directory, MOD)
    return directory


def _check(page_dir: Path, data: bytes, fmt: str, capsys: pytest.CaptureFixture[str]) -> int:
    path = page_dir / f"page.{fmt}"
    path.write_bytes(data)
    capsys.readouterr()
    code = main(["check", str(path)])
    out, err = capsys.readouterr()
    assert code in (0, 1)
    for line in err.splitlines():
        assert line.startswith(f"{path}:"), err
        assert ": error: page " in line or ": warning: page " in line, err
    if code == 0:
        assert out.startswith("page "), out
    else:
        assert out == "" and ": error: " in err
    return code


# As many examples as the profile asks for (HYPOTHESIS_PROFILE: thorough, or mutation's fewer).
@pytest.mark.timeout(300)
@settings(
    max_examples=settings().max_examples,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(page=pages(), fmt=st.sampled_from(FORMATS))
def test_generated_pages_pass(
    page: dict[str, Any],
    fmt: str,
    page_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(page_dir))
    assert _check(page_dir, write(page, fmt), fmt, capsys) == 0


@pytest.mark.timeout(300)
@settings(
    max_examples=2 * settings().max_examples,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=mutated_pages())
def test_mutated_pages_pass_or_fail_cleanly(
    case: tuple[dict[str, Any] | bytes, str],
    page_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(page_dir))
    page, fmt = case
    data = page if isinstance(page, bytes) else _write(page, fmt)
    _check(page_dir, data, fmt, capsys)


@pytest.mark.parametrize("name", ["\x85", "\u2028", "a\nb", "\x1b[2J"])
@pytest.mark.parametrize("key", ["name", "target"])
def test_a_name_that_breaks_lines_stays_on_its_error_line(
    name: str,
    key: str,
    page_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Python's splitlines() (and terminals, and log shippers) break at NEL and U+2028 too: the
    # node an error names is escaped like the rest of the line (hypothesis found '\x85').
    monkeypatch.syspath_prepend(str(page_dir))
    page = {
        "name": "named",
        "shell": {"html": '<!doctype html><meta charset="utf-8"><?marker name="s0">'},
        "queries": [{"name": "q0", "call": f"{MOD}:anything", "result": "int"}],
        "fragments": [{"target": "s0", "uses": ["q0"], "template": "{{ q0 }}"}],
    }
    (page["queries"] if key == "name" else page["fragments"])[0][key] = name
    assert _check(page_dir, _write(page, "json"), "json", capsys) == 1
