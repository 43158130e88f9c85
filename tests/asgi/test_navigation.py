"""Streamed navigation over HTTP: a request with ``X-Engine-Request: navigate`` and the layouts
the client holds is answered with only what lies below the shared layout, with the headers and
guards of a GET; anything else is answered with the whole page. In process, then by Hypercorn and
uvicorn as real processes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import navigation_site
import pytest
from servers import ServerProcess, free_port, hypercorn_argv, start_server, uvicorn_argv

import engine

ORIGIN = "http://testserver"
SITE = engine.Graph.build(navigation_site.A).ranges[0].id
OTHER = engine.Graph.build(navigation_site.OTHER_PAGE).ranges[0].id


def navigate(held: str = SITE) -> dict[str, str]:
    return {"x-engine-request": "navigate", "x-engine-layout": held}


def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=navigation_site.app)
    return httpx.AsyncClient(transport=transport, base_url=ORIGIN)


async def test_a_navigation_answers_with_the_part_below_the_layout_it_holds() -> None:
    navigation_site.CALLS.clear()
    async with client() as http:
        got = await http.get("/b?delay=0.3", headers=navigate(f"{SITE} 0123456789abcdef"))
    assert got.status_code == 200
    assert got.headers["x-engine-layout"] == SITE
    assert got.headers["x-engine-navigation"] == "all"
    assert "X-Engine-Request" in got.headers.get_list("vary")
    assert got.headers["cache-control"] == "no-store", "Cache-Control as for a GET"
    assert got.headers["content-type"] == "text/html; charset=utf-8"
    body = got.text
    assert body.startswith(
        f'<template for="engine-head-{SITE}"><?start name="engine-head-{SITE}">'
        f"<title>Page B</title><?end></template>"
        f'<template for="engine-content-{SITE}"><?start name="engine-content-{SITE}">'
        '<h1 id="heading">Page B</h1>'
    )
    assert '<p id="late-fallback">b: loading</p>' in body
    assert body.index('data-query="late"') < body.index('<template for="late">')
    assert '<p id="late-done">b: late content</p>' in body
    assert "<!doctype" not in body and "layout-header" not in body and "(function" not in body
    assert 'data-query="menu"' not in body, "the layout's fragments and their data stay out"
    assert navigation_site.CALLS == {"user": 1, "heading_b": 1, "late": 1}, (
        "the layout's shell query runs (a guard, used by the page); its menu query does not"
    )


async def test_without_the_layout_or_the_header_the_whole_page_comes() -> None:
    async with client() as http:
        for headers in (navigate(OTHER), navigate(""), {"x-engine-layout": SITE}, {}):
            got = await http.get("/b", headers=headers)
            assert got.status_code == 200
            assert got.text.startswith("<!doctype html>")
            assert "x-engine-layout" not in got.headers
            assert "X-Engine-Request" in got.headers.get_list("vary")
        plain = await http.get("/plain", headers=navigate())  # navigation = false
        assert plain.text.startswith("<!doctype html>")
        assert "X-Engine-Request" not in plain.headers.get_list("vary")


async def test_navigation_runs_the_same_guards_as_a_get() -> None:
    async with client() as http:
        missing = await http.get("/item/0", headers=navigate())
        assert missing.status_code == 404 and "no item 0" in missing.text
        moved = await http.get("/item/1", headers=navigate())
        assert (moved.status_code, moved.headers["location"]) == (303, "/b")
        for answer in (missing, moved):  # they fill no layout
            assert "x-engine-layout" not in answer.headers
            assert "X-Engine-Request" in answer.headers.get_list("vary")
        found = await http.get("/item/7", headers=navigate())
        assert found.status_code == 200 and "<h1>item 7</h1>" in found.text
        head = await http.head("/b", headers=navigate())
        assert head.status_code == 200 and head.headers["x-engine-layout"] == SITE


async def test_a_navigation_with_a_nonce_carries_it_on_its_swap_scripts() -> None:
    app = engine.asgi.App(navigation_site.PAGES, csp="nonce")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as http:
        got = await http.get("/a", headers=navigate())
    nonce = got.headers["content-security-policy"].split("'nonce-")[1].split("'")[0]
    scripts = re.findall(r"<script([^>]*)>", got.text)
    executable = [s for s in scripts if "application/json" not in s]
    assert executable and executable == [f' nonce="{nonce}"'] * len(executable)
    assert got.text.endswith(f'<script nonce="{nonce}">$E()</script>')


@pytest.fixture(scope="module", params=["hypercorn", "uvicorn"])
def server(request, tmp_path_factory) -> Iterator[ServerProcess]:
    port = free_port()
    argv = (hypercorn_argv if request.param == "hypercorn" else uvicorn_argv)(
        "navigation_site:app", port
    )
    log = Path(tmp_path_factory.mktemp(request.param)) / "server.log"
    process = start_server(argv, port=port, log=log, ready_path="/a", name=request.param)
    yield process
    process.stop()


def test_a_real_server_streams_a_navigation_write_by_write(server: ServerProcess) -> None:
    """The first write (the page's part, its fallback) arrives before the late fragment."""
    with (
        httpx.Client(base_url=server.url, timeout=10) as http,
        http.stream("GET", "/a?delay=0.3", headers=navigate()) as got,
    ):
        assert got.status_code == 200 and got.headers["x-engine-layout"] == SITE
        assert "X-Engine-Request" in got.headers.get_list("vary")
        chunks = [chunk.decode() for chunk in got.iter_raw()]
    first = next(i for i, c in enumerate(chunks) if "late-fallback" in c)
    done = next(i for i, c in enumerate(chunks) if "late-done" in c)
    assert first < done, chunks
    assert "".join(chunks).endswith("</template><script>$E()</script>")
