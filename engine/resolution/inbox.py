"""Query outcomes on their way to the writer of one render."""

from __future__ import annotations

from collections.abc import Callable

import trio

from .resolve import Event

__all__ = ["Inbox"]


class Inbox:
    """Query outcomes on their way to the writer: one consumer, never full, never closed.

    What a memory channel would do here, for a fraction of its cost per event (a render
    of a large page receives hundreds).
    """

    def __init__(self, before_first_wait: Callable[[], None] | None = None) -> None:
        self._events: list[Event] = []
        self._writer: trio.lowlevel.Task | None = None
        self._before_wait = before_first_wait
        """Called once, when the writer first has to wait for an outcome (if it ever does)."""

    def put(self, event: Event) -> None:
        self._events.append(event)
        if self._writer is not None:
            trio.lowlevel.reschedule(self._writer)
            self._writer = None

    def take_nowait(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    async def take(self) -> list[Event]:
        """Every event that has arrived, after waiting for the first if there is none yet."""
        if self._events:
            await trio.lowlevel.checkpoint()
        else:
            if self._before_wait is not None:
                before, self._before_wait = self._before_wait, None
                before()
            self._writer = trio.lowlevel.current_task()
            await trio.lowlevel.wait_task_rescheduled(self._abort)
        return self.take_nowait()

    def _abort(self, _: object) -> trio.lowlevel.Abort:
        self._writer = None
        return trio.lowlevel.Abort.SUCCEEDED
