"""The checked nodes of a page graph, and the report that collects definition problems."""

from __future__ import annotations

import inspect
import math
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import attrs

from .._errors import Problem
from ..markup.context import Context
from .convert import converter_for
from .refs import RefError, import_ref, parse_type

if TYPE_CHECKING:
    from .caching import CachePolicy
    from .loaders import Loader

__all__ = [
    "FragmentNode",
    "Loop",
    "QueryNode",
    "Report",
    "is_async",
    "is_batched",
    "loop_of",
    "on_asyncio",
]

Loop = Literal["trio", "asyncio"]

PRIORITIES = {"high": 1, "normal": 0, "low": -1}
_ASYNC_ITER_ORIGINS = {typing.AsyncIterator, typing.AsyncIterable, typing.AsyncGenerator}


@attrs.frozen
class QueryNode:
    index: int
    name: str
    call: Callable[..., Any]
    result: Any
    depends_on: tuple[int, ...]
    params: tuple[str, ...]
    param_types: Mapping[str, Any]
    optional_params: frozenset[str]
    """Parameters the callable has defaults for: a request may leave them out."""
    timeout: float | None
    expose: bool
    batched: bool
    is_async: bool
    loop: Loop = "trio"
    """Where ``call`` runs: trio (the render's own loop) or the asyncio loop hosting it."""
    sources: Mapping[str, str] = attrs.field(factory=dict)
    """Where each of ``params`` comes from (``engine.context.request.Source``)."""
    context: Mapping[str, str] = attrs.field(factory=dict)
    """Keyword arguments that receive the ``request`` or the ``response`` object."""
    resources: tuple[str, ...] = ()
    dependents: tuple[int, ...] = ()
    consumers: tuple[int, ...] = ()
    source: str | None = None
    """The data source whose limit it runs under (``engine.Sources``)."""
    loaders: tuple[Loader[Any, Any], ...] = ()
    """Batched data sources it receives by name (``engine.Loader``)."""
    urgency: tuple[float, ...] = (math.inf,)
    """Its rank when calls wait for a data source: smaller goes first (set by ``Graph.build``)."""
    cache: CachePolicy | None = None
    """Its results are kept across requests (``Query.cache``, checked)."""
    convert: Callable[[Any], Any] = attrs.field(
        init=False,
        eq=False,
        repr=False,
        default=attrs.Factory(lambda q: converter_for(q.result), takes_self=True),
    )
    """Turns a result into ``result`` (chosen once, here, not per call)."""
    in_thread: bool = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda q: not (q.is_async or q.batched or q.loop == "asyncio"), takes_self=True
        ),
    )
    """A sync call: it runs in a worker thread, under its source's limit (``default``)."""
    hosted: bool = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda q: q.loop == "asyncio" and q.source is None and not q.batched and not q.loaders,
            takes_self=True,
        ),
    )
    """An asyncio call with no limit and no batches: one host task runs it, no trio task."""
    direct: bool = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda q: (
                q.is_async
                and q.loop == "trio"
                and q.source is None
                and not q.batched
                and not q.loaders
            ),
            takes_self=True,
        ),
    )
    """A trio call with no limit and no batches: awaited in its task, with nothing between."""
    task_name: str = attrs.field(
        init=False,
        eq=False,
        repr=False,
        default=attrs.Factory(lambda q: f"query {q.name}", takes_self=True),
    )


@attrs.frozen
class FragmentNode:
    index: int
    target: str
    uses: tuple[int, ...]
    renderer: Callable[[Mapping[str, Any]], Any]
    priority: int
    fallback: str
    error: str | None
    append: bool
    batch_query: int | None
    stylesheets: tuple[str, ...]
    slots: tuple[str, ...]
    reveal: str | None
    parent: int | None = None
    children: tuple[int, ...] = ()
    group: tuple[int, ...] = ()
    depth: int = 0
    context: Context = "flow"
    """Parser context of its slot (a function renderer's slots inherit its own)."""
    markup: str | None = attrs.field(default=None, eq=False, repr=False)
    """Its template's text with slots as markers, where one is known (parser contexts)."""
    inputs: tuple[int, ...] = attrs.field(
        init=False,
        eq=False,
        repr=False,
        default=attrs.Factory(
            lambda f: tuple(u for u in f.uses if u != f.batch_query), takes_self=True
        ),
    )
    """The queries it uses, but its batched one."""


def is_async(fn: Any) -> bool:
    return (
        inspect.iscoroutinefunction(fn)
        or inspect.isasyncgenfunction(fn)
        or (
            inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004
        )
    )


_LOOP_MARK = "__engine_loop__"
Call = TypeVar("Call", bound=Callable[..., Any])


