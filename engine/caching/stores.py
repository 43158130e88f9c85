"""Where cached results live, behind one small interface: in process, or a shared Redis.

A store holds :class:`Entry` objects under string keys for a while. ``fresh`` seconds after a
write an entry is stale, ``stale`` seconds later it is gone. A store whose reads need no I/O
(``immediate``) answers :meth:`CacheStore.peek` synchronously, which is how a cache hit
resolves without starting a task.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal, Protocol

import attrs
import msgspec
import trio

from .._errors import NotFound, QueryError, Redirect

__all__ = [
    "DEFAULT_STORE",
    "CacheStore",
    "CachedFailure",
    "Entry",
    "Found",
    "MemoryStore",
    "StoreUnavailable",
]


class CachedFailure(msgspec.Struct, frozen=True, array_like=True):
    """A failure kept by a policy with ``failures``: what is needed to raise it again."""

    kind: Literal["error", "not-found", "redirect"]
    message: str
    location: str = ""
    status: int = 0

    @classmethod
    def of(cls, error: BaseException) -> CachedFailure:
        cause: BaseException | None = error
        while cause is not None:  # a shell query's 404 or redirect must stay one
            if isinstance(cause, NotFound):
                return cls("not-found", cause.reason)
            if isinstance(cause, Redirect):
                return cls("redirect", cause.reason, cause.location, cause.status_code)
            cause = cause.__cause__
        if isinstance(error, QueryError):
            return cls("error", error.reason)
        return cls("error", f"{type(error).__name__}: {error}")

    def exception(self, page: str, query: str) -> Exception:
        """A fresh exception per render: shared exception objects would share tracebacks."""
        if self.kind == "not-found":
            return NotFound(self.message)
        if self.kind == "redirect":
            return Redirect(self.location, status=self.status)
        return QueryError(f"{self.message} (a cached failure)", page=page, query=query)


@attrs.frozen
class Entry:
    """A cached outcome: a value of the query's result type, or a failure."""

    value: Any = None
    failure: CachedFailure | None = None


@attrs.frozen
class Found:
    """What a read found: the entry, and whether it is still fresh (else stale)."""

    entry: Entry
    fresh: bool


class StoreUnavailable(Exception):
    """The store could not be reached: the query is called as if uncached."""


class CacheStore(Protocol):
    """The interface of a cache store (``engine.MemoryStore``, ``engine.RedisStore``)."""

    immediate: bool
    """Reads need no I/O: :meth:`peek` answers, and :meth:`read` is never called."""

    def peek(self, key: str) -> Found | None:
        """The entry under ``key`` without waiting (immediate stores only)."""
        ...

    async def read(self, key: str, result: Any, stale: float) -> Found | None:
        """The entry under ``key``, decoded as ``result``; fresh unless within its last
        ``stale`` seconds. Raises :class:`StoreUnavailable` when the store cannot answer."""
        ...

    async def write(self, key: str, entry: Entry, fresh: float, stale: float) -> None:
        """Keep ``entry`` fresh for ``fresh`` seconds, then stale for ``stale`` more."""
        ...


class MemoryStore:
    """The default store: in this process, at most ``max_entries``, least recently used out.

    Each trio run (a server process, a worker's guest run, a test) has its own entries, because
    expiry is measured on trio's clock (``trio.current_time()``, so MockClock drives it).
    Values are kept as the objects queries returned, not copies: treat query results as
    read-only, as renderers already must.
    """

    immediate = True

    def __init__(self, max_entries: int = 10_000) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be an integer >= 1, not {max_entries!r}")
        self.max_entries = max_entries
        self._run: trio.lowlevel.RunVar[_RunEntries] = trio.lowlevel.RunVar("memory store")

    def __repr__(self) -> str:
        return f"MemoryStore(max_entries={self.max_entries})"

    def _held(self) -> _RunEntries:
        try:
            return self._run.get()
        except LookupError:
            held = _RunEntries()
            self._run.set(held)
            return held

    def _entries(self) -> OrderedDict[str, tuple[Found, float, float]]:
        return self._held().entries

    def __len__(self) -> int:
        """Entries held in the current run (expired ones included until next touched)."""
        return len(self._entries())

    def peek(self, key: str) -> Found | None:
        held = self._held()
        return _peek(held.entries, held.now, key)

    def bind(self) -> Callable[[str], Found | None]:
        """:meth:`peek` in the current trio run, with the run's entries looked up once (a render
        peeks once per cached query)."""
        held = self._held()
        return functools.partial(_peek, held.entries, held.now)

    async def read(self, key: str, result: Any, stale: float) -> Found | None:
        return self.peek(key)

    async def write(self, key: str, entry: Entry, fresh: float, stale: float) -> None:
        entries = self._entries()
        now = trio.current_time()
        entries[key] = (Found(entry, True), now + fresh, now + fresh + stale)
        entries.move_to_end(key)
        while len(entries) > self.max_entries:
            entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry of the current run."""
        self._entries().clear()


def _peek(
    entries: OrderedDict[str, tuple[Found, float, float]], now: Callable[[], float], key: str
) -> Found | None:
    kept = entries.get(key)
    if kept is None:
        return None
    fresh, fresh_until, gone_at = kept
    at = now()
    if at >= gone_at:
        del entries[key]
        return None
    entries.move_to_end(key)
    return fresh if at < fresh_until else Found(fresh.entry, False)


class _RunEntries:
    """A memory store's entries in one trio run, and that run's clock (read on every hit, so
    asked of the clock directly rather than through ``trio.current_time()``)."""

    __slots__ = ("entries", "now")

    def __init__(self) -> None:
        self.entries: OrderedDict[str, tuple[Found, float, float]] = OrderedDict()
        """Key → (the entry found while fresh, fresh until, gone at), least recently used first."""
        self.now = trio.lowlevel.current_clock().current_time


DEFAULT_STORE = MemoryStore()
"""The store of renders and apps given none: in process, 10,000 entries per run."""
