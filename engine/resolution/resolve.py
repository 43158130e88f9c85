"""Running the queries of one render in its nursery.

Each query starts the moment its last dependency resolves (not level by level),
runs exactly once, and reports to the writer's inbox. A failure fails
its dependents at once, without running them, and nothing else.
"""

from __future__ import annotations

import functools
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import trio

from .._errors import DependencyFailed, QueryError
from ..caching import CacheStore, Lookup
from ..caching.keys import constant_key
from ..caching.lookup import Note
from ..context.request import Request
from ..context.response import Response
from ..definition.graph import Graph, QueryNode
from .batching import Batches
from .bridge import run_on_asyncio
from .credits import BatchCredits
from .hosted import HostedCalls
from .outcomes import (
    ErrorHook,
    Event,
    Tracer,
    call_error_hook,
    checked,
    log_failure,
    propagates,
    query_failure,
    timeout_error,
)
from .sources import Admission, Sources, holding, in_thread_holding, reserve
from .steps import after_first_step

# What queries report (``outcomes``) is re-exported: the modules around a render import it here.
__all__ = [
    "DEFAULT_SOURCES",
    "ErrorHook",
    "Event",
    "Resolution",
    "Tracer",
    "call_error_hook",
    "propagates",
]

logger = logging.getLogger("engine")

DEFAULT_SOURCES = Sources()
"""The limits of renders given none: one ``default`` source of 40 places per process."""


_UNUSED_QUEUE: deque[QueryNode] = deque(maxlen=0)


def _unheard(name: str, key: str, value: Any) -> None:
    """Where a render's notes go when its tracer does not listen for them."""


