"""Batched data sources (DataLoader semantics): declared once, checked with the page.

A :class:`Loader` wraps one function that takes a list of keys and returns a value per
key. Queries name the loaders they use (``loaders = ["shop.data:users"]``) and receive,
under the loader's name, this request's :class:`~engine.RequestLoader`: ``await
users.load(user_id)``. Loads made by queries that start together are sent as one call
(``engine.resolution.batching``).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from schemas import Query

from .nodes import Report, is_async, is_batched, loop_of
from .refs import RefError, import_ref
from .signatures import describe

__all__ = ["Loader", "check_loaders", "loader"]

K = TypeVar("K")
V = TypeVar("V")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Loader(Generic[K, V]):
    """A batched data source: ``fetch(keys)`` returns a value for each key.

    ``fetch`` gets a ``list`` of distinct keys and returns either a mapping from key to
    value or a sequence of values aligned with the keys. A key it leaves out, or whose
    value is an exception instance, fails only the queries that asked for that key; an
    exception raised by ``fetch`` fails the queries waiting for that call. ``fetch`` may
    be async (on trio, or on asyncio when marked ``@engine.on_asyncio``) or sync (run in
    a worker thread, under its source's thread limit).

    ``source`` names the ``engine.Sources`` limit its calls wait for; ``max_batch``
    splits a larger batch into calls of at most that many keys. ``name`` is the keyword
    argument queries receive it as (by default, ``fetch``'s name).
    """

    def __init__(
        self,
        fetch: Callable[[list[K]], Any],
        *,
        name: str | None = None,
        source: str | None = None,
        max_batch: int | None = None,
    ) -> None:
        if not callable(fetch):
            raise TypeError(f"engine.Loader: fetch must be callable, not {type(fetch).__name__}")
        name = name if name is not None else getattr(fetch, "__name__", "")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"engine.Loader: the name {name!r} is not a Python identifier; queries receive"
                " the loader as a keyword argument: pass name='users'"
            )
        if source is not None and (not isinstance(source, str) or not _NAME.match(source)):
            raise ValueError(
                f"engine.Loader {name!r}: source {source!r} is not a valid source name (a Python"
                " identifier, as in engine.Sources(db=4))"
            )
        if max_batch is not None and (
            isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1
        ):
            raise ValueError(
                f"engine.Loader {name!r}: max_batch must be an integer >= 1, not {max_batch!r}"
            )
        self.fetch = fetch
        self.name = name
        self.source = source
        self.max_batch = max_batch
        self.is_async = is_async(fetch)
        self.loop = loop_of(fetch)

    def __repr__(self) -> str:
        options = "".join(
            f", {key}={value!r}"
            for key, value in (("source", self.source), ("max_batch", self.max_batch))
            if value is not None
        )
        return f"Loader({self.name!r}{options})"


def loader(
    *, name: str | None = None, source: str | None = None, max_batch: int | None = None
) -> Callable[[Callable[[list[K]], Any]], Loader[K, Any]]:
    """Declare a batched data source: ``@engine.loader(source="db", max_batch=100)``."""

    def declare(fetch: Callable[[list[K]], Any]) -> Loader[K, Any]:
        return Loader(fetch, name=name, source=source, max_batch=max_batch)

    return declare


def check_loaders(
    report: Report, index: int, q: Query, call: Callable[..., Any] | None
) -> tuple[Loader[Any, Any], ...]:
    """The loaders ``q`` names, resolved; each problem is reported with its key."""
    found: list[Loader[Any, Any]] = []
    key = f"$.queries[{index}].loaders"
    for j, ref in enumerate(q.loaders):
        item = ref
        if isinstance(ref, str):
            try:
                item = import_ref(ref)
            except RefError as exc:
                report._ref_problem(exc, node=q.name, key=f"{key}[{j}]")
                continue
        if not isinstance(item, Loader):
            fix = (
                f"declare it with @engine.loader() above the function, or"
                f" engine.Loader({getattr(item, '__name__', 'fetch')})"
                if callable(item)
                else "name an engine.Loader"
            )
            report.problem(
                f"loader {_shown(ref)} is not an engine.Loader ({type(item).__name__}): {fix}",
                node=q.name,
                key=f"{key}[{j}]",
            )
            continue
        if any(other.name == item.name for other in found):
            report.problem(
                f"two loaders named {item.name!r}: a query receives each loader under its name;"
                " rename one (engine.Loader(fetch, name=...))",
                node=q.name,
                key=f"{key}[{j}]",
            )
            continue
        problem = _fetch_problem(item)
        if problem:
            report.problem(problem, node=q.name, key=f"{key}[{j}]")
        found.append(item)
    if found and call is not None:
        problem = _caller_problem(call)
        if problem:
            report.problem(problem, node=q.name, key=f"$.queries[{index}].call")
    return tuple(found)


def _shown(ref: object) -> str:
    return repr(ref) if isinstance(ref, str) else describe(ref)


def _fetch_problem(item: Loader[Any, Any]) -> str | None:
    try:
        inspect.signature(item.fetch).bind([])
    except TypeError:
        return (
            f"loader {item.name!r}: {describe(item.fetch)} must take the list of keys as its one"
            " positional argument"
        )
    except ValueError:  # no signature to read (a builtin): trusted
        return None
    if is_batched(item.fetch):
        return (
            f"loader {item.name!r}: {describe(item.fetch)} yields batches; a loader returns one"
            " value per key (a mapping or a list aligned with the keys)"
        )
    if item.loop == "asyncio" and not item.is_async:
        return f"loader {item.name!r}: {describe(item.fetch)} is marked asyncio but is not async"
    return None


def _caller_problem(call: Callable[..., Any]) -> str | None:
    if is_batched(call):
        return (
            f"{describe(call)} yields batches; loaders serve queries that return one value"
            " (load the keys in a query of their own)"
        )
    if not is_async(call):
        return (
            f"{describe(call)} uses loaders but is not async: a sync query runs in a worker"
            " thread and cannot await a load; make it `async def`"
        )
    return None
