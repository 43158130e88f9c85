"""A tracer for tests that read what the data layer noted about each query's call."""

from __future__ import annotations


class NoteTaker:
    """Keeps every ``query_note`` in order; ignores the rest of the timeline."""

    def __init__(self) -> None:
        self.notes: list[tuple[str, str, object]] = []

    def query_note(self, name: str, key: str, value: object) -> None:
        self.notes.append((name, key, value))

    def query_started(self, name: str, time: float) -> None: ...

    def query_batch(self, name: str, time: float, seq: int) -> None: ...

    def query_finished(self, *args: object) -> None: ...

    def wrote(self, *args: object) -> None: ...
