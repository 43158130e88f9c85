"""Cached queries behind real servers: single flight across requests with a client that hangs
up, on Hypercorn's trio worker and on uvicorn (trio as a guest); and one Redis shared by a
Hypercorn and a uvicorn process."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from redis_server import redis_server
from servers import ServerProcess, fetch, free_port, hypercorn_argv, start_server, uvicorn_argv


def serve(kind: str, log_dir: Path, **env: str) -> ServerProcess:
    port = free_port()
    argv = (
        hypercorn_argv("cache_site:app", port)
        if kind == "hypercorn"
        else uvicorn_argv("cache_site:app", port)
    )
    return start_server(
        argv,
        port=port,
        log=log_dir / f"{kind}.log",
        ready_path="/calls",
        name=kind,
        env={"CACHE_LATENCY": "1.0", **env},
    )


@pytest.fixture(params=["hypercorn", "uvicorn"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    process = serve(request.param, tmp_path)
    yield process
    process.stop(timeout=30)


def stock_of(body: bytes) -> str:
    found = re.search(rb"pid=\d+ call=\d+", body)
    assert found, body[-400:]
    return found[0].decode()


def calls(port: int) -> int:
    found = re.search(rb"calls=(\d+)", fetch(port, "/calls").body)
    assert found
    return int(found[1])


def test_requests_share_one_call_that_a_client_hanging_up_does_not_cancel(
    server: ServerProcess,
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as gone:
        gone.sendall(b"GET /stock HTTP/1.1\r\nHost: x\r\n\r\n")
        seen = b""
        while b"<h1>stock</h1>" not in seen:  # the shell: its render has started the call
            seen += gone.recv(65536)
    time.sleep(0.3)  # the server sees it leave and cancels that render (the call lasts 1 s)
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: fetch(server.port, "/stock"), range(4)))
    assert [r.status for r in responses] == [200] * 4
    assert {stock_of(r.body) for r in responses} == {stock_of(responses[0].body)}
    assert stock_of(responses[0].body).endswith("call=1")
    assert calls(server.port) == 1
    assert "content-length" not in responses[0].headers, "a render that waited streams"
    again = fetch(server.port, "/stock")
    assert stock_of(again.body) == stock_of(responses[0].body)
    # Served from memory, the page is one message: framed by its length, not chunked.
    assert int(again.headers["content-length"]) == len(again.body) and again.eof
    assert "transfer-encoding" not in again.headers
    head = fetch(server.port, "/stock", method="HEAD")
    assert head.headers["content-length"] == again.headers["content-length"] and not head.body
    assert "client gone" in server.output()  # the first render really was cancelled


def test_one_redis_serves_a_hypercorn_and_a_uvicorn_process(tmp_path: Path) -> None:
    with redis_server(tmp_path) as redis_port:
        url = f"redis://127.0.0.1:{redis_port}/1"
        hypercorn = serve("hypercorn", tmp_path, CACHE_REDIS=url)
        uvicorn = serve("uvicorn", tmp_path, CACHE_REDIS=url)
        try:
            first = stock_of(fetch(hypercorn.port, "/stock").body)
            second = stock_of(fetch(uvicorn.port, "/stock").body)
            assert first == second
            assert (calls(hypercorn.port), calls(uvicorn.port)) == (1, 0)
        finally:
            hypercorn.stop(timeout=30)
            uvicorn.stop(timeout=30)
