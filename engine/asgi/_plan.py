"""What one request asks for, decided before anything of its page runs."""

from __future__ import annotations

from urllib.parse import parse_qsl

import attrs

from ..context.request import Request as PageRequest
from ..definition.graph import Graph
from ._actions import Submitted
from ._guest import Scope

__all__ = ["Plan", "Refusal", "Request"]


@attrs.frozen
class Request:
    method: str
    path: str
    """Relative to the mount point (``root_path``), which is how routes are written."""
    target: str
    """As requested, for the access log."""
    query: dict[str, str]
    headers: dict[bytes, bytes]
    scope: Scope = attrs.field(eq=False, repr=False)

    @classmethod
    def parse(cls, scope: Scope) -> Request:
        path, qs = scope["path"], scope.get("query_string", b"").decode("latin-1")
        return cls(
            method=scope["method"],
            path=path.removeprefix(scope.get("root_path", "")) or "/",
            target=path + (f"?{qs}" if qs else ""),
            query=dict(parse_qsl(qs, keep_blank_values=True)),
            headers={k.lower(): v for k, v in scope.get("headers", ())},
            scope=scope,
        )


@attrs.frozen
class Plan:
    """A render to run: which graph, which fragment (or the whole page), in which mode."""

    graph: Graph
    fragment: str | None
    mode: str
    request: PageRequest
    submitted: Submitted | None = None
    """A POST's action and input (``_actions``); None for a GET."""


@attrs.frozen
class Refusal:
    """An answer decided before rendering anything."""

    status: int
    detail: str | None
    headers: tuple[tuple[bytes, bytes], ...] = ()
    mode: str = "-"
