"""Fixtures for the ASGI tests: trio apps behind real servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from servers import ServerProcess, free_port, hypercorn_argv, start_server, uvicorn_argv


def _serve(kind: str, app: str, log_dir, ready_path: str, **env: str) -> ServerProcess:
    port = free_port()
    argv = hypercorn_argv(app, port) if kind == "hypercorn" else uvicorn_argv(app, port)
    return start_server(
        argv, port=port, log=log_dir / f"{kind}.log", ready_path=ready_path, name=kind, env=env
    )


@pytest.fixture
def uvicorn_demo(tmp_path) -> Iterator[ServerProcess]:
    """The guest demo app (trio-native, wrapped in TrioASGI) under uvicorn's asyncio loop."""
    server = _serve("uvicorn", "guest_demo_app:app", tmp_path, "/stats")
    yield server
    server.stop()


@pytest.fixture
def hypercorn_demo(tmp_path) -> Iterator[ServerProcess]:
    """The same app object under Hypercorn's trio worker (no guest run involved)."""
    server = _serve("hypercorn", "guest_demo_app:app", tmp_path, "/stats")
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["hypercorn", "uvicorn"])
def site(request, tmp_path_factory) -> Iterator[ServerProcess]:
    """demo_site's engine.asgi.App under Hypercorn's trio worker, then under uvicorn."""
    server = _serve(
        request.param, "demo_site:app", tmp_path_factory.mktemp(request.param), "/stats"
    )
    yield server
    server.stop()
