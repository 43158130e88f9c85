"""asyncio queries behind real servers: uvicorn, a Starlette mount under uvicorn, ``engine
serve`` (which picks Hypercorn's asyncio worker for them) and ``engine render``; a user's own
Hypercorn trio worker refuses the app at startup. The drivers are real: aiosqlite on a SQLite
file, httpx.AsyncClient against a local HTTP service run by the test."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncio_pages as pages
import pytest
from servers import ASGI_TESTS, REPO, fetch, free_port, hypercorn_argv, start_server, uvicorn_argv
from upstream import Upstream


@pytest.fixture
def drivers(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment a server process needs to reach the SQLite file and the HTTP service."""
    db = tmp_path / "shop.sqlite"
    pages.create_db(str(db))
    (tmp_path / "events").touch()
    with Upstream() as upstream:
        yield {
            "ENGINE_TEST_DB": str(db),
            "ENGINE_TEST_EVENTS": str(tmp_path / "events"),
            "ENGINE_TEST_UPSTREAM": upstream.url,
            "upstream": upstream,  # type: ignore[dict-item]
        }


def env_of(drivers: dict) -> dict[str, str]:
    return {k: v for k, v in drivers.items() if k.startswith("ENGINE_")}


def events(drivers: dict) -> list[str]:
    return Path(drivers["ENGINE_TEST_EVENTS"]).read_text().splitlines()


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def assert_shop(port: int, prefix: str = "") -> None:
    response = fetch(port, f"{prefix}/shop")
    assert response.status == 200, response.body
    body = response.body.decode()
    assert "<li>Kettle</li><li>Teapot</li><li>Mug &lt;3</li>" in body
    assert "Lyon: 21.5 °C" in body


def assert_disconnect_cancels(port: int, drivers: dict, label: str, prefix: str = "") -> None:
    """A client leaves while an asyncio query is blocked on HTTP: its task sees CancelledError."""
    upstream: Upstream = drivers["upstream"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {prefix}/hang?label={label} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert upstream.hanging.acquire(timeout=10), "the query never reached the service"
        assert b"waiting" in sock.recv(65536)  # the shell (with the fallback) is out
    assert wait_for(lambda: f"cancelled {label}" in events(drivers)), events(drivers)
    assert f"started {label} asyncio-task=True" in events(drivers)


def serve(argv: list[str], tmp_path: Path, drivers: dict, name: str, ready: str = "/shop"):
    port = int(argv[argv.index("--port") + 1]) if "--port" in argv else None
    assert port is not None
    return start_server(
        argv,
        port=port,
        log=tmp_path / f"{name}.log",
        ready_path=ready,
        name=name,
        env=env_of(drivers),
    )


def test_uvicorn_runs_asyncio_queries_on_its_loop(tmp_path: Path, drivers: dict) -> None:
    port = free_port()
    server = serve(uvicorn_argv("asyncio_pages:app", port), tmp_path, drivers, "uvicorn")
    try:
        assert_shop(port)
        response = fetch(port, "/batches")
        assert b'<template for="list.1"><li>Mug &lt;3</li>' in response.body
        assert_disconnect_cancels(port, drivers, "uvicorn")
    finally:
        assert server.stop(signal.SIGINT, timeout=8) == 0, server.output()
    assert "Traceback" not in server.output(), server.output()


def test_a_starlette_mount_runs_asyncio_queries(tmp_path: Path, drivers: dict) -> None:
    port = free_port()
    argv = uvicorn_argv("asyncio_pages:starlette_app", port)
    server = serve(argv, tmp_path, drivers, "starlette", ready="/hello")
    try:
        assert_shop(port, prefix="/engine")
        assert_disconnect_cancels(port, drivers, "mount", prefix="/engine")
    finally:
        assert server.stop(signal.SIGINT, timeout=8) == 0, server.output()


def test_engine_serve_picks_the_asyncio_worker(tmp_path: Path, drivers: dict) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "engine", "serve", "asyncio_pages:app", "--port", str(port)]
    server = serve(argv, tmp_path, drivers, "engine-serve")
    try:
        assert_shop(port)
        assert_disconnect_cancels(port, drivers, "serve")
    finally:
        assert server.stop(signal.SIGINT, timeout=10) == 0, server.output()
    assert "Traceback" not in server.output(), server.output()


def test_a_hypercorn_trio_worker_refuses_the_app_at_startup(tmp_path: Path, drivers: dict) -> None:
    port = free_port()
    with pytest.raises(RuntimeError, match="exited") as caught:
        start_server(
            hypercorn_argv("asyncio_pages:app", port),
            port=port,
            log=tmp_path / "hypercorn.log",
            name="hypercorn",
            env=env_of(drivers),
        )
    message = str(caught.value)
    assert "page 'asyncio-shop'" in message
    assert "queries 'products', 'weather' run on asyncio" in message


def test_engine_render_gives_the_page_an_asyncio_host(drivers: dict) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "engine", "render", "asyncio_pages:shop", "--mode", "in-order"],
        capture_output=True,
        cwd=REPO,
        env={**env_of(drivers), "PATH": "/usr/bin:/bin", "PYTHONPATH": f"{REPO}:{ASGI_TESTS}"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    out = done.stdout.decode()
    assert "<li>Kettle</li><li>Teapot</li><li>Mug &lt;3</li>" in out
    assert "Lyon: 21.5 °C" in out
