"""The head of a response, which shell queries shape before the first byte.

A shell query declares ``response: engine.Response`` to set cookies, headers or the
Cache-Control value, and raises :class:`engine.Redirect` to answer with a redirect instead of
the page. Only queries the shell waits for may: after the first byte the head is gone, so
``engine check`` refuses the declaration anywhere else. Every value is validated when it is
set (no CR/LF header injection), so a bad one fails the query that set it, not the response.
"""

from __future__ import annotations

import re
from datetime import datetime
from http.cookies import CookieError, SimpleCookie
from typing import Literal

__all__ = ["Response", "check_header"]

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_FORBIDDEN_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_OWNED = {
    "content-length": "the engine streams the body",
    "transfer-encoding": "the server frames the body",
    "content-type": "pages are text/html; charset=utf-8",
    "set-cookie": "use response.set_cookie()",
    "cache-control": "set response.cache_control",
    "location": "raise engine.Redirect(url)",
}


def check_header(name: str, value: str) -> tuple[bytes, bytes]:
    """A header as ASGI wants it, or ValueError: a token name, a value without CR, LF or NUL."""
    if not isinstance(name, str) or not _TOKEN.match(name):
        raise ValueError(f"invalid header name {name!r}")
    if not isinstance(value, str):
        raise TypeError(f"header {name!r}: value must be a str, not {type(value).__name__}")
    if _FORBIDDEN_VALUE.search(value):
        raise ValueError(f"header {name!r}: control characters (CR, LF, NUL...) are not allowed")
    try:
        return name.lower().encode("ascii"), value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"header {name!r}: value is not latin-1 text") from None


class Response:
    """Cookies, headers and Cache-Control a shell query sets (``response: engine.Response``).

    Cookies are ``HttpOnly`` and ``SameSite=Lax`` unless told otherwise, and ``Secure`` when
    the request came over https.
    """

    def __init__(self, *, secure: bool = False) -> None:
        self._secure = secure
        self._headers: dict[bytes, tuple[bytes, bytes]] = {}
        self._cookies: SimpleCookie = SimpleCookie()
        self._cache_control: str | None = None
        self._sent = False

    @property
    def cache_control(self) -> str | None:
        """Overrides the app's Cache-Control (``"private, max-age=60"``); None keeps it."""
        return self._cache_control

    @cache_control.setter
    def cache_control(self, value: str | None) -> None:
        self._writable()
        if value is not None:
            check_header("cache-control", value)
        self._cache_control = value

    def set_header(self, name: str, value: str) -> None:
        """Set (or replace) one response header."""
        self._writable()
        key, encoded = check_header(name, value)
        if key.decode() in _OWNED:
            raise ValueError(f"header {name!r} is not yours to set: {_OWNED[key.decode()]}")
        self._headers[key] = (key, encoded)

    def set_cookie(
        self,
        key: str,
        value: str = "",
        *,
        max_age: int | None = None,
        expires: datetime | str | None = None,
        path: str = "/",
        domain: str | None = None,
        secure: bool | None = None,
        httponly: bool = True,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
    ) -> None:
        """Set a cookie; ``secure=None`` means Secure exactly when the request was https."""
        self._writable()
        if samesite not in ("lax", "strict", "none", None):
            raise ValueError(f"samesite must be 'lax', 'strict', 'none' or None, not {samesite!r}")
        secure = self._secure if secure is None else secure
        if samesite == "none" and not secure:
            raise ValueError("SameSite=None cookies must be Secure (browsers drop them otherwise)")
        for what, text in (("value", value), ("path", path), ("domain", domain or "")):
            if not isinstance(text, str) or _FORBIDDEN_VALUE.search(text) or ";" in text:
                raise ValueError(f"cookie {key!r}: invalid {what} {text!r}")
        cookies: SimpleCookie = SimpleCookie()
        try:
            cookies[key] = value
        except CookieError as exc:
            raise ValueError(f"invalid cookie name {key!r}: {exc}") from None
        morsel = cookies[key]
        morsel["path"] = path
        if max_age is not None:
            morsel["max-age"] = int(max_age)
        if expires is not None:
            morsel["expires"] = (
                expires.strftime("%a, %d %b %Y %H:%M:%S GMT")
                if isinstance(expires, datetime)
                else expires
            )
        if domain:
            morsel["domain"] = domain
        morsel["secure"] = secure
        morsel["httponly"] = httponly
        if samesite:
            morsel["samesite"] = samesite.capitalize()
        check_header("set-cookie", morsel.OutputString())
        self._cookies[key] = morsel

    def delete_cookie(self, key: str, *, path: str = "/", domain: str | None = None) -> None:
        """Tell the browser to forget a cookie (same ``path``/``domain`` as when it was set)."""
        self.set_cookie(
            key, "", max_age=0, expires="Thu, 01 Jan 1970 00:00:00 GMT", path=path, domain=domain
        )

    @property
    def headers(self) -> list[tuple[str, str]]:
        """What will be sent, ``Set-Cookie`` lines included (for tests and logs)."""
        return [(k.decode(), v.decode("latin-1")) for k, v in self._lines()]

    @property
    def sent(self) -> bool:
        """Whether the head has gone out (then nothing may change it)."""
        return self._sent

    def head(self) -> list[tuple[bytes, bytes]]:
        """The headers to send, and the end of changes: the head is on its way."""
        self._sent = True
        return self._lines()

    def _lines(self) -> list[tuple[bytes, bytes]]:
        out = list(self._headers.values())
        out += [(b"set-cookie", m.OutputString().encode("latin-1")) for m in self._cookies.values()]
        return out

    def _writable(self) -> None:
        if self._sent:
            raise RuntimeError("the response has started: its head can no longer change")
