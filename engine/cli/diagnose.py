"""``engine diagnose URL``: does the stream reach the client as the server flushes it?

The request asks the engine to stamp every write with the time it left the app
(``X-Engine-Flush-Stamps: 1``). Reading the raw socket, each stamp's arrival is set next to
its flush time; a proxy, CDN or compressor that buffers shows up as writes that were flushed
apart but arrived together. Exit status: 0 streamed, 2 held back, 1 no answer or no stamps.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import sys
import time
import zlib
from collections.abc import Iterator
from urllib.parse import urlsplit

import attrs

from ..asgi._timing import STAMP, STAMP_HEADER

_SHOWN_HEADERS = (
    "content-type",
    "content-encoding",
    "transfer-encoding",
    "content-length",
    "cache-control",
    "x-accel-buffering",
    "server-timing",
    "server",
    "via",
)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "diagnose", help="show when each chunk of a page arrives vs when the server flushed it"
    )
    parser.add_argument("url", metavar="URL", help="http:// or https:// address of a page")
    parser.add_argument("--gzip", action="store_true", help="ask for a gzip-compressed response")
    parser.add_argument("--header", "-H", action="append", default=[], metavar="NAME: VALUE")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=0.05,
        metavar="SECONDS",
        help="extra delay of a write that still counts as streamed (default 0.05)",
    )
    parser.set_defaults(run=run)


@attrs.frozen
class Arrival:
    index: int
    flushed: float
    """Seconds after the server received the request (server clock)."""
    arrived: float
    """Seconds after the request was sent (client clock)."""


@attrs.define
class Report:
    status: int = 0
    headers: dict[str, str] = attrs.Factory(dict)
    reads: list[tuple[float, int]] = attrs.Factory(list)
    arrivals: list[Arrival] = attrs.Factory(list)

    def delays(self) -> list[float]:
        """Each write's extra delay in transit, relative to the fastest write."""
        gaps = [a.arrived - a.flushed for a in self.arrivals]
        return [g - min(gaps) for g in gaps]


def run(args: argparse.Namespace) -> int:
    try:
        report = fetch(args.url, args.header, gzip=args.gzip, timeout=args.timeout)
    except (OSError, ValueError) as error:
        print(f"error: {args.url}: {error}", file=sys.stderr)
        return 1
    print(f"HTTP {report.status}")
    for name in _SHOWN_HEADERS:
        if name in report.headers:
            print(f"  {name}: {report.headers[name]}")
    if not report.arrivals:
        print(
            f"{len(report.reads)} reads, no flush stamps: not an engine page, or stamps are"
            " disabled (flush_stamps=False) or stripped on the way",
            file=sys.stderr,
        )
        return 1
    print(f"{'write':>5} {'flushed':>10} {'arrived':>10} {'held':>9}")
    delays = report.delays()
    for arrival, held in zip(report.arrivals, delays, strict=True):
        print(
            f"{arrival.index:>5} {arrival.flushed * 1000:>8.1f}ms"
            f" {arrival.arrived * 1000:>8.1f}ms {held * 1000:>+7.1f}ms"
        )
    worst = max(delays)
    if worst > args.tolerance:
        late = [a.index for a, d in zip(report.arrivals, delays, strict=True) if d > args.tolerance]
        print(
            f"held back: write(s) {', '.join(map(str, late))} arrived up to {worst * 1000:.0f} ms"
            " after the server flushed them; something on the way buffers the stream"
            " (reverse proxy buffering, a compressor, a CDN). See docs/serving.md."
        )
        return 2
    print(f"streamed: every write arrived within {worst * 1000:.1f} ms of its flush")
    return 0


def fetch(url: str, extra_headers: list[str], *, gzip: bool, timeout: float) -> Report:
    """GET ``url`` over a raw socket, timing every read and every flush stamp."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Connection: close",
        f"Accept-Encoding: {'gzip' if gzip else 'identity'}",
        "Accept: text/html",
        f"{STAMP_HEADER.decode()}: 1",
        *extra_headers,
    ]
    sock = socket.create_connection((parts.hostname, port), timeout=timeout)
    if parts.scheme == "https":
        sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
    report, decoder, seen = Report(), None, b""
    with sock:
        start = time.monotonic()
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        head = b""
        for at, data in _reads(sock, start, timeout):
            report.reads.append((at, len(data)))
            if decoder is None:
                head += data
                if b"\r\n\r\n" not in head:
                    continue
                head, _, data = head.partition(b"\r\n\r\n")
                _parse_head(report, head)
                decoder = _Body(report.headers)
            seen += decoder.feed(data)
            end = 0
            for match in STAMP.finditer(seen):
                report.arrivals.append(Arrival(int(match[1]), float(match[2]) / 1000, at))
                end = match.end()
            seen = _unfinished_comment(seen[end:])
    if decoder is None:
        raise ValueError("no HTTP response")
    return report


def _unfinished_comment(text: bytes) -> bytes:
    """The tail that may be the start of a stamp split across reads."""
    cut = text.rfind(b"<!--")
    return text[cut:] if cut >= 0 and b"-->" not in text[cut:] else text[-3:]


def _reads(sock: socket.socket, start: float, timeout: float) -> Iterator[tuple[float, bytes]]:
    while (left := timeout - (time.monotonic() - start)) > 0:
        sock.settimeout(left)
        data = sock.recv(65536)
        if not data:
            return
        yield time.monotonic() - start, data
    raise TimeoutError(f"the response did not end within {timeout} s")


def _parse_head(report: Report, head: bytes) -> None:
    status_line, *fields = head.decode("latin-1").split("\r\n")
    report.status = int(status_line.split()[1])
    for field in fields:
        name, _, value = field.partition(":")
        report.headers[name.strip().lower()] = value.strip()


class _Body:
    """Incremental HTTP/1.1 body decoding: chunked framing, then gzip if present."""

    def __init__(self, headers: dict[str, str]) -> None:
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        gzipped = headers.get("content-encoding", "").lower() in ("gzip", "x-gzip")
        self._gunzip = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
        self._pending = b""
        self._left = 0  # data bytes still due in the current chunk
        self._skip = 0  # bytes of the CRLF that ends a chunk, still to skip
        self._done = False

    def feed(self, data: bytes) -> bytes:
        raw = self._dechunk(data) if self._chunked else data
        return self._gunzip.decompress(raw) if self._gunzip is not None else raw

    def _dechunk(self, data: bytes) -> bytes:
        self._pending += data
        out = bytearray()
        while not self._done:
            if self._left:
                take = self._pending[: self._left]
                out += take
                self._left -= len(take)
                self._pending = self._pending[len(take) :]
                if self._left:
                    break
                self._skip = 2
            if self._skip:
                skipped = min(self._skip, len(self._pending))
                self._pending, self._skip = self._pending[skipped:], self._skip - skipped
                if self._skip:
                    break
            line, sep, rest = self._pending.partition(b"\r\n")
            if not sep:
                break
            self._pending, self._left = rest, int(line.split(b";")[0], 16)
            self._done = self._left == 0
        return bytes(out)
