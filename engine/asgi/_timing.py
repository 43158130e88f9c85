"""Timing the server reports: Server-Timing for the shell queries, and per-write flush stamps.

A flush stamp is an HTML comment appended to a write when the request asks for it
(``X-Engine-Flush-Stamps: 1``); ``engine diagnose`` compares it with when the bytes arrived,
which shows whether something between server and client holds the stream back.
"""

from __future__ import annotations

import re

from ..definition.graph import Graph

STAMP_HEADER = b"x-engine-flush-stamps"
STAMP = re.compile(rb"<!--engine:flush (\d+) (\d+\.\d+)ms-->")
"""``<!--engine:flush N T ms-->``: write number N left the app T ms after the request arrived."""


def stamp(index: int, elapsed: float) -> bytes:
    return b"<!--engine:flush %d %.3fms-->" % (index, elapsed * 1000)


class ShellTimer:
    """A render tracer that keeps only the shell queries' durations (for Server-Timing)."""

    def __init__(self, graph: Graph) -> None:
        self._shell = {graph.queries[q].name for q in graph.shell_queries}
        self._started: dict[str, float] = {}
        self._durations: dict[str, float] = {}

    def query_started(self, name: str, time: float) -> None:
        if name in self._shell:
            self._started[name] = time

    def query_batch(self, name: str, time: float, seq: int) -> None:
        """Batches belong to fragments, never to the shell."""

    def query_finished(
        self, name: str, time: float, outcome: str, seq: int, error: BaseException | None
    ) -> None:
        if name in self._started:
            self._durations[name] = time - self._started[name]

    def wrote(self, time: float, data: bytes, chunks: list[tuple[str, str]], seq: int) -> None:
        """Writes are timed by the response itself."""

    def header(self) -> bytes | None:
        """``product;dur=2.1, user;dur=0.4`` (milliseconds), or None without shell queries."""
        if not self._durations:
            return None
        return ", ".join(f"{n};dur={d * 1000:.1f}" for n, d in self._durations.items()).encode()
