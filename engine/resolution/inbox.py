"""Query outcomes on their way to the writer of one render."""

from __future__ import annotations

import trio

from .resolve import Event

__all__ = ["Inbox"]


class Inbox:
    """Query outcomes on their way to the writer: one consumer, never full, never closed.

    What a memory channel would do here, for a fraction of its cost per event (a render
    of a large page receives hundreds).
    """

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._writer: trio.lowlevel.Task | None = None

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
            self._writer = trio.lowlevel.current_task()
            await trio.lowlevel.wait_task_rescheduled(self._abort)
        return self.take_nowait()

    def _abort(self, _: object) -> trio.lowlevel.Abort:
        self._writer = None
        return trio.lowlevel.Abort.SUCCEEDED
