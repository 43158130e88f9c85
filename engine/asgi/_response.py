"""One HTTP response: the render's sink, turned into ASGI messages as they come.

Each write becomes one ``http.response.body`` with ``more_body=True``, sent before the render
may produce the next: the adapter never queues, so a client that reads slowly slows the writer
(not the queries) and memory stays bounded by one write. The status line goes out with the
first write, when the shell queries are known to have succeeded. The final message is sent
shielded from cancellation: under Hypercorn's trio worker a final send cancelled half-way left
the connection open forever (../shared/STREAMING.md §2.6).

A client that stops reading blocks a send; ``write_timeout`` bounds each send. Cancelling the
send is not enough: Hypercorn's trio worker shields its socket send, so :meth:`time_out`
resets the connection itself (``_connection``), which ends the send on every server. One
watcher per trio run calls it (``_write_watch``): an open response costs no task for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import trio
from markupsafe import escape

from ..context.response import Response as Head
from ._connection import reset_connection
from ._guest import Scope, Send
from ._timing import ShellTimer, stamp
from ._write_watch import WriteWatch

_REASONS = {
    301: "Moved Permanently",
    302: "Found",
    204: "No Content",
    303: "See Other",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    404: "Not Found",
    403: "Forbidden",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
}


class HeadComplete(Exception):
    """Raised by the sink of a HEAD request once the headers are out: nothing more to do."""


class WriteTimeout(Exception):
    """A send waited ``write_timeout`` seconds for a client that does not read; the connection
    has been reset (or, if it could not be found, the send cancelled)."""


def error_page(status: int, detail: str | None) -> bytes:
    title = f"{status} {_REASONS.get(status, '')}".strip()
    body = f"<p>{escape(detail)}</p>" if detail else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body><h1>{title}</h1>{body}</body></html>"
    ).encode()


class Response:
    """Streams (or, in buffered mode, collects) the writes of one render."""

    def __init__(
        self,
        scope: Scope,
        send: Send,
        headers: list[tuple[bytes, bytes]],
        page_head: Head,
        *,
        head: bool,
        buffered: bool,
        stamps: bool,
        timer: ShellTimer | None,
        write_timeout: float | None,
    ) -> None:
        self._scope = scope
        self._send = send
        self._headers = headers
        self._page_head = page_head
        self._head = head
        self._buffered = buffered
        self._stamps = stamps
        self._timer = timer
        self._watch = None if write_timeout is None else WriteWatch.for_run(write_timeout)
        self._held: list[bytes] = []
        self._sending: trio.CancelScope | None = None
        self._ended = False
        self.watch_client: Callable[[], None] | None = None
        """Starts watching for the client leaving, where the app left that to the render."""
        self.timed_out = False
        self.connection_reset = False
        self._origin = trio.current_time()
        self.status: int | None = None
        self.page_status = 200
        """The status the page goes out with (422: re-rendered with a form's errors)."""
        self.page_headers: list[tuple[bytes, bytes]] = []
        """Headers about the page's body only: not sent with an error page or a redirect."""
        self.writes = 0
        self.bytes = 0
        self.first_byte: float | None = None

    @property
    def started(self) -> bool:
        return self.status is not None

    async def write(self, data: bytes) -> None:
        """The render's sink: one call per write."""
        if self._stamps:
            data += stamp(self.writes, trio.current_time() - self._origin)
        self.writes += 1
        if self._buffered:
            self._held.append(data)
            return
        if self.started:
            await self._body(data, more=True)
        elif self._head:
            await self._start(self.page_status, self._first_headers())
            raise HeadComplete
        else:
            await self._start(self.page_status, self._first_headers(), data, more=True)

    __call__ = write  # a render's sink: engine.render(page, response)

    def before_wait(self) -> None:
        """The render is about to wait for a query (``engine.Sink``): watch the client from now
        on, so that its leaving cancels what runs for it."""
        watch, self.watch_client = self.watch_client, None
        if watch is not None:
            watch()

    async def write_last(self, data: bytes) -> None:
        """The render's last write, which ends the response: one message fewer than a write
        and :meth:`finish` (``engine.Sink``)."""
        if self._buffered:
            await self.write(data)
            await self.finish()
            return
        if self._stamps:
            data += stamp(self.writes, trio.current_time() - self._origin)
        self.writes += 1
        self._ended = True
        if self.started:
            await self._body(data, more=False)
        else:
            await self._whole(data)

    async def finish(self) -> None:
        """End the response normally: the buffered document, or the terminating empty body."""
        if self._ended:  # by the render's last write
            return
        self._ended = True
        if self._buffered:
            await self._whole(b"".join(self._held))
        else:
            await self._body(b"", more=False)

    async def _whole(self, body: bytes) -> None:
        """The page in one message, so with its length (HEAD: the head alone)."""
        length = (b"content-length", str(len(body)).encode())
        headers = [*self._first_headers(), length]
        await self._start(self.page_status, headers, b"" if self._head else body, more=False)

    async def fail(
        self, status: int, detail: str | None, extra: Sequence[tuple[bytes, bytes]] = ()
    ) -> None:
        """A complete error response; only possible while nothing has been sent."""
        body = error_page(status, detail)
        headers = [
            *self._shaped(self._headers),
            (b"content-length", str(len(body)).encode()),
            *extra,
        ]
        await self._start(status, headers, b"" if self._head else body, more=False)

    async def redirect(self, status: int, location: str) -> None:
        """A redirect decided by a shell query or an action, with the cookies and headers set."""
        await self.fail(status, None, [(b"location", location.encode("latin-1"))])

    async def relocate(self, location: str) -> None:
        """A redirect for the runtime (an action it submitted): 204 with ``X-Engine-Location``,
        which it navigates to (``fetch`` would follow a 303 and hand it the next page)."""
        headers = [*self._shaped(self._headers), (b"x-engine-location", location.encode("latin-1"))]
        await self._start(204, headers, b"", more=False)

    def _first_headers(self) -> list[tuple[bytes, bytes]]:
        headers = self._shaped(self._headers) + self.page_headers
        timing = self._timer.header() if self._timer is not None else None
        return [*headers, (b"server-timing", timing)] if timing else headers

    def _shaped(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """The app's headers as the shell queries shaped them (Cache-Control, cookies...)."""
        head = self._page_head
        extra = head.head()
        if head.cache_control is None and not extra:
            return headers
        if head.cache_control is not None:
            cache = (b"cache-control", head.cache_control.encode("latin-1"))
            headers = [cache if k == b"cache-control" else (k, v) for k, v in headers]
        replaced = {k for k, _ in extra if k != b"set-cookie"}
        return [*(h for h in headers if h[0] not in replaced), *extra]

    def abort(self) -> None:
        """End the response without its final chunk: reset the connection."""
        self.connection_reset = reset_connection(self._scope)

    def time_out(self) -> None:
        """A send has waited ``write_timeout``: end it (called by the run's write watch)."""
        self.timed_out = True
        self.abort()
        if not self.connection_reset and self._sending is not None:
            self._sending.cancel()  # enough for servers whose send can be cancelled (uvicorn)

    async def _start(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes | None = None,
        *,
        more: bool = True,
    ) -> None:
        """The head, then ``body`` if given, under one guard. The last message of a response
        is shielded from cancellation (see the module's docstring)."""
        self.status = status
        start = {"type": "http.response.start", "status": status, "headers": headers}
        if body is None:
            await self._guarded((start,), shield=False)
            return
        message = {"type": "http.response.body", "body": body, "more_body": more}
        await self._guarded((start, message), shield=not more)
        self._sent(body)

    async def _body(self, data: bytes, *, more: bool) -> None:
        message = {"type": "http.response.body", "body": data, "more_body": more}
        await self._guarded((message,), shield=not more)
        self._sent(data)

    def _sent(self, data: bytes) -> None:
        if data and self.first_byte is None:
            self.first_byte = trio.current_time() - self._origin
        self.bytes += len(data)

    async def _guarded(self, messages: tuple[dict[str, object], ...], *, shield: bool) -> None:
        """Send under the write watch, each message within ``write_timeout``; raise
        :class:`WriteTimeout` once it has fired. The scope is what :meth:`time_out` cancels:
        it ends the send even when shielded from the request's own cancellation."""
        watch = self._watch
        with trio.CancelScope(shield=shield) as scope:
            self._sending = scope
            try:
                for message in messages:
                    if watch is not None:
                        watch.begin(self)
                    try:
                        await self._send(message)
                    finally:
                        if watch is not None:
                            watch.end(self)
            except OSError:
                if not self.timed_out:
                    raise
            finally:
                self._sending = None
        if self.timed_out:
            raise WriteTimeout
