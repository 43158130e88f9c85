"""A page whose query draws on an app resource: which process opened it, and how often.

Served by real servers in the tests (``engine serve resource_site:page --workers 2``), and used
in process to follow each resource's life (``EVENTS``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import AsyncIterator

import attrs
import trio
import trio.lowlevel

import engine
from engine import Page, Query, Shell

EVENTS: list[str] = []
_serial = itertools.count(1)


@attrs.frozen
class Pool:
    """Stands for a database pool: its identity is the process and an opening number."""

    pid: int
    serial: int
    closed: list[bool] = attrs.field(factory=lambda: [False])


@contextlib.asynccontextmanager
async def open_pool() -> AsyncIterator[Pool]:
    await trio.lowlevel.checkpoint()  # opening a real pool awaits; so does this one, on trio
    pool = Pool(os.getpid(), next(_serial))
    EVENTS.append(f"open pool {pool.serial}")
    try:
        yield pool
    finally:
        pool.closed[0] = True
        EVENTS.append(f"close pool {pool.serial}")


async def cache() -> AsyncIterator[str]:
    """An async generator function is a resource too: its one yield is the value."""
    EVENTS.append("open cache")
    yield "cache"
    EVENTS.append("close cache")


resources = engine.Resources(pool=open_pool, cache=cache)


async def identity(pool: Pool) -> str:
    assert not pool.closed[0], "a query must never see a closed resource"
    return f"pid={pool.pid} pool={pool.serial}"


page = Page(
    name="resources",
    shell=Shell(html='<!doctype html><meta charset="utf-8"><p>{{ who }}</p>', queries=("who",)),
    queries=(Query(name="who", call=identity, result=str, resources=("pool",)),),
    resources=resources,
)
