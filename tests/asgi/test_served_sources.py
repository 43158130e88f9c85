"""Sync queries that hang cannot starve an unrelated page, on Hypercorn and uvicorn (issue 8,
item 6): the hung backend's calls hold places of their own source, never the default one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from servers import ServerProcess, fetch, start_app

HUNG_CALLS = 45  # more than trio's default 40 worker threads


@pytest.fixture(params=["hypercorn", "uvicorn"])
def server(request, tmp_path: Path) -> Iterator[ServerProcess]:
    process = start_app(
        request.param, "sources_site:app", tmp_path / "server.log", ready_path="/fine"
    )
    yield process
    process.stop(timeout=30)


def abandoned(port: int) -> int:
    found = re.search(rb"abandoned=(\d+)", fetch(port, "/sources").body)
    assert found, "the sources are reported"
    return int(found[1])


def test_hung_sync_calls_do_not_starve_an_unrelated_page(server: ServerProcess) -> None:
    with ThreadPoolExecutor(HUNG_CALLS) as pool:
        statuses = list(pool.map(lambda _: fetch(server.port, "/hung").status, range(HUNG_CALLS)))
    assert statuses == [500] * HUNG_CALLS, "each hung call's query gave up (its timeout)"
    assert abandoned(server.port) >= 40, "the hung calls still hold their threads"
    fine = fetch(server.port, "/fine", timeout=5)
    assert fine.status == 200 and b'<p id="quick">quick answer</p>' in fine.body
    assert abandoned(server.port) >= 40, "answered while the hung calls still ran"
