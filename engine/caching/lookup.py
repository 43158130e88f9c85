"""A render's use of the cache: serve a hit, start or join the call for a miss, refresh stale.

Outcomes are recorded with ``note(query, "cache", outcome)``: ``hit``, ``stale`` (served at
once, refreshed in the background), ``miss`` (this render started the call), ``shared`` (it
joined a call in the air), ``unavailable`` (the store could not be reached), ``unkeyable``
(an input msgpack cannot encode), ``failure`` (a cached failure), ``renewed`` (an action
invalidated it: called afresh, the store not read, the new answer written over the old).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import outcome

from .._errors import QueryError
from ..definition.caching import CachePolicy
from ..definition.nodes import QueryNode
from .flights import Call, join
from .keys import UnkeyableInput, cache_key
from .stores import CacheStore, Found, MemoryStore, StoreUnavailable

__all__ = ["Lookup"]

logger = logging.getLogger("engine")

Note = Callable[[str, str, Any], None]
"""``note(query name, key, value)``: a fact about a call, for tracing (``query_note``)."""


class Lookup:
    """The cache as one render sees it (one per render; the store is shared)."""

    def __init__(self, store: CacheStore, page: str, note: Note) -> None:
        self.store = store
        self.page = page
        self.note = note
        self.unkeyable_reported: set[str] = set()
        self.peek: Callable[[str], Found | None] = (
            store.bind()
            if isinstance(store, MemoryStore)
            else store.peek
            if store.immediate
            else _no_peek
        )
        """A hit that needs no I/O; None to call or wait (then :meth:`fetch`)."""

    def key(
        self, q: QueryNode, params: Mapping[str, Any], dependencies: Sequence[Any]
    ) -> str | None:
        """The call's key, or None (logged once per query) when an input cannot be encoded."""
        assert q.cache is not None
        try:
            return cache_key(q.cache, q, params, dependencies)
        except UnkeyableInput as exc:
            if q.cache.family not in self.unkeyable_reported:
                self.unkeyable_reported.add(q.cache.family)
                logger.warning(
                    "page %r, query %r: called uncached, an input cannot be part of a cache key"
                    " (%s); declare a msgspec-encodable result type for its dependencies",
                    self.page,
                    q.name,
                    exc,
                )
            self.note(q.name, "cache", "unkeyable")
            return None

    async def fetch(self, q: QueryNode, key: str, call: Call, renew: bool = False) -> Any:
        """The value for ``key``: from the store, else from the (shared) call; with ``renew``
        (an action changed its data), from a new call whose answer replaces the entry.

        Raises the call's failure, or a cached one, as a :class:`QueryError` of this render.
        """
        policy = q.cache
        assert policy is not None
        store_up = True
        try:
            found = (
                None
                if renew
                else self.store.peek(key)
                if self.store.immediate
                else await self.store.read(key, q.result, policy.stale)
            )
        except StoreUnavailable:
            found, store_up = None, False
        if found is not None:
            self.served(q, key, found, lambda _: call)
            return self.value(q, found)
        if not store_up:
            self.note(q.name, "cache", "unavailable")
        flight, joined = join(
            self.store,
            key,
            policy,
            call,
            page=self.page,
            query=q.name,
            timeout=q.timeout,
            renew=renew,
        )
        if store_up:
            self.note(q.name, "cache", "renewed" if renew else "shared" if joined else "miss")
        result = await flight.wait()
        if isinstance(result, outcome.Value):
            return result.value
        assert isinstance(result, outcome.Error)
        # A fresh error per render (the waiters share the outcome): raising one object from
        # several tasks would tangle its traceback.
        error = result.error
        if isinstance(error, QueryError):
            raise type(error)(error.reason, page=self.page, query=q.name) from error.__cause__
        raise QueryError(f"{type(error).__name__}: {error}", page=self.page, query=q.name) from (
            error
        )

    def served(
        self, q: QueryNode, key: str, found: Found, refresh: Callable[[QueryNode], Call]
    ) -> None:
        """Note what ``found`` is (after the query's start was traced); refresh it if stale
        with the call ``refresh(q)`` makes (built only then)."""
        policy: CachePolicy | None = q.cache
        assert policy is not None
        if found.entry.failure is not None:
            self.note(q.name, "cache", "failure")
        elif found.fresh:
            self.note(q.name, "cache", "hit")
        else:
            self.note(q.name, "cache", "stale")
            join(
                self.store,
                key,
                policy,
                refresh(q),
                page=self.page,
                query=q.name,
                timeout=q.timeout,
                refresh=True,
            )

    def value(self, q: QueryNode, found: Found) -> Any:
        """The value of a found entry, or its failure raised afresh."""
        failure = found.entry.failure
        if failure is not None:
            raise failure.exception(self.page, q.name)
        return found.entry.value


def _no_peek(key: str) -> None:
    """A store whose reads need I/O has nothing to give without waiting."""
    return None
