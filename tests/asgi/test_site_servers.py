"""examples/site as one ASGI app (Starlette around engine.asgi.App): in process, then on real
servers. Sign-in is a form post answered by Starlette; pages are the engine's."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Iterator

import asyncio_pages
import httpx
import pytest
from servers import ServerProcess, fetch, free_port, hypercorn_argv, start_server, uvicorn_argv
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from engine import Page, Shell
from engine.asgi import App
from engine.cli.serve import worker_class_for
from examples.site import db
from examples.site.app import app
from tests.test_readme import readme_run_command

ORIGIN = "http://testserver"

Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]


def in_process(scenario: Scenario) -> None:
    """Run ``scenario`` against the app on an asyncio loop, as uvicorn hosts it (the account
    page's query awaits aiosqlite there; the engine runs as the loop's trio guest)."""

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            await scenario(client)

    asyncio.run(main())


async def sign_in(client: httpx.AsyncClient, name: str, password: str, next: str = "/"):
    return await client.post(
        "/signin",
        data={"name": name, "password": password, "next": next},
        headers={"Origin": ORIGIN},
    )


def test_pages_and_the_stylesheet_are_served() -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        home = await client.get("/")
        assert home.status_code == 200 and home.text.count('<li class="card">') >= 48
        product = await client.get("/product/3")
        assert product.status_code == 200 and '<h1 id="product-name">' in product.text
        assert (await client.get("/product/999")).status_code == 404
        assert (await client.get("/nowhere")).status_code == 404
        css = await client.get("/static/site.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert "etag" in css.headers and ".grid" in css.text
        assert (await client.post("/")).status_code == 405, "pages without actions: GET, HEAD"

    in_process(scenario)


def test_signing_in_and_out_changes_the_nav_bar_on_every_page() -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        assert '<a href="/signin">Sign in</a></nav>' in (await client.get("/")).text
        response = await sign_in(client, "ann", "ann-password", next="/product/2")
        assert response.status_code == 303 and response.headers["location"] == "/product/2"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("acme_session=") and "httponly" in cookie
        assert "samesite=lax" in cookie and "ann-password" not in cookie
        for path in ("/", "/product/2", "/signin", "/account"):
            nav = re.search(r"<nav>.*?</nav>", (await client.get(path)).text, re.DOTALL)[0]
            assert '<span class="visitor">Ann Example</span>' in nav, path
            assert '<form method="post" action="/signout">' in nav and "Sign in" not in nav
        signed_out = await client.post("/signout", headers={"Origin": ORIGIN})
        assert signed_out.status_code == 303 and signed_out.headers["location"] == "/"
        assert "acme_session" not in client.cookies
        assert "Ann Example" not in (await client.get("/")).text

    in_process(scenario)


def test_the_account_page_reads_the_orders_through_aiosqlite() -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        signed_out = await client.get("/account")
        assert signed_out.status_code == 303
        assert signed_out.headers["location"] == "/signin?next=%2Faccount"
        assert "Your orders" not in signed_out.text, "decided before any byte of the page"
        await sign_in(client, "bob", "bob-password")
        page = await client.get("/account")
        assert page.status_code == 200 and "<h1>Your orders, Bob Sample</h1>" in page.text
        with sqlite3.connect(db.DB_PATH) as conn:
            placed = conn.execute(
                "SELECT placed FROM purchase WHERE user_name = 'bob' ORDER BY placed DESC, id DESC"
            ).fetchall()
        rows = re.findall(r"<tr><td>([\d-]+)</td>", page.text)
        assert rows == [p for (p,) in placed] and len(rows) >= 3
        assert "Ann Example" not in page.text

    in_process(scenario)


def test_a_wrong_password_goes_back_to_the_form() -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        response = await sign_in(client, "ann", "wrong", next="/product/2")
        assert response.status_code == 303
        assert response.headers["location"] == "/signin?next=%2Fproduct%2F2&failed=1"
        assert "acme_session" not in client.cookies
        form = await client.get(response.headers["location"])
        assert "Wrong name or password." in form.text
        assert '<input type="hidden" name="next" value="/product/2">' in form.text

    in_process(scenario)


def test_an_offsite_next_is_never_followed() -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        response = await sign_in(client, "bob", "bob-password", next="//evil.example/")
        assert response.status_code == 303 and response.headers["location"] == "/"

    in_process(scenario)


def test_cross_site_form_posts_are_refused() -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        for path in ("/signin", "/signout"):
            response = await client.post(
                path,
                data={"name": "ann", "password": "ann-password"},
                headers={"Origin": "http://evil.example"},
            )
            assert response.status_code == 403
        assert "acme_session" not in client.cookies

    in_process(scenario)


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
    assert worker_class_for(app) == "asyncio", "the site's account page awaits aiosqlite"


def _serve(kind: str, log_dir) -> ServerProcess:
    port = free_port()
    if kind == "engine serve":  # exactly as the README runs it
        engine, *args = readme_run_command()
        assert engine == "engine"
        argv = [sys.executable, "-m", "engine", *args, "--port", str(port)]
    elif kind == "hypercorn":  # the asyncio worker: the account page's query awaits aiosqlite
        argv = hypercorn_argv("examples.site.app:app", port)
        argv[argv.index("trio")] = "asyncio"
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
        account = browser.get("/account")
        assert account.status_code == 200 and "Ann Example" in account.text
        assert account.text.count("<tr><td>2026-") >= 3, "orders read through aiosqlite"


def test_adding_to_the_cart_on_a_real_server(server) -> None:
    with httpx.Client(base_url=server.url) as shopper, httpx.Client(base_url=server.url) as other:
        product = shopper.get("/product/5")
        token = re.search(r'name="_token" value="([\w-]+)"', product.text)[1]
        form = {"_token": token, "_action": "add_to_cart", "quantity": "3"}
        added = shopper.post("/product/5", data=form, headers={"Origin": server.url})
        assert added.status_code == 303 and added.headers["location"] == "/product/5"
        assert "acme_session" in shopper.cookies, "the session holds the cart's id"
        again = shopper.get("/product/5")
        assert '<span id="cart-count" data-bind="cart_count.items">3</span>' in again.text
        assert '<script type="application/json" data-query="cart_count">{"items":3}' in again.text
        cart = shopper.get("/cart").text
        assert '<tr id="line-5">' in cart and "3 items" in cart
        refused = shopper.post(
            "/product/5", data=form | {"quantity": "100"}, headers={"Origin": server.url}
        )
        assert refused.status_code == 422 and "Expected `int` &lt;= 99" in refused.text
        assert 'value="100"' in refused.text and refused.text.endswith("</html>\n")
        assert "Your cart is empty" in other.get("/cart").text, "another visitor's cart"
        # As the runtime submits it: only what changed comes back, the count's data among it.
        by_fetch = shopper.post(
            "/product/5", data=form, headers={"Origin": server.url, "X-Engine-Request": "action"}
        )
        assert by_fetch.status_code == 200 and "X-Engine-Request" in by_fetch.headers["vary"]
        assert (
            '<script type="application/json" data-query="cart_count">{"items":6}' in by_fetch.text
        )
        assert "<nav>" not in by_fetch.text and '<template for="reviews">' not in by_fetch.text
