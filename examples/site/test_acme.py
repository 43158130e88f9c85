"""Acme's own tests: ``python -m pytest examples/site/test_acme.py``.

Pages are rendered under trio's MockClock (the ``autojump_clock`` fixture), so the slow services'
times are exact and the run takes no real time; the app is driven in process by httpx.
"""

import asyncio
from pathlib import Path

import httpx
import pytest
from trio.testing import MockClock

import engine
from engine.testing import assert_contract, render_timeline

from .app import app

SOURCE = str(Path(__file__).parent / "pages" / "product.toml")
PRODUCT = engine.Graph.build(engine.load(SOURCE), source=SOURCE)  # templates are found from it


@pytest.mark.trio
async def test_reviews_stream_in_after_their_service(autojump_clock: MockClock) -> None:
    timeline = await render_timeline(PRODUCT, params={"product_id": "3"})
    assert_contract(timeline)
    assert timeline.order() == ["buy", "related", "reviews", "rating", "recommendations"]
    assert timeline.time_of("related") == 0
    assert timeline.time_of("reviews") == 0.4
    assert timeline.time_of("recommendations") == 0.9


@pytest.mark.trio
async def test_a_review_service_outage_fails_only_the_reviews(autojump_clock: MockClock) -> None:
    timeline = await render_timeline(
        PRODUCT, params={"product_id": "3"}, failures={"reviews": OSError("service down")}
    )
    assert_contract(timeline)
    assert "Reviews are unavailable right now." in timeline.html
    assert timeline.time_of("recommendations") == 0.9, "the rest of the page is unaffected"


def test_your_orders_are_for_signed_in_users() -> None:
    async def visit() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://acme.test") as client:
            signed_out = await client.get("/account")
            assert signed_out.headers["location"] == "/signin?next=%2Faccount"
            form = {"name": "bob", "password": "bob-password", "next": "/account"}
            signed_in = await client.post("/signin", data=form)
            assert signed_in.headers["location"] == "/account"
            assert "Your orders, Bob Sample" in (await client.get("/account")).text

    asyncio.run(visit())  # on asyncio, as uvicorn runs it: the orders query awaits aiosqlite


def test_adding_to_the_cart_counts_in_the_nav_bar() -> None:
    async def visit() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://acme.test") as client:
            await client.get("/product/3")  # sets the form token cookie, which _token repeats
            token = client.cookies["engine_form_token"]
            form = {"_token": token, "_action": "add_to_cart", "quantity": "2"}
            origin = {"Origin": "http://acme.test"}
            added = await client.post("/product/3", data=form, headers=origin)
            assert added.status_code == 303 and added.headers["location"] == "/product/3"
            assert (
                '<span id="cart-count" data-bind="cart_count.items">2</span>'
                in (await client.get("/cart")).text
            )
            refused = await client.post(
                "/product/3", data=form | {"quantity": "100"}, headers=origin
            )
            assert refused.status_code == 422 and "Expected `int` &lt;= 99" in refused.text

    asyncio.run(visit())
