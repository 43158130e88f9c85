"""The dashboard example, run for real: SQLite in tmp_path, a real clock, real threads
(examples/site has its own tests: tests/test_site.py).

Timing is real here, so these tests assert content, status, order and the contract
(with a little slack for the shell), never durations.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio

import engine
from engine.contract.trace import Timeline
from engine.testing import assert_contract
from examples.dashboard import data as dashboard_data

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = str(ROOT / "examples" / "dashboard" / "page.toml")


async def traced(graph: engine.Graph, mode: str, **params: str) -> Timeline:
    timeline = Timeline(graph, mode, trio.current_time())

    async def discard(data: bytes) -> None:
        pass

    await engine.render(graph, discard, params=params, mode=mode, tracer=timeline)
    return timeline


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
