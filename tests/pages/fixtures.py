"""Callables and types that the page files of the tests refer to."""

from __future__ import annotations

import msgspec


class Item(msgspec.Struct):
    name: str
    price: float


async def items() -> list[Item]:
    return [Item("a", 1.0), Item("b", 2.5)]


async def title() -> str:
    return "Items & more"


def count(items: list[Item]) -> int:
    return len(items)


def render_items(items: list[Item]) -> str:
    return "".join(f"<li>{i.name}</li>" for i in items)


def render_count_wrongly(count: str) -> str:
    return f"<b>{count}</b>"


def takes_nothing() -> str:
    return "x"


raise_on_import = None


# The layouts of tests/pages/layouts and the page tests/pages/docs/intro.toml


async def user() -> str:
    return "Ann <admin>"


async def menu() -> list[str]:
    return ["home", "docs"]


async def toc() -> list[str]:
    return ["intro", "setup"]


async def body() -> str:
    return "Welcome & hello"


def render_menu(menu: list[str]) -> str:
    return "".join(f"<a>{link}</a>" for link in menu)


def render_toc(toc: list[str]) -> str:
    return "".join(f"<a>{link}</a>" for link in toc)


# tests/pages/jinja: fragments rendered by Jinja2 templates


class Product(msgspec.Struct):
    name: str
    price: float


class Review(msgspec.Struct):
    author: str
    text: str
    stars: int


async def product() -> Product:
    return Product("Lamp <b>", 12.5)


async def reviews() -> list[Review]:
    return [Review("ann", "Bright & warm", 5), Review("<bob>", "ok", 3)]


async def rating(reviews: list[Review]) -> float:
    return sum(r.stars for r in reviews) / len(reviews)
