"""Page files as data: a valid page to start from, its module, and the three file formats.

Shared by the malformed-page corpus and the property tests that generate and mutate
page files: a page is a dict until it is written, so a mistake is a change to a dict.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w
import yaml

MODULE = """\
from typing import Any, AsyncIterator

import msgspec


class Item(msgspec.Struct):
    name: str
    price: float = 0.0


async def title() -> str:
    return "Items & more"


async def items() -> list[Item]:
    return [Item("a", 1.0)]


async def count(items: list[Item]) -> int:
    return len(items)


async def lookup(item_id: int) -> Item:
    return Item(str(item_id))


async def batches() -> AsyncIterator[list[Item]]:
    yield [Item("a")]


def render_items(items: list[Item]) -> str:
    return "".join(f"<li>{i.name}</li>" for i in items)


def render_count(count: int) -> str:
    return f"<b>{count}</b>"


async def anything(**values: Any) -> int:
    return 1


def render_any(**values: Any) -> str:
    return "<p>" + ", ".join(map(str, values.values())) + "</p>"
"""
"""The module every generated page refers to, written next to the page as ``{mod}.py``."""


def base_page(mod: str) -> dict[str, Any]:
    """A valid page using every kind of node: shell query, dependency, nesting, both renderers."""
    return {
        "name": "items",
        "shell": {
            "queries": ["title"],
            "html": '<!doctype html><html><head><meta charset="utf-8"><title>{{ title }}'
            '</title></head><body><ul><?marker name="list"></ul><?marker name="summary">'
            "</body></html>",
        },
        "queries": [
            {"name": "title", "call": f"{mod}:title", "result": "str"},
            {"name": "items", "call": f"{mod}:items", "result": f"list[{mod}:Item]"},
            {
                "name": "count",
                "call": f"{mod}:count",
                "result": "int",
                "depends_on": ["items"],
                "timeout": 2.0,
            },
        ],
        "fragments": [
            {
                "target": "list",
                "uses": ["items"],
                "render": f"{mod}:render_items",
                "fallback": "<li>…</li>",
                "priority": "high",
            },
            {
                "target": "summary",
                "uses": ["count", "items"],
                "template": '<p>{{ count }} items, first {{ items.0.name }}</p><?marker name="n">',
                "fallback": "…",
            },
            {"target": "n", "template": "<i>nested</i>", "fallback": "…"},
        ],
    }


def write(data: Any, fmt: str) -> bytes:
    """``data`` as a page file in ``fmt`` (toml, json or yaml)."""
    if fmt == "toml":
        return tomli_w.dumps(data).encode()
    if fmt == "json":
        return json.dumps(data, indent=1, ensure_ascii=False).encode()
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode()


FORMATS = ("toml", "json", "yaml")


def mutated(mod: str, change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    """The base page with ``change`` applied to a copy."""
    page = copy.deepcopy(base_page(mod))
    change(page)
    return page


def write_module(directory: Path, mod: str) -> None:
    (directory / f"{mod}.py").write_text(MODULE)
