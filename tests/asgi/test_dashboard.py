"""examples/dashboard: generated on first run, fast panels out before the slow aggregate."""

from __future__ import annotations

import time

import pytest
from test_app import call

import engine
from engine.asgi import App
from examples.dashboard import data

PAGE = "examples/dashboard/page.toml"


@pytest.fixture
def small_db(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DB_PATH", tmp_path / "dashboard.db")
    monkeypatch.setattr(data, "ROWS", 20_000)
    return data.DB_PATH


def test_the_database_is_generated_once_on_first_use(small_db) -> None:
    assert not small_db.exists()
    first = data.totals()
    assert small_db.exists() and first.sales == 20_000
    assert data.totals() == first
    lines = data.breakdown()
    assert sum(line.sales for line in lines) == 20_000
    assert len(lines) == len(data.REGIONS) * len(data.PRODUCTS)


async def test_fast_panels_stream_before_the_slow_breakdown(small_db) -> None:
    def breakdown() -> list[data.Line]:
        time.sleep(0.2)  # in its worker thread: keeps the order independent of machine speed
        return data.breakdown()

    graph = engine.Graph.build(engine.load(PAGE)).with_calls({"breakdown": breakdown})
    client = await call(App({"/": graph}), "/")
    writes = [m["body"] for _, m in client.bodies if m["body"]]
    assert client.start["status"] == 200 and client.complete
    panels = next(i for i, w in enumerate(writes) if b'<template for="totals">' in w)
    table = next(i for i, w in enumerate(writes) if b'<template for="breakdown">' in w)
    assert panels < table, "the slow aggregate holds back nothing but its own slot"
    assert writes[table].count(b"<tr><td>") == 15
