"""The engine's exceptions, under one root.

::

    EngineError
    ├── PageError (ValueError)         a page definition is wrong; carries every Problem
    ├── RenderError                    a render could not produce its first byte
    │   ├── ParameterError (ValueError)  a request parameter is missing or malformed: 400
    │   ├── NotFound (LookupError)       raised by a shell query: 404
    │   ├── Redirect                     raised by a shell query: 303/307 with Location
    │   ├── ShellError                   a shell query failed otherwise: 500
    │   └── NoAsyncioHost                asyncio queries, but no asyncio loop hosts trio: 500
    ├── QueryError                     a query failed; in-band after the first byte
    │   ├── QueryTimeout                 its timeout or the page deadline passed
    │   │   └── SourceExhausted            ... while it waited for a place in its data source
    │   ├── ResultTypeError (TypeError)  its value does not match the declared type
    │   └── DependencyFailed             a query it depends on failed
    └── FragmentError                  a renderer raised or returned unusable HTML; in-band

Definition-time problems are collected and raised once, so a user fixes them all
in one pass; request-time errors name the page and the node.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal
from urllib.parse import quote

import attrs

from ._logs import printable

__all__ = [
    "DependencyFailed",
    "EngineError",
    "FragmentError",
    "NoAsyncioHost",
    "NotFound",
    "PageError",
    "ParameterError",
    "Problem",
    "QueryError",
    "QueryTimeout",
    "Redirect",
    "RenderError",
    "ResultTypeError",
    "ShellError",
    "SourceExhausted",
]


class EngineError(Exception):
    """Root of every error the engine raises."""


@attrs.frozen
class Problem:
    """One thing wrong (or suspicious) in a page definition, and where it is."""

    page: str
    message: str
    node: str | None = None
    file: str | None = None
    key: str | None = None
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = ":".join(part for part in (self.file, self.key) if part)
        node = f" [{printable(self.node, field=False)}]" if self.node else ""  # one line
        prefix = f"{where}: " if where else ""
        return f"{prefix}{self.severity}: page {self.page!r}{node}: {self.message}"


class PageError(EngineError, ValueError):
    """A page definition is invalid; ``problems`` lists every error found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in page definition:\n{lines}")


class RenderError(EngineError):
    """The render failed before its first byte, so the caller can still choose a status."""

    status_code = 500

    def __init__(self, message: str, *, page: str, node: str | None = None) -> None:
        self.page = page
        self.node = node
        self.reason = message
        super().__init__(f"page {page!r}: {message}" if page else message)


class ParameterError(RenderError, ValueError):
    """A request parameter is missing or cannot be converted to its declared type."""

    status_code = 400


class NotFound(RenderError, LookupError):
    """Raise from a shell query to say the requested thing does not exist (404).

    Example: ``raise engine.NotFound(f"no product {product_id}")``.
    """

    status_code = 404

    def __init__(self, message: str = "not found", *, page: str = "", node: str | None = None):
        super().__init__(message, page=page, node=node)


class Redirect(RenderError):
    """Raise from a shell query to answer with a redirect instead of the page.

    Example: ``raise engine.Redirect("/signin?next=/orders")`` (303: the browser follows with a
    GET); ``status=307`` keeps the method. Cookies and headers that shell queries set go with it.
    """

    STATUSES = (301, 302, 303, 307, 308)

    def __init__(
        self, url: str, *, status: int = 303, page: str = "", node: str | None = None
    ) -> None:
        if status not in self.STATUSES:
            raise ValueError(f"redirect status must be one of {self.STATUSES}, not {status!r}")
        if not isinstance(url, str) or not url or _CONTROL.search(url):
            raise ValueError(f"invalid redirect location {url!r}")
        self.status_code = status
        self.location = quote(url, safe=":/%#?=@[]!$&'()*+,;~")
        super().__init__(f"redirect {status} to {self.location}", page=page, node=node)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ShellError(RenderError):
    """A shell query failed, so no document can start."""


class NoAsyncioHost(RenderError):
    """The page has asyncio queries but no asyncio loop hosts this trio run (``trio.run``,
    Hypercorn's trio worker); ``engine.asgi.App`` reports it at startup already."""


class QueryError(EngineError):
    """A query failed; only what depends on it fails with it."""

    def __init__(self, message: str, *, page: str, query: str) -> None:
        self.page = page
        self.query = query
        self.reason = message
        super().__init__(f"page {page!r}, query {query!r}: {message}")


class QueryTimeout(QueryError):
    """The query's own timeout or the page deadline passed before it finished."""


class SourceExhausted(QueryTimeout):
    """The query gave up while waiting for a place in its data source (``engine.Sources``).

    Every place was taken, typically by calls that hang; the message names the source
    and its limit.
    """


class ResultTypeError(QueryError, TypeError):
    """The value a query returned does not match its declared result type."""


class DependencyFailed(QueryError):
    """A query this one depends on failed, so this one never ran."""


class FragmentError(EngineError):
    """A renderer raised, or returned HTML that cannot be placed; the slot fails."""

    def __init__(self, message: str, *, page: str, fragment: str) -> None:
        self.page = page
        self.fragment = fragment
        super().__init__(f"page {page!r}, fragment {fragment!r}: {message}")
