"""A lone surrogate in a query value fails only what it touches, on real servers (issue 8,
item 7): the document still closes with its final chunk, and the log names page and query."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import ServerProcess, fetch, start_app


@pytest.fixture(scope="module", params=["hypercorn", "uvicorn"])
def server(request, tmp_path_factory) -> Iterator[ServerProcess]:
    log = Path(tmp_path_factory.mktemp(request.param)) / "server.log"
    process = start_app(request.param, "surrogate_site:app", log)
    yield process
    process.stop()


@pytest.mark.parametrize("mode", ["out-of-order", "in-order", "buffered"])
def test_a_lone_surrogate_fails_only_its_fragment(server: ServerProcess, mode: str) -> None:
    response = fetch(server.port, f"/?mode={mode}")
    assert response.status == 200 and response.eof
    raw = b"".join(data for _, data in response.reads)
    # Written in one message (buffered, or every query answered at once), the page has its
    # length; streamed, it ends with its final chunk. Either way, nothing is cut short.
    if "content-length" in response.headers:
        assert int(response.headers["content-length"]) == len(response.body)
    else:
        assert mode != "buffered" and raw.endswith(b"0\r\n\r\n"), "its final chunk"
    assert b'<h1 id="title">fine title</h1>' in response.body, "the rest of the page is there"
    assert response.body.rstrip().endswith(b"</html>"), "the document is closed"
    response.body.decode("utf-8")  # and it is valid UTF-8
    named = [
        line
        for line in server.output().splitlines()
        if "surrogate" in line and "caption" in line and "GET /" not in line
    ]
    assert named, f"a log line names the page and the query:\n{server.output()}"
    assert "Traceback" not in server.output()
