"""Data sources: how many calls of a source's queries may run at once.

A sync query runs in a worker thread. When its timeout passes, the render stops
waiting for it, but the thread cannot be killed: it runs until the call returns,
and it keeps its place in its source's limit until then, because it really still
holds whatever the call holds (a connection, a socket, a file). So a backend that
hangs fills its source with abandoned calls, and every later call of that source
waits for a place. Giving each backend its own source confines the damage to the
queries that call it; a query that gives up waiting fails with
:class:`~engine.SourceExhausted`, which names the source and its limit.

Limits hold per trio run (per server process), like trio's own thread limiter:
:class:`Sources` is the configuration, and each run gets its own counters, so an
abandoned thread of one run never holds a place in another.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import attrs
import trio

__all__ = ["DEFAULT_LIMIT", "DEFAULT_SOURCE", "Source", "SourceStatistics", "Sources"]

logger = logging.getLogger("engine")

DEFAULT_SOURCE = "default"
"""The source of every sync query that names none."""
DEFAULT_LIMIT = 40
"""Places per source unless configured (trio's own default thread limit)."""


@attrs.frozen
class SourceStatistics:
    """A source's counters in the current run (``Sources.statistics()``)."""

    name: str
    limit: int
    busy: int
    """Places taken now, abandoned calls included."""
    abandoned: int
    """Calls whose query gave up (timeout, deadline, client gone) but that still run."""
    waiting: int
    """Calls waiting for a place now."""
    waited: int
    """Calls so far that found every place taken and had to wait."""
    starved: int
    """Calls so far whose query gave up while still waiting for a place."""


class Source:
    """One source's limit in one run: at most ``limit`` of its calls run at once."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self._places = trio.CapacityLimiter(limit)
        self.abandoned = 0
        self.waiting = 0
        self.waited = 0
        self.starved = 0

    def statistics(self) -> SourceStatistics:
        return SourceStatistics(
            name=self.name,
            limit=self.limit,
            busy=self._places.borrowed_tokens,
            abandoned=self.abandoned,
            waiting=self.waiting,
            waited=self.waited,
            starved=self.starved,
        )

    def describe(self) -> str:
        """The source's state in words, for errors and logs."""
        abandoned = (
            f", {self.abandoned} of them by abandoned calls still running" if self.abandoned else ""
        )
        return (
            f"source {self.name!r} has all {self.limit} places taken{abandoned}"
            f" (raise it with engine.Sources({self.name}=N), or give slow backends a source"
            " of their own: docs/pages.md#sources)"
        )

    def admission(self) -> Admission:
        return Admission(self)


class Admission:
    """One call's place in its source.

    It is also the limiter that ``trio.to_thread.run_sync`` sees, so the place is given
    back when the thread really ends, not when the query stopped waiting for it.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self.state = "new"
        """new, waiting, running, abandoned or done."""

    async def acquire_on_behalf_of(self, borrower: object) -> None:
        try:
            self.source._places.acquire_on_behalf_of_nowait(borrower)
        except trio.WouldBlock:
            await self._wait(borrower)
        self.state = "running"

    async def _wait(self, borrower: object) -> None:
        source = self.source
        source.waited += 1
        if source.waiting == 0:  # once per episode, not once per waiting call
            logger.warning("%s: queries wait for a place", source.describe())
        source.waiting += 1
        self.state = "waiting"
        try:
            await source._places.acquire_on_behalf_of(borrower)
        except BaseException:
            source.starved += 1
            raise
        finally:
            source.waiting -= 1

    def release_on_behalf_of(self, borrower: object) -> None:
        if self.state == "abandoned":
            self.source.abandoned -= 1
        self.state = "done"
        self.source._places.release_on_behalf_of(borrower)

    def abandon(self) -> None:
        """The query stopped waiting for a call that is still running in its thread."""
        if self.state == "running":
            self.state = "abandoned"
            self.source.abandoned += 1


class Sources:
    """The limits of the data sources queries call, shared by every render given them.

    ``Sources(default=40, db=10, search=4)``: a query with ``source="db"`` runs while
    fewer than 10 calls of ``db`` run (async and sync alike, across every render of
    the process); sync queries that name no source share ``default``, and async ones
    that name none are not limited. A source without a configured limit gets
    ``default``'s. Pass the same object to every render (``App(..., sources=...)``,
    ``render(..., sources=...)``) so they share it.
    """

    def __init__(self, default: int = DEFAULT_LIMIT, **limits: int) -> None:
        for name, limit in {DEFAULT_SOURCE: default, **limits}.items():
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValueError(
                    f"source {name!r}: the limit must be an integer >= 1, not {limit!r}"
                )
        self.limits: Mapping[str, int] = {DEFAULT_SOURCE: default, **limits}
        self._run: trio.lowlevel.RunVar[dict[str, Source]] = trio.lowlevel.RunVar("sources")

    def __repr__(self) -> str:
        return f"Sources({', '.join(f'{k}={v}' for k, v in self.limits.items())})"

    def source(self, name: str | None) -> Source:
        """The named source in the current run (``default`` for None)."""
        name = name or DEFAULT_SOURCE
        try:
            live = self._run.get()
        except LookupError:
            live = {}
            self._run.set(live)
        if name not in live:
            live[name] = Source(name, self.limits.get(name, self.limits[DEFAULT_SOURCE]))
        return live[name]

    def statistics(self) -> tuple[SourceStatistics, ...]:
        """Every source used so far in the current run, configured ones first."""
        for name in self.limits:
            self.source(name)
        return tuple(source.statistics() for source in self._run.get().values())
