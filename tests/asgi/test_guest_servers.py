"""The same trio-native app object behind real servers: uvicorn (guest mode), a Starlette mount
under uvicorn, and Hypercorn's trio worker. Raw sockets on 127.0.0.1 observe the wire."""

from __future__ import annotations

import json
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from servers import fetch, free_port, start_server, uvicorn_argv

DELAY = 0.3


def assert_progressive(response, count: int, delay: float = DELAY, prefix: bytes = b"") -> None:
    assert response.status == 200 and response.eof
    assert response.arrival_of(prefix + b"chunk 0") < 0.2
    for i in range(1, count):
        at = response.arrival_of(f"chunk {i}".encode())
        assert at >= i * delay - 0.05, f"chunk {i} arrived early ({at:.3f}s): buffered upstream?"
        assert at < i * delay + 0.25, f"chunk {i} arrived late ({at:.3f}s)"
    assert response.body.endswith(b"end\n")


def stats(port: int) -> dict:
    return json.loads(fetch(port, "/stats").body)


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            return value
        time.sleep(0.05)
    return value


def test_uvicorn_streams_each_chunk_as_sent(uvicorn_demo) -> None:
    response = fetch(uvicorn_demo.port, f"/stream?n=4&delay={DELAY}")
    assert_progressive(response, 4)
    assert b"trio=True" in response.body


def test_uvicorn_serves_concurrent_requests_concurrently(uvicorn_demo) -> None:
    t0 = time.monotonic()
    with ThreadPoolExecutor(6) as pool:
        responses = list(
            pool.map(lambda _: fetch(uvicorn_demo.port, "/stream?n=4&delay=0.3"), range(6))
        )
    elapsed = time.monotonic() - t0
    for response in responses:
        assert_progressive(response, 4)
    assert elapsed < 2 * 3 * DELAY, f"6 requests of 0.9 s took {elapsed:.2f}s: serialised?"


def test_uvicorn_client_disconnect_cancels_the_trio_handler(uvicorn_demo) -> None:
    port = uvicorn_demo.port
    before = stats(port)
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /stream?n=1000&delay=0.05 HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"chunk 0" in sock.recv(65536) or b"chunk 0" in sock.recv(65536)
    after = wait_for(lambda: (s := stats(port))["inflight"] == 0 and s)
    assert after, f"handlers still running after the clients left: {stats(port)}"
    assert after["cancelled"] == before["cancelled"] + 5
    assert after["completed"] == before["completed"]


def assert_clean_log(log: str) -> None:
    """No leaked task, no trio error; a traceback is tolerated only for uvicorn's own graceful
    timeout, which cancels any streaming app's task (uvicorn 0.54 sends it no disconnect)."""
    assert "Task was destroyed" not in log and "guest run" not in log, log
    tracebacks = log.count("Traceback")
    assert tracebacks == log.count("CancelledError: Task cancelled, timeout graceful shutdown"), log


@pytest.mark.parametrize("in_flight", [False, True], ids=["idle", "streaming"])
def test_uvicorn_sigint_shuts_down_cleanly(uvicorn_demo, in_flight: bool) -> None:
    client = None
    if in_flight:
        client = ThreadPoolExecutor(1)
        eof = client.submit(fetch, uvicorn_demo.port, "/stream?n=1000&delay=0.05", timeout=8)
        assert wait_for(lambda: stats(uvicorn_demo.port)["inflight"] == 1)
    t0 = time.monotonic()
    code = uvicorn_demo.stop(signal.SIGINT, timeout=8)
    log = uvicorn_demo.output()
    assert code == 0, log
    assert time.monotonic() - t0 < 3 + 2, "graceful timeout (3 s) plus a bounded cleanup"
    assert "Application shutdown complete" in log
    assert_clean_log(log)
    if client is not None:
        assert eof.result().eof, "the client must see the connection close"
        client.shutdown()


def test_starlette_mount_streams_and_shuts_down_without_lifespan(tmp_path) -> None:
    port = free_port()
    server = start_server(
        uvicorn_argv("mounted_demo_app:app", port),
        port=port,
        log=tmp_path / "uvicorn.log",
        ready_path="/hello",
        name="uvicorn",
    )
    try:
        assert fetch(port, "/hello").body == b"asyncio route"
        assert_progressive(fetch(port, f"/trio/stream?n=3&delay={DELAY}"), 3)
        assert json.loads(fetch(port, "/trio/stats").body)["lifespan"] == ""
    finally:
        code = server.stop(signal.SIGINT, timeout=8)
    log = server.output()
    assert code == 0, log
    assert "ERROR" not in log
    assert_clean_log(log)


def test_hypercorn_trio_worker_runs_the_same_object_natively(hypercorn_demo) -> None:
    response = fetch(hypercorn_demo.port, f"/stream?n=3&delay={DELAY}")
    assert_progressive(response, 3)
    assert b"trio=True" in response.body
    assert stats(hypercorn_demo.port)["lifespan"] == "started"
    assert hypercorn_demo.stop(signal.SIGINT, timeout=8) == 0, hypercorn_demo.output()
