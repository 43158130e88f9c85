"""Batching within a request: loads of single keys, sent as one call per turn.

A query that uses a loader (``engine.Loader``) calls ``await users.load(user_id)``. Queries
that the render starts together (at the start, or as dependents of one query that just
resolved) form a *cohort*; their loads are collected and sent as one call per loader once
every member's first step has ended: it waits for a load, it finished, or it awaits
something else. The engine sees each first step end because it drives the query's
coroutine itself (``steps.after_first_step``), so what goes out together depends neither on
trio's task order (which trio randomises) nor on time. A load made after a query's first
step goes out at once. Queries on asyncio (``loop = "asyncio"``) batch the same way: their
loads and the end of their first step reach trio in order, through its token.

Each key is fetched once per request (memoized, failures too): a second load of the same
key, by the same query or another, waits for the same call. A call goes through its
loader's source (``engine.Sources``), admitted as the most urgent query waiting for it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable, Mapping
from typing import Any, Generic, TypeVar

import trio

from .._errors import QueryError
from ..caching.lookup import Note
from ..definition.loaders import Loader
from ..definition.nodes import QueryNode
from .bridge import on_trio
from .loadcalls import Call, Entry, distribute, fetch, settle_all
from .sources import LEAST_URGENT, Admission, Sources

__all__ = ["Batches", "RequestLoader"]

K = TypeVar("K")
V = TypeVar("V")


class _Cohort:
    __slots__ = ("forming", "pending")

    def __init__(self, pending: set[int]) -> None:
        self.pending = pending
        self.forming: dict[Loader[Any, Any], list[tuple[int, int, Entry]]] = {}


class Batches:
    """The loaders of one render: their memo, the cohorts forming, the calls in flight."""

    def __init__(
        self,
        page: str,
        nursery: trio.Nursery,
        sources: Sources,
        admissions: dict[int, Admission],
        note: Note,
    ) -> None:
        self.page = page
        self.nursery = nursery
        self.sources = sources
        self.admissions = admissions
        self.note = note
        self.memo: dict[Loader[Any, Any], dict[Any, Entry]] = {}
        self.cohort_of: dict[int, _Cohort] = {}
        self._asks = itertools.count()

    def started(self, queries: Iterable[QueryNode]) -> None:
        """``queries`` were started together: their first loads go out as one call."""
        members = {q.index for q in queries if q.loaders}
        if members:
            cohort = _Cohort(members)
            self.cohort_of.update(dict.fromkeys(members, cohort))

    def stepped(self, q: QueryNode) -> None:
        """``q``'s first step ended (idempotent): send its cohort's loads if it was the last."""
        cohort = self.cohort_of.pop(q.index, None)
        if cohort is not None:
            cohort.pending.discard(q.index)
            if not cohort.pending:
                self._send(cohort.forming)

    def handle(self, q: QueryNode, loader: Loader[K, V]) -> RequestLoader[K, V]:
        return RequestLoader(self, q, loader)

    async def from_asyncio(
        self, q: QueryNode, loader: Loader[Any, Any], keys: Iterable[object]
    ) -> list[Any]:
        """Loads by a query running on asyncio: asked and awaited on trio, in order with the
        query's first step (both reach trio through its token, first in, first out)."""
        keys = list(keys)
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()

        def ask() -> None:
            try:
                entries = self.ask(q, loader, keys)
            except Exception as exc:
                _resolve(future, exc)
            else:
                self.nursery.start_soon(self._relay, q, loader, entries, future)

        on_trio(ask)()
        return await future

    async def _relay(
        self,
        q: QueryNode,
        loader: Loader[Any, Any],
        entries: list[Entry],
        future: asyncio.Future[list[Any]],
    ) -> None:
        try:
            values = await self.wait(q, loader, entries)
        except Exception as exc:
            _resolve(future, exc)
        else:
            _resolve(future, values)

    def ask(self, q: QueryNode, loader: Loader[Any, Any], keys: Iterable[object]) -> list[Entry]:
        memo = self.memo.setdefault(loader, {})
        entries: list[Entry] = []
        unsent: list[tuple[int, int, Entry]] = []
        for key in keys:
            try:
                entry = memo.get(key)
            except TypeError:
                raise TypeError(
                    f"loader {loader.name!r}: key {key!r} is not hashable; keys are memoized"
                    " per request, so they must be (an int, a str, a tuple...)"
                ) from None
            if entry is None or _given_up(entry):
                entry = memo[key] = Entry(key)
            if entry.call is None:  # goes with the first of its askers' calls to be sent
                unsent.append((q.index, next(self._asks), entry))
            entries.append(entry)
        if unsent:
            cohort = self.cohort_of.get(q.index)
            if cohort is not None:
                cohort.forming.setdefault(loader, []).extend(unsent)
            else:
                self._send({loader: unsent})
        return entries

    async def wait(self, q: QueryNode, loader: Loader[Any, Any], entries: list[Entry]) -> list[Any]:
        """The values of ``entries``, in order; raises the first failing one's error.

        ``q`` waits for all of them from the start: a call is given up only when nobody
        waits for any of its keys.
        """
        if any(map(_given_up, entries)):  # asked before, given up since: ask again
            entries = self.ask(q, loader, [entry.key for entry in entries])
        pending = [entry for entry in entries if not entry.settled]
        for entry in pending:
            self._join(q, entry)
        try:
            for entry in pending:
                await entry.done.wait()
        except BaseException:
            for entry in pending:
                entry.waiters.remove(q)
                call = entry.call
                if call is not None and not entry.settled and call.unwanted():
                    call.scope.cancel()
            raise
        return [self._outcome(q, loader, entry) for entry in entries]

    def _join(self, q: QueryNode, entry: Entry) -> None:
        entry.waiters.append(q)
        call = entry.call
        if call is not None:
            self.note(q.name, "batch.size", len(call.entries))
            if call.admission is not None:
                call.admission.prioritize(q.urgency)
                self.admissions[q.index] = call.admission

    def _outcome(self, q: QueryNode, loader: Loader[Any, Any], entry: Entry) -> Any:
        if entry.failure is not None:
            error = QueryError(
                f"loader {loader.name!r} {entry.failure}", page=self.page, query=q.name
            )
            raise error from entry.value
        if isinstance(entry.value, Exception):
            raise entry.value  # the loader's own answer for this key
        return entry.value

    def _send(self, forming: Mapping[Loader[Any, Any], list[tuple[int, int, Entry]]]) -> None:
        for loader, asked in forming.items():
            # The keys in the order their queries are declared, then asked: the same call,
            # with the same keys in the same order, on every run. (Each ask has a count of its
            # own, so two entries are never compared.)
            entries: list[Entry] = []
            seen: set[int] = set()
            for *_, entry in sorted(asked):
                if entry.call is None and id(entry) not in seen:
                    seen.add(id(entry))
                    entries.append(entry)
            if not entries:  # each went out with another query's call meanwhile
                continue
            size = loader.max_batch or len(entries)
            limited = loader.source is not None or not loader.is_async
            for start in range(0, len(entries), size):
                call = Call(loader, entries[start : start + size])
                for entry in call.entries:
                    entry.call = call
                if limited:  # made here, in key order: equally urgent calls queue in that order
                    urgency = min(
                        (q.urgency for e in call.entries for q in e.waiters), default=LEAST_URGENT
                    )
                    call.admission = self.sources.source(loader.source).admission(urgency)
                    call.admission.request()
                self.nursery.start_soon(self._run, call, name=f"loader {loader.name}")

    async def _run(self, call: Call) -> None:
        loader = call.loader
        keys = [entry.key for entry in call.entries]
        waiting = [q for entry in call.entries for q in entry.waiters]
        for q in waiting:
            self.note(q.name, "batch.size", len(keys))
        in_thread = not loader.is_async
        admission = call.admission
        if admission is not None:
            for q in waiting:
                self.admissions[q.index] = admission
        result = None
        try:
            with call.scope:
                result = await fetch(loader, keys, admission, in_thread)
        except BaseException as exc:
            if isinstance(exc, trio.Cancelled | KeyboardInterrupt):  # the render ends
                settle_all(call, None, "was cancelled")
                raise
            settle_all(call, exc, f"failed: {type(exc).__name__}: {exc}")
        else:
            # If every query waiting for it gave up, its entries stay unsettled: whoever holds
            # one asks for its key again (``_given_up``).
            if not call.scope.cancelled_caught:
                distribute(call, result)
        finally:
            if admission is not None:
                for entry in call.entries:
                    for q in entry.waiters:
                        self.note(q.name, "admission.wait_s", admission.wait_s)
            # Each entry still points at its call (``_given_up`` asks whether it was given
            # up): the call lets go of them, or the two would be a cycle that keeps the
            # request's values alive until the garbage collector finds it.
            call.entries = []


