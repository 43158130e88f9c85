"""Queries that await asyncio libraries, run from trio on the asyncio loop that hosts it.

asyncio libraries (asyncpg, SQLAlchemy's asyncio engine, aiosqlite, redis.asyncio, httpx,
aiohttp) only work inside an asyncio task. The engine resolves pages on trio; under an asyncio
server (uvicorn, Hypercorn's asyncio worker, Starlette, FastAPI) trio runs in *guest mode* on
that server's loop, in the same thread. So a query declared ``loop = "asyncio"`` becomes an
asyncio task on the host loop, and its trio task waits for the task to settle without blocking
either loop. Cancellation crosses both ways: cancelling the trio side (a client disconnect, a
timeout, the page deadline) cancels the asyncio task and waits for it to finish unwinding; an
asyncio task that ends cancelled, or raises, fails its query like any other failure.

Under a pure trio host (``trio.run``, Hypercorn's trio worker) there is no asyncio loop: such a
page is refused before its first byte (and ``engine.asgi.App`` refuses to start), never halfway.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import trio

from .._errors import NoAsyncioHost
from .steps import after_first_step

__all__ = [
    "AsyncioCancelled",
    "asyncio_context",
    "host_loop",
    "on_trio",
    "require_asyncio_host",
    "run_on_asyncio",
]

T = TypeVar("T")


def host_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio loop hosting the current trio run in guest mode, or None.

    In guest mode trio's ticks run as callbacks of the host loop, so the host loop is the
    thread's running loop; under ``trio.run`` there is none.
    """
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def require_asyncio_host(page: str, queries: Sequence[str]) -> None:
    """Refuse a page whose asyncio queries could not run here, naming them and the fix."""
    if queries and host_loop() is None:
        names = ", ".join(repr(q) for q in queries)
        subject = f"query {names} runs" if len(queries) == 1 else f"queries {names} run"
        raise NoAsyncioHost(
            f'{subject} on asyncio (loop = "asyncio" or @engine.on_asyncio) but no'
            " asyncio loop hosts this render (a pure trio host: trio.run or Hypercorn's trio"
            " worker); serve it from an asyncio server (uvicorn, `hypercorn --worker-class"
            " asyncio`, Starlette/FastAPI) or with `engine serve`/`engine render`, which pick"
            " an asyncio host for such pages",
            page=page,
            node=queries[0],
        )


async def run_on_asyncio(
    make: Callable[[], Awaitable[T]],
    *,
    what: str = "query",
    first_step: Callable[[], None] | None = None,
) -> T:
    """Await ``make()`` as a task of the host asyncio loop, from a trio task.

    The awaitable is created inside the asyncio task, so everything the callable does,
    including before its first ``await``, sees asyncio as the running library.
    ``first_step`` is called on trio once the coroutine's first step on asyncio has ended
    (batching waits for it).
    """
    loop = host_loop()
    if loop is None:
        raise RuntimeError(f"{what} needs an asyncio loop hosting this trio run; there is none")
    if first_step is not None:
        make = functools.partial(_first_step, make, on_trio(first_step))
    task = loop.create_task(_await(make))
    settled = trio.Event()
    task.add_done_callback(lambda _: settled.set())  # runs on the host loop, same thread
    try:
        await settled.wait()
    except trio.Cancelled:
        task.cancel()
        with trio.CancelScope(shield=True):
            await settled.wait()  # the task unwinds (closes its cursor, connection) first
        raise
    if task.cancelled():
        raise AsyncioCancelled(f"the asyncio task running this {what} was cancelled")
    return task.result()


class AsyncioCancelled(Exception):
    """The asyncio task ended cancelled though trio did not ask: a failure, not a trio cancel."""


async def _await(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


async def _first_step(make: Callable[[], Awaitable[T]], stepped: Callable[[], None]) -> T:
    return await after_first_step(make(), stepped)


def on_trio(fn: Callable[[], None]) -> Callable[[], None]:
    """``fn``, called from the asyncio side but run by trio, in order with other such calls."""
    token = trio.lowlevel.current_trio_token()
    return functools.partial(token.run_sync_soon, fn)


@contextlib.asynccontextmanager
async def asyncio_context(manager: contextlib.AbstractAsyncContextManager[T]) -> AsyncIterator[T]:
    """Enter and exit an asyncio async context manager from trio, both in one asyncio task.

    For app-lifetime resources built on asyncio (an aiosqlite connection, an
    ``httpx.AsyncClient``, an asyncpg pool): some of them tie their state to the task that
    entered them, so one host task holds the resource open until trio leaves the block.
    """
    loop = host_loop()
    if loop is None:
        raise RuntimeError("an asyncio resource needs an asyncio loop hosting this trio run")
    entered: asyncio.Future[Any] = loop.create_future()
    release = asyncio.Event()

    async def hold() -> None:
        async with manager as value:
            entered.set_result(value)
            await release.wait()

    task = loop.create_task(hold())
    ready = trio.Event()
    entered.add_done_callback(lambda _: ready.set())
    task.add_done_callback(lambda _: ready.set())
    settled = trio.Event()
    task.add_done_callback(lambda _: settled.set())
    try:
        await ready.wait()
    except trio.Cancelled:
        task.cancel()
        with trio.CancelScope(shield=True):
            await settled.wait()
        raise
    if not entered.done():  # __aenter__ failed (or was cancelled)
        if task.cancelled():
            raise AsyncioCancelled("the asyncio task entering a resource was cancelled")
        task.result()
    try:
        yield entered.result()
    finally:
        release.set()
        with trio.CancelScope(shield=True):
            await settled.wait()
        if not task.cancelled():
            task.result()  # an error while closing the resource is not swallowed
