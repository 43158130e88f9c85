"""One call of a loader: its keys, the place it holds in its source, and its answer.

``batching`` decides which keys go out together; this module makes the call (on trio, on
asyncio, or in a worker thread under the source's limit) and settles each key from the
answer: a mapping of key to value, or a sequence aligned with the keys.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import trio

from ..definition.loaders import Loader
from ..definition.nodes import QueryNode
from .bridge import run_on_asyncio
from .sources import Admission, holding, in_thread_holding

__all__ = ["Call", "Entry", "distribute", "fetch", "settle_all"]


class Entry:
    """One key of one loader in this request: its call, its waiters, then its outcome."""

    __slots__ = ("call", "done", "failure", "key", "settled", "value", "waiters")

    def __init__(self, key: object) -> None:
        self.key = key
        self.done = trio.Event()
        self.settled = False
        self.value: Any = None
        self.failure: str | None = None
        """Why the engine fails it (the call failed, no value came back); else ``value``."""
        self.waiters: list[QueryNode] = []
        self.call: Call | None = None

    def settle(self, value: Any = None, failure: str | None = None) -> None:
        if not self.settled:
            self.settled, self.value, self.failure = True, value, failure
            self.done.set()


class Call:
    """Some keys of one loader, fetched together."""

    __slots__ = ("admission", "entries", "loader", "scope")

    def __init__(self, loader: Loader[Any, Any], entries: list[Entry]) -> None:
        self.loader = loader
        self.entries = entries
        self.admission: Admission | None = None
        self.scope = trio.CancelScope()

    def unwanted(self) -> bool:
        """Nobody waits for any of its keys, and it holds no place yet (nor a thread)."""
        # Its admission is asked for as it is made (``Batches._send``): never still new.
        admitted = self.admission is not None and self.admission.state != "waiting"
        return not admitted and not any(e.waiters for e in self.entries)


async def fetch(
    loader: Loader[Any, Any],
    keys: list[Any],
    admission: Admission | None,
    in_thread: bool,
) -> Any:
    fetch = functools.partial(loader.fetch, keys)
    if admission is not None:
        await admission.granted()
    if in_thread:
        assert admission is not None
        return await in_thread_holding(admission, fetch)
    if loader.loop == "asyncio":
        call = functools.partial(run_on_asyncio, fetch, what=f"loader {loader.name!r}")
    else:
        call = fetch
    return await (call() if admission is None else holding(admission, call))


def settle_all(call: Call, cause: BaseException | None, failure: str) -> None:
    for entry in call.entries:
        entry.settle(cause, failure)


def distribute(call: Call, result: Any) -> None:
    entries = call.entries
    if isinstance(result, Mapping):
        for entry in entries:
            if entry.key in result:
                entry.settle(result[entry.key])
            else:
                entry.settle(None, f"returned no value for key {entry.key!r}")
    elif isinstance(result, Sequence) and not isinstance(result, str | bytes | bytearray):
        if len(result) == len(entries):
            for entry, value in zip(entries, result, strict=True):
                entry.settle(value)
        else:
            settle_all(
                call,
                None,
                f"returned {len(result)} values for {len(entries)} keys: return one value"
                " per key, in the keys' order, or a mapping of key to value",
            )
    else:
        settle_all(
            call,
            None,
            f"returned a {type(result).__name__}: return a mapping of key to value, or a"
            " list of values aligned with the keys",
        )
