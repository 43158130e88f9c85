"""Pages whose queries await real asyncio drivers: SQLite through aiosqlite and HTTP through
httpx.AsyncClient. Served by the real-server tests (uvicorn, a Starlette mount, ``engine
serve``, ``engine render``) and rendered in process by tests/asgi/test_asyncio.py.

Where things are comes from the environment, read per call: ``ENGINE_TEST_DB`` (a SQLite
file, see :func:`create_db`), ``ENGINE_TEST_UPSTREAM`` (the base URL of tests/asgi/upstream.py)
and ``ENGINE_TEST_EVENTS`` (a file each asyncio query appends what it saw to, one line each).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator

import aiosqlite
import httpx
import msgspec
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

import engine
from engine import Fragment, Page, Query, Shell
from engine.asgi import App


class Product(msgspec.Struct):
    id: int
    name: str


class Weather(msgspec.Struct):
    city: str
    celsius: float


def create_db(path: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute("create table product (id integer primary key, name text)")
        db.executemany(
            "insert into product values (?, ?)",
            [(1, "Kettle"), (2, "Teapot"), (3, "Mug <3")],
        )


def record(line: str) -> None:
    with open(os.environ["ENGINE_TEST_EVENTS"], "a") as events:
        events.write(line + "\n")


def running_library() -> str:
    """What the query sees: an asyncio task on a running loop (not trio)."""
    task = asyncio.current_task()
    return f"asyncio-task={task is not None}"


@engine.on_asyncio
async def products() -> list[Product]:
    async with (
        aiosqlite.connect(os.environ["ENGINE_TEST_DB"]) as db,
        db.execute("select id, name from product order by id") as cursor,
    ):
        rows = await cursor.fetchall()
    return [Product(*row) for row in rows]


@engine.on_asyncio
async def product_batches() -> AsyncIterator[list[Product]]:
    async with (
        aiosqlite.connect(os.environ["ENGINE_TEST_DB"]) as db,
        db.execute("select id, name from product order by id") as cursor,
    ):
        while rows := await cursor.fetchmany(2):
            yield [Product(*row) for row in rows]


async def weather() -> Weather:  # runs on asyncio through its query's loop = "asyncio"
    async with httpx.AsyncClient(base_url=os.environ["ENGINE_TEST_UPSTREAM"]) as client:
        response = await client.get("/weather")
        response.raise_for_status()
        return msgspec.convert(response.json(), Weather)


@engine.on_asyncio
async def hanging(label: str = "hang") -> str:
    """Blocked on a real HTTP request that never answers, until something cancels it."""
    record(f"started {label} {running_library()}")
    try:
        async with httpx.AsyncClient(base_url=os.environ["ENGINE_TEST_UPSTREAM"]) as client:
            await client.get("/hang", timeout=60)
    except asyncio.CancelledError:
        record(f"cancelled {label}")
        raise
    return "answered"


@engine.on_asyncio
async def broken() -> str:
    async with aiosqlite.connect(os.environ["ENGINE_TEST_DB"]) as db:
        await db.execute("select * from no_such_table")
    return "unreachable"


@engine.on_asyncio
async def cancels_itself() -> str:
    task = asyncio.current_task()
    assert task is not None
    task.cancel()
    await asyncio.sleep(0)
    return "unreachable"


def _items(products: list[Product]) -> str:
    return "".join(engine.html("<li>{{ p.name }}</li>", p=p) for p in products)


SHELL = Shell(
    html='<!doctype html><html><head><meta charset="utf-8"><title>asyncio</title></head><body>'
    '<ul id="products"><?marker name="products"></ul>'
    '<p id="weather"><?marker name="weather"></p></body></html>'
)

shop = Page(
    name="asyncio-shop",
    shell=SHELL,
    queries=(
        Query(name="products", call=products, result=list[Product], expose=True),
        Query(name="weather", call=weather, result=Weather, loop="asyncio"),
    ),
    fragments=(
        Fragment(target="products", uses=("products",), render=_items, fallback="…"),
        Fragment(
            target="weather",
            uses=("weather",),
            template="{{ weather.city }}: {{ weather.celsius }} °C",
            fallback="…",
        ),
    ),
)

batches = Page(
    name="asyncio-batches",
    shell=Shell(html='<!doctype html><html><body><ul><?marker name="list"></ul></body></html>'),
    queries=(Query(name="product_batches", call=product_batches, result=list[Product]),),
    fragments=(
        Fragment(
            target="list",
            uses=("product_batches",),
            mode="append",
            render=lambda product_batches: _items(product_batches),
        ),
    ),
)

hang = Page(
    name="asyncio-hang",
    shell=Shell(html='<!doctype html><html><body><p><?marker name="late"></p></body></html>'),
    queries=(Query(name="hanging", call=hanging, result=str, params=("label",)),),
    fragments=(
        Fragment(target="late", uses=("hanging",), template="{{ hanging }}", fallback="waiting"),
    ),
)

failing = Page(
    name="asyncio-failing",
    shell=Shell(
        html='<!doctype html><html><body><p><?marker name="a"></p><p><?marker name="b"></p>'
        "</body></html>"
    ),
    queries=(
        Query(name="broken", call=broken, result=str),
        Query(name="cancels_itself", call=cancels_itself, result=str),
    ),
    fragments=(
        Fragment(target="a", uses=("broken",), template="{{ broken }}", error="<i>a failed</i>"),
        Fragment(
            target="b",
            uses=("cancels_itself",),
            template="{{ cancels_itself }}",
            error="<i>b failed</i>",
        ),
    ),
)

app = App({"/shop": shop, "/batches": batches, "/hang": hang})


async def hello(request: object) -> PlainTextResponse:
    return PlainTextResponse("asyncio route")


starlette_app = Starlette(routes=[Route("/hello", hello), Mount("/engine", app=app)])
