"""``write_timeout``: one watcher per trio run, not one task per response.

A response is watched only while one of its sends is in flight, so an open stream that waits
for its data costs the watch nothing (S3: thousands of them). Every send of one timeout ends
in the order it began, so the in-flight sends sit in an insertion-ordered dict whose first
entry is always the next to expire: the watcher sleeps until that one, and parks while there
is none.
"""

from __future__ import annotations

import logging
from typing import Protocol

import trio

log = logging.getLogger("engine.asgi")


class Watched(Protocol):
    def time_out(self) -> None:
        """Called once a send has waited the whole timeout; must not block."""


class WriteWatch:
    """The sends in flight, in every response that shares one ``timeout``, in this trio run."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._sending: dict[Watched, float] = {}
        self._parked: trio.lowlevel.Task | None = None

    @classmethod
    def for_run(cls, timeout: float) -> WriteWatch:
        """The watch of ``timeout`` in the current trio run (started on first use)."""
        try:
            watches = _WATCHES.get()
        except LookupError:
            watches = {}
            _WATCHES.set(watches)
        watch = watches.get(timeout)
        if watch is None:
            watch = watches[timeout] = cls(timeout)
            trio.lowlevel.spawn_system_task(watch._run, name=f"engine write_timeout={timeout:g}s")
        return watch

    def begin(self, send: Watched) -> None:
        self._sending[send] = trio.current_time() + self.timeout
        if self._parked is not None:
            trio.lowlevel.reschedule(self._parked)
            self._parked = None

    def end(self, send: Watched) -> None:
        self._sending.pop(send, None)

    async def _run(self) -> None:
        sending = self._sending
        while True:
            if not sending:
                self._parked = trio.lowlevel.current_task()
                await trio.lowlevel.wait_task_rescheduled(self._unpark)
                continue
            send, deadline = next(iter(sending.items()))
            if trio.current_time() < deadline:
                await trio.sleep_until(deadline)
                continue
            del sending[send]
            try:
                send.time_out()
            except Exception:  # a system task must not raise: it would crash the whole run
                log.exception("write_timeout: ending a stuck send failed")

    def _unpark(self, _: object) -> trio.lowlevel.Abort:
        self._parked = None
        return trio.lowlevel.Abort.SUCCEEDED


_WATCHES: trio.lowlevel.RunVar[dict[float, WriteWatch]] = trio.lowlevel.RunVar(
    "engine.write_watches"
)
