"""A shared Redis store, over a small trio-native RESP client.

Why not redis-py: its asyncio client needs an asyncio loop (there is none under Hypercorn's trio
worker), and its sync client in threads would spend a thread hop per read on the hot path. A
store needs four commands (``GET``, ``PTTL``, ``SET PX``, ``DEL``), which take a page of RESP on
``trio.open_tcp_stream``: it runs on trio's own I/O under every host, guest mode included.

Expiry is Redis's own (``SET ... PX``): an entry is kept ``fresh + stale`` ms, and a read is
fresh while more than ``stale`` ms remain (``PTTL``, in the same round trip as ``GET``), so
workers on several machines agree without sharing a clock. When Redis cannot be reached the
store logs one line, answers "unavailable" for ``retry_after`` seconds (queries are then called
as if uncached: a cache outage never fails a page) and tries again.
"""

from __future__ import annotations

import logging
import math
import os
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

import msgspec
import trio

from .stores import CachedFailure, Entry, Found, StoreUnavailable

__all__ = ["RedisError", "RedisStore"]

logger = logging.getLogger("engine")


class RedisError(Exception):
    """Redis answered with an error, or with bytes that are not RESP."""


_UNAVAILABLE = (OSError, ValueError, trio.TooSlowError, trio.BrokenResourceError, RedisError)
"""What a connection may raise when Redis is down, slow or not Redis."""


class _Stored(msgspec.Struct, array_like=True):
    """An entry on the wire: the value's msgpack kept raw, decoded with the reader's type."""

    value: msgspec.Raw
    """The value's own msgpack (nil for a failure)."""
    failure: CachedFailure | None = None


_encode = msgspec.msgpack.Encoder().encode
_decode_stored = msgspec.msgpack.Decoder(_Stored).decode


@lru_cache(maxsize=1024)
def _decoder(result: Any) -> msgspec.msgpack.Decoder[Any]:
    return msgspec.msgpack.Decoder(result)


class RedisStore:
    """Cached results in Redis, shared by every worker and machine that points at it.

    ``RedisStore("redis://:password@cache.internal:6379/2")``: ``prefix`` starts every key (one
    Redis for several apps), ``pool_size`` bounds the connections per process, ``timeout`` bounds
    each connect and each command (a slow cache must cost little more than a miss).
    """

    immediate = False

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "engine:",
        pool_size: int = 16,
        timeout: float = 0.25,
        retry_after: float = 1.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "redis" or not parts.hostname:
            raise ValueError(f"expected a redis://host[:port][/db] URL, not {url!r}")
        path = parts.path.strip("/")
        if path and not path.isdigit():
            raise ValueError(f"{url!r}: the database must be a number, not {path!r}")
        if pool_size < 1 or timeout <= 0 or retry_after < 0:
            raise ValueError("pool_size must be >= 1, timeout > 0 and retry_after >= 0")
        self.host = parts.hostname
        self.port = parts.port or 6379
        self.database = int(path or 0)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.prefix = prefix
        self.pool_size = pool_size
        self.timeout = timeout
        self.retry_after = retry_after
        self._run: trio.lowlevel.RunVar[_Pool] = trio.lowlevel.RunVar("redis pool")

    def __repr__(self) -> str:
        return f"RedisStore('redis://{self.host}:{self.port}/{self.database}')"

    def peek(self, key: str) -> Found | None:
        return None

    async def read(self, key: str, result: Any, stale: float) -> Found | None:
        replies = await self.command([b"GET", self._key(key)], [b"PTTL", self._key(key)])
        data, remaining = replies
        if data is None or not isinstance(remaining, int):
            return None
        try:
            stored = _decode_stored(data)
            value = None if stored.failure else _decoder(result).decode(stored.value)
        except (msgspec.DecodeError, msgspec.ValidationError):  # written for another type
            return None
        return Found(Entry(value, stored.failure), remaining < 0 or remaining > stale * 1000)

    async def write(self, key: str, entry: Entry, fresh: float, stale: float) -> None:
        value = msgspec.Raw(_encode(None if entry.failure else entry.value))
        data = _encode(_Stored(value, entry.failure))
        keep = max(1, math.ceil((fresh + stale) * 1000))
        await self.command([b"SET", self._key(key), data, b"PX", str(keep).encode()])

    async def delete(self, key: str) -> None:
        await self.command([b"DEL", self._key(key)])

    async def aclose(self) -> None:
        """Close this run's idle connections (at shutdown; tests that must not leak sockets)."""
        pool = self._pool()
        while pool.idle:
            pool.idle.pop().close()
        await trio.lowlevel.checkpoint()

    def _key(self, key: str) -> bytes:
        return f"{self.prefix}{key}".encode()

    async def command(self, *commands: list[bytes]) -> list[Any]:
        """Send ``commands`` in one round trip and return their replies.

        Raises :class:`StoreUnavailable` (logged once per outage) when Redis cannot answer.
        """
        pool = self._pool()
        if trio.current_time() < pool.down_until:
            raise StoreUnavailable(f"{self!r} is unavailable")
        try:
            with trio.fail_after(self.timeout):
                replies = await pool.run(commands)
        except _UNAVAILABLE as exc:
            if pool.down_until == 0:
                logger.warning(
                    "cache %r unavailable (%s: %s): queries are called uncached; retrying every"
                    " %g s",
                    self,
                    type(exc).__name__,
                    exc,
                    self.retry_after,
                )
            pool.down_until = trio.current_time() + self.retry_after
            raise StoreUnavailable(f"{self!r}: {exc}") from exc
        if pool.down_until:
            logger.warning("cache %r is back", self)
            pool.down_until = 0
        return replies

    def _pool(self) -> _Pool:
        try:
            return self._run.get()
        except LookupError:
            pool = _Pool(self)
            self._run.set(pool)
            return pool


