"""The measuring client: raw sockets, one fresh connection per request.

``ResponseParser`` turns the bytes of one HTTP/1.1 response, fed with their arrival
times, into: time to first body byte, arrival time of each section's real content
(found by its marker in the de-chunked body), and time of the last byte.

``fetch`` is the precise single-request client (a blocking socket: ``recv`` returns and
the time is read at once), used for S1. ``open_streams`` holds many concurrent streams
open on one asyncio loop (``Protocol`` callbacks, no stream objects), used for S3.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"


def request_bytes(path: str, port: int) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUser-Agent: bench\r\n"
        "Accept: text/html\r\nConnection: close\r\n\r\n"
    ).encode()


@dataclass
class ResponseParser:
    """Incremental HTTP/1.1 response parser (Content-Length, chunked or until EOF)."""

    markers: Sequence[bytes]
    t0: float
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    t_headers: float | None = None
    t_first_body: float | None = None
    t_last: float | None = None
    marker_times: list[float | None] = field(default_factory=list)
    body_bytes: int = 0
    reads: int = 0
    done: bool = False
    error: str | None = None
    keep_body: bool = False  # keep the de-chunked body (for checking what was rendered)
    body: bytearray = field(default_factory=bytearray)
    _head: bytearray = field(default_factory=bytearray)
    _raw: bytearray = field(default_factory=bytearray)  # undecoded chunked framing
    _body_tail: bytes = b""  # last bytes of the body, to find markers across reads
    _chunked: bool = False
    _length: int | None = None
    _chunk_left: int = 0
    _state: str = "head"  # head, size, data, data_crlf, trailer, body, done
    _pending: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.marker_times = [None] * len(self.markers)
        self._pending = list(range(len(self.markers)))
        self._maxlen = max((len(m) for m in self.markers), default=1)

    # -- feeding ---------------------------------------------------------------------
    def feed(self, data: bytes, t: float) -> None:
        self.reads += 1
        if self._state == "head":
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            self._parse_head(bytes(self._head[:end]), t)
            data = bytes(self._head[end + 4 :])
            self._head.clear()
            if self._length == 0:
                self._finish(t)
                return
        if not data:
            return
        if self._chunked:
            self._raw += data
            self._dechunk(t)
        else:
            self._body(data, t)
            if self._length is not None and self.body_bytes >= self._length:
                self._finish(t)

    def eof(self, t: float) -> None:
        if self.done:
            return
        if self._state == "body" and self._length is None and not self._chunked:
            self._finish(t)
        else:
            self.error = self.error or f"connection closed in state {self._state}"
            self.done = True

    # -- internals ---------------------------------------------------------------------
    def _parse_head(self, head: bytes, t: float) -> None:
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.t_headers = t - self.t0
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            self._chunked = True
            self._state = "size"
        else:
            cl = self.headers.get("content-length")
            self._length = int(cl) if cl is not None else None
            self._state = "body"

    def _body(self, data: bytes, t: float) -> None:
        if not data:
            return
        if self.t_first_body is None:
            self.t_first_body = t - self.t0
        self.body_bytes += len(data)
        if self.keep_body:
            self.body += data
        if self._pending:
            window = self._body_tail + data
            still = []
            for i in self._pending:
                if self.markers[i] in window:
                    self.marker_times[i] = t - self.t0
                else:
                    still.append(i)
            self._pending = still
            self._body_tail = window[-(self._maxlen - 1) :] if self._maxlen > 1 else b""

    def _dechunk(self, t: float) -> None:
        raw = self._raw
        pos = 0
        while True:
            if self._state == "size":
                nl = raw.find(b"\r\n", pos)
                if nl < 0:
                    break
                size = int(bytes(raw[pos:nl]).split(b";")[0], 16)
                pos = nl + 2
                if size == 0:
                    self._state = "trailer"
                else:
                    self._chunk_left = size
                    self._state = "data"
            elif self._state == "data":
                take = min(self._chunk_left, len(raw) - pos)
                if take <= 0:
                    break
                self._body(bytes(raw[pos : pos + take]), t)
                pos += take
                self._chunk_left -= take
                if self._chunk_left == 0:
                    self._state = "data_crlf"
            elif self._state == "data_crlf":
                if len(raw) - pos < 2:
                    break
                pos += 2
                self._state = "size"
            elif self._state == "trailer":
                nl = raw.find(b"\r\n", pos)
                if nl < 0:
                    break
                line_empty = nl == pos
                pos = nl + 2
                if line_empty:
                    self._finish(t)
                    break
            else:
                break
        del raw[:pos]

    def _finish(self, t: float) -> None:
        self._state = "done"
        self.t_last = t - self.t0
        self.done = True

    def result(self) -> dict[str, Any]:
        ms = lambda v: None if v is None else round(v * 1000, 3)  # noqa: E731
        return {
            "status": self.status,
            "headers_ms": ms(self.t_headers),
            "first_body_ms": ms(self.t_first_body),
            "sections_ms": [ms(v) for v in self.marker_times],
            "last_byte_ms": ms(self.t_last),
            "body_bytes": self.body_bytes,
            "reads": self.reads,
            "error": self.error
            or (None if self.done else "incomplete")
            or (None if self.status == 200 else f"status {self.status}")
            or (
                None if all(v is not None for v in self.marker_times) else "missing section markers"
            ),
        }


def fetch(
    port: int, path: str, markers: Sequence[bytes], timeout: float = 30.0, keep_body: bool = False
) -> dict[str, Any]:
    """One request on a fresh connection; times are measured from before ``connect``.

    With ``keep_body`` the result also holds the de-chunked ``body`` (bytes).
    """
    clock = time.perf_counter
    t0 = clock()
    parser = ResponseParser(markers, t0, keep_body=keep_body)
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t_conn = clock() - t0
            s.sendall(request_bytes(path, port))
            deadline = t0 + timeout
            while not parser.done:
                s.settimeout(max(0.001, deadline - clock()))
                data = s.recv(262144)
                t = clock()
                if not data:
                    parser.eof(t)
                    break
                parser.feed(data, t)
    except OSError as exc:
        parser.error = f"{type(exc).__name__}: {exc}"
        t_conn = None
    out = parser.result()
    out["connect_ms"] = None if t_conn is None else round(t_conn * 1000, 3)
    if keep_body:
        out["body"] = bytes(parser.body)
    return out


# ---------------------------------------------------------------------------------------
# Many open streams (S3)
# ---------------------------------------------------------------------------------------
class _StreamProtocol(asyncio.Protocol):
    def __init__(self, parser: ResponseParser, request: bytes, done: asyncio.Future[None]):
        self.parser = parser
        self.request = request
        self.done = done
        self.first: asyncio.Future[None] = done.get_loop().create_future()
        self.t_sent = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.t_sent = self.parser.t0 = time.perf_counter()
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        t = time.perf_counter()
        self.parser.feed(data, t)
        if self.parser.t_first_body is not None and not self.first.done():
            self.first.set_result(None)
        if self.parser.done:
            self._end()

    def connection_lost(self, exc: Exception | None) -> None:
        self.parser.eof(time.perf_counter())
        if exc is not None and self.parser.error is None and not self.parser.done:
            self.parser.error = repr(exc)
        self._end()

    def _end(self) -> None:
        if not self.first.done():
            self.first.set_result(None)
        if not self.done.done():
            self.done.set_result(None)
            self.transport.close()


async def open_streams(
    port: int,
    path: str,
    n: int,
    markers: Sequence[bytes],
    *,
    connect_concurrency: int = 256,
    stream_timeout: float = 60.0,
    sample: Callable[[], int] | None = None,
    sample_every: float = 0.1,
) -> dict[str, Any]:
    """Open ``n`` concurrent streams on fresh connections and follow each to its end.

    First-byte times are measured per stream, from the moment its connection was made
    and its request written. While the streams run, ``sample()`` (the server's RSS in
    KiB) is called every ``sample_every`` seconds together with the number of streams
    open at that instant (request written, response not finished).
    """
    loop = asyncio.get_running_loop()
    req = request_bytes(path, port)
    gate = asyncio.Semaphore(connect_concurrency)
    protos: list[_StreamProtocol | None] = [None] * n
    errors: list[str] = []
    samples: list[tuple[float, int, int]] = []
    started = [0]
    finished = [0]
    t_start = time.perf_counter()

    async def one(k: int) -> None:
        parser = ResponseParser(markers, 0.0)
        done: asyncio.Future[None] = loop.create_future()
        async with gate:
            try:
                _, proto = await loop.create_connection(
                    lambda: _StreamProtocol(parser, req, done), HOST, port
                )
            except OSError as exc:
                errors.append(f"connect: {exc}")
                return
            protos[k] = proto
            started[0] += 1
            await proto.first  # hold the connect slot until the server has answered
        try:
            await asyncio.wait_for(done, stream_timeout)
        except TimeoutError:
            parser.error = "timeout"
            proto.transport.close()
        finished[0] += 1

    async def sampler() -> None:
        while True:
            open_now = started[0] - finished[0]
            samples.append((time.perf_counter() - t_start, sample() if sample else 0, open_now))
            await asyncio.sleep(sample_every)

    sampler_task = asyncio.create_task(sampler())
    try:
        await asyncio.gather(*(one(k) for k in range(n)))
    finally:
        sampler_task.cancel()
    t_all = time.perf_counter() - t_start
    results = [p.parser.result() for p in protos if p is not None]
    return {"results": results, "connect_errors": errors, "samples": samples, "wall_s": t_all}
