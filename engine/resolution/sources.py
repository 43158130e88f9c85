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

Calls that wait are admitted by urgency, not in arrival order: each query's urgency is
known when its page is built (shell queries first, then by the priority of the most
urgent fragment that needs it, then declaration order), so when a burst of low-priority
work fills a source, what the visitor sees first still gets the next free place.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from operator import attrgetter
from typing import TYPE_CHECKING, TypeVar

import attrs
import trio

if TYPE_CHECKING:
    from ..definition.nodes import QueryNode

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_SOURCE",
    "LEAST_URGENT",
    "Admission",
    "Source",
    "SourceStatistics",
    "Sources",
    "Urgency",
    "holding",
    "in_thread_holding",
    "reserve",
]

logger = logging.getLogger("engine")

T = TypeVar("T")

DEFAULT_SOURCE = "default"
"""The source of every sync query that names none."""
DEFAULT_LIMIT = 40
"""Places per source unless configured (trio's own default thread limit)."""

Urgency = tuple[float, ...]
"""Smaller is admitted first (``QueryNode.urgency``); ties go in the order the calls'
admissions were made."""
LEAST_URGENT: Urgency = (math.inf,)
"""The urgency of a call no page ranked: after every ranked one."""


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
    """One source's limit in one run: at most ``limit`` of its calls run at once.

    A priority wait queue in place of trio's FIFO ``CapacityLimiter``, with its
    guarantees: a freed place goes straight to the most urgent waiter (no call barges
    past one that waits), and a borrower holds its place until it gives it back.
    """

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self._borrowers: set[object] = set()
        self._queue: list[tuple[Urgency, int, _Waiter]] = []
        self._arrivals = itertools.count()
        self.abandoned = 0
        self.waiting = 0
        self.waited = 0
        self.starved = 0

    def statistics(self) -> SourceStatistics:
        return SourceStatistics(
            name=self.name,
            limit=self.limit,
            busy=len(self._borrowers),
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

    def admission(self, urgency: Urgency = LEAST_URGENT) -> Admission:
        return Admission(self, urgency)

    def _take_nowait(self, borrower: object) -> bool:
        if borrower in self._borrowers:
            raise RuntimeError(f"{borrower!r} already holds a place in source {self.name!r}")
        if len(self._borrowers) < self.limit and not self.waiting:
            self._borrowers.add(borrower)
            return True
        return False

    def _queue_up(self, waiter: _Waiter, urgency: Urgency, arrival: int) -> None:
        self.waiting += 1
        self._enqueue(waiter, urgency, arrival)

    async def _turn(self, waiter: _Waiter) -> None:
        try:
            await waiter.admitted.wait()
        except BaseException:
            if waiter.granted:  # admitted before it came to wait, then cancelled: pass it on
                self._give_back(waiter.borrower)
            else:
                waiter.gone = True
                self.waiting -= 1
            raise

    def _enqueue(self, waiter: _Waiter, urgency: Urgency, arrival: int) -> None:
        entry = waiter.entry = (urgency, arrival, waiter)
        heapq.heappush(self._queue, entry)

    def _give_back(self, borrower: object) -> None:
        try:
            self._borrowers.remove(borrower)
        except KeyError:
            raise RuntimeError(
                f"{borrower!r} gives back a place it does not hold in source {self.name!r}"
            ) from None
        while self._queue and len(self._borrowers) < self.limit:
            entry = heapq.heappop(self._queue)
            waiter = entry[2]
            if waiter.gone or waiter.entry is not entry:
                continue  # gave up, or queued again more urgently
            self.waiting -= 1
            waiter.granted = True
            self._borrowers.add(waiter.borrower)
            waiter.admitted.set()


class _Waiter:
    __slots__ = ("admitted", "borrower", "entry", "gone", "granted")

    entry: tuple[Urgency, int, _Waiter]
    """Its latest place in the queue, set as it is queued (``Source._enqueue``): an older
    entry of the same waiter is skipped when popped."""

    def __init__(self, borrower: object) -> None:
        self.borrower = borrower
        self.admitted = trio.Event()
        self.granted = False
        self.gone = False


class Admission:
    """One call's place in its source, asked for with :meth:`request` as the call is made
    and given back when the call really ends (for a call in a thread, when the thread does,
    not when the query stopped waiting for it: :func:`in_thread_holding`)."""

    def __init__(self, source: Source, urgency: Urgency = LEAST_URGENT) -> None:
        self.source = source
        self.urgency = urgency
        self.arrival = next(source._arrivals)
        """Its place among equally urgent calls: made first, admitted first (whatever order
        trio runs their tasks in)."""
        self.state = "new"
        """new, waiting, running, abandoned or done."""
        self.wait_s = 0.0
        """Seconds it waited for its place (0 when one was free)."""
        self._waiter: _Waiter | None = None

    def try_acquire(self) -> bool:
        """Take a place for itself now, if one is free and no call waits (no checkpoint)."""
        if self.source._take_nowait(self):
            self.state = "running"
            return True
        return False

    def request(self) -> None:
        """Ask for a place for itself now (no checkpoint): taken if one is free, else queued,
        so calls made in one go queue in the order they were made; then await ``granted``."""
        if not self.try_acquire():
            self._queue(self)

    async def granted(self) -> None:
        if self.state != "running":
            await self._await_turn()
            self.state = "running"

    def _queue(self, borrower: object) -> None:
        source = self.source
        source.waited += 1
        if source.waiting == 0:  # once per episode, not once per waiting call
            logger.warning("%s: queries wait for a place", source.describe())
        self.state = "waiting"
        self._queued_at = trio.current_time()  # read only once it waits (``_await_turn``)
        self._waiter = _Waiter(borrower)
        source._queue_up(self._waiter, self.urgency, self.arrival)

    async def _await_turn(self) -> None:
        assert self._waiter is not None
        try:
            await self.source._turn(self._waiter)
        except BaseException:
            self.source.starved += 1
            raise
        finally:
            self._waiter = None
            self.wait_s = trio.current_time() - self._queued_at

    def prioritize(self, urgency: Urgency) -> None:
        """Wait as the more urgent ``urgency`` from now on (a more urgent query needs it)."""
        if urgency >= self.urgency:
            return
        self.urgency = urgency
        waiter = self._waiter
        if waiter is not None and not waiter.granted:
            self.source._enqueue(waiter, urgency, self.arrival)

    def release_on_behalf_of(self, borrower: object) -> None:
        if self.state == "abandoned":
            self.source.abandoned -= 1
        self.state = "done"
        self.source._give_back(borrower)

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


def reserve(
    sources: Sources, queries: Iterable[QueryNode], reserved: MutableMapping[int, Admission]
) -> None:
    """Ask for the places of the limited calls among ``queries`` as they start, most urgent
    first: the free places go by urgency, not to whichever task trio happens to run first
    (it runs a batch of new tasks in random order)."""
    limited = [q for q in queries if q.source is not None or q.in_thread]
    for q in sorted(limited, key=attrgetter("urgency")):
        admission = reserved[q.index] = sources.source(q.source).admission(q.urgency)
        admission.request()


async def holding(admission: Admission, call: Callable[[], Awaitable[T]]) -> T:
    """``await call()`` in ``admission``'s place (granted), then give the place back."""
    try:
        return await call()
    finally:
        admission.release_on_behalf_of(admission)


async def in_thread_holding(admission: Admission, call: Callable[[], T]) -> T:
    """``call()`` in a worker thread that holds ``admission``'s place (granted) until it really
    ends: a query that stops waiting for it abandons the thread, not the place."""
    held = _Held(admission)
    try:
        return await trio.to_thread.run_sync(
            call,
            abandon_on_cancel=True,
            limiter=held,  # type: ignore[arg-type]  # what trio documents; its stubs say less
        )
    except trio.Cancelled:
        if held.handed_over:
            admission.abandon()  # its thread runs on, holding its place until it returns
        else:  # cancelled before trio took the place over
            admission.release_on_behalf_of(admission)
        raise


class _Held:
    """The limiter ``trio.to_thread.run_sync`` sees for a call that already holds its place:
    it gives the place back when the thread really ends."""

    def __init__(self, admission: Admission) -> None:
        self.admission = admission
        self.handed_over = False
        """trio took the place over: it gives it back when the thread ends."""

    async def acquire_on_behalf_of(self, borrower: object) -> None:
        self.handed_over = True  # the place is taken already

    def release_on_behalf_of(self, borrower: object) -> None:
        self.admission.release_on_behalf_of(self.admission)
