"""The examples, run for real: SQLite databases in tmp_path, a real clock, real threads.

Timing is real here, so these tests assert content, status, order and the contract
(with a little slack for the shell), never durations.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import trio

import engine
from engine.contract.trace import Timeline
from engine.testing import assert_contract
from examples.dashboard import data as dashboard_data
from examples.shop import data as shop_data

ROOT = Path(__file__).resolve().parents[1]
SHOP = str(ROOT / "examples" / "shop" / "page.toml")
DASHBOARD = str(ROOT / "examples" / "dashboard" / "page.toml")


@pytest.fixture
def shop_db(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(shop_data, "DB_PATH", tmp_path / "shop.db")
    return shop_data.DB_PATH


@pytest.fixture
def shop() -> engine.Graph:
    return engine.Graph.build(engine.load(SHOP), source=SHOP)


async def traced(graph: engine.Graph, mode: str, **params: str) -> Timeline:
    timeline = Timeline(graph, mode, trio.current_time())

    async def discard(data: bytes) -> None:
        pass

    await engine.render(graph, discard, params=params, mode=mode, tracer=timeline)
    return timeline


def test_shop_page_builds_without_warnings(shop) -> None:
    assert shop.warnings == ()
    assert shop.name == "shop"
    assert [shop.queries[q].name for q in shop.shell_queries] == ["product"]
    assert [q.name for q in shop.queries if q.expose] == ["product"]
    by_target = {f.target: f for f in shop.fragments}
    assert by_target["rating"].parent == by_target["reviews"].index  # the nested fragment
    assert (by_target["grid"].priority, by_target["recommendations"].priority) == (1, -1)


async def test_shop_buffered_render_of_a_product(shop_db, shop) -> None:
    assert not shop_db.exists()
    html = (
        await engine.render_to_bytes(shop, params={"product_id": "1"}, mode="buffered")
    ).decode()
    assert shop_db.exists()  # created on first run
    with sqlite3.connect(shop_db) as db:
        name, price = db.execute("SELECT name, price FROM product WHERE id = 1").fetchone()
        reviews = db.execute("SELECT author, rating FROM review WHERE product_id = 1").fetchall()
    assert f"<title>{name} · Acme</title>" in html
    assert f'<h1 id="product-name">{name}</h1>' in html
    assert f'<p class="price">${price}</p>' in html
    # Every slot filled in place, nothing left of the skeletons or the runtime.
    assert "skeleton card" not in html and "skeleton review" not in html
    assert "<template" not in html and "$E" not in html
    grid = re.search(r'<\?start name="grid">(.*?)<\?end>', html, re.DOTALL)[1]
    assert grid.count('<li class="card">') == 8 and 'href="/product/1"' not in grid
    recs = re.search(r'<\?start name="recommendations">(.*?)<\?end>', html, re.DOTALL)[1]
    assert recs.count('<li class="card">') == 4
    review_html = re.search(r'<\?start name="reviews">(.*)<\?end>', html, re.DOTALL)[1]
    assert review_html.count('<li class="review">') == len(reviews) >= 2
    for author, _ in reviews:
        assert f"<b>{author}</b>" in review_html
    average = round(sum(r for _, r in reviews) / len(reviews), 1)
    rating = (
        f'<?start name="rating"><p class="rating">{average} / 5 from {len(reviews)} reviews</p>'
    )
    assert rating in review_html  # the nested fragment, inside its parent
    assert "<perfectly>" not in html  # review text is escaped
    assert f'<script type="application/json" data-query="product">{{"id":1,"name":"{name}"' in html
    assert html.index("</main>") < html.index('data-query="product"') < html.index("</body>")


async def test_shop_unknown_product_is_not_found_before_any_byte(shop_db, shop) -> None:
    writes: list[bytes] = []

    async def sink(data: bytes) -> None:
        writes.append(data)

    with pytest.raises(engine.NotFound, match="page 'shop': no product 999") as caught:
        await engine.render(shop, sink, params={"product_id": "999"})
    assert caught.value.status_code == 404
    assert writes == []


async def test_shop_streams_in_contract_order_on_a_real_clock(shop_db, shop) -> None:
    timeline = await traced(shop, "out-of-order", product_id="3")
    assert_contract(timeline, slack=0.05)
    assert timeline.order() == ["grid", "reviews", "rating", "recommendations"]
    assert timeline.writes[0].chunks == (("shell", ""), ("query", "product"))
    assert timeline.writes[-1].chunks[-1] == ("close", "")
    assert {s.name: s.outcome for s in timeline.queries.values()} == dict.fromkeys(
        ("product", "grid", "reviews", "rating", "recommendations"), "done"
    )
    # rating starts only when reviews resolves, and is placed after its parent.
    spans = timeline.queries
    assert spans["rating"].start >= spans["reviews"].end
    assert timeline.time_of("rating") >= timeline.time_of("reviews")
    html = timeline.html
    assert html.index('<template for="reviews">') < html.index('<template for="rating">')
    assert html.endswith("</body>\n</html>\n")


@pytest.fixture
def dashboard_db(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(dashboard_data, "DB_PATH", tmp_path / "dashboard.db")
    monkeypatch.setattr(dashboard_data, "ROWS", 2_000)
    return dashboard_data.DB_PATH


def test_dashboard_page_builds_without_warnings() -> None:
    graph = engine.Graph.build(engine.load(DASHBOARD), source=DASHBOARD)
    assert [str(w) for w in graph.warnings] == []


async def test_dashboard_in_order_keeps_the_contract_with_no_script(dashboard_db) -> None:
    graph = engine.Graph.build(engine.load(DASHBOARD), source=DASHBOARD)
    timeline = await traced(graph, "in-order")
    assert_contract(timeline, slack=0.05)
    html = timeline.html
    assert "<script" not in html and "<template" not in html
    assert timeline.order() == ["totals", "latest", "trend", "breakdown"]  # document order
    assert "<b>2,000</b>" in html  # every generated sale is counted
    tbody = re.search(r"<tbody>(.*?)</tbody>", html, re.DOTALL)[1]
    assert tbody.startswith('<?start name="breakdown"><tr><td>') and tbody.endswith("<?end>")
    assert tbody.count("<tr>") == 15
    trend = re.search(r'<\?start name="trend">(.*?)<\?end>', html, re.DOTALL)[1]
    assert trend.startswith('<svg class="bars"') and trend.count("<rect ") == len(
        dashboard_data.trend()
    )
