"""Definition checks of a query's cache policy, and the policy as the resolution uses it.

A cached result may be served to any later request, so its key must hold everything the call
receives. The engine builds the key itself from the inputs it passes (parameters with their
source, dependencies' values): what it cannot see is refused here, before any request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from schemas import Cache, Query

from .nodes import Report
from .signatures import describe, type_name

__all__ = ["CachePolicy", "cache_policy"]


@attrs.frozen
class CachePolicy:
    """A checked :class:`schemas.Cache` of one query."""

    ttl: float
    stale: float
    failures: float | None
    identity: str
    """Part of every key: the entry family (``page.query`` or the declared name), the version,
    the callable and the result type, so two queries share entries only when all agree."""
    family: str
    """The entry family alone, for messages and store keys."""


def cache_policy(
    report: Report,
    page: str,
    index: int,
    q: Query,
    call: Callable[..., Any],
    result: Any,
    context: Mapping[str, str],
    batched: bool,
) -> CachePolicy | None:
    """The policy of ``q`` (None when it has none), reporting what makes it unsafe to cache."""
    cache: Cache | None = q.cache
    if cache is None:
        return None
    key = f"$.queries[{index}].cache"
    ok = True
    for argument, kind in context.items():
        ok = False
        if kind == "request":
            report.problem(
                f"is cached, but {describe(call)} takes the whole request ({argument}:"
                " engine.Request): the cache key cannot hold what it reads from it, so one"
                " visitor's result could be served to another; declare the headers and cookies"
                " it needs as parameters (params = { header = [...], cookie = [...] }, in Python"
                " engine.Params(header=..., cookie=...)) or drop cache",
                node=q.name,
                key=key,
            )
        else:
            report.problem(
                f"is cached, but {describe(call)} sets the response head ({argument}:"
                " engine.Response): a cached result would skip its cookies and headers; move"
                " that into an uncached shell query or drop cache",
                node=q.name,
                key=key,
            )
    if batched:
        ok = False
        report.problem(
            f"is cached, but {describe(call)} yields batches: only a whole result can be"
            " cached; return the list at once or drop cache",
            node=q.name,
            key=key,
        )
    if q.loaders:
        ok = False
        names = ", ".join(repr(getattr(item, "name", item)) for item in q.loaders)
        report.problem(
            f"is cached, but it reads through loader(s) {names}: a loader"
            " batches the calls of one request, and a shared cached call outlives the request"
            " that started it; cache the queries that do not use it, or drop cache",
            node=q.name,
            key=key,
        )
    if not ok:
        return None
    family = cache.name or f"{page}.{q.name}"
    return CachePolicy(
        ttl=cache.ttl,
        stale=cache.stale,
        failures=cache.failures,
        identity=f"{family}|{cache.version}|{_callable_name(call)}|{type_name(result)}",
        family=family,
    )


def _callable_name(call: Callable[..., Any]) -> str:
    """The same in every process (keys are shared through Redis): a callable object is named
    by its class, never by its ``repr``, which may hold its address."""
    named = call if hasattr(call, "__qualname__") else type(call)
    return f"{getattr(named, '__module__', '')}:{named.__qualname__}"
