"""Driving a query's coroutine through its first step, to know when that step ends.

Batching (``batching``) sends the loads of queries started together once each of them has
ended its first step: it waits for a load, returned, raised, or awaits something else. Only
the code driving a coroutine can see that moment, so the engine wraps the query's coroutine
in :func:`after_first_step`; on trio and on asyncio alike it passes every later step through
untouched.
"""

from __future__ import annotations

import types
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar, cast

__all__ = ["after_first_step"]

T = TypeVar("T")


@types.coroutine
def after_first_step(
    coroutine: Awaitable[T], stepped: Callable[[], None]
) -> Generator[Any, Any, T]:
    """Await ``coroutine``, calling ``stepped`` once its first step has ended.

    The first step ends when the coroutine first suspends (it waits for something: a load,
    a sleep, a socket) or returns or raises. Every later step is passed through untouched,
    whatever the event loop sends or throws.
    """
    inner = coroutine.__await__()
    try:
        signal = inner.send(None)
    except StopIteration as finished:
        return cast(T, finished.value)
    finally:
        stepped()
    while True:
        try:
            sent = yield signal
        except GeneratorExit:
            inner.close()
            raise
        except BaseException as exc:
            try:
                signal = inner.throw(exc)
            except StopIteration as finished:
                return cast(T, finished.value)
        else:
            try:
                signal = inner.send(sent)
            except StopIteration as finished:
                return cast(T, finished.value)
