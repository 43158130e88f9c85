"""What one request asks for, decided before anything of its page runs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TypeVar, overload
from urllib.parse import parse_qsl

import attrs

from ..context.request import Request as PageRequest
from ..definition.graph import Graph
from ._actions import Submitted
from ._guest import Scope

__all__ = ["Plan", "RawHeaders", "Refusal", "Request"]

_T = TypeVar("_T")


class RawHeaders(Mapping[bytes, bytes]):
    """The server's header pairs, read where they are: an open stream holds its headers once,
    in its scope, not again as a dict. Names are lower-case, as ASGI servers give them
    (Starlette reads them so too); a repeated header reads as its last value."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Sequence[tuple[bytes, bytes]]) -> None:
        self._raw = raw

    @overload
    def get(self, name: bytes, /) -> bytes | None: ...
    @overload
    def get(self, name: bytes, /, default: bytes | _T) -> bytes | _T: ...
    def get(self, name: bytes, /, default: object = None) -> object:
        found = default  # a scan, not a KeyError caught: most lookups find nothing
        for key, value in self._raw:
            if key == name:
                found = value
        return found

    def __getitem__(self, name: bytes) -> bytes:
        found = self.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[bytes]:
        return iter(dict.fromkeys(key for key, _ in self._raw))

    def __len__(self) -> int:
        return len(dict.fromkeys(key for key, _ in self._raw))


@attrs.frozen
class Request:
    method: str
    path: str
    """Relative to the mount point (``root_path``), which is how routes are written."""
    target: str
    """As requested, for the access log."""
    query: dict[str, str]
    headers: RawHeaders
    scope: Scope = attrs.field(eq=False, repr=False)

    @classmethod
    def parse(cls, scope: Scope) -> Request:
        path, qs = scope["path"], scope.get("query_string", b"").decode("latin-1")
        return cls(
            method=scope["method"],
            path=path.removeprefix(scope.get("root_path", "")) or "/",
            target=path + (f"?{qs}" if qs else ""),
            query=dict(parse_qsl(qs, keep_blank_values=True)),
            headers=RawHeaders(scope.get("headers", ())),
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
