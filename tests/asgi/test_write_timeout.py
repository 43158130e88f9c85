"""``write_timeout`` against real servers and real sockets that stop reading.

Clients with a 4 KB receive buffer ask for a page far larger than every socket buffer on the
way, then read nothing (or one byte a second). Each server must reset each connection after
``write_timeout``, release its descriptor and cancel its queries, and log exactly one line per
aborted request; Hypercorn's trio worker shields its socket send, so this is the case that
needs the engine to reset the connection itself.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import (
    ServerProcess,
    fetch,
    free_port,
    hypercorn_argv,
    start_server,
    uvicorn_argv,
)
from test_serving import SERVE, running_queries, wait_until

WRITE_TIMEOUT = 2
SERVERS = ["hypercorn", "engine serve", "uvicorn"]


def server_argv(kind: str, port: int) -> list[str]:
    if kind == "hypercorn":
        return hypercorn_argv("demo_site:app", port)
    if kind == "uvicorn":
        return uvicorn_argv("demo_site:app", port, "--no-access-log")  # the engine logs its own
    return [sys.executable, "-c", SERVE, "serve", "demo_site:app", "--port", str(port)]


@pytest.fixture(scope="module", params=SERVERS)
def server(request, tmp_path_factory) -> Iterator[ServerProcess]:
    port = free_port()
    process = start_server(
        server_argv(request.param, port),
        port=port,
        log=tmp_path_factory.mktemp("server") / "server.log",
        ready_path="/stats",
        name=request.param,
        env={"DEMO_WRITE_TIMEOUT": str(WRITE_TIMEOUT), "DEMO_ACCESS_LOG": "1"},
    )
    yield process
    process.stop()


def stalled_client(port: int, path: str) -> socket.socket:
    """A connection that asked for ``path`` through a 4 KB receive window and reads nothing."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: sets the window
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    return sock


def read_one_byte_a_second(sock: socket.socket, stop: threading.Event) -> None:
    """The slow-loris reader: the response never stalls completely, it just never ends."""
    while not stop.wait(1.0):
        try:
            if not sock.recv(1):
                return
        except OSError:
            return


def server_connections(port: int) -> int:
    """Established TCP connections whose local port is ``port`` (the server's ends)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if int(local.rsplit(":", 1)[1], 16) == port and state == "01":
                count += 1
    return count


def drain(sock: socket.socket, timeout: float = 10.0) -> tuple[bytes, str]:
    """Everything the server left in the socket, then how the connection ended."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(1 << 20):
            data += chunk
    except ConnectionResetError:
        return data, "reset"
    except TimeoutError:
        return data, "open"
    return data, "eof"


def aborted_lines(server: ServerProcess) -> list[str]:
    return [line for line in server.output().splitlines() if "GET /big?count=100000" in line]


def test_clients_that_stop_reading_are_reset_after_write_timeout(server: ServerProcess) -> None:
    before = running_queries(server.port)
    stop = threading.Event()
    stalled = [stalled_client(server.port, "/big?count=100000") for _ in range(4)]
    slow = [stalled_client(server.port, "/big?count=100000") for _ in range(2)]
    readers = [threading.Thread(target=read_one_byte_a_second, args=(s, stop)) for s in slow]
    for reader in readers:
        reader.start()
    try:
        assert wait_until(lambda: len(aborted_lines(server)) == 6, timeout=10 * WRITE_TIMEOUT), (
            server.output()
        )
        assert wait_until(lambda: server_connections(server.port) == 0, timeout=5), (
            f"{server_connections(server.port)} connections still held"
        )
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    for sock in stalled + slow:
        with sock:
            body, end = drain(sock)
        assert end in ("reset", "eof"), end
        assert not body.endswith(b"0\r\n\r\n"), "a reset response never looks complete"
    lines = aborted_lines(server)
    assert all(re.search(r" 200 .* \(write timeout\)$", line) for line in lines), lines
    log = server.output()
    for noise in ("Traceback", "ExceptionGroup", "Error in ASGI", "ASGI callable"):
        assert noise not in log, log
    assert wait_until(lambda: running_queries(server.port) == before), "queries still running"
    assert fetch(server.port, "/item/x?delay=0").status == 200, "the server serves on"


def test_a_reader_that_keeps_up_is_never_cut_off(server: ServerProcess) -> None:
    started = time.monotonic()
    response = fetch(server.port, "/big?count=200", timeout=30)
    assert response.status == 200 and response.eof, time.monotonic() - started
    assert response.body.count(b"<p>xxx") == 200 and response.body.endswith(b"</html>")
