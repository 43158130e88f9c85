"""engine.testing: what a user writes in their own suite to pin a page's timeline."""

from __future__ import annotations

import re
import threading

import attrs
import pytest
import trio

import engine
from engine import Fragment, Graph, Page, Query, Shell
from engine.testing import assert_contract, check_contract, render_timeline

SHELL = (
    '<!doctype html><html><head><meta charset="utf-8"></head><body>'
    '<?marker name="product"><?marker name="reviews"><?marker name="recs">'
    '<ul><?marker name="feed"></ul></body></html>'
)

calls: list[tuple[str, bool, float]] = []
"""(query, ran on the main thread, virtual time) for every real callable that ran."""


def _record(name: str) -> None:
    calls.append((name, threading.current_thread() is threading.main_thread(), trio.current_time()))


def product(product_id: int) -> str:
    """Sync: the engine would run it in a worker thread; render_timeline calls it inline."""
    _record("product")
    return f"product {product_id}"


async def reviews(product: str) -> list[str]:
    _record("reviews")
    return [f"good {product}"]


def recs(product: str) -> int:
    _record("recs")
    return 3


async def feed():
    _record("feed")
    yield ["real"]


PAGE = Page(
    name="shop",
    shell=Shell(html=SHELL),
    queries=(
        Query(name="product", call=product, result=str, params=("product_id",), expose=True),
        Query(name="reviews", call=reviews, result=list[str], depends_on=("product",)),
        Query(name="recs", call=recs, result=int, depends_on=("product",)),
        Query(name="feed", call=feed, result=list[str]),
    ),
    fragments=(
        Fragment(target="product", uses=("product",), template="<h1>{{ product }}</h1>"),
        Fragment(target="reviews", uses=("reviews",), template="{{ reviews }}", fallback="…"),
        Fragment(
            target="recs", uses=("recs",), template="{{ recs }} recs", fallback="…", priority="low"
        ),
        Fragment(
            target="feed",
            uses=("feed",),
            mode="append",
            render=lambda feed: "".join(f"<li>{item}</li>" for item in feed),
            fallback="<li>…</li>",
        ),
    ),
)
PARAMS = {"product_id": "7"}


@pytest.fixture(autouse=True)
def _reset_calls():
    calls.clear()


async def test_latencies_set_when_each_fragment_arrives(autojump_clock) -> None:
    timeline = await render_timeline(
        PAGE,
        latencies={"product": 0.05, "reviews": 0.1, "recs": 0.3, "feed": 0.02},
        params=PARAMS,
    )
    assert_contract(timeline)
    # Dependencies add up: reviews starts when product resolves.
    assert timeline.time_of("product") == pytest.approx(0.05)
    assert timeline.time_of("reviews") == pytest.approx(0.15)
    assert timeline.time_of("recs") == pytest.approx(0.35)
    assert timeline.time_of("product", kind="query") == pytest.approx(0.05)
    assert timeline.time_of("feed", kind="end") == pytest.approx(0.02)
    assert timeline.order() == ["feed", "product", "reviews", "recs"]
    assert timeline.order("query") == ["product"]
    assert timeline.writes[-1].time == pytest.approx(0.35)
    assert timeline.queries["reviews"].start == pytest.approx(0.05)


async def test_no_latencies_means_everything_at_time_zero(autojump_clock) -> None:
    timeline = await render_timeline(PAGE, params=PARAMS)
    assert {w.time for w in timeline.writes} == {0}
    assert_contract(timeline)


async def test_real_callables_run_inline_even_sync_ones(autojump_clock) -> None:
    timeline = await render_timeline(PAGE, latencies={"product": 0.25}, params=PARAMS)
    # Every callable ran once, on the trio thread, at its virtual time: no worker thread
    # escaped the mock clock.
    assert sorted(calls) == [
        ("feed", True, 0.0),
        ("product", True, 0.25),
        ("recs", True, 0.25),
        ("reviews", True, 0.25),
    ]
    assert "<h1>product 7</h1>" in timeline.html
    assert "3 recs" in timeline.html
    assert "<li>real</li>" in timeline.html


async def test_results_replace_the_callable(autojump_clock) -> None:
    timeline = await render_timeline(
        PAGE,
        results={"product": "fake & co", "reviews": ["r1", "r2"], "feed": [["a"], ["b", "c"]]},
        latencies={"feed": 0.1},
        params=PARAMS,
    )
    assert sorted(name for name, _, _ in calls) == ["recs"]  # only recs ran for real
    assert "<h1>fake &amp; co</h1>" in timeline.html
    assert "[&#39;r1&#39;, &#39;r2&#39;]" in timeline.html
    assert_contract(timeline)


async def test_batched_results_are_lists_of_batches_each_after_the_latency(
    autojump_clock,
) -> None:
    timeline = await render_timeline(
        PAGE, results={"feed": [["a"], ["b", "c"], ["d"]]}, latencies={"feed": 0.1}, params=PARAMS
    )
    feed = [(e.kind, e.time) for e in timeline.events if e.name == "feed"]
    assert [kind for kind, _ in feed] == ["fragment", "batch", "batch", "end"]
    assert [t for _, t in feed] == pytest.approx([0.1, 0.2, 0.3, 0.3])
    html = timeline.html
    assert html.index("<li>a</li>") < html.index("<li>b</li><li>c</li>") < html.index("<li>d</li>")
    assert sorted(calls) == [(name, True, 0.0) for name in ("product", "recs", "reviews")]
    assert_contract(timeline)


