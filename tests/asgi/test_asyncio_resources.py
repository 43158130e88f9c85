"""A resource built on asyncio (an aiosqlite connection) is entered, used and closed on the
asyncio loop hosting trio: under a real uvicorn process and under ``engine render``."""

from __future__ import annotations

import re

from servers import fetch, free_port, start_server, uvicorn_argv


def test_an_asyncio_resource_lives_on_the_host_loop_under_uvicorn(tmp_path) -> None:
    port = free_port()
    argv = uvicorn_argv("asyncio_resource_app:app", port)
    server = start_server(argv, port=port, log=tmp_path / "uvicorn.log", name="uvicorn")
    try:
        bodies = [fetch(server.port, "/").body for _ in range(3)]
        assert all(b"answer=42" in b for b in bodies), bodies
        assert len({re.search(rb"conn=(\d+)", b)[1] for b in bodies}) == 1  # type: ignore[index]
    finally:
        assert server.stop() == 0
    log = server.output()
    assert log.count("asyncio_resource_site: open") == 1, log
    assert "asyncio_resource_site: closed" in log and "Traceback" not in log, log


def test_engine_render_enters_an_asyncio_resource_on_its_asyncio_host(capsys) -> None:
    from engine.cli import main

    assert main(["render", "asyncio_resource_site:page"]) == 0
    out = capsys.readouterr().out
    assert "answer=42" in out
    assert out.index("asyncio_resource_site: open") < out.index("answer=42")
    assert out.index("answer=42") < out.index("asyncio_resource_site: closed")
