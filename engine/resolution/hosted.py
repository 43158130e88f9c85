"""asyncio queries of one render as tasks of the host loop, with no trio task each.

Under an asyncio server a query declared ``loop = "asyncio"`` must run in an asyncio task
anyway. Giving it a trio task too, only to wait for the asyncio one, doubled its cost: a
page of fifty such queries paid for a hundred tasks. Here each call is one asyncio task;
its outcome is handed to the render from the task's done callback (host code between
trio's guest ticks, where trio's synchronous calls are allowed).

Structured concurrency is kept by one trio task per render, the *keeper*: it makes the
calls, sits in the render's nursery while any of them runs, so the render cannot end before
them, and when the render is cancelled (the client left, the page failed) it cancels every
call and waits, shielded, until each has finished unwinding.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import trio

from .._errors import QueryError
from ..definition.graph import QueryNode
from .bridge import AsyncioCancelled, host_loop
from .outcomes import Tracer, checked, propagates, query_failure, timeout_error

__all__ = ["HostedCalls"]


class HostedCalls:
    """The asyncio calls of one render, kept inside its nursery by one trio task."""

    def __init__(
        self,
        page: str,
        nursery: trio.Nursery,
        succeed: Callable[[QueryNode, Any], None],
        fail: Callable[[QueryNode, QueryError], None],
        tracer: Tracer | None,
    ) -> None:
        loop = host_loop()
        assert loop is not None  # a page with asyncio queries is refused without one
        self._loop = loop
        self._page = page
        self._nursery = nursery
        self._succeed = succeed
        self._fail = fail
        self._tracer = tracer
        self._pending: list[tuple[QueryNode, Mapping[str, Any], float]] = []
        self._running: dict[asyncio.Task[Any], QueryNode] = {}
        self._timed: dict[asyncio.Task[Any], tuple[asyncio.TimerHandle, float, float]] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._keeper: trio.lowlevel.Task | None = None
        self._keeping = False
        self._stopping = False
        self._propagate: BaseException | None = None

    def start(self, q: QueryNode, kwargs: Mapping[str, Any], page_deadline: float) -> None:
        """Call ``q`` in a host task, cancelled at its timeout or ``page_deadline`` (trio's
        clock); its outcome goes to ``succeed`` or ``fail`` unless the render stopped first.

        The keeper makes the call when trio next runs it, as a query's own task would have:
        the shell, written before trio runs anything else, goes out before any call's first
        step takes the loop.
        """
        if self._stopping:  # a query finished as the render was cancelled: nothing follows it
            return
        self._pending.append((q, kwargs, page_deadline))
        if not self._keeping:
            self._keeping = True
            self._nursery.start_soon(self._keep, name="asyncio queries")
        elif self._keeper is not None:
            trio.lowlevel.reschedule(self._keeper)
            self._keeper = None

    def _launch(self) -> None:
        pending, self._pending = self._pending, []
        for q, kwargs, page_deadline in pending:
            call = functools.partial(q.call, **kwargs)
            task = self._loop.create_task(_await(call), name=q.task_name)
            self._running[task] = q
            task.add_done_callback(self._done)
            if self._tracer or q.timeout is not None or page_deadline != math.inf:
                now = trio.current_time()
                if self._tracer:
                    self._tracer.query_started(q.name, now)
                deadline = min(page_deadline, now + q.timeout) if q.timeout else page_deadline
                if deadline != math.inf:
                    timer = self._loop.call_later(max(0.0, deadline - now), self._expire, task)
                    self._timed[task] = (timer, now, page_deadline)

    def _expire(self, task: asyncio.Task[Any]) -> None:
        self._expired.add(task)
        task.cancel()

    def _done(self, task: asyncio.Task[Any]) -> None:
        q = self._running.pop(task)
        timed = self._timed.pop(task, None)
        if timed is not None:
            timed[0].cancel()
        expired = task in self._expired
        self._expired.discard(task)
        exc = None if task.cancelled() else task.exception()  # retrieved: asyncio logs none
        if exc is not None and propagates(exc):  # KeyboardInterrupt leaves through the keeper
            self._propagate = exc
        elif self._stopping:
            pass  # the render is over: nothing waits for this outcome
        elif expired and timed is not None:  # (even if the call swallowed its cancellation)
            self._fail(q, timeout_error(self._page, q, timed[1], timed[2], None))
        elif task.cancelled():
            error = AsyncioCancelled("the asyncio task running this query was cancelled")
            self._fail(q, query_failure(self._page, q, error))
        elif exc is not None:
            self._fail(q, exc if isinstance(exc, QueryError) else query_failure(self._page, q, exc))
        else:
            try:
                value = checked(self._page, q, task.result())
            except QueryError as error:
                self._fail(q, error)
            else:
                self._succeed(q, value)
        if self._keeper is not None and (not self._running or self._propagate is not None):
            trio.lowlevel.reschedule(self._keeper)
            self._keeper = None

    async def _keep(self) -> None:
        try:
            while True:
                if self._pending:
                    self._launch()
                if self._propagate is not None or not self._running:
                    break
                await self._wait()
        except trio.Cancelled:  # the render stops: its asyncio calls stop with it
            self._stopping = True
            self._pending.clear()
            for task in self._running:
                task.cancel()
            with trio.CancelScope(shield=True):
                while self._running:
                    await self._wait()
            raise
        finally:
            self._keeping = False
        if self._propagate is not None:
            raise self._propagate

    async def _wait(self) -> None:
        self._keeper = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(self._abort)

    def _abort(self, _: object) -> trio.lowlevel.Abort:
        self._keeper = None
        return trio.lowlevel.Abort.SUCCEEDED


async def _await(make: Callable[[], Any]) -> Any:
    return await make()
