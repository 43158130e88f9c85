"""examples/site's cart, in process: the pages rendered under MockClock, and the actions posted to
the app through httpx on a fresh SQLite database (without JavaScript: 303 or 422)."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

import engine
from engine.testing import assert_contract, render_timeline
from examples.site import db
from examples.site.app import app
from tests.test_site import MODES, nav, page, slot

ORIGIN = "http://testserver"
SAME_ORIGIN = {"Origin": ORIGIN}
CART_A = "A" * 43
CART_B = "B" * 43


def with_cart(cart_id: object, **params: str) -> engine.Request:
    """A request whose signed session holds ``cart_id`` (None: no cart)."""
    session = {} if cart_id is None else {"cart": cart_id}
    return engine.Request.build(params=params, session=session)


Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]


@pytest.fixture
def fresh_db(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(db, "DB_PATH", tmp_path / "acme.db")
    return db.DB_PATH


def visit(*scenarios: Scenario) -> None:
    """Each scenario is one visitor (a browser of its own: its own cookies), in turn."""

    async def main() -> None:
        for scenario in scenarios:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
                await scenario(client)

    asyncio.run(main())


def lines_of(cart_id: str) -> list[tuple[int, int]]:
    with sqlite3.connect(db.DB_PATH) as conn:
        return conn.execute(
            "SELECT product_id, quantity FROM cart_item WHERE cart = ? ORDER BY product_id",
            (cart_id,),
        ).fetchall()


def carts() -> list[str]:
    return [cart for (cart,) in db.fetch("SELECT DISTINCT cart FROM cart_item ORDER BY cart")]


def price_of(product_id: int) -> float:
    return db.fetch("SELECT price FROM product WHERE id = ?", product_id)[0][0]


def count_in_nav(html: str) -> int:
    return int(
        re.search(r'<span id="cart-count" data-bind="cart_count.items">(\d+)</span>', nav(html))[1]
    )


def token_of(html: str) -> str:
    return re.search(r'name="_token" value="([\w-]+)"', html)[1]


async def add(client: httpx.AsyncClient, product: int, quantity: str, **extra: str):
    """Post the product page's form (read once per visitor: the token is the same each time)."""
    token = client.cookies.get("engine_form_token")
    if token is None:
        token = token_of((await client.get(f"/product/{product}")).text)
    fields = {"_token": token, "_action": "add_to_cart", "quantity": quantity}
    return await client.post(f"/product/{product}", data=fields | extra, headers=SAME_ORIGIN)


# The pages, rendered


@pytest.mark.parametrize("mode", MODES)
async def test_the_cart_page_lists_lines_with_todays_prices(fresh_db, autojump_clock, mode):
    db.execute(
        "INSERT INTO cart_item VALUES (?, 3, 2), (?, 7, 1), (?, 9, 5)", *[CART_A] * 2, CART_B
    )
    timeline = await render_timeline(page("cart"), request=with_cart(CART_A), mode=mode)
    assert_contract(timeline)
    html = timeline.html
    rows = re.findall(
        r'<tr id="line-(\d+)">.*?name="quantity"[^>]*value="(\d+)">.*?\$([\d.]+)</td></tr>',
        html,
        re.DOTALL,
    )
    name = {p: db.fetch("SELECT name FROM product WHERE id = ?", p)[0][0] for p in (3, 7)}
    expected = sorted([(3, 2), (7, 1)], key=lambda line: (name[line[0]], line[0]))
    assert [(int(p), int(q)) for p, q, _ in rows] == expected, "only this visitor's lines"
    assert [float(t) for _, _, t in rows] == [round(q * price_of(p), 2) for p, q in expected]
    total = round(2 * price_of(3) + price_of(7), 2)
    assert f'<p class="total">3 items, <span class="price">${total:.2f}</span> in all.</p>' in html
    assert count_in_nav(html) == 3
    assert '<script type="application/json" data-query="cart_count">{"items":3}</script>' in html


@pytest.mark.parametrize("cart_id", [None, CART_B, 7, "no session"])
async def test_no_cart_or_a_cookie_this_site_did_not_set_is_the_empty_state(
    fresh_db, autojump_clock, cart_id
) -> None:
    db.execute("INSERT INTO cart_item VALUES (?, 3, 2)", CART_A)
    request = engine.Request.build() if cart_id == "no session" else with_cart(cart_id)
    timeline = await render_timeline(page("cart"), request=request, mode="in-order")
    lines = slot(timeline.html, "lines")
    assert '<p class="empty">Your cart is empty' in lines and "<table" not in lines
    assert count_in_nav(timeline.html) == 0


async def test_every_page_shows_and_exposes_the_cart_count(fresh_db, autojump_clock) -> None:
    db.execute("INSERT INTO cart_item VALUES (?, 3, 2), (?, 5, 4)", CART_A, CART_A)
    for name, params in [("home", {}), ("product", {"product_id": "5"}), ("signin", {})]:
        timeline = await render_timeline(page(name), request=with_cart(CART_A, **params))
        assert_contract(timeline)
        html = timeline.html
        assert count_in_nav(html) == 6, name
        island = '<script type="application/json" data-query="cart_count">{"items":6}</script>'
        assert html.count(island) == 1, name


