"""An unexpected failure before the first byte, served for real: the engine's own 500 page and
one log line naming the page and the field, on Hypercorn, ``engine serve`` and uvicorn, never
a server's traceback or an empty 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import ServerProcess, fetch, free_port, start_server
from test_write_timeout import SERVERS, server_argv

SERVER_NOISE = ("Traceback", "Error in ASGI", "Exception in ASGI", "ASGI callable", "Exception")


@pytest.fixture(params=SERVERS)
def server(request, tmp_path: Path) -> Iterator[ServerProcess]:
    port = free_port()
    process = start_server(
        server_argv(request.param, port),
        port=port,
        log=tmp_path / "server.log",
        ready_path="/stats",
        name=request.param,
    )
    yield process
    process.stop()


def test_a_shell_template_naming_a_missing_field_is_the_engines_500(server: ServerProcess) -> None:
    for query in ("", "?mode=in-order", "?mode=buffered"):
        response = fetch(server.port, f"/broken-shell{query}")
        assert response.status == 500 and response.eof, query
        assert b"<h1>500 Internal Server Error</h1>" in response.body
        assert int(response.headers["content-length"]) == len(response.body)
        assert b"title" not in response.body.split(b"</title>", 1)[1], "no internals in the page"
    assert fetch(server.port, "/item/x?delay=0").status == 200, "the server serves on"
    log = server.output()
    errors = [line for line in log.splitlines() if "broken-shell" in line and "GET" not in line]
    assert len(errors) == 3, log  # one line per request
    assert all(e.startswith("page 'broken-shell': ") and "title" in e for e in errors), errors
    for noise in SERVER_NOISE:
        assert noise not in log, log