def _given_up(entry: Entry) -> bool:
    """Its call was cancelled because every query waiting for it gave up: a query that asks
    for its key now, or asked before and waits only now, must not wait for that call but ask
    again (the entry is never settled, so the cancellation reaches no query)."""
    call = entry.call
    return call is not None and call.scope.cancel_called and not entry.settled


def _resolve(future: asyncio.Future[list[Any]], outcome: list[Any] | Exception) -> None:
    """Settle an asyncio future from trio (the same thread, in guest mode)."""
    if future.done():  # the asyncio task gave up waiting
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class RequestLoader(Generic[K, V]):
    """A loader as one query of one request sees it: ``await users.load(user_id)``.

    Annotate the query's parameter with it (``users: engine.RequestLoader[int, User]``).
    Loads are memoized for the request and batched with those of the queries started
    together with this one.
    """

    __slots__ = ("_batches", "_loader", "_query")

    def __init__(self, batches: Batches, query: QueryNode, loader: Loader[K, V]) -> None:
        self._batches = batches
        self._query = query
        self._loader = loader

    def __repr__(self) -> str:
        return f"<RequestLoader {self._loader.name!r} of query {self._query.name!r}>"

    async def load(self, key: K) -> V:
        """The value for ``key``; raises what the loader returned for it if that is an
        exception, or a :class:`~engine.QueryError` if the call failed or left it out."""
        values: list[V]
        if self._query.loop == "asyncio":
            values = await self._batches.from_asyncio(self._query, self._loader, (key,))
        else:
            entries = self._batches.ask(self._query, self._loader, (key,))
            values = await self._batches.wait(self._query, self._loader, entries)
        return values[0]

    async def load_many(self, keys: Iterable[K]) -> list[V]:
        """The values for ``keys``, in order, asked for in one go (one call if none is
        memoized); raises the first failing key's error."""
        if self._query.loop == "asyncio":
            return await self._batches.from_asyncio(self._query, self._loader, keys)
        entries = self._batches.ask(self._query, self._loader, keys)
        return await self._batches.wait(self._query, self._loader, entries)