# The actions, posted without JavaScript


def test_adding_to_the_cart_redirects_back_and_counts_in_the_nav_bar(fresh_db) -> None:
    async def shopper(client: httpx.AsyncClient) -> None:
        assert count_in_nav((await client.get("/product/3")).text) == 0
        added = await add(client, 3, "2")
        assert added.status_code == 303 and added.headers["location"] == "/product/3"
        cookie = added.headers["set-cookie"]
        assert cookie.startswith("acme_session=") and "httponly" in cookie.lower()
        (cart_id,) = carts()
        assert lines_of(cart_id) == [(3, 2)]
        assert count_in_nav((await client.get("/product/3")).text) == 2
        await add(client, 3, "3")
        await add(client, 8, "1")
        assert lines_of(cart_id) == [(3, 5), (8, 1)], "one line per product, quantities add"
        assert carts() == [cart_id], "the same cart"
        await add(client, 8, "99")
        assert lines_of(cart_id) == [(3, 5), (8, 99)], "a line holds at most 99"
        home = await client.get("/")
        assert count_in_nav(home.text) == 104
        cart_page = await client.get("/cart")
        assert '<tr id="line-3">' in cart_page.text and '<tr id="line-8">' in cart_page.text
        total = round(5 * price_of(3) + 99 * price_of(8), 2)
        assert f'104 items, <span class="price">${total:.2f}</span>' in cart_page.text

    visit(shopper)


@pytest.mark.parametrize(
    ("quantity", "error"),
    [
        ("0", "Expected `int` &gt;= 1"),
        ("100", "Expected `int` &lt;= 99"),
        ("two", "Expected `int`, got `str`"),
        ('"><script>alert(1)</script>', "Expected `int`, got `str`"),
    ],
)
def test_a_refused_quantity_is_a_422_with_the_error_and_the_input_kept(
    fresh_db, quantity, error
) -> None:
    async def shopper(client: httpx.AsyncClient) -> None:
        refused = await add(client, 4, quantity)
        assert refused.status_code == 422
        form = re.search(r'<form class="buy".*?</form>', refused.text, re.DOTALL)[0]
        assert f'<span class="problem" role="alert">{error}</span>' in form
        kept = quantity.replace("&", "&amp;").replace('"', "&#34;").replace("<", "&lt;")
        assert (
            f'name="quantity" type="number" min="1" max="99" value="{kept.replace(">", "&gt;")}"'
            in form
        )
        assert "<script>alert" not in refused.text
        assert "acme_session" not in client.cookies and carts() == [], "nothing added: no cart"
        assert count_in_nav(refused.text) == 0

    visit(shopper)


def test_the_product_comes_from_the_path_only(fresh_db) -> None:
    async def shopper(client: httpx.AsyncClient) -> None:
        smuggled = await add(client, 3, "1", product_id="5")
        assert smuggled.status_code == 422, "not a field of the form"
        form = await client.get("/product/3?product_id=5")
        fields = {"_token": token_of(form.text), "_action": "add_to_cart", "quantity": "1"}
        added = await client.post("/product/3?product_id=5", data=fields, headers=SAME_ORIGIN)
        assert added.status_code == 303
        (cart_id,) = carts()
        assert lines_of(cart_id) == [(3, 1)]
        missing = await client.post("/product/999", data=fields, headers=SAME_ORIGIN)
        assert missing.status_code == 404, "the page's guard: no such product, nothing runs"
        assert lines_of(cart_id) == [(3, 1)]

    visit(shopper)


def test_one_visitors_cart_is_never_shown_to_another(fresh_db) -> None:
    visitors: dict[str, str] = {}

    async def ann(client: httpx.AsyncClient) -> None:
        await add(client, 3, "2")
        (visitors["ann"],) = carts()
        visitors["ann session"] = client.cookies["acme_session"]

    async def bob(client: httpx.AsyncClient) -> None:
        assert count_in_nav((await client.get("/product/3")).text) == 0
        assert "Your cart is empty" in (await client.get("/cart")).text
        await add(client, 6, "1")
        (visitors["bob"],) = set(carts()) - {visitors["ann"]}
        cart_page = (await client.get("/cart")).text
        assert '<tr id="line-6">' in cart_page and '<tr id="line-3">' not in cart_page
        fields = {"_token": token_of(cart_page), "product": "3", "quantity": "9"}
        for action in ("update", "remove"):  # ann's line, by its product id: not bob's to touch
            answer = await client.post(
                "/cart", data=fields | {"_action": action}, headers=SAME_ORIGIN
            )
            assert answer.status_code == 303

    async def ann_again(client: httpx.AsyncClient) -> None:
        client.cookies.set("acme_session", visitors["ann session"])
        assert count_in_nav((await client.get("/")).text) == 2
        cart_page = (await client.get("/cart")).text
        assert '<tr id="line-3">' in cart_page and '<tr id="line-6">' not in cart_page

    visit(ann, bob, ann_again)
    assert lines_of(visitors["ann"]) == [(3, 2)] and lines_of(visitors["bob"]) == [(6, 1)]


