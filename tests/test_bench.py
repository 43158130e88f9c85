"""The benchmark suite's own logic (bench/): the byte check that every peer renders the same
page, the client's de-chunking, and the pages the engine and its Python peers serve in S4-S6.

The suite itself (servers, wrk, timings) is not run here; ``python -m bench --quick`` is.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

import httpx
import msgspec
import pytest
import trio

import engine
from bench import client, page, verify
from bench.peers import engine_app, engine_s6, s4_jinja

S4_EXPECTED = page.expected_sections(page.S4_PATH)


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


# ---------------------------------------------------------------------------------------
# The byte check
# ---------------------------------------------------------------------------------------
def test_sections_are_found_in_any_envelope() -> None:
    a = '<section data-section="0"><h2>A &amp; B</h2></section>'
    b = '<section data-section="1"><ul><li>x</li></ul></section>'
    envelopes = [
        a + b,  # document order
        f'<template id="t1">{b}</template><script>$swap(1)</script>'
        f'<template id="t0">{a}</template>',  # out of order, hand-written or the engine
        f'<div hidden id="S:0">{a}</div><!--$-->{b}<!--/$-->',  # React's boundaries
    ]
    for body in envelopes:
        assert verify.section_mismatch(body.encode(), [a, b]) is None, body


def test_a_different_escaping_is_reported_with_its_offset() -> None:
    want = '<section data-section="0"><td>Part &amp; Co &lt;Mk 1</td></section>'
    got = want.replace("&amp;", "&#38;")
    why = verify.section_mismatch(got.encode(), [want])
    assert why is not None
    assert why.startswith(f"section 0 differs at byte {want.index('&amp;') + 1} ")
    assert "&#38;" in why and "&amp;" in why


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ('<section data-section="0">x</section>', "section 1 appears 0 times, expected once"),
        (
            '<section data-section="0">x</section>' * 2 + '<section data-section="1">y</section>',
            "section 0 appears 2 times, expected once",
        ),
        (
            '<section data-section="0">x</section><section data-section="1">y</section>'
            '<section data-section="7">z</section>',
            "unexpected section(s) [7]",
        ),
        (
            '<section data-section="0">x</section><section data-section="1">yy</section>',
            "section 1 differs at byte 27 of 37",
        ),
    ],
)
def test_missing_repeated_extra_and_longer_sections_are_reported(body: str, why: str) -> None:
    expected = ['<section data-section="0">x</section>', '<section data-section="1">y</section>']
    result = verify.section_mismatch(body.encode(), expected)
    assert result is not None and result.startswith(why)


def test_first_difference() -> None:
    assert verify.first_difference(b"abc", b"abd") == 2
    assert verify.first_difference(b"ab", b"abc") == 2
    assert verify.first_difference(b"abc", b"abc") == 3


def test_the_client_keeps_the_dechunked_body_across_reads() -> None:
    body = [b'<p>one</p><section data-section="0">', b"x</section>", b"<p>tail</p>"]
    wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(*body)
    parser = client.ResponseParser([page.marker(0)], 0.0, keep_body=True)
    for k in range(0, len(wire), 7):  # split anywhere: inside sizes, data and CRLFs
        parser.feed(wire[k : k + 7], 1.0)
    assert parser.done and parser.result()["error"] is None
    assert bytes(parser.body) == b"".join(body)
    assert client.ResponseParser([], 0.0).body == bytearray()  # kept only when asked


# ---------------------------------------------------------------------------------------
# S4: the same page from every Python peer and from the engine
# ---------------------------------------------------------------------------------------
def test_the_large_page_is_what_the_scenario_describes() -> None:
    rows = page.table_rows()
    assert len(rows) == page.S4["rows"] == 1000
    assert all(len(r["id"]) == 36 for r in rows)
    assert all(r["name"].count("&") == 1 and r["name"].count("<") == 1 for r in rows)
    assert 100_000 <= len(page.s4_page().encode()) <= 130_000
    assert len(S4_EXPECTED) == 1 + page.S4["small_sections"]
    assert S4_EXPECTED[0].count("<tr>") == 1001  # the head row and 1,000 rows
    assert "&amp;" in S4_EXPECTED[0] and "&lt;Mk" in S4_EXPECTED[0]


async def asgi_get(app: Any, path: str) -> bytes:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        response = await http.get(path)
    assert response.status_code == 200
    return response.content


@pytest.mark.parametrize("name", ["page_app", "stream_app"])
async def test_the_jinja_peers_render_the_expected_sections(name: str) -> None:
    body = await asgi_get(getattr(s4_jinja, name), page.S4_PATH)
    assert verify.section_mismatch(body, S4_EXPECTED) is None


@pytest.mark.skipif(importlib.util.find_spec("htpy") is None, reason="htpy (the bench extra)")
async def test_the_htpy_peer_renders_the_expected_sections() -> None:
    from bench.peers import s4_htpy

    body = await asgi_get(s4_htpy.app, page.S4_PATH)
    assert verify.section_mismatch(body, S4_EXPECTED) is None


@pytest.mark.parametrize("kind", ["jinja", "html"])
async def test_the_engine_renders_the_large_page_with_either_fragment_kind(kind: str) -> None:
    body = await engine.render_to_bytes(engine_app.build_large_page(kind))
    assert verify.section_mismatch(body, S4_EXPECTED) is None


# ---------------------------------------------------------------------------------------
# S6: the shared source
# ---------------------------------------------------------------------------------------
async def timed_render(pg: Any) -> tuple[dict[int, float], bytes]:
    """Render ``pg``; the (mock) time each section's content arrived."""
    seen: dict[int, float] = {}
    buf = bytearray()
    n = engine_s6.N

    async def sink(data: bytes) -> None:
        buf.extend(data)
        for i in range(n):
            if i not in seen and page.marker(i) in buf:
                seen[i] = trio.current_time()

    await engine.render(pg, sink, sources=engine_s6.pages.options.sources)
    return seen, bytes(buf)


