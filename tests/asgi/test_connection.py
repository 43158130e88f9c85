"""Resetting one connection by the address pair in its ASGI scope, with real sockets."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

import pytest

from engine.asgi._connection import reset_connection


@pytest.fixture
def connection() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A real loopback TCP connection: (the server's end, the client's end)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    with server, client:
        yield server, client


def scope_of(server: socket.socket) -> dict[str, object]:
    return {"client": list(server.getpeername()), "server": list(server.getsockname())}


def test_the_connection_named_by_the_scope_is_reset(connection) -> None:
    server, client = connection
    server.sendall(b"partial")
    assert reset_connection(scope_of(server))
    with pytest.raises(BrokenPipeError):  # what unblocks a server stuck sending
        server.send(b"more")
    client.settimeout(5)
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := client.recv(1024):
            received += chunk
    assert received == b"partial", "the client sees the end of the connection, nothing more"


def test_a_reset_discards_what_a_stalled_client_never_read(connection) -> None:
    server, client = connection
    server.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        while True:  # fill every buffer between the two ends
            server.send(b"x" * 65536)
    assert reset_connection(scope_of(server))
    server.close()  # what the server does next: with unsent bytes, the kernel sends a reset
    client.settimeout(5)
    with pytest.raises(ConnectionResetError):
        while client.recv(1 << 20):
            pass


def test_other_connections_and_descriptors_are_left_alone(connection) -> None:
    server, client = connection
    open_before = len(os.listdir("/proc/self/fd"))
    for port in range(1, 200):  # nothing in this process has these addresses
        assert not reset_connection({"client": ["127.0.0.1", port], "server": ["10.0.0.1", 80]})
    assert not reset_connection({"client": None, "server": None})
    assert len(os.listdir("/proc/self/fd")) == open_before, "every scan closes what it opened"
    server.sendall(b"still here")
    client.settimeout(5)
    assert client.recv(1024) == b"still here"