def test_the_cart_page_changes_and_removes_lines(fresh_db) -> None:
    async def shopper(client: httpx.AsyncClient) -> None:
        await add(client, 3, "2")
        await add(client, 5, "1")
        (cart_id,) = carts()
        token = token_of((await client.get("/cart")).text)

        async def post(**fields: str) -> httpx.Response:
            return await client.post("/cart", data={"_token": token, **fields}, headers=SAME_ORIGIN)

        changed = await post(_action="update", product="3", quantity="7")
        assert changed.status_code == 303 and changed.headers["location"] == "/cart"
        assert lines_of(cart_id) == [(3, 7), (5, 1)]
        refused = await post(_action="update", product="5", quantity="0")
        assert refused.status_code == 422
        line = re.search(r'<tr id="line-5">.*?</tr>', refused.text, re.DOTALL)[0]
        assert 'value="0"> <button' in line, "the quantity as typed"
        assert '<span class="problem" role="alert">Expected `int` &gt;= 1</span>' in line
        other = re.search(r'<tr id="line-3">.*?</tr>', refused.text, re.DOTALL)[0]
        assert 'value="7"> <button' in other and "problem" not in other
        assert lines_of(cart_id) == [(3, 7), (5, 1)]
        removed = await post(_action="remove", product="3", quantity="7")
        assert removed.status_code == 303
        assert lines_of(cart_id) == [(5, 1)]
        assert count_in_nav((await client.get("/cart")).text) == 1
        await post(_action="remove", product="5", quantity="1")
        assert "Your cart is empty" in (await client.get("/cart")).text

    visit(shopper)


@pytest.mark.parametrize(
    ("headers", "token", "status"),
    [
        ({"Origin": "http://evil.example"}, True, 403),
        ({"Sec-Fetch-Site": "cross-site"}, True, 403),
        ({"Origin": "null"}, True, 403),
        (SAME_ORIGIN, False, 403),
        (SAME_ORIGIN, "forged", 403),
    ],
    ids=["other-origin", "cross-site-fetch", "null-origin", "no-token", "wrong-token"],
)
@pytest.mark.parametrize("path", ["/product/3", "/cart"])
def test_cross_site_and_tokenless_posts_change_no_cart(fresh_db, headers, token, status, path):
    async def shopper(client: httpx.AsyncClient) -> None:
        await add(client, 3, "2")
        (cart_id,) = carts()
        real_token = token_of((await client.get(path)).text)
        fields = {"_action": "add_to_cart" if path != "/cart" else "remove", "quantity": "5"}
        fields |= {"product": "3"}
        if token:
            fields["_token"] = real_token if token is True else token
        refused = await client.post(path, data=fields, headers=headers)
        assert refused.status_code == status
        assert lines_of(cart_id) == [(3, 2)]

    visit(shopper)


def test_the_cart_survives_signing_in(fresh_db) -> None:
    async def shopper(client: httpx.AsyncClient) -> None:
        await add(client, 3, "2")
        data = {"name": "ann", "password": "ann-password", "next": "/cart"}
        signed_in = await client.post("/signin", data=data, headers=SAME_ORIGIN)
        assert signed_in.headers["location"] == "/cart"
        cart_page = await client.get("/cart")
        assert "Ann Example" in nav(cart_page.text) and count_in_nav(cart_page.text) == 2

    visit(shopper)


def test_submitted_by_the_runtime_only_what_changed_comes_back(fresh_db) -> None:
    async def shopper(client: httpx.AsyncClient) -> None:
        await add(client, 3, "2")
        fields = {"_token": client.cookies["engine_form_token"], "_action": "add_to_cart"}
        headers = SAME_ORIGIN | {"X-Engine-Request": "action"}
        answer = await client.post("/product/3", data=fields | {"quantity": "3"}, headers=headers)
        assert answer.status_code == 200
        count = '<script type="application/json" data-query="cart_count">{"items":5}</script>'
        assert answer.text.startswith(count), "the count's new data, first"
        assert answer.text.endswith("<script>$E()</script>")
        for untouched in ("<nav>", "<h1", 'for="related"', 'for="reviews"', 'data-query="product"'):
            assert untouched not in answer.text
        refused = await client.post("/product/3", data=fields | {"quantity": "0"}, headers=headers)
        assert refused.status_code == 422 and "cart_count" not in refused.text
        assert refused.text.startswith('<template for="buy">') and "&gt;= 1" in refused.text

    visit(shopper)
