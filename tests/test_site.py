"""examples/site, the pages in process: every page in every mode on a fresh SQLite database.

Rendered with ``engine.testing.render_timeline`` under trio's MockClock: its queries run for real
(SQLite inline, no worker thread escapes the clock), and the product page's slow services sleep on
trio, so their times are exact.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path

import pytest
import trio
import trio.testing

import engine
from engine.asgi._guest import run_as_asyncio_guest
from engine.testing import assert_contract, render_timeline
from examples.site import accounts, catalog, db

PAGES = Path(__file__).resolve().parents[1] / "examples" / "site" / "pages"
MODES = ["out-of-order", "in-order", "buffered"]


def page(name: str) -> engine.Graph:
    source = str(PAGES / f"{name}.toml")
    return engine.Graph.build(engine.load(source), source=source)


def slot(html: str, name: str) -> str:
    """What the slot finally holds: its last ``<?start>`` (streamed, the fallback comes first)."""
    return re.findall(rf'<\?start name="{name}">(.*?)<\?end>', html, re.DOTALL)[-1]


@pytest.fixture
def fresh_db(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(db, "DB_PATH", tmp_path / "data" / "acme.db")
    return db.DB_PATH


@pytest.mark.parametrize("name", ["home", "product", "signin", "account", "cart"])
def test_every_page_builds_without_warnings(name: str) -> None:
    assert page(name).warnings == ()


@pytest.mark.parametrize(
    ("name", "params", "title"),
    [
        ("home", {}, "Acme Widgets"),
        ("product", {"product_id": "1"}, "Acme Gadget Pro · Acme"),
        ("signin", {}, "Sign in · Acme"),
        ("cart", {}, "Your cart · Acme"),
    ],
)
async def test_every_page_fills_the_shared_layout(name, params, title) -> None:
    html = (await engine.render_to_bytes(page(name), params=params, mode="buffered")).decode()
    head, body = html.split("</head>")
    assert head.count('<link rel="stylesheet" href="/static/site.css">') == 1
    # The page's head goes after the layout's, in the range that streamed navigation replaces.
    page_head = rf'<\?start name="engine-head-[0-9a-f]+"><title>{re.escape(title)}</title><\?end>'
    assert re.search(page_head + "$", head)
    assert body.count("<nav>") == body.count("<footer>") == body.count("<main>") == 1
    assert body.index("</nav>") < body.index("<h1") < body.index("</main>")


def nav(html: str) -> str:
    return re.search(r"<nav>.*?</nav>", html, re.DOTALL)[0]


@pytest.mark.parametrize(
    ("session", "signed_in"),
    [
        ({"user": "ann"}, True),
        ({}, False),
        ({"user": "nobody"}, False),  # an account that no longer exists
        (None, False),  # no session middleware at all (engine render)
    ],
)
async def test_the_nav_bar_shows_who_is_signed_in(fresh_db, session, signed_in) -> None:
    request = engine.Request.build(session=session)
    timeline = await render_timeline(page("home"), request=request, mode="buffered")
    bar = nav(timeline.html)
    assert ('<span class="visitor">Ann Example</span>' in bar) is signed_in
    assert ('<form method="post" action="/signout">' in bar) is signed_in
    assert ('<a href="/signin">Sign in</a>' in bar) is not signed_in


def test_the_account_page_sends_visitors_to_sign_in_before_any_byte(fresh_db) -> None:
    writes: list[bytes] = []

    async def sink(data: bytes) -> None:
        writes.append(data)

    request = engine.Request.build(path="/account", session={})
    with pytest.raises(engine.Redirect) as caught:  # its orders query needs an asyncio host
        run_as_asyncio_guest(lambda: engine.render(page("account"), sink, request=request))
    assert caught.value.status_code == 303
    assert caught.value.location == "/signin?next=%2Faccount"
    assert writes == []


@pytest.mark.parametrize("mode", MODES)
def test_the_account_page_lists_the_users_orders_in_every_mode(fresh_db, mode) -> None:
    request = engine.Request.build(path="/account", session={"user": "ann"})
    parts: list[bytes] = []

    async def sink(data: bytes) -> None:
        parts.append(data)

    run_as_asyncio_guest(lambda: engine.render(page("account"), sink, request=request, mode=mode))
    html = b"".join(parts).decode()
    with sqlite3.connect(fresh_db) as conn:
        orders = conn.execute(
            "SELECT placed, name, quantity FROM purchase JOIN product ON product.id = product_id"
            " WHERE user_name = 'ann' ORDER BY placed DESC, purchase.id DESC"
        ).fetchall()
    table = slot(html, "orders")
    rows = re.findall(r"<tr><td>(.*?)</td><td><a [^>]*>(.*?)</a></td><td>(\d+)</td>", table)
    assert rows == [(placed, name, str(quantity)) for placed, name, quantity in orders]
    assert "<h1>Your orders, Ann Example</h1>" in html


def test_the_database_is_created_on_first_use_once(fresh_db) -> None:
    assert not fresh_db.parent.exists()
    opened: list[str] = []
    threads = [
        threading.Thread(target=lambda: opened.append(accounts.session_secret())) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(opened)) == 1, "one database, one session secret, however many openers"
    assert [p.name for p in fresh_db.parent.iterdir()] == ["acme.db"], "no temporary file left"
    with sqlite3.connect(fresh_db) as conn:
        assert conn.execute("SELECT count(*) FROM product").fetchone() == (48,)
        assert conn.execute("PRAGMA user_version").fetchone() == (db.SCHEMA_VERSION,)
    assert accounts.session_secret() == opened[0], "opened again, not rebuilt"


def test_a_database_from_an_older_version_is_rebuilt(fresh_db) -> None:
    fresh_db.parent.mkdir()
    with sqlite3.connect(fresh_db) as conn:
        conn.execute("CREATE TABLE product (id INTEGER)")
    assert len(catalog.products()) == 48


def test_an_unwritable_location_says_how_to_fix_it(tmp_path, monkeypatch) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setattr(db, "DB_PATH", tmp_path / "file" / "acme.db")
    with pytest.raises(RuntimeError, match="set SITE_DB to a writable file path"):
        catalog.products()


def test_passwords_are_checked_against_their_scrypt_hash(fresh_db) -> None:
    assert accounts.authenticate("ann", "ann-password") == accounts.User("ann", "Ann Example")
    assert accounts.authenticate("ann", "bob-password") is None
    assert accounts.authenticate("nobody", "ann-password") is None
    with sqlite3.connect(fresh_db) as conn:
        stored = conn.execute("SELECT password_hash FROM user WHERE name = 'ann'").fetchone()[0]
    assert b"ann-password" not in stored and len(stored) == 64


@pytest.mark.parametrize("mode", MODES)
async def test_home_lists_the_catalogue_and_the_best_rated(fresh_db, autojump_clock, mode) -> None:
    timeline = await render_timeline(page("home"), mode=mode)
    assert_contract(timeline)
    html = timeline.html
    catalogue = slot(html, "catalogue")
    assert catalogue.count('<li class="card">') == 48
    assert [int(i) for i in re.findall(r'href="/product/(\d+)"', catalogue)] == list(range(1, 49))
    top = slot(html, "top")
    with sqlite3.connect(fresh_db) as conn:
        best = conn.execute(
            "SELECT product_id FROM review GROUP BY product_id"
            " ORDER BY avg(rating) DESC, product_id LIMIT 4"
        ).fetchall()
    assert [int(i) for i in re.findall(r'href="/product/(\d+)"', top)] == [i for (i,) in best]
    if mode != "out-of-order":
        assert "skeleton" not in html, "no fallback is ever shown"


async def test_the_catalogue_is_cached_then_refreshed_in_the_background(
    fresh_db, autojump_clock, monkeypatch
) -> None:
    queries: list[str] = []
    real_fetch = catalog.fetch

    def counting_fetch(sql: str, *args: object) -> list[tuple[object, ...]]:
        queries.append(sql)
        return real_fetch(sql, *args)

    monkeypatch.setattr(catalog, "fetch", counting_fetch)
    catalogue_sql = f"{catalog._PRODUCT} ORDER BY id"
    for _ in range(3):
        timeline = await render_timeline(page("home"), mode="in-order")
        assert slot(timeline.html, "catalogue").count('<li class="card">') == 48
    assert queries.count(catalogue_sql) == 1, "one database query for three visitors"
    with sqlite3.connect(fresh_db) as conn:
        conn.execute("UPDATE product SET name = 'Renamed widget' WHERE id = 1")
    await trio.sleep(31)  # stale: the old list at once, a refresh behind it
    assert "Renamed widget" not in (await render_timeline(page("home"))).html
    await trio.testing.wait_all_tasks_blocked()
    assert queries.count(catalogue_sql) == 2
    assert "Renamed widget" in (await render_timeline(page("home"))).html


@pytest.mark.parametrize("mode", MODES)
async def test_product_page_streams_on_time_in_every_mode(fresh_db, autojump_clock, mode) -> None:
    timeline = await render_timeline(page("product"), params={"product_id": "3"}, mode=mode)
    assert_contract(timeline)
    spans = timeline.queries
    assert spans["reviews"].end == catalog.REVIEWS_LATENCY
    assert spans["rating"].start == spans["reviews"].end
    assert spans["recommendations"].end == catalog.RECOMMENDATIONS_LATENCY
    if mode == "out-of-order":
        assert timeline.order() == ["buy", "related", "reviews", "rating", "recommendations"]
        assert timeline.time_of("buy") == timeline.time_of("related") == 0
        assert timeline.time_of("reviews") == timeline.time_of("rating") == 0.4
        assert timeline.time_of("recommendations") == 0.9
    html = timeline.html
    with sqlite3.connect(fresh_db) as conn:
        name, price = conn.execute("SELECT name, price FROM product WHERE id = 3").fetchone()
        reviews = conn.execute("SELECT author, rating FROM review WHERE product_id = 3").fetchall()
    assert f"<title>{name} · Acme</title>" in html
    assert f'<p class="price">${price}</p>' in html
    assert html.count('<li class="review">') == len(reviews) >= 2
    average = round(sum(r for _, r in reviews) / len(reviews), 1)
    assert f'<p class="rating">{average} / 5 from {len(reviews)} reviews</p>' in html
    assert "<perfectly>" not in html, "review text is escaped"
    assert html.endswith("</body>\n</html>\n")
    # Only the product and the cart's count are sent as data (exposed), after the content.
    assert html.count('<script type="application/json"') == 2
    island = f'<script type="application/json" data-query="product">{{"id":3,"name":"{name}"'
    assert html.index("</main>") < html.index(island) < html.index("</body>")
    count = '<script type="application/json" data-query="cart_count">{"items":0}</script>'
    assert html.index("</main>") < html.index(count) < html.index("</body>")
    if mode == "out-of-order":
        assert timeline.writes[0].chunks == (
            ("shell", ""),
            ("fragment", "buy"),  # the form is ready at once: it goes out in place
            ("query", "cart_count"),
            ("query", "product"),
        )
        # The rating is ready before the reviewers' profiles: it rides inside the reviews.
        reviews_template = html[html.index('<template for="reviews">') :]
        assert '<p class="rating">' in reviews_template
        assert '<template for="rating">' not in html


async def test_the_reviewers_are_read_in_one_batched_call(fresh_db, autojump_clock, monkeypatch):
    reads: list[str] = []
    real = catalog.fetch

    def recording(sql: str, *args: object) -> list[tuple[object, ...]]:
        reads.append(sql)
        return real(sql, *args)

    monkeypatch.setattr(catalog, "fetch", recording)
    timeline = await render_timeline(page("product"), params={"product_id": "7"})
    with sqlite3.connect(fresh_db) as conn:
        reviews = conn.execute(
            "SELECT display_name, since FROM review JOIN customer ON name = author"
            " WHERE product_id = 7"
        ).fetchall()
    customer_reads = [sql for sql in reads if "FROM customer" in sql]
    assert len(customer_reads) == 1
    assert customer_reads[0].count("?") == len({r for r in reviews})
    reviews_html = timeline.html[timeline.html.index('<template for="reviews">') :]
    for display_name, since in reviews:
        assert f"<b>{display_name}</b> <small>customer since {since}</small>" in reviews_html
    assert timeline.queries["reviewers"].end == catalog.REVIEWS_LATENCY


async def test_an_unknown_product_is_a_404_before_any_byte(fresh_db) -> None:
    writes: list[bytes] = []

    async def sink(data: bytes) -> None:
        writes.append(data)

    with pytest.raises(engine.NotFound, match="page 'product': no product 999") as caught:
        await engine.render(page("product"), sink, params={"product_id": "999"})
    assert caught.value.status_code == 404
    assert writes == []


@pytest.mark.parametrize(
    ("params", "next_value", "problem"),
    [
        ({}, "/", ""),
        ({"next": "/product/3", "failed": "1"}, "/product/3", "Wrong name or password."),
        ({"next": "//evil.example/"}, "/", ""),
        ({"next": "https://evil.example/"}, "/", ""),
        ({"next": '/"><script>'}, "/&#34;&gt;&lt;script&gt;", ""),
    ],
)
async def test_sign_in_form_keeps_only_local_next_paths(fresh_db, params, next_value, problem):
    html = (await engine.render_to_bytes(page("signin"), params=params)).decode()
    assert f'<input type="hidden" name="next" value="{next_value}">' in html
    assert f'<p class="problem" role="alert">{problem}</p>' in html