def on_asyncio(fn: Call) -> Call:
    """Mark a query callable that awaits asyncio libraries (aiosqlite, asyncpg, httpx...).

    The engine then runs it as a task on the asyncio loop hosting the render, exactly as
    ``loop = "asyncio"`` on its query would: the function, not each page using it, knows
    which loop its libraries need.
    """
    setattr(fn, _LOOP_MARK, "asyncio")
    return fn


def loop_of(fn: Any, declared: Loop = "trio") -> Loop:
    """The loop a query callable runs on: its ``@on_asyncio`` mark, else the declared one."""
    return "asyncio" if getattr(fn, _LOOP_MARK, None) == "asyncio" else declared


def is_batched(fn: Any) -> bool:
    """An async generator, or a callable annotated to return an async iterator."""
    if inspect.isasyncgenfunction(fn):
        return True
    try:
        returns = typing.get_type_hints(fn).get("return")
    except Exception:  # unresolvable annotations: nothing more to learn from them
        return False
    return typing.get_origin(returns) in {getattr(t, "__origin__", t) for t in _ASYNC_ITER_ORIGINS}


class Report:
    """Every problem found in one page definition, so all are reported at once.

    Keys are those of the flattened page (layouts folded in); ``locate`` turns one into
    the file and key where the node was declared. ``layer`` says a key is that layer's own.
    """

    def __init__(
        self,
        page: str,
        source: str | None,
        locate: Callable[[str | None, int | None], tuple[str | None, str | None]] | None = None,
    ) -> None:
        self.page = page
        self.source = source
        self.locate = locate
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self._missing_modules: dict[str, tuple[int, int]] = {}
        """A module that cannot be found -> (its error's position in ``errors``, how many
        more references needed it)."""

    def problem(
        self,
        message: str,
        *,
        node: str | None = None,
        key: str | None = None,
        layer: int | None = None,
    ) -> None:
        self.errors.append(self._problem(message, node, key, layer, "error"))

    def warn(
        self,
        message: str,
        *,
        node: str | None = None,
        key: str | None = None,
        layer: int | None = None,
    ) -> None:
        self.warnings.append(self._problem(message, node, key, layer, "warning"))

    def _problem(
        self,
        message: str,
        node: str | None,
        key: str | None,
        layer: int | None,
        severity: Literal["error", "warning"],
    ) -> Problem:
        file = self.source
        if self.locate is not None:
            file, key = self.locate(key, layer)
        return Problem(
            page=self.page, node=node, file=file, key=key, message=message, severity=severity
        )

    def resolve_callable(self, ref: object, *, node: str, key: str) -> Callable[..., Any] | None:
        if isinstance(ref, str):
            try:
                ref = import_ref(ref)
            except RefError as exc:
                self._ref_problem(exc, node=node, key=key)
                return None
        if not callable(ref):
            self.problem(f"{ref!r} is not callable", node=node, key=key)
            return None
        return ref

    def resolve_type(self, ref: Any, *, node: str, key: str) -> Any:
        if isinstance(ref, str):
            try:
                return parse_type(ref)
            except RefError as exc:
                self._ref_problem(exc, node=node, key=key)
                return None
        return ref

    def _ref_problem(self, error: RefError, *, node: str, key: str) -> None:
        """One error per missing module, however many references need it: a page run from
        the wrong directory has one mistake, not one per query."""
        missing = error.missing_module
        if missing is None:
            self.problem(str(error), node=node, key=key)
            return
        if missing in self._missing_modules:
            position, others = self._missing_modules[missing]
            others += 1
            self._missing_modules[missing] = (position, others)
            first = self.errors[position]
            message = first.message.partition(" (and ")[0]
            self.errors[position] = attrs.evolve(
                first, message=f"{message} (and {others} more reference(s) under {missing!r})"
            )
            return
        self._missing_modules[missing] = (len(self.errors), 0)
        self.problem(f"{error}{self._search_hint(missing)}", node=node, key=key)

    def _search_hint(self, module: str) -> str:
        top = module.partition(".")[0]
        searched = [Path.cwd()]
        if self.source is not None:
            searched.append(Path(self.source).resolve().parent)
        hint = (
            "; modules resolve from the current directory and the page file's directory"
            if self.source is not None
            else "; modules resolve from the current directory and PYTHONPATH"
        )
        for directory in Path(self.source or Path.cwd()).resolve().parents:
            if (directory / top).is_dir() or (directory / f"{top}.py").is_file():
                if directory not in searched:
                    return f"{hint}: {top!r} is in {str(directory)!r}, run the command from there"
                break
        return hint
