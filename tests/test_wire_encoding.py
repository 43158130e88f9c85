"""Lone surrogates on the wire: written as U+FFFD, and found where a query's value holds one.

The render tests (``tests/test_surrogates.py``) show the warning a page gets; these pin the
two functions it is built on, for every shape a query's value may take.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

from engine.wire.encoding import REPLACEMENT, encode_replacing, surrogate_path

LONE = "\ud800"


def test_each_lone_surrogate_is_written_as_the_replacement_character() -> None:
    assert encode_replacing(f"a{LONE}b\udfff") == (
        f"a{REPLACEMENT}b{REPLACEMENT}".encode(),
        "U+D800",
    )
    assert encode_replacing("\udc0a") == (REPLACEMENT.encode(), "U+DC0A")
    assert encode_replacing("valid é 😀") == ("valid é 😀".encode(), "")


class Base(msgspec.Struct):
    name: str


class Derived(Base):
    note: str = ""


class WithDict(msgspec.Struct, dict=True):
    name: str


@dataclasses.dataclass(slots=True)
class SlottedBase:
    name: str


@dataclasses.dataclass(slots=True)
class SlottedDerived(SlottedBase):
    note: str


class Partly:
    __slots__ = ("first", "second")


class OneSlot:
    __slots__ = "only"


def partly(**values: str) -> Partly:
    item = Partly()  # a slot never assigned is no error
    for name, value in values.items():
        setattr(item, name, value)
    return item


def one_slot(value: str) -> OneSlot:
    item = OneSlot()
    item.only = value
    return item


def with_extra(value: str) -> WithDict:
    item = WithDict("fine")
    item.extra = value  # type: ignore[attr-defined]
    return item


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (LONE, ""),
        ("fine", None),
        (["fine", 1, 2.5, None, True, b"\xff", f"x{LONE}"], "[6]"),
        (("fine", [LONE]), "[1][0]"),
        ({"a": "fine", "b": {"c": LONE}}, "['b']['c']"),
        ({f"k{LONE}": 1}, "['k\\ud800']"),  # a key holds it
        ({3: [0, LONE]}, "[3][1]"),
        (frozenset({LONE}), "[0]"),
        (Derived(name=LONE), ".name"),  # a field of the base Struct
        (Derived(name="fine", note=LONE), ".note"),
        (with_extra(LONE), ".extra"),  # a Struct's own __dict__, not a slot named __dict__
        (SlottedDerived(LONE, "fine"), ".name"),  # a slot of the base class
        (SlottedDerived("fine", LONE), ".note"),
        (partly(second=LONE), ".second"),
        (one_slot(LONE), ".only"),  # __slots__ given as one string
        (SimpleNamespace(a="fine", b=SimpleNamespace(c=LONE)), ".b.c"),
        ([{"a": ["fine"]}, SimpleNamespace(z=1)], None),
    ],
)
def test_the_path_of_the_first_lone_surrogate(value: Any, path: str | None) -> None:
    assert surrogate_path(value) == path


def test_values_that_hold_themselves_are_walked_once() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    assert surrogate_path(cycle) is None
    cycle.append({"back": cycle, "text": LONE})
    assert surrogate_path(cycle) == "[1]['text']"
    shared = ["fine"]
    assert surrogate_path([shared, shared, LONE]) == "[2]"
