"""The request a query may receive (``request: engine.Request``), and where parameters come from.

A :class:`Request` is immutable: headers, query parameters and cookies are read-only views.
The one live object it hands out is the session a middleware put in the ASGI scope, because
writing to it is how a page signs a user in or out (Starlette's ``SessionMiddleware`` saves it
when the response starts).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from http.cookies import _unquote
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

import attrs

__all__ = ["SOURCES", "Headers", "QueryParams", "Request", "Source", "header_name"]

Source = Literal["path", "query", "header", "cookie", "path-or-query"]
"""Where a request parameter comes from. ``path-or-query`` is a plain name in ``params``: the
path capture when the route captures it, else the query string, never both."""

SOURCES: tuple[str, ...] = ("path", "query", "header", "cookie")


def header_name(param: str) -> str:
    """The header a ``header`` parameter reads: ``accept_language`` → ``accept-language``."""
    return param.replace("_", "-").lower()


class _MultiMapping(Mapping[str, str]):
    """Read-only pairs where a key may repeat: ``m[k]`` is the last value, ``getlist`` all."""

    __slots__ = ("_items", "_last")

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items = tuple((self._key(k), v) for k, v in items)
        self._last = {k: v for k, v in self._items}

    @staticmethod
    def _key(key: str) -> str:
        return key

    def __getitem__(self, key: str) -> str:
        return self._last[self._key(key)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._last)

    def __len__(self) -> int:
        return len(self._last)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._key(key) in self._last

    def getlist(self, key: str) -> list[str]:
        """Every value of ``key``, in request order."""
        wanted = self._key(key)
        return [v for k, v in self._items if k == wanted]

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._items)!r})"


class Headers(_MultiMapping):
    """Request headers: read-only, case-insensitive (keys are lower-cased)."""

    __slots__ = ("_raw",)

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        super().__init__(items)
        self._raw: Sequence[tuple[bytes, bytes]] | None = None

    @staticmethod
    def _key(key: str) -> str:
        return key.lower()

    @classmethod
    def from_raw(cls, raw: Sequence[tuple[bytes, bytes]]) -> Headers:
        """The server's headers, decoded when first read: a render that never reads them (most
        do not) holds them once, in its ASGI scope, for as long as its stream stays open."""
        headers = cls.__new__(cls)
        headers._raw = raw
        return headers

    def __getattr__(self, name: str) -> Any:
        # Only reached while the decoded pairs are unset. Two threads (sync queries) may both
        # decode them: each sets the same pairs, and the raw ones are never let go (the scope
        # holds them anyway).
        raw = self._raw if name in ("_items", "_last") else None
        if raw is None:
            raise AttributeError(name)
        _MultiMapping.__init__(self, ((k.decode("latin-1"), v.decode("latin-1")) for k, v in raw))
        return getattr(self, name)


class QueryParams(_MultiMapping):
    """Query-string parameters: read-only; ``?tag=a&tag=b`` has ``getlist("tag") == ["a", "b"]``."""

    __slots__ = ()

    @classmethod
    def parse(cls, query_string: str) -> QueryParams:
        return cls(parse_qsl(query_string, keep_blank_values=True))


def raw_values(raw: Iterable[tuple[bytes, bytes]], name: bytes) -> list[str]:
    """Every value of header ``name`` (lower-case, as ASGI servers give names), decoded."""
    return [v.decode("latin-1") for k, v in raw if k == name]


def parse_cookies(values: Iterable[str]) -> Mapping[str, str]:
    """Cookies from the ``Cookie`` headers' values, as browsers send them (lenient like
    Starlette's and Django's parsers)."""
    cookies: dict[str, str] = {}
    for header in values:
        for chunk in header.split(";"):
            key, sep, value = chunk.partition("=")
            if not sep:
                key, value = "", key
            key, value = key.strip(), value.strip()
            if key or value:
                cookies[key] = _unquote(value)
    return MappingProxyType(cookies)


_MISSING = object()


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    """A read-only copy: neither the query nor whoever built the request can change it."""
    return MappingProxyType(dict(mapping))


@attrs.frozen(kw_only=True)
class Request:
    """One HTTP request as a query sees it (declare a parameter ``request: engine.Request``).

    ``path_params`` are the route's captures; ``state``, ``session``, ``user`` and ``auth`` are
    what middleware put in the ASGI scope (Starlette's lifespan state, ``SessionMiddleware``,
    ``AuthenticationMiddleware``).
    """

    method: str = "GET"
    scheme: str = "http"
    host: str = "localhost"
    root_path: str = ""
    """Where the app is mounted (``/shop``); ``path`` includes it."""
    path: str = "/"
    query_string: str = ""
    path_params: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen)
    query_params: QueryParams = attrs.field(factory=lambda: QueryParams(()))
    headers: Headers = attrs.field(factory=lambda: Headers(()))
    cookies: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen)
    client: tuple[str, int] | None = None
    """The client's (host, port), when the server knows it."""
    _scope: Mapping[str, Any] = attrs.field(factory=dict, alias="scope", repr=False)

    @property
    def url(self) -> str:
        """The full URL as requested: ``https://shop.example/shop/product/3?tab=reviews``."""
        query = f"?{self.query_string}" if self.query_string else ""
        return f"{self.scheme}://{self.host}{self.path}{query}"

    @property
    def secure(self) -> bool:
        return self.scheme in ("https", "wss")

    @property
    def state(self) -> Mapping[str, Any]:
        """The ASGI scope's ``state`` (Starlette: what the lifespan yielded), read-only."""
        state = self._scope.get("state")
        return MappingProxyType(state if isinstance(state, dict) else {})

    @property
    def session(self) -> MutableMapping[str, Any]:
        """The session a middleware loaded (the live object: shell queries may change it)."""
        return self._from_scope("session", "Starlette's SessionMiddleware")  # type: ignore[no-any-return]

    @property
    def user(self) -> Any:
        """The user an authentication middleware set (Starlette: ``request.user``)."""
        return self._from_scope("user", "Starlette's AuthenticationMiddleware")

    @property
    def auth(self) -> Any:
        return self._from_scope("auth", "Starlette's AuthenticationMiddleware")

    def scope_value(self, key: str) -> Any:
        """What the engine or a middleware put in the ASGI scope under ``key`` (None if absent)."""
        return self._scope.get(key)

    def with_scope_value(self, key: str, value: Any) -> Request:
        """The same request, its scope holding ``value`` under ``key`` (the caller's unchanged)."""
        return attrs.evolve(self, scope={**self._scope, key: value})

    def _from_scope(self, key: str, middleware: str) -> Any:
        value = self._scope.get(key, _MISSING)
        if value is _MISSING:
            raise LookupError(
                f"request.{key} is not set: install {middleware} (or any middleware that sets"
                f" scope[{key!r}]) around the app; tests pass {key}= to engine.testing"
            )
        return value

    @classmethod
    def from_scope(cls, scope: Mapping[str, Any], path_params: Mapping[str, str]) -> Request:
        """The request of an ASGI HTTP scope, with the route's captures."""
        raw = scope.get("headers", ())
        hosts = raw_values(raw, b"host")
        query_string = scope.get("query_string", b"").decode("latin-1")
        server = scope.get("server")
        default_host = f"{server[0]}:{server[1]}" if server else "localhost"
        client = scope.get("client")
        return cls(
            method=scope.get("method", "GET"),
            scheme=scope.get("scheme", "http"),
            host=hosts[-1] if hosts else default_host,
            root_path=scope.get("root_path", ""),
            path=scope.get("path", "/"),
            query_string=query_string,
            path_params=dict(path_params),
            query_params=QueryParams.parse(query_string),
            headers=Headers.from_raw(raw),
            cookies=parse_cookies(raw_values(raw, b"cookie")),
            client=(client[0], client[1]) if client else None,
            scope=scope,
        )

    @classmethod
    def build(
        cls,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        cookies: Mapping[str, str] | None = None,
        method: str = "GET",
        path: str = "/",
        scheme: str = "http",
        client: tuple[str, int] | None = None,
        state: Mapping[str, Any] | None = None,
        session: MutableMapping[str, Any] | None = None,
        user: Any = _MISSING,
        auth: Any = _MISSING,
    ) -> Request:
        """A request made by hand (``engine render``, ``engine.testing``, embedding).

        ``params`` are trusted values given directly, so they serve path and query-string
        parameters alike.
        """
        given = dict(params or {})
        pairs = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        header_view = Headers(pairs)
        scope: dict[str, Any] = {}
        if state is not None:
            scope["state"] = dict(state)
        if session is not None:
            scope["session"] = session
        if user is not _MISSING:
            scope["user"] = user
        if auth is not _MISSING:
            scope["auth"] = auth
        query_string = urlencode(given)
        cookie_view = dict(parse_cookies(header_view.getlist("cookie")))
        cookie_view.update(cookies or {})
        return cls(
            method=method,
            scheme=scheme,
            host=header_view.get("host", "localhost"),
            path=path,
            query_string=query_string,
            path_params=given,
            query_params=QueryParams(given.items()),
            headers=header_view,
            cookies=cookie_view,
            client=client,
            scope=scope,
        )