async def test_failures_fail_the_query_and_what_depends_on_it(autojump_clock, caplog) -> None:
    hooked: list[tuple[str, str]] = []
    timeline = await render_timeline(
        PAGE,
        failures={"product": RuntimeError("db down")},
        latencies={"product": 0.2},
        params=PARAMS,
        on_error=lambda page, node, exc: hooked.append((page, node)),
    )
    spans = timeline.queries
    assert spans["product"].outcome == "failed" and spans["product"].end == pytest.approx(0.2)
    assert "db down" in str(spans["product"].error)
    assert isinstance(spans["reviews"].error, engine.DependencyFailed)
    assert spans["feed"].outcome == "done"
    failed = {e.name for e in timeline.events if e.kind == "failed"}
    assert failed == {"product", "reviews", "recs"}
    assert timeline.time_of("reviews") == pytest.approx(0.2)  # a failure counts as its arrival
    assert ("shop", "product") in hooked
    assert [c for c, _, _ in calls] == ["feed"]  # the failing query never ran for real
    assert_contract(timeline)


async def test_failures_of_a_batched_query(autojump_clock) -> None:
    timeline = await render_timeline(
        PAGE, failures={"feed": ValueError("stream broke")}, latencies={"feed": 0.1}, params=PARAMS
    )
    assert [(e.kind, e.time) for e in timeline.events if e.name == "feed"] == [("failed", 0.1)]
    assert timeline.queries["feed"].outcome == "failed"
    assert_contract(timeline)


@pytest.mark.parametrize("option", ["latencies", "results", "failures"])
async def test_unknown_query_names_raise_key_error(autojump_clock, option) -> None:
    with pytest.raises(KeyError, match="page 'shop' has no query 'reveiws'"):
        await render_timeline(PAGE, params=PARAMS, **{option: {"reveiws": 1}})
    assert calls == []  # nothing rendered


async def test_time_of_and_order_of_what_never_went_out(autojump_clock) -> None:
    timeline = await render_timeline(PAGE, params=PARAMS)
    with pytest.raises(LookupError, match="no fragment event for 'nope'"):
        timeline.time_of("nope")
    with pytest.raises(LookupError, match="no query event for 'reviews'"):
        timeline.time_of("reviews", kind="query")  # not exposed: its data never goes out
    assert timeline.order("end") == ["feed"]
    assert timeline.order("close") == [""]


@pytest.mark.parametrize("mode", ["out-of-order", "in-order", "buffered"])
async def test_mode_graph_and_nonce_are_passed_through(autojump_clock, mode) -> None:
    graph = Graph.build(PAGE)
    timeline = await render_timeline(
        graph, mode=mode, nonce="n0nce-123", latencies={"recs": 0.5}, params=PARAMS
    )
    assert timeline.mode == mode
    assert timeline.graph.page is PAGE
    assert_contract(timeline)
    executable = [t for t in re.findall(r"<script[^>]*>", timeline.html) if "json" not in t]
    assert executable and set(executable) == {'<script nonce="n0nce-123">'}
    if mode == "buffered":
        assert [w.time for w in timeline.writes] == pytest.approx([0.5])
    else:
        assert timeline.writes[0].time == 0 and timeline.time_of("recs") == pytest.approx(0.5)


async def test_params_are_converted_as_in_a_real_render(autojump_clock) -> None:
    with pytest.raises(engine.ParameterError, match="'product_id'='x' is not a valid int"):
        await render_timeline(PAGE, params={"product_id": "x"})


async def test_the_assertion_message_is_readable(autojump_clock) -> None:
    timeline = await render_timeline(PAGE, latencies={"recs": 0.3}, params=PARAMS)
    assert check_contract(timeline) == []
    # Forge a render that held back reviews until recs, and sent the close early.
    writes = [
        attrs.evolve(
            w,
            chunks=tuple(
                c for c in w.chunks if c != ("fragment", "reviews") and c != ("close", "")
            ),
        )
        for w in timeline.writes
    ]
    writes[-1] = attrs.evolve(
        writes[-1], chunks=(("fragment", "reviews"), *writes[-1].chunks, ("close", ""))
    )
    writes[0] = attrs.evolve(writes[0], chunks=(*writes[0].chunks, ("close", "")))
    broken = attrs.evolve(timeline, writes=writes)
    with pytest.raises(AssertionError) as caught:
        assert_contract(broken)
    lines = str(caught.value).splitlines()
    assert lines[0] == "page 'shop' (out-of-order) broke the ordering contract:"
    assert lines[1].startswith("  - rule 3 (work-conserving: nothing ready is held back): ")
    assert "'reviews' could go in write #" in lines[1] and "(t=0.3)" in lines[1]
    assert lines[2] == (
        "  - rule 7 (shell first, closing HTML last): the closing HTML is not the last thing"
        " sent, exactly once"
    )
    assert lines[3] == "timeline:"
    assert lines[4:] == broken.format().splitlines()
    assert any(line.startswith("query  recs ") for line in lines[4:])