@pytest.mark.parametrize("path", list(engine_s6.VARIANTS))
async def test_every_s6_variant_renders_the_page_within_the_source_limit(
    path: str, autojump_clock: Any
) -> None:
    engine_s6.source.take_counts()
    _, pg = engine_s6.VARIANTS[path]
    t0 = trio.current_time()
    seen, body = await timed_render(pg)
    assert verify.section_mismatch(body, page.expected_sections(path)) is None
    counts = engine_s6.source.take_counts()
    assert counts["keys"] == engine_s6.N
    assert 1 <= counts["max_in_flight"] <= engine_s6.LIMIT
    # The source's cost model: no page can finish before one call for every key, at the limit.
    cfg = page.S6
    waves = -(-counts["calls"] // engine_s6.LIMIT)
    per_call = (cfg["source_latency_ms"] + cfg["per_key_ms"]) / 1000
    if counts["calls"] == engine_s6.N:  # one key per call
        assert max(seen.values()) - t0 == pytest.approx(waves * per_call)
    assert engine_s6.source.take_counts() == dict.fromkeys(counts, 0)


def test_the_source_counts_calls_keys_and_calls_at_once(autojump_clock: Any) -> None:
    source = engine_s6.Source()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for keys in ([1], [2, 3], [4], [5], [6], [7]):
                nursery.start_soon(source.get_many, keys)

    trio.run(main, clock=autojump_clock)
    assert source.take_counts() == {"calls": 6, "keys": 7, "max_in_flight": engine_s6.LIMIT}


async def test_the_engines_help_shows_in_s6(autojump_clock: Any) -> None:
    """What S6 measures, under the mock clock. trio runs a batch of ready tasks in order or
    reversed, at random, so without admission the high-priority fragment (declared last)
    gets its call in the first or the last wave. With admission it waits at most for the
    first wave (the places taken before anyone waited); batched, all keys go in one call."""
    cfg = page.S6
    wave = (cfg["source_latency_ms"] + cfg["per_key_ms"]) / 1000
    for path, (_, pg) in engine_s6.VARIANTS.items():
        for _ in range(4):  # both orders are likely to come up
            engine_s6.source.take_counts()
            t0 = trio.current_time()
            seen, _ = await timed_render(pg)
            high = seen[engine_s6.HIGH] - t0
            calls = engine_s6.source.take_counts()["calls"]
            if path == f"{page.S6_PATH}/batched":
                batch = (cfg["source_latency_ms"] + cfg["per_key_ms"] * engine_s6.N) / 1000
                assert (calls, high) == (1, pytest.approx(batch))
            elif path == f"{page.S6_PATH}/admission":
                assert calls == engine_s6.N
                assert high in (pytest.approx(wave), pytest.approx(2 * wave))
            else:
                assert calls == engine_s6.N


def test_server_cpu_time_counts_the_process_tree() -> None:
    import os
    import subprocess
    import sys

    from bench.servers import cpu_s

    spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\n"
    child = subprocess.Popen([sys.executable, "-c", spin + "time.sleep(5)"])
    try:
        before = cpu_s(os.getpid())
        deadline = time.monotonic() + 10
        while cpu_s(os.getpid()) - before < 0.25 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cpu_s(os.getpid()) - before >= 0.25  # the child's spinning, seen from the parent
    finally:
        child.kill()
        child.wait()


# ---------------------------------------------------------------------------------------
# S5: the S2 page with every query cached
# ---------------------------------------------------------------------------------------
async def test_the_cached_page_is_the_s2_page_served_from_the_cache() -> None:
    if engine_app.cache_policy() is None:
        pytest.skip("the engine has no query caching")
    cached = engine_app.PAGES[page.S5_PATH]
    assert all(q.cache is not None for q in cached.queries)
    store = engine.MemoryStore()
    calls: list[int] = []
    originals = [q.call for q in cached.queries]

    def counting(i: int, call: Any) -> Any:
        async def fetch() -> Any:
            calls.append(i)
            return await call()

        return fetch

    counted = msgspec.structs.replace(
        cached,
        queries=tuple(
            msgspec.structs.replace(q, call=counting(i, c))
            for i, (q, c) in enumerate(zip(cached.queries, originals, strict=True))
        ),
    )
    for expected_calls in (page.S5_SECTIONS, page.S5_SECTIONS):  # filled, then all hits
        body = await engine.render_to_bytes(counted, cache=store)
        assert verify.section_mismatch(body, page.expected_sections(page.S5_PATH)) is None
        assert len(calls) == expected_calls


# ---------------------------------------------------------------------------------------
# Throughput aggregation
# ---------------------------------------------------------------------------------------
def test_ratios_are_taken_within_runs_and_a_run_that_finished_nothing_gives_none() -> None:
    from bench import throughput
    from bench.servers import PEERS_BY_NAME

    def wrk(rps: float, cpu: float | None = 1.0) -> dict[str, Any]:
        return {"rps": rps, "latency_ms": {"p50": 1.0, "p99": 2.0}, "error_count": 0,
                "body_bytes": 100, "cpu_ms_per_request": cpu}  # fmt: skip

    peers = [PEERS_BY_NAME["engine-hypercorn"], PEERS_BY_NAME["react"]]
    runs = [
        {"engine-hypercorn": {**wrk(300), "also": {"S2": wrk(100)}}, "react": wrk(100)},
        {"engine-hypercorn": {**wrk(100), "also": {"S2": wrk(50)}}, "react": wrk(50)},
        {"engine-hypercorn": {**wrk(0, None), "also": {"S2": wrk(0, None)}}, "react": wrk(0)},
    ]
    out = throughput.aggregate("S5", runs, peers, {}, engine_also="S2")
    # Pair by pair within each run (3x, 2x), not the ratio of medians (100 / 50 = 2x).
    assert out["ratios"]["engine-hypercorn/react"]["median"] == 2.5
    assert out["ratios"]["engine-hypercorn/react"]["n"] == 2  # the empty run has no ratio
    assert out["also"]["engine-hypercorn"]["S5/S2"]["median"] == 2.5
    assert out["peers"]["engine-hypercorn"]["rps"]["median"] == 100
    assert out["peers"]["react"]["cpu_ms_per_request"]["n"] == 3
    assert "react/engine-hypercorn" not in out["ratios"]  # only engine peers are compared


# ---------------------------------------------------------------------------------------
# Issue 11's targets in the report
# ---------------------------------------------------------------------------------------
def _spread(p90: float, median: float) -> dict[str, float]:
    return {"median": median, "p90": p90}


def _s6_variant(p90: float, median: float, calls: int) -> dict[str, Any]:
    return {"high_priority_ms": _spread(p90, median), "calls": {"median": calls}}


def test_s6_is_judged_on_the_wave_the_fragment_can_land_in_not_a_lucky_median() -> None:
    from bench import report_pages

    # Without admission the fragment's call went first in most pages (a median of 25 ms)
    # but last in some (p90 115 ms); with admission it is never in the last wave.
    res = {"S6": {"peers": {"engine-s6-uvicorn": {
        "/s6": _s6_variant(p90=115.0, median=25.0, calls=20),
        "/s6/admission": _s6_variant(p90=26.0, median=25.5, calls=20),
        "/s6/batched": _s6_variant(p90=120.0, median=46.0, calls=1),
    }}}, "peers": []}  # fmt: skip
    met = {row[0]: row[3] for row in report_pages.targets(res)}
    assert met["S6 `/s6/admission`: high-priority fragment sooner than `/s6` (p90)"] is True
    assert met["S6 `/s6/batched`: high-priority fragment sooner than `/s6` (p90)"] is False


def test_s2_and_s3_are_judged_against_the_same_servers_hand_written_page() -> None:
    from bench import report_pages

    def peer(name: str, server: str, family: str) -> dict[str, Any]:
        return {"name": name, "server": server, "family": family}

    peers = [peer("engine-hypercorn", "hypercorn-trio", "engine"),
             peer("engine-uvicorn", "uvicorn", "engine"),
             peer("trio-ooo", "hypercorn-trio", "python"),
             peer("starlette-ooo", "uvicorn", "python"), peer("react", "node", "node"),
             peer("bare-trio", "hypercorn-trio", "limit"),
             peer("bare", "uvicorn", "limit")]  # fmt: skip
    ratios = {"engine-hypercorn/trio-ooo": 0.9, "engine-hypercorn/starlette-ooo": 1.5,
              "engine-hypercorn/react": 1.1, "engine-uvicorn/starlette-ooo": 1.2,
              "engine-uvicorn/trio-ooo": 0.5, "engine-uvicorn/react": 0.8}  # fmt: skip
    kib = {"engine-hypercorn": 30.0, "trio-ooo": 25.0, "bare-trio": 20.0,
           "engine-uvicorn": 25.0, "starlette-ooo": 30.0, "bare": 12.0}  # fmt: skip
    res = {
        "peers": peers,
        "S2": {"peers": {p["name"]: {} for p in peers},
               "ratios": {k: {"median": v} for k, v in ratios.items()}},
        "S3": {"peers": {k: {"kib_per_stream": v} for k, v in kib.items()}},
    }  # fmt: skip
    rows = {(row[0], row[1]): row for row in report_pages.targets(res)}
    hand = "S2 ahead of the hand-written page on the same server"
    assert rows[hand, "engine-hypercorn"][2:] == ("0.90x (trio-ooo)", False)  # not starlette's
    assert rows[hand, "engine-uvicorn"][2:] == ("1.20x (starlette-ooo)", True)
    assert rows["S2 ahead of React with suspending data", "engine-uvicorn"][3] is False
    share = "S3 own share over the bare server at most the hand-written page's"
    assert rows[share, "engine-hypercorn"][2:] == (
        "10.0 vs 5.0 KiB (trio-ooo; bare-trio 20.0)", False)  # fmt: skip
    assert rows[share, "engine-uvicorn"][2:] == (
        "13.0 vs 18.0 KiB (starlette-ooo; bare 12.0)", True)  # fmt: skip
    kib_missing = {**res, "S3": {"peers": {**res["S3"]["peers"], "trio-ooo": {
        "kib_per_stream": None}}}}  # fmt: skip
    assert (share, "engine-hypercorn") not in {
        (r[0], r[1]) for r in report_pages.targets(kib_missing)
    }
