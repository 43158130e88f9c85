"""`engine check` on actions: callable, input type, invalidated names, unique names; each
mistake one error naming page, action, file and key, with the fix."""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec
import pytest

import engine
from engine import Action, Graph, Page, Query, Request, Resources, Response, Shell
from engine.cli import main
from engine.definition.actions import InputError

SHELL = Shell(html='<!doctype html><meta charset="utf-8"><title>t</title>')


class Note(msgspec.Struct):
    text: str


async def items() -> list[str]:
    return []


async def add(data: Note, request: Request, response: Response) -> None:
    return None


def page(*actions: Action, **extra) -> Page:
    queries = (Query(name="items", call=items, result=list[str]), *extra.pop("queries", ()))
    return Page(name="notes", shell=SHELL, queries=queries, actions=actions, **extra)


def errors_of(p: Page) -> list[str]:
    with pytest.raises(engine.PageError) as caught:
        Graph.build(p)
    return [str(x) for x in caught.value.problems if x.severity == "error"]


def test_a_valid_action_builds_with_its_input_and_invalidated_queries() -> None:
    graph = Graph.build(page(Action(name="add", call=add, input=Note, invalidates=("items",))))
    action = graph.actions["add"]
    assert action.input is Note and action.invalidates == (0,)
    assert action.context == {"request": "request", "response": "response"}


def test_an_unknown_invalidated_query_is_named_with_a_suggestion() -> None:
    assert errors_of(page(Action(name="add", call=add, input=Note, invalidates=("item",)))) == [
        "$.actions[0].invalidates[0]: error: page 'notes' [add]: invalidates unknown query"
        " 'item' (did you mean 'items'?)"
    ]


def test_the_input_must_be_a_struct() -> None:
    assert errors_of(page(Action(name="add", call=add, input=dict))) == [
        "$.actions[0].input: error: page 'notes' [add]: input must be a msgspec Struct (the"
        " form's fields), not <class 'dict'>: declare `class MyInput(msgspec.Struct): ...`"
        " and name it"
    ]


def test_action_names_are_unique() -> None:
    assert errors_of(
        page(Action(name="add", call=add, input=Note), Action(name="add", call=add))
    ) == [
        "$.actions[1].name: error: page 'notes' [add]: duplicate action name: give each"
        " action its own name"
    ]


def test_the_callable_must_take_what_the_action_gives() -> None:
    async def no_input(request: Request) -> None:
        return None

    [message] = errors_of(page(Action(name="add", call=no_input, input=Note)))
    assert message.startswith("$.actions[0].call: error: page 'notes' [add]: callable ")
    assert "does not accept keyword argument(s) data" in message
    assert "receives its input as `data`" in message
    [message] = errors_of(page(Action(name="add", call=add)))
    assert "requires argument(s) data that nothing provides" in message


def test_resources_must_be_declared() -> None:
    async def needs_db(db: object) -> None:
        return None

    [message] = errors_of(
        page(Action(name="go", call=needs_db, resources=("db",)), resources=Resources())
    )
    assert message.startswith(
        "$.actions[0].resources[0]: error: page 'notes' [go]: needs resource 'db', which is"
        " not declared"
    )


def test_a_cached_query_may_be_invalidated() -> None:
    """Its entry is renewed after the action (tests/asgi/test_cache_invalidation.py)."""
    cached = Query(name="recent", call=items, result=list[str], cache=engine.Cache(ttl=60))
    action = Action(name="add", call=add, input=Note, invalidates=("recent",))
    graph = Graph.build(page(action, queries=(cached,)))
    assert graph.actions["add"].invalidates == (graph.query_index["recent"],)


def test_engine_check_names_the_page_file_and_key(tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "notes_mod.py").write_text(
        "import msgspec\n"
        "class Note(msgspec.Struct):\n    text: str\n"
        "async def items() -> list[str]:\n    return []\n"
        "async def add(data: Note) -> None:\n    return None\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("notes_mod", None)
    file = tmp_path / "notes.toml"
    file.write_text(
        'name = "notes"\n[shell]\nhtml = "<title>t</title>"\n'
        '[[queries]]\nname = "items"\ncall = "notes_mod:items"\nresult = "list[str]"\n'
        '[[actions]]\nname = "add"\ncall = "notes_mod:add"\ninput = "notes_mod:Note"\n'
        'invalidates = ["itemz"]\n'
        '[[actions]]\nname = "gone"\ncall = "notes_mod:remove"\n'
    )
    code = main(["check", str(file)])
    out = capsys.readouterr()
    lines = (out.out + out.err).splitlines()
    assert code == 1
    assert (
        f"{file}:$.actions[0].invalidates[0]: error: page 'notes' [add]: invalidates" in (lines[0])
    )
    assert lines[1].startswith(f"{file}:$.actions[1].call: error: page 'notes' [gone]:")
    assert "remove" in lines[1]
    fixed = file.read_text().replace("itemz", "items")
    file.write_text(fixed.replace(':remove"', ':add"\ninput = "notes_mod:Note"'))
    assert main(["check", str(file)]) == 0, capsys.readouterr()


def test_a_misspelled_action_key_in_a_file_is_a_structure_error(tmp_path: Path, capsys) -> None:
    file = tmp_path / "bad.toml"
    file.write_text(
        'name = "bad"\n[shell]\nhtml = "<title>t</title>"\n'
        '[[actions]]\nname = "add"\ncall = "m:add"\ninvalidate = ["x"]\n'
        '[[actions]]\nname = "bad name"\ncall = "m:add"\n'
    )
    assert main(["check", str(file)]) == 1
    out = capsys.readouterr()
    lines = (out.out + out.err).splitlines()
    assert "$.actions[0]" in lines[0] and "invalidate" in lines[0]
    assert "$.actions[1].name" in lines[1], "each broken action is reported, not only the first"


class Order(msgspec.Struct):
    item: str = "tea"
    qty: list[int] = []


async def order(data: Order) -> None:
    return None


def test_submitted_input_decodes_with_errors_keyed_by_their_field() -> None:
    action = Graph.build(page(Action(name="order", call=order, input=Order))).actions["order"]
    assert action.decode_json(b"") == Order()  # an empty JSON body: every default
    assert action.decode_form([("qty", "1"), ("qty", "2")]) == Order(qty=[1, 2])
    with pytest.raises(InputError) as caught:
        action.decode_form([("qty", "1"), ("qty", "x")])
    # The form shows errors by field name: the second value of qty is qty's error.
    assert caught.value.errors == {"qty": "Expected `int`, got `str`"}
