"""Timeline (the tracer every render can feed) and the waterfall drawn from it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import trio

import engine
from engine import Fragment, Page, Query, Shell
from engine.pictures.waterfall import critical_path, waterfall_svg
from engine.testing import QuerySpan, Timeline, WireEvent, Write, render_timeline

SVG = "{http://www.w3.org/2000/svg}"
SHELL = (
    '<!doctype html><html><head><meta charset="utf-8"></head><body><?marker name="one">'
    '<?marker name="two"><?marker name="three"><?marker name="side"></body></html>'
)


def sleeper(value: int, delay: float):
    async def call(**deps: object) -> int:
        await trio.sleep(delay)
        return value

    return call


PAGE = Page(
    name="R&D <trace>",
    shell=Shell(html=SHELL),
    queries=(
        Query(name="a", call=sleeper(1, 0.1), result=int, expose=True),
        Query(name="b", call=sleeper(2, 0.2), result=int, depends_on=("a",)),
        Query(name="c", call=sleeper(3, 0.05), result=int, depends_on=("b",)),
        Query(name="side", call=sleeper(4, 0.3), result=int),
        Query(name="x", call=sleeper(5, 0.15), result=int),
    ),
    fragments=(
        Fragment(target="one", uses=("a",), template="{{ a }}", fallback="."),
        Fragment(target="two", uses=("b",), template="{{ b }}", fallback="."),
        Fragment(target="three", uses=("c",), template="{{ c }}", fallback="."),
        Fragment(target="side", uses=("side", "x"), template="{{ side }}{{ x }}", fallback="."),
    ),
)


async def traced() -> Timeline:
    return await render_timeline(PAGE, latencies={"x": 0.15}, failures={"x": RuntimeError("nope")})


async def test_format_lists_queries_by_start_then_writes(autojump_clock) -> None:
    timeline = await traced()
    lines = timeline.format().splitlines()
    assert lines[:5] == [
        "query  a                        start       0.0 ms  end     100.0 ms  done",
        "query  side                     start       0.0 ms  end     300.0 ms  done",
        "query  x                        start       0.0 ms  end     150.0 ms  failed"
        "  page 'R&D <trace>', query 'x': RuntimeError: nope",
        "query  b                        start     100.0 ms  end     300.0 ms  done",
        "query  c                        start     300.0 ms  end     350.0 ms  done",
    ]
    sizes = [len(w.data) for w in timeline.writes]
    assert lines[5:] == [
        f"write  #0   at       0.0 ms  {sizes[0]:7d} bytes  shell",
        f"write  #1   at     100.0 ms  {sizes[1]:7d} bytes  query a, fragment one",
        f"write  #2   at     150.0 ms  {sizes[2]:7d} bytes  failed side",
        f"write  #3   at     300.0 ms  {sizes[3]:7d} bytes  fragment two",
        f"write  #4   at     350.0 ms  {sizes[4]:7d} bytes  fragment three, close",
    ]


async def test_events_and_lookups(autojump_clock) -> None:
    timeline = await traced()
    events = [(e.kind, e.name, e.write) for e in timeline.events]
    assert events == [
        ("shell", "", 0),
        ("query", "a", 1),
        ("fragment", "one", 1),
        ("failed", "side", 2),
        ("fragment", "two", 3),
        ("fragment", "three", 4),
        ("close", "", 4),
    ]
    assert [e.time for e in timeline.events] == pytest.approx([0, 0.1, 0.1, 0.15, 0.3, 0.35, 0.35])
    assert all(isinstance(e, WireEvent) for e in timeline.events)
    assert timeline.order() == ["one", "side", "two", "three"]  # failed slots count
    assert timeline.order("query") == ["a"]
    assert timeline.time_of("side") == pytest.approx(0.15)
    assert timeline.time_of("side", kind="failed") == pytest.approx(0.15)
    assert timeline.time_of("a", kind="query") == pytest.approx(0.1)
    assert timeline.time_of("", kind="close") == pytest.approx(0.35)
    assert timeline.html == b"".join(w.data for w in timeline.writes).decode()
    span = timeline.queries["x"]
    assert isinstance(span, QuerySpan)
    assert (span.outcome, span.start, span.end) == ("failed", 0, pytest.approx(0.15))
    assert isinstance(span.error, engine.QueryError)


async def test_time_of_an_unknown_name_or_kind_is_a_lookup_error(autojump_clock) -> None:
    timeline = await traced()
    with pytest.raises(LookupError, match="no fragment event for 'nowhere' in this render"):
        timeline.time_of("nowhere")
    with pytest.raises(LookupError, match="no query event for 'b'"):
        timeline.time_of("b", kind="query")  # b exists but is not exposed
    with pytest.raises(LookupError, match="no batch event for 'one'"):
        timeline.time_of("one", kind="batch")
    with pytest.raises(LookupError):
        timeline.time_of("a")  # a query name is not a fragment target
    assert timeline.order("batch") == []


def test_the_tracer_interface_records_relative_times() -> None:
    graph = engine.Graph.build(PAGE)
    timeline = Timeline(graph, "in-order", origin=100.0)
    timeline.query_started("a", 100.25)
    timeline.query_started("b", 100.5)
    timeline.query_batch("b", 100.6, 3)
    timeline.query_finished("a", 101.0, "done", 2, None)
    timeline.query_finished("late", 102.0, "failed", 4, ValueError("boom"))  # never started
    timeline.wrote(100.0, b"<p>", [("shell", "")], 0)
    timeline.wrote(101.5, b"</p>", [("fragment", "one"), ("close", "")], 2)
    assert timeline.queries["a"] == QuerySpan("a", 0.25, 1.0, "done", 2)
    assert timeline.queries["b"].batch_seqs == [3] and timeline.queries["b"].end is None
    assert (timeline.queries["late"].start, timeline.queries["late"].end) == (2.0, 2.0)
    assert timeline.writes == [
        Write(0.0, b"<p>", (("shell", ""),), 0),
        Write(1.5, b"</p>", (("fragment", "one"), ("close", "")), 2),
    ]
    assert timeline.html == "<p></p>"
    assert timeline.time_of("one") == 1.5
    lines = timeline.format().splitlines()
    assert (
        lines[1] == "query  b                        start     500.0 ms  end         - ms  running"
    )
    assert lines[2].endswith("failed  boom")
    assert lines[-1] == "write  #1   at    1500.0 ms        4 bytes  fragment one, close"


async def test_critical_path_follows_the_dependency_that_ended_last(autojump_clock) -> None:
    timeline = await traced()
    assert critical_path(timeline) == ["a", "b", "c"]
    empty = Timeline(timeline.graph, "out-of-order")
    assert critical_path(empty) == []
    # With c instant and side slower (400 ms), side ends last: the path starts from
    # whatever finished last and never wanders into queries it does not depend on.
    quick = await render_timeline(PAGE, latencies={"c": 0.0, "side": 0.4})
    assert critical_path(quick) == ["side"]


async def test_waterfall_is_svg_naming_the_critical_path(autojump_clock) -> None:
    timeline = await traced()
    root = ET.fromstring(waterfall_svg(timeline))  # the page name is escaped
    assert root.tag == f"{SVG}svg"
    heading = "".join(root.find(f"{SVG}text").itertext())
    assert heading == "R&D <trace> (out-of-order): critical path a → b → c"
    bars = {}
    for rect in root.iter(f"{SVG}rect"):
        bars["".join(rect.find(f"{SVG}title").itertext())] = rect.get("fill")
    spans = {
        title.split(":")[0]: fill for title, fill in bars.items() if not title.startswith("write #")
    }
    assert spans == {
        "a": "#f0ad4e",  # critical
        "b": "#f0ad4e",
        "c": "#f0ad4e",
        "side": "#5b8def",
        "x": "#d9534f",  # failed
    }
    writes = [t for t in bars if t.startswith("write #")]
    assert len(writes) == len(timeline.writes)
    assert "x: 0.0–150.0 ms, failed" in bars
    assert writes[-1].startswith("write #4 at 350.0 ms") and writes[-1].endswith("three, close")


def test_waterfall_of_an_empty_timeline_still_parses() -> None:
    graph = engine.Graph.build(PAGE)
    root = ET.fromstring(waterfall_svg(Timeline(graph, "buffered")))
    assert "".join(root.find(f"{SVG}text").itertext()).endswith("critical path ")
    assert list(root.iter(f"{SVG}rect")) == []
