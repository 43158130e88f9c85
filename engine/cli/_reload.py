"""``engine serve --reload``: rebuild the app in place when a page file or a module changes.

Hypercorn's own reloader restarts its workers when an imported module changes, but it never
sees page files (they are not modules), and a worker that fails to import its app ends the
server for good. Here each worker rebuilds its app instead: before a request, when a watched
file has changed since the last build. A build that fails leaves the server running: every
request gets a 500 page showing the error, the log gets it once, and the next change of any
watched file (the fix) builds again.
"""

from __future__ import annotations

import gc
import importlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from markupsafe import escape

from ..asgi._guest import Receive, Scope, Send

log = logging.getLogger("engine.serve")

_OWN_PACKAGES = ("engine", "schemas")
"""Never reloaded: the server itself runs on them."""
_LIBRARIES = {"site-packages", "dist-packages"}
_PREFIXES = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
"""Installed code is never reloaded, even in a virtual environment inside the project."""


class Reloading:
    """An ASGI app that rebuilds ``build()`` whenever a watched file changed.

    Watched: ``files`` (the page file) and the source of every module imported since the
    wrapper started that lives under one of ``roots`` (the user's code, not the libraries).
    Those modules are dropped from ``sys.modules`` before a rebuild, so it imports them anew.
    """

    def __init__(self, build: Callable[[], Any], files: list[Path], roots: list[Path]) -> None:
        self._build = build
        self._files = [f.resolve() for f in files]
        self._roots = [r.resolve() for r in roots]
        self._app: Any = None
        self._error: str | None = None
        self._seen: dict[Path, tuple[int, int] | None] = {}
        self._modules: dict[str, Path] = {}
        self._rebuild()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._changed():
            self._rebuild()
        if self._error is None:
            await self._app(scope, receive, send)
        elif scope["type"] == "http":
            await _error_page(self._error, send)
        elif scope["type"] == "lifespan":
            await _lifespan(receive, send)
        else:
            raise RuntimeError(f"no app to serve {scope['type']!r}: {self._error}")

    def _rebuild(self) -> None:
        # The app being replaced was frozen at its startup (Options.freeze_heap): hand its
        # objects back to the collector, or each reload would keep the last app for good.
        gc.unfreeze()
        for name in self._modules:
            sys.modules.pop(name, None)
        importlib.invalidate_caches()
        before = set(sys.modules)
        try:
            self._app, self._error = self._build(), None
        except Exception as exc:  # SyntaxError, PageError, RefError: anything the user wrote
            self._error = _describe(exc)
            log.error("reload failed, serving the error until the next change: %s", self._error)
            self._files += [p for p in _files_named_by(exc) if p not in self._files]
        else:
            if self._modules:
                log.info("reloaded")
        self._modules = {
            name: path
            for name in set(sys.modules) - before
            if (path := self._source(sys.modules[name])) is not None
        } | {name: path for name, path in self._modules.items() if name not in sys.modules}
        self._seen = {path: _stamp(path) for path in [*self._files, *self._modules.values()]}

    def _source(self, module: ModuleType | None) -> Path | None:
        name = getattr(module, "__name__", "")
        filename = getattr(module, "__file__", None)
        if filename is None or name.split(".")[0] in _OWN_PACKAGES:
            return None
        path = Path(filename).resolve()
        if _LIBRARIES.intersection(path.parts) or any(path.is_relative_to(p) for p in _PREFIXES):
            return None
        return path if any(path.is_relative_to(root) for root in self._roots) else None

    def _changed(self) -> bool:
        return any(_stamp(path) != stamp for path, stamp in self._seen.items())


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _files_named_by(exc: BaseException) -> list[Path]:
    """Source files a failure points at (a syntax error in a module that never imported)."""
    found: list[Path] = []
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, SyntaxError) and cause.filename:
            found.append(Path(cause.filename).resolve())
        cause = cause.__cause__ or cause.__context__
    return found


def _describe(exc: BaseException) -> str:
    problems = getattr(exc, "problems", None)
    if problems:
        return "\n".join(str(p) for p in problems)
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} ({exc.filename}, line {exc.lineno})"
    return f"{type(exc).__name__}: {exc}"


async def _error_page(error: str, send: Send) -> None:
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>500 Internal Server Error</title></head><body>"
        "<h1>The app could not be built</h1>"
        f"<pre>{escape(error)}</pre><p>Fix the file and reload this page.</p></body></html>"
    ).encode()
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