class Resolution:
    """The queries of one render, started in ``nursery`` as their inputs arrive."""

    def __init__(
        self,
        graph: Graph,
        params: Mapping[str, Any],
        nursery: trio.Nursery,
        report: Callable[[Event], None],
        *,
        tracer: Tracer | None = None,
        on_error: ErrorHook | None = None,
        sources: Sources = DEFAULT_SOURCES,
        request: Request | None = None,
        response: Response | None = None,
        resources: Mapping[str, Any] | None = None,
        cache: CacheStore | None = None,
        renew: frozenset[int] = frozenset(),
    ) -> None:
        self.graph = graph
        self.renew = renew  # cached queries an action invalidated: called afresh, never read
        self.sources = sources
        self.admissions: dict[int, Admission] = {}
        self.reserved: dict[int, Admission] = {}  # asked for as its query started
        self.params = params
        self.request = request
        self.response = response
        self.resources = resources or {}
        self.nursery = nursery
        self.report = report
        self.tracer = tracer
        self.on_error = on_error
        self.values: list[Any] = [None] * len(graph.queries)
        self.settled = [False] * len(graph.queries)
        self.waiting_on = list(graph.dependency_counts)
        self.seq = 0
        self.credits = BatchCredits()
        # The tracer's own method, not one of ours: the lookup and the batches hold it, and a
        # method of this Resolution would close a reference cycle through them that keeps each
        # finished render (its request, response, nursery, values) alive until a full collection.
        self._note: Note = getattr(tracer, "query_note", None) or _unheard
        self.batches = (
            Batches(graph.name, nursery, sources, self.admissions, self._note)
            if graph.uses_loaders
            else None
        )
        self.cache = (
            Lookup(cache, graph.name, self._note) if cache is not None and graph.cached else None
        )
        # A deque's first block is 0.6 KiB that an open stream would hold: only _spawn's cache
        # branch uses one, so a render without a cache shares an empty one it never touches.
        self._ready = deque[QueryNode]() if self.cache is not None else _UNUSED_QUEUE
        self._resolving = False
        self.hosted: HostedCalls | None = None

    def note(self, q: QueryNode, key: str, value: Any) -> None:
        """Record a fact about one query's call (cache outcome, batch size, admission wait).

        Tracing turns these into span attributes, so the data layer reports what it did
        without knowing who listens.
        """
        self._note(q.name, key, value)

    def limit_batches(self, window: int) -> None:
        """Let a batched query run at most ``window`` batches ahead of the wire."""
        self.credits.limit(self.graph.batched_queries, window)

    def start(self, deadline: float = math.inf, only: frozenset[int] | None = None) -> None:
        """Start every query without dependencies (restricted to ``only`` if given)."""
        self.page_deadline = deadline
        self.only = only
        roots = self.graph.root_queries
        starting = roots if only is None else [q for q in roots if q.index in only]
        if self.batches is not None:
            self.batches.started(starting)
        self._spawn(starting)

    def _spawn(self, queries: Iterable[QueryNode]) -> None:
        """Start ``queries``: a cached one whose value is in memory resolves now, without a
        task; limited ones ask for their places first, most urgent first.

        A loop, not recursion: a hit's dependents that are cached too join the queue, so a
        chain of a thousand hits resolves in one call.
        """
        if self.cache is None:  # nothing is cached: a task each
            started = list(queries)
        else:
            ready = self._ready
            ready.extend(queries)
            if self._resolving:  # the loop below, further up the stack, takes them
                return
            self._resolving = True
            started = []
            try:
                while ready:
                    q = ready.popleft()
                    if q.cache is None or q.index in self.renew or not self._from_memory(q):
                        started.append(q)
            finally:
                self._resolving = False
        if self.graph.limited:  # (a cached call may never be made: it asks when it is)
            uncached = [q for q in started if q.cache is None or self.cache is None]
            reserve(self.sources, uncached, self.reserved)
        for q in started:
            if q.hosted and (q.cache is None or self.cache is None):  # one asyncio task
                self._hosted().start(q, self._kwargs(q), self.page_deadline)
            else:
                self.nursery.start_soon(self._run, q, name=q.task_name)

    def _hosted(self) -> HostedCalls:
        if self.hosted is None:
            self.hosted = HostedCalls(
                self.graph.name, self.nursery, self._succeed, self._fail, self.tracer
            )
        return self.hosted

    def _from_memory(self, q: QueryNode) -> bool:
        cache = self.cache
        assert cache is not None and q.cache is not None
        if q.depends_on or q.params:
            key = self._key(q)
            if key is None:
                return False
        else:  # no inputs: its key was made once
            key = constant_key(q.cache)
        found = cache.peek(key)
        if found is None:
            return False
        if self.tracer:
            self.tracer.query_started(q.name, trio.current_time())
        entry = found.entry
        if found.fresh and entry.failure is None:  # the common case, in as few calls as it takes
            if self._note is not _unheard:  # (a call saved per hit when no tracer listens)
                self._note(q.name, "cache", "hit")
            self._succeed(q, entry.value)
            return True
        cache.served(q, key, found, self._refresh)
        try:
            value = cache.value(q, found)
        except QueryError as exc:
            self._fail(q, exc)
        except Exception as exc:
            self._fail(q, query_failure(self.graph.name, q, exc))
        else:
            self._succeed(q, value)
        return True

    def _refresh(self, q: QueryNode) -> Callable[[], Awaitable[Any]]:
        """The call that refreshes a stale hit (built only when one is stale)."""
        return functools.partial(self._call, q, self._kwargs(q))

    def _key(self, q: QueryNode) -> str | None:
        cache, policy = self.cache, q.cache
        assert cache is not None and policy is not None
        if not q.depends_on and not q.params:  # no inputs: its key was made once
            return constant_key(policy)
        return cache.key(q, self.params, [self.values[d] for d in q.depends_on])

    def _kwargs(self, q: QueryNode) -> dict[str, Any]:
        kwargs = {self.graph.queries[d].name: self.values[d] for d in q.depends_on}
        if q.params:
            kwargs.update((p, self.params[p]) for p in q.params if p in self.params)
        if q.context:
            kwargs.update(
                (arg, self.request if kind == "request" else self.response)
                for arg, kind in q.context.items()
            )
        if q.resources:
            kwargs.update((r, self.resources[r]) for r in q.resources)
        if q.loaders:
            batches = self.batches
            assert batches is not None  # a page whose queries use loaders has its batches
            kwargs.update((item.name, batches.handle(q, item)) for item in q.loaders)
        return kwargs

    async def _run(self, q: QueryNode) -> None:
        if self.tracer:
            self.tracer.query_started(q.name, trio.current_time())
        kwargs = self._kwargs(q)
        cached: Callable[[], Awaitable[Any]] | None = None
        if q.cache is not None and self.cache is not None:
            key = self._key(q)
            if key is not None:  # the store, or a call shared with other renders
                call = functools.partial(self._call, q, kwargs)
                cached = functools.partial(self.cache.fetch, q, key, call, q.index in self.renew)
        try:
            if q.timeout is not None or self.page_deadline != math.inf:
                value = await self._call_timed(q, kwargs, cached)
            elif cached is not None:
                value = await cached()
            elif q.direct:  # the common case, with no frame between the task and the call
                value = checked(self.graph.name, q, await q.call(**kwargs))
            else:
                value = await self._call(q, kwargs)
        except QueryError as exc:
            self._fail(q, exc)
        except BaseException as exc:
            if propagates(exc):
                raise
            self._fail(q, query_failure(self.graph.name, q, exc))
        else:
            self._succeed(q, value)
        finally:
            if q.loaders:  # it may have failed before its first step
                self._stepped(q)

    async def _call_timed(
        self, q: QueryNode, kwargs: dict[str, Any], cached: Callable[[], Awaitable[Any]] | None
    ) -> Any:
        started = trio.current_time()
        deadline = min(self.page_deadline, started + q.timeout if q.timeout else math.inf)
        with trio.CancelScope(deadline=deadline):
            return await (self._call(q, kwargs) if cached is None else cached())
        # Reached only when the scope caught its cancellation.
        admission = self.admissions.get(q.index)
        raise timeout_error(self.graph.name, q, started, self.page_deadline, admission)

    async def _call(self, q: QueryNode, kwargs: dict[str, Any]) -> Any:
        if q.direct:  # a frame less while it waits
            return checked(self.graph.name, q, await q.call(**kwargs))
        if q.source is None and not q.in_thread:  # no limit
            return await self._call_unlimited(q, kwargs)
        admission = self.reserved.pop(q.index, None)
        if admission is None:  # a cached query's call, or a stale one's refresh
            admission = self.sources.source(q.source).admission(q.urgency)
            admission.request()
        self.admissions[q.index] = admission
        try:
            if admission.state == "waiting":
                if q.loaders:  # its cohort need not wait for its place: its first step ends
                    self._stepped(q)
                await admission.granted()
        finally:
            self.note(q, "admission.wait_s", admission.wait_s)
        if q.in_thread:
            value = await in_thread_holding(admission, functools.partial(q.call, **kwargs))
            return checked(self.graph.name, q, value)
        return await holding(admission, functools.partial(self._call_unlimited, q, kwargs))

    def _stepped(self, q: QueryNode) -> None:
        """``q``'s first step ended: the loads of the queries started with it may go out."""
        assert self.batches is not None  # only a query with loaders says so
        self.batches.stepped(q)

    async def _call_unlimited(self, q: QueryNode, kwargs: dict[str, Any]) -> Any:
        if q.batched:
            await self._run_batches(q, kwargs)
            return None
        stepped = functools.partial(self._stepped, q) if q.loaders else None
        if q.loop == "asyncio":
            call = functools.partial(q.call, **kwargs)
            return checked(self.graph.name, q, await run_on_asyncio(call, first_step=stepped))
        if stepped is not None:
            return checked(self.graph.name, q, await after_first_step(q.call(**kwargs), stepped))
        return checked(self.graph.name, q, await q.call(**kwargs))

    async def _run_batches(self, q: QueryNode, kwargs: dict[str, Any]) -> None:
        iterator = q.call(**kwargs)
        on_asyncio = q.loop == "asyncio"  # then each step is a task on the host loop
        try:
            while True:
                await self.credits.take(q.index)
                try:
                    if on_asyncio:
                        batch = await run_on_asyncio(iterator.__anext__)
                    else:
                        batch = await iterator.__anext__()
                except StopAsyncIteration:
                    break
                self._emit(Event(q.index, "batch", checked(self.graph.name, q, batch)))
                if self.tracer:
                    self.tracer.query_batch(q.name, trio.current_time(), self.seq)
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with trio.CancelScope(shield=True):
                    await (run_on_asyncio(aclose) if on_asyncio else aclose())

    def _emit(self, event: Event) -> None:
        self.seq += 1
        self.report(event)

    def _succeed(self, q: QueryNode, value: Any) -> None:
        self.values[q.index] = value
        self.settled[q.index] = True
        self.seq += 1  # what _emit does, a call fewer per query
        self.report(Event(q.index, "done", value))
        if self.tracer:
            self.tracer.query_finished(q.name, trio.current_time(), "done", self.seq, None)
        ready = []
        for d in q.dependents:
            self.waiting_on[d] -= 1
            if (
                self.waiting_on[d] == 0
                and not self.settled[d]
                and (self.only is None or d in self.only)
            ):
                ready.append(self.graph.queries[d])
        if ready:
            if self.batches is not None:
                self.batches.started(ready)  # started together: their first loads go as one
            self._spawn(ready)

    def _fail(self, q: QueryNode, error: QueryError) -> None:
        # Iterative: the dependents of a failing head may form a chain thousands deep.
        failing = [(q, error)]
        while failing:
            q, error = failing.pop()
            if self.settled[q.index]:
                continue
            self._report_failure(q, error)
            for d in reversed(q.dependents):
                if not self.settled[d]:
                    failed = DependencyFailed(
                        f"depends on {q.name!r}, which failed",
                        page=self.graph.name,
                        query=self.graph.queries[d].name,
                    )
                    failed.__cause__ = error
                    failing.append((self.graph.queries[d], failed))

    def _report_failure(self, q: QueryNode, error: QueryError) -> None:
        self.settled[q.index] = True
        log_failure(error)
        if self.on_error is not None and not isinstance(error, DependencyFailed):
            call_error_hook(self.on_error, self.graph.name, q.name, error)
        self._emit(Event(q.index, "failed", error=error))
        if self.tracer:
            self.tracer.query_finished(q.name, trio.current_time(), "failed", self.seq, error)
