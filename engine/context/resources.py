"""Resources that live as long as the app: a database pool, an HTTP client, a cache client.

Declared once, as an :class:`engine.Resources` that pages name (``resources =
"shop.resources:resources"``); entered at startup (the ASGI lifespan, or around one render for
``engine render`` and tests) and closed at shutdown, in reverse order. A query receives one by
naming it in its ``resources``.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from types import MappingProxyType
from typing import Any

from .._errors import RenderError
from ..definition.nodes import loop_of
from ..resolution.bridge import asyncio_context

__all__ = ["ResourceError", "Resources", "enter"]


class ResourceError(RenderError):
    """A resource could not be opened, so nothing that needs it can render (500)."""


class Resources:
    """Named resources: ``Resources(db=open_database, http=httpx.AsyncClient)``.

    Each value is an async context manager factory (a zero-argument callable returning one,
    such as an ``@asynccontextmanager`` function or ``httpx.AsyncClient``), an async generator
    function (its one ``yield`` is the resource), or an async context manager object (entered
    once). What ``__aenter__`` returns is what queries receive.
    """

    def __init__(self, **factories: Any) -> None:
        for name, factory in factories.items():
            if not (callable(factory) or hasattr(factory, "__aenter__")):
                raise TypeError(
                    f"resource {name!r}: expected an async context manager or a factory of one,"
                    f" got {type(factory).__name__}"
                )
        self.factories: Mapping[str, Any] = MappingProxyType(dict(factories))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.factories)

    def __repr__(self) -> str:
        return f"Resources({', '.join(self.factories)})"

    @contextlib.asynccontextmanager
    async def open(self, only: Collection[str] | None = None) -> AsyncIterator[Mapping[str, Any]]:
        """Enter the resources (those in ``only``, or all) in order; close them in reverse."""
        async with contextlib.AsyncExitStack() as stack:
            values: dict[str, Any] = {}
            for name, factory in self.factories.items():
                if only is None or name in only:
                    values[name] = await enter(stack, name, factory)
            yield MappingProxyType(values)


async def enter(stack: contextlib.AsyncExitStack, name: str, factory: Any) -> Any:
    """Enter one resource on ``stack`` and return what queries receive.

    The one place resources are entered: a factory marked ``@engine.on_asyncio`` (aiosqlite,
    asyncpg, httpx) is entered, held and closed by one task on the asyncio loop hosting the
    render, since such libraries tie their state to the task and loop that opened them.
    """
    try:
        manager = _manager(factory)
        if loop_of(factory) == "asyncio":
            manager = asyncio_context(manager)
        return await stack.enter_async_context(manager)
    except Exception as exc:
        why = f"resource {name!r} failed to open: {type(exc).__name__}: {exc}"
        raise ResourceError(why, page="") from exc


def _manager(factory: Any) -> contextlib.AbstractAsyncContextManager[Any]:
    if hasattr(factory, "__aenter__") and not isinstance(factory, type):
        return factory  # type: ignore[no-any-return]
    if inspect.isasyncgenfunction(factory):
        return contextlib.asynccontextmanager(factory)()
    made = factory()
    if not hasattr(made, "__aenter__"):
        raise TypeError(
            f"{_describe(factory)} returned a {type(made).__name__}, not an async context manager"
        )
    return made  # type: ignore[no-any-return]


def _describe(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)
