"""A page whose resource is an asyncio object: one aiosqlite connection for the app's life,
entered, held and closed on the asyncio loop that hosts trio (uvicorn, ``engine render``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import aiosqlite

import engine
from engine import Page, Query, Shell


@engine.on_asyncio
@contextlib.asynccontextmanager
async def database() -> AsyncIterator[aiosqlite.Connection]:
    async with aiosqlite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t (n INTEGER)")
        await db.execute("INSERT INTO t VALUES (41)")
        print(f"asyncio_resource_site: open {os.getpid()}", flush=True)
        yield db
    print("asyncio_resource_site: closed", flush=True)


resources = engine.Resources(db=database)


@engine.on_asyncio
async def answer(db: aiosqlite.Connection) -> str:
    async with db.execute("SELECT n + 1 FROM t") as cursor:
        (n,) = await cursor.fetchone()
    return f"answer={n} conn={id(db)}"


page = Page(
    name="asyncio-resource",
    shell=Shell(html='<!doctype html><meta charset="utf-8"><p>{{ a }}</p>', queries=("a",)),
    queries=(Query(name="a", call=answer, result=str, resources=("db",)),),
    resources=resources,
)
