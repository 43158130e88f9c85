"""examples/site as one ASGI app (Starlette around engine.asgi.App): in process, then on real
servers. Sign-in is a form post answered by Starlette; pages are the engine's."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

import asyncio_pages
import httpx
import pytest
from servers import ServerProcess, fetch, free_port, hypercorn_argv, start_server, uvicorn_argv
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from engine import Page, Shell
from engine.asgi import App
from engine.cli.serve import worker_class_for
from examples.site.app import app
from tests.test_readme import readme_run_command

ORIGIN = "http://testserver"


@pytest.fixture
async def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        yield client


async def sign_in(client: httpx.AsyncClient, name: str, password: str, next: str = "/"):
    return await client.post(
        "/signin",
        data={"name": name, "password": password, "next": next},
        headers={"Origin": ORIGIN},
    )


async def test_pages_and_the_stylesheet_are_served(client) -> None:
    home = await client.get("/")
    assert home.status_code == 200 and home.text.count('<li class="card">') >= 48
    product = await client.get("/product/3")
    assert product.status_code == 200 and '<h1 id="product-name">' in product.text
    assert (await client.get("/product/999")).status_code == 404
    assert (await client.get("/nowhere")).status_code == 404
    css = await client.get("/static/site.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "etag" in css.headers and ".grid" in css.text
    assert (await client.post("/product/3")).status_code == 405, "pages answer GET and HEAD"


async def test_signing_in_sets_a_signed_session_cookie_and_redirects(client) -> None:
    response = await sign_in(client, "ann", "ann-password", next="/product/2")
    assert response.status_code == 303 and response.headers["location"] == "/product/2"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("acme_session=") and "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "ann-password" not in cookie
    assert client.cookies["acme_session"]
    signed_out = await client.post("/signout", headers={"Origin": ORIGIN})
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/"
    assert "acme_session" not in client.cookies


async def test_a_wrong_password_goes_back_to_the_form(client) -> None:
    response = await sign_in(client, "ann", "wrong", next="/product/2")
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=%2Fproduct%2F2&failed=1"
    assert "acme_session" not in client.cookies
    form = await client.get(response.headers["location"])
    assert "Wrong name or password." in form.text
    assert '<input type="hidden" name="next" value="/product/2">' in form.text


async def test_an_offsite_next_is_never_followed(client) -> None:
    response = await sign_in(client, "bob", "bob-password", next="//evil.example/")
    assert response.status_code == 303 and response.headers["location"] == "/"


async def test_cross_site_form_posts_are_refused(client) -> None:
    for path in ("/signin", "/signout"):
        response = await client.post(
            path,
            data={"name": "ann", "password": "ann-password"},
            headers={"Origin": "http://evil.example"},
        )
        assert response.status_code == 403
    assert "acme_session" not in client.cookies


def test_engine_serve_finds_asyncio_queries_in_mounted_engine_apps() -> None:
    """A Starlette app is opaque to ``engine serve`` except for the engine apps it mounts."""
    on_asyncio = App({"/": asyncio_pages.shop})
    on_trio = App({"/": Page(name="p", shell=Shell(html='<meta charset="utf-8"><p>p'))})
    assert worker_class_for(on_asyncio) == "asyncio"
    assert worker_class_for(Starlette(routes=[Mount("/", on_asyncio)])) == "asyncio"
    nested = Starlette(routes=[Mount("/a", Starlette(routes=[Mount("/b", on_asyncio)]))])
    assert worker_class_for(nested) == "asyncio"
    assert worker_class_for(Starlette(routes=[Mount("/", on_trio)])) == "trio"
    assert worker_class_for(Starlette(routes=[Route("/", lambda request: None)])) == "trio"


def _serve(kind: str, log_dir) -> ServerProcess:
    port = free_port()
    if kind == "engine serve":  # exactly as the README runs it
        engine, *args = readme_run_command()
        assert engine == "engine"
        argv = [sys.executable, "-m", "engine", *args, "--port", str(port)]
    elif kind == "hypercorn":
        argv = hypercorn_argv("examples.site.app:app", port)
    else:
        argv = uvicorn_argv("examples.site.app:app", port)
    return start_server(argv, port=port, log=log_dir / "server.log", name=kind)


@pytest.fixture(scope="module", params=["engine serve", "hypercorn", "uvicorn"])
def server(request, tmp_path_factory) -> Iterator[ServerProcess]:
    server = _serve(request.param, tmp_path_factory.mktemp("site"))
    yield server
    server.stop()


def test_the_site_on_a_real_server(server) -> None:
    home = fetch(server.port, "/")
    assert home.status == 200 and home.body.count(b'<li class="card">') >= 48
    product = fetch(server.port, "/product/5")
    assert product.status == 200 and product.eof
    html = product.body.decode()
    assert html.index('<h1 id="product-name">') < html.index('<template for="reviews">')
    assert product.arrival_of(b'<h1 id="product-name">') < product.arrival_of(
        b'<template for="recommendations">'
    ), "the shell is on the wire before the slowest part is ready"
    assert fetch(server.port, "/product/999").status == 404

    with httpx.Client(base_url=server.url) as browser:
        css = browser.get("/static/site.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        signed_in = browser.post(
            "/signin",
            data={"name": "ann", "password": "ann-password", "next": "/product/5"},
            headers={"Origin": server.url},
        )
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/product/5"
        assert re.match(r"acme_session=[\w.-]+;", signed_in.headers["set-cookie"])