class _Pool:
    """The connections of one store in one trio run: at most ``pool_size``, idle ones reused."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self.idle: list[_Connection] = []
        self.places = trio.Semaphore(store.pool_size)
        self.down_until = 0.0

    def __del__(self) -> None:
        # The pool lives as long as its trio run: when the run ends, so do its connections
        # (outside a run trio cannot close its sockets, so their descriptors are closed).
        for connection in self.idle:
            try:
                connection.close()
            except RuntimeError:
                os.close(connection.stream.socket.detach())

    async def run(self, commands: tuple[list[bytes], ...]) -> list[Any]:
        async with self.places:
            connection = self.idle.pop() if self.idle else await self._connect()
            try:
                replies = await connection.run(commands)
            except BaseException:  # cancelled mid-command: its replies would confuse the next
                connection.close()
                raise
            self.idle.append(connection)
            return replies

    async def _connect(self) -> _Connection:
        store = self.store
        connection = _Connection(await trio.open_tcp_stream(store.host, store.port))
        try:
            setup: list[list[bytes]] = []
            if store.password is not None:
                user = [store.username.encode()] if store.username else []
                setup.append([b"AUTH", *user, store.password.encode()])
            if store.database:
                setup.append([b"SELECT", str(store.database).encode()])
            if setup:
                await connection.run(tuple(setup))
        except BaseException:
            connection.close()
            raise
        return connection


class _Connection:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = bytearray()

    def close(self) -> None:
        # SocketStream.aclose only closes its socket, synchronously; no need to await.
        self.stream.socket.close()

    async def run(self, commands: tuple[list[bytes], ...]) -> list[Any]:
        await self.stream.send_all(b"".join(_request(c) for c in commands))
        replies = [await self._reply() for _ in commands]
        for reply in replies:
            if isinstance(reply, RedisError):
                raise reply
        return replies

    async def _reply(self) -> Any:
        line = await self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else (await self._exactly(size + 2))[:-2]
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [await self._reply() for _ in range(size)]
        raise RedisError(f"not a RESP reply: {bytes(line[:40])!r}")

    async def _line(self) -> bytes:
        while (end := self.buffer.find(b"\r\n")) < 0:
            await self._receive()
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 2]
        return line

    async def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            await self._receive()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    async def _receive(self) -> None:
        data = await self.stream.receive_some(65536)
        if not data:
            raise trio.BrokenResourceError("Redis closed the connection")
        self.buffer += data


def _request(command: list[bytes]) -> bytes:
    parts = [b"*%d\r\n" % len(command)]
    for argument in command:
        parts.append(b"$%d\r\n%s\r\n" % (len(argument), argument))
    return b"".join(parts)
