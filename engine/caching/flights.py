"""Single flight: concurrent renders that need the same missing key share one call.

The shared call runs as a trio *system task*: it belongs to the run (the server process, a
worker's guest run), not to the render that started it, so a render that goes away (its client
left, its timeout passed) stops waiting without cancelling the call for the others. The call
fills the store when it ends, even if no render waits any more. Only the query's own
``timeout`` bounds it; each waiter applies its render's deadlines to its own wait.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

import outcome
import trio

from .._errors import QueryTimeout
from ..definition.caching import CachePolicy
from .stores import CachedFailure, CacheStore, Entry

__all__ = ["Flight", "join"]

logger = logging.getLogger("engine")

Call = Callable[[], Awaitable[Any]]


class Flight:
    """One call in the air: its waiters wait for :attr:`done`, then read :attr:`result`."""

    def __init__(self) -> None:
        self.done = trio.Event()
        self.result: outcome.Outcome[Any] | None = None
        self.superseded = False
        """A renewal started after this call: its (older) answer must not overwrite the store."""

    async def wait(self) -> outcome.Outcome[Any]:
        """The call's outcome (read it, never ``unwrap`` it: every waiter gets the same one)."""
        await self.done.wait()
        assert self.result is not None  # set before done
        return self.result


_FLIGHTS: trio.lowlevel.RunVar[dict[tuple[int, str], Flight]] = trio.lowlevel.RunVar("flights")


def join(
    store: CacheStore,
    key: str,
    policy: CachePolicy,
    call: Call,
    *,
    page: str,
    query: str,
    timeout: float | None,
    refresh: bool = False,
    renew: bool = False,
) -> tuple[Flight, bool]:
    """The flight for ``key`` (started now if none is in the air) and whether it was joined.

    ``refresh``: the key holds a stale value, which a failure must not replace. ``renew``: an
    action changed the data, so a call already in the air may answer from before the change:
    start a new one, which alone writes the store.
    """
    try:
        flights = _FLIGHTS.get()
    except LookupError:
        flights = {}
        _FLIGHTS.set(flights)
    slot = (id(store), key)
    flight = flights.get(slot)
    if flight is not None:
        if not renew:
            return flight, True
        flight.superseded = True
    flight = flights[slot] = Flight()
    trio.lowlevel.spawn_system_task(
        _fly,
        flight,
        flights,
        slot,
        store,
        policy,
        call,
        _Names(page, query, timeout, refresh),
        name=f"cache {page}.{query}",
    )
    return flight, False


class _Names:
    __slots__ = ("page", "query", "refresh", "timeout")

    def __init__(self, page: str, query: str, timeout: float | None, refresh: bool) -> None:
        self.page, self.query, self.timeout, self.refresh = page, query, timeout, refresh


async def _fly(
    flight: Flight,
    flights: dict[tuple[int, str], Flight],
    slot: tuple[int, str],
    store: CacheStore,
    policy: CachePolicy,
    call: Call,
    names: _Names,
) -> None:
    deadline = trio.current_time() + names.timeout if names.timeout else math.inf
    result: outcome.Outcome[Any] | None = None
    try:
        with trio.CancelScope(deadline=deadline) as scope:
            result = await outcome.acapture(call)
        if isinstance(result, outcome.Error) and isinstance(result.error, trio.Cancelled):
            if not scope.cancel_called:  # the run is ending: nothing to keep
                raise result.error
            result = outcome.Error(
                QueryTimeout(
                    f"timed out after {names.timeout:g} s", page=names.page, query=names.query
                )
            )
    finally:
        if flights.get(slot) is flight:
            del flights[slot]
        flight.result = result or outcome.Error(RuntimeError("the cache's call was cancelled"))
        flight.done.set()
    if isinstance(result, outcome.Value):
        entry = Entry(value=result.value)
        fresh, stale = policy.ttl, policy.stale
    elif (
        isinstance(result, outcome.Error)
        and policy.failures is not None
        and not names.refresh  # a stale value beats a failure until its window ends
        and not isinstance(result.error, QueryTimeout)  # a timeout says nothing of the answer
    ):
        entry = Entry(failure=CachedFailure.of(result.error))
        fresh, stale = policy.failures, 0.0
    else:
        return
    if flight.superseded:
        return
    try:
        await store.write(slot[1], entry, fresh, stale)
    except Exception:  # a store that cannot keep it costs a call next time, never a page
        logger.debug("cache store %r: writing %s failed", store, slot[1], exc_info=True)
