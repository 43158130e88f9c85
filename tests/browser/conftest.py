"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, real servers, nginx.

Never a downloaded browser build: Playwright launches /usr/bin/chromium. Under CI=true a missing
chromium or nginx fails the run instead of skipping it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "asgi"))  # shared server helpers

from servers import (
    CHROMIUM_FLAGS,
    ServerProcess,
    free_port,
    hypercorn_argv,
    require_executable,
    start_nginx,
    start_server,
    uvicorn_argv,
)

NO_PATCHING = "--disable-blink-features=DocumentPatching"
"""Switches off Chromium's native Declarative Partial Updates: the runtime polyfill must work."""


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in the
# main thread until it stops, which would break any later test that calls asyncio.run().
@pytest.fixture(scope="module")
def playwright() -> Iterator[object]:
    chromium = require_executable("chromium")
    from playwright.sync_api import sync_playwright

    manager = sync_playwright().start()
    manager.chromium_path = chromium  # type: ignore[attr-defined]
    yield manager
    manager.stop()


@pytest.fixture(scope="module")
def browsers(playwright) -> Iterator[Callable[[bool], object]]:
    """``browsers(native)``: one Chromium per variant for the session, launched on first use."""
    launched: dict[bool, object] = {}

    def get(native: bool = True) -> object:
        if native not in launched:
            launched[native] = playwright.chromium.launch(
                executable_path=playwright.chromium_path,
                headless=True,
                args=CHROMIUM_FLAGS + ([] if native else [NO_PATCHING]),
            )
        return launched[native]

    yield get
    for browser in launched.values():
        browser.close()


@pytest.fixture
def new_page(browsers) -> Iterator[Callable[..., object]]:
    """``new_page(native=True, javascript=True)``: a fresh context and page, closed after."""
    contexts = []

    def make(native: bool = True, javascript: bool = True) -> object:
        context = browsers(native).new_context(java_script_enabled=javascript)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def _site(kind: str, log_dir: Path, **env: str) -> ServerProcess:
    port = free_port()
    argv = (
        hypercorn_argv("demo_site:app", port)
        if kind == "hypercorn"
        else uvicorn_argv("demo_site:app", port)
    )
    return start_server(
        argv, port=port, log=log_dir / f"{kind}.log", ready_path="/stats", name=kind, env=env
    )


@pytest.fixture(scope="session", params=["hypercorn", "uvicorn"])
def site(request, tmp_path_factory) -> Iterator[ServerProcess]:
    """tests/asgi/demo_site.py under Hypercorn's trio worker, then under uvicorn."""
    server = _site(request.param, tmp_path_factory.mktemp(request.param))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def hypercorn_site(tmp_path_factory) -> Iterator[ServerProcess]:
    server = _site("hypercorn", tmp_path_factory.mktemp("hypercorn-only"))
    yield server
    server.stop()


@pytest.fixture(scope="session", params=["nonce", "hash"])
def csp_site(request, tmp_path_factory) -> Iterator[ServerProcess]:
    """The demo site sending a strict Content-Security-Policy (per-response nonce, or hashes)."""
    server = _site(
        "hypercorn", tmp_path_factory.mktemp(f"csp-{request.param}"), DEMO_CSP=request.param
    )
    yield server
    server.stop()


@pytest.fixture
def nginx(tmp_path) -> Iterator[Callable[..., ServerProcess]]:
    """``nginx(upstream_port, gzip=False)``: nginx on loopback proxying to the app."""
    started: list[ServerProcess] = []

    def start(upstream: int, *, gzip: bool = False) -> ServerProcess:
        server = start_nginx(tmp_path / f"nginx{len(started)}", upstream, gzip=gzip)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def buffered_upstream(tmp_path) -> Iterator[ServerProcess]:
    """The demo site with ``proxy_buffering=True``: no ``X-Accel-Buffering: no`` header."""
    server = _site("hypercorn", tmp_path, DEMO_PROXY_BUFFERING="1")
    yield server
    server.stop()
