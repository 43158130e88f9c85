"""Measuring what waiting work holds: the Python heap of open streams (S3's concern)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Awaitable, Callable, Sequence

import trio
import trio.testing


async def held_per_task(
    tasks: Sequence[Callable[[], Awaitable[object]]], release: Callable[[], object]
) -> float:
    """Python heap each of ``tasks`` holds once all of them wait; ``release()`` then lets them
    finish. Whatever the tasks use must exist before: only what they allocate is counted."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        async with trio.open_nursery() as nursery:
            for task in tasks:
                nursery.start_soon(task)
            await trio.testing.wait_all_tasks_blocked()
            held = (tracemalloc.get_traced_memory()[0] - before) / len(tasks)
            release()
    finally:
        tracemalloc.stop()
    return held
