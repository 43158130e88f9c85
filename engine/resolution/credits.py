"""How far each query that yields batches may run ahead of the wire, in one render."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import trio

__all__ = ["BatchCredits"]


class BatchCredits:
    """A fast producer and a slow client must not fill memory: each batched query may have
    at most ``window`` batches not yet written. The writer gives credit back as it writes.
    (Buffered renders hold everything by definition, so they set no limit.)"""

    def __init__(self) -> None:
        self._credits: dict[int, trio.Semaphore] = {}

    def limit(self, queries: Iterable[int], window: int) -> None:
        self._credits = {q: trio.Semaphore(window) for q in queries}

    def __iter__(self) -> Iterator[int]:
        """The limited queries."""
        return iter(self._credits)

    def written(self, q: int, count: int) -> None:
        credit = self._credits.get(q)
        for _ in range(count if credit is not None else 0):
            credit.release()  # type: ignore[union-attr]

    async def take(self, q: int) -> None:
        """One batch's credit; no checkpoint while credit is left, so batches made in the
        same turn stay together."""
        credit = self._credits.get(q)
        if credit is not None:
            try:
                credit.acquire_nowait()
            except trio.WouldBlock:
                await credit.acquire()
