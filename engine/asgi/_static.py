"""A folder of static files (stylesheets, scripts, images, fonts) served next to the pages.

``App(pages, static="static/")`` answers ``GET``/``HEAD /static/<name>`` from that folder: the
right ``Content-Type``, an ``ETag`` and ``Last-Modified`` that make a revisit a ``304``, and
long-lived caching for fingerprinted names (``app.3f2a9c1b.css`` never changes, so browsers
keep it a year without asking; any other name is revalidated on every use). Only regular files
inside the folder are served: ``..``, dot-files, absolute paths and symlinks leading out of it
are 404s, whatever encoding the request used.
"""

from __future__ import annotations

import email.utils
import mimetypes
import os
import re
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import trio

from ._guest import Send

__all__ = ["FINGERPRINT", "IMMUTABLE", "REVALIDATE", "StaticFiles"]

FINGERPRINT = re.compile(r"[.-][0-9a-fA-F]{8,}\.[A-Za-z0-9]+$")
"""A content hash before the extension (``app.3f2a9c1b.css``, ``logo-9f86d081884c.svg``)."""
IMMUTABLE = b"public, max-age=31536000, immutable"
REVALIDATE = b"no-cache"
"""Unfingerprinted names may change in place: cached, but revalidated (a 304) on every use."""

_CHUNK = 64 * 1024
# The types browsers care about, fixed here: the platform's mime.types varies by machine.
_TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".map": "application/json",
    ".html": "text/html",
    ".txt": "text/plain",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/vnd.microsoft.icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".wasm": "application/wasm",
    ".xml": "application/xml",
    ".pdf": "application/pdf",
    ".webmanifest": "application/manifest+json",
}
# A file opened as a document (HTML, SVG) runs no script and reaches nothing: the policy that
# code hosts use for user files. Stylesheets, scripts and images are not documents.
_DOCUMENT_POLICY = b"default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


def content_type(name: str) -> bytes:
    suffix = os.path.splitext(name)[1].lower()
    kind = _TYPES.get(suffix) or mimetypes.guess_type(name, strict=True)[0]
    kind = kind or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/json", "image/svg+xml"):
        kind += "; charset=utf-8"
    return kind.encode()


def _resolved(directory: str | os.PathLike[str]) -> Path:
    return Path(directory).resolve()


@attrs.frozen
class StaticFiles:
    """The files under ``directory``, addressed by paths relative to it."""

    directory: Path = attrs.field(converter=_resolved)

    def __attrs_post_init__(self) -> None:
        if not self.directory.is_dir():
            raise ValueError(f"static folder {str(self.directory)!r} is not a directory")

    def locate(self, relative: str) -> Path | None:
        """The regular file ``relative`` names inside the folder, or None (never outside it)."""
        parts = relative.split("/")
        if any(not p or p.startswith(".") or "\\" in p or "\0" in p for p in parts):
            return None  # "..", ".", dot-files, "//", absolute paths, Windows separators
        path = self.directory.joinpath(*parts)
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not real.is_relative_to(self.directory) or not real.is_file():
            return None  # a symlink leading out of the folder, a directory
        return real

    async def serve(
        self,
        relative: str,
        method: str,
        request_headers: Mapping[bytes, bytes],
        send: Send,
        extra_headers: Sequence[tuple[bytes, bytes]] = (),
    ) -> int:
        """Answer one request for ``relative``; return the status sent."""
        if method not in ("GET", "HEAD"):
            await _plain(send, 405, b"Method Not Allowed", [(b"allow", b"GET, HEAD")])
            return 405
        path = await trio.to_thread.run_sync(self.locate, relative)
        if path is None:
            await _plain(send, 404, b"Not Found", extra_headers)
            return 404
        try:
            info = await trio.to_thread.run_sync(path.stat)
        except OSError:
            await _plain(send, 404, b"Not Found", extra_headers)
            return 404
        etag = f'"{info.st_size:x}-{info.st_mtime_ns:x}"'.encode()
        modified = email.utils.formatdate(int(info.st_mtime), usegmt=True).encode()
        kind = content_type(path.name)
        headers = [
            *extra_headers,
            (b"etag", etag),
            (b"last-modified", modified),
            (b"cache-control", IMMUTABLE if FINGERPRINT.search(path.name) else REVALIDATE),
            (b"x-content-type-options", b"nosniff"),
        ]
        if kind.startswith((b"text/html", b"image/svg+xml")):
            headers.append((b"content-security-policy", _DOCUMENT_POLICY))
        if _not_modified(request_headers, etag, int(info.st_mtime)):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return 304
        headers += [(b"content-type", kind), (b"content-length", str(info.st_size).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if method == "HEAD" or not stat.S_ISREG(info.st_mode) or info.st_size == 0:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return 200
        await _send_file(path, info.st_size, send)
        return 200


def _not_modified(headers: Mapping[bytes, bytes], etag: bytes, mtime: int) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; else If-Modified-Since."""
    if_none_match = headers.get(b"if-none-match")
    if if_none_match is not None:
        if if_none_match.strip() == b"*":
            return True
        tags = (t.strip().removeprefix(b"W/") for t in if_none_match.split(b","))
        return etag in tags  # weak comparison: W/"x" matches "x"
    since = headers.get(b"if-modified-since")
    if since is None:
        return False
    try:
        when = email.utils.parsedate_to_datetime(since.decode("latin-1"))
    except (TypeError, ValueError):
        return False  # an unparseable date is ignored, as the RFC says
    return mtime <= when.timestamp()


async def _send_file(path: Path, size: int, send: Send) -> None:
    """The file in chunks, each sent before the next is read (memory stays one chunk)."""
    left = size
    async with await trio.open_file(path, "rb") as file:
        while left > 0:
            data = await file.read(min(_CHUNK, left))
            if not data:
                break  # the file shrank while we sent it: end with what was there
            left -= len(data)
            await send({"type": "http.response.body", "body": data, "more_body": left > 0})
    if left > 0:
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _plain(
    send: Send, status: int, text: bytes, headers: Sequence[tuple[bytes, bytes]]
) -> None:
    head = [
        *headers,
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(text)).encode()),
        (b"x-content-type-options", b"nosniff"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": text, "more_body": False})
