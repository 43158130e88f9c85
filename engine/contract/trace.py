"""A render's timeline: when each query ran and what each write carried.

The :class:`Timeline` is a :class:`~engine.Tracer`; the CLI prints it, the
testing helpers assert on it, and the contract checker reads it.
"""

from __future__ import annotations

import attrs

from ..definition.graph import Graph
from ..scheduling.changes import Changes

__all__ = ["QuerySpan", "Timeline", "WireEvent", "Write"]


@attrs.frozen
class WireEvent:
    """One thing on the wire: ``kind`` is shell, query, fragment, batch, end, failed or close."""

    time: float
    kind: str
    name: str
    write: int


@attrs.define
class QuerySpan:
    name: str
    start: float
    end: float | None = None
    outcome: str = "running"
    seq: int = 0
    """Outcome number at which the writer learned the result (orders same-time events)."""
    batch_seqs: list[int] = attrs.Factory(list)
    error: BaseException | None = None


@attrs.frozen
class Write:
    time: float
    data: bytes
    chunks: tuple[tuple[str, str], ...]
    seq: int
    """Outcomes the writer had applied when it made this write."""


@attrs.define
class Timeline:
    """Everything one render did, in virtual or real time from its start."""

    graph: Graph
    mode: str
    origin: float = 0.0
    queries: dict[str, QuerySpan] = attrs.Factory(dict)
    writes: list[Write] = attrs.Factory(list)
    changes: Changes | None = None
    """For an action's response (mode ``action``): what it re-renders over the page in place."""

    # -- Tracer ------------------------------------------------------------------

    def query_started(self, name: str, time: float) -> None:
        self.queries[name] = QuerySpan(name, time - self.origin)

    def query_batch(self, name: str, time: float, seq: int) -> None:
        self.queries[name].batch_seqs.append(seq)

    def query_finished(
        self, name: str, time: float, outcome: str, seq: int, error: BaseException | None
    ) -> None:
        span = self.queries.setdefault(name, QuerySpan(name, time - self.origin))
        span.end, span.outcome, span.seq, span.error = time - self.origin, outcome, seq, error

    def wrote(self, time: float, data: bytes, chunks: list[tuple[str, str]], seq: int) -> None:
        self.writes.append(Write(time - self.origin, data, tuple(chunks), seq))

    # -- reading it -------------------------------------------------------------

    @property
    def events(self) -> list[WireEvent]:
        return [
            WireEvent(write.time, kind, name, i)
            for i, write in enumerate(self.writes)
            for kind, name in write.chunks
        ]

    @property
    def html(self) -> str:
        return b"".join(w.data for w in self.writes).decode()

    def time_of(self, name: str, kind: str = "fragment") -> float:
        """When the first ``kind`` event for ``name`` went out (fragment targets by default)."""
        for event in self.events:
            if event.name == name and (
                event.kind == kind or (kind == "fragment" and event.kind == "failed")
            ):
                return event.time
        raise LookupError(f"no {kind} event for {name!r} in this render")

    def order(self, kind: str = "fragment") -> list[str]:
        """Names in the order their first ``kind`` event went out."""
        kinds = (kind, "failed") if kind == "fragment" else (kind,)
        seen: list[str] = []
        for event in self.events:
            if event.kind in kinds and event.name not in seen:
                seen.append(event.name)
        return seen

    def format(self) -> str:
        """A human-readable timeline (``engine render --trace``)."""
        lines = []
        for span in sorted(self.queries.values(), key=lambda s: (s.start, s.name)):
            end = f"{span.end * 1000:9.1f}" if span.end is not None else "        -"
            why = f"  {span.error}" if span.error else ""
            lines.append(
                f"query  {span.name:<24} start {span.start * 1000:9.1f} ms  end {end} ms"
                f"  {span.outcome}{why}"
            )
        for i, write in enumerate(self.writes):
            what = ", ".join(f"{k} {n}".strip() for k, n in write.chunks)
            lines.append(
                f"write  #{i:<3} at {write.time * 1000:9.1f} ms  {len(write.data):7d} bytes  {what}"
            )
        return "\n".join(lines)
