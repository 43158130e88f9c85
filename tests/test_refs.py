"""Type expressions of page files are parsed by a grammar, never eval-ed."""

from __future__ import annotations

from typing import Any

import pytest

from engine.definition.refs import RefError, import_ref, parse_type
from tests.pages.fixtures import Item


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("int", int),
        ("any", Any),
        ("list[str]", list[str]),
        ("dict[str, int]", dict[str, int]),
        ("tuple[int, ...]", tuple[int, ...]),
        ("tests.pages.fixtures:Item", Item),
        ("list[tests.pages.fixtures:Item]", list[Item]),
        ("tests.pages.fixtures:Item | None", Item | None),
    ],
)
def test_parse_type(text: str, expected: Any) -> None:
    assert parse_type(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("integer", "unknown type 'integer'"),
        ("list[", "expected a type"),
        ("list[int]]", "unexpected ']'"),
        ("__import__('os')", "cannot read type"),
        ("nowhere:Thing", "cannot import module 'nowhere'"),
    ],
)
def test_bad_types_say_why(text: str, message: str) -> None:
    with pytest.raises(RefError, match=message):
        parse_type(text)


def test_import_ref() -> None:
    assert import_ref("tests.pages.fixtures:Item") is Item
    with pytest.raises(RefError, match="has no attribute 'Nope'"):
        import_ref("tests.pages.fixtures:Nope")
    with pytest.raises(RefError, match="not of the form"):
        import_ref("tests.pages.fixtures")


def test_a_type_may_nest_32_levels_and_no_deeper() -> None:
    def nested(levels: int) -> str:
        return "list[" * levels + "int" + "]" * levels

    expected: Any = int
    for _ in range(32):
        expected = list[expected]
    assert parse_type(nested(32)) == expected
    with pytest.raises(RefError, match="nests deeper than 32 levels"):
        parse_type(nested(33))
