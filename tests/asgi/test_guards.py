"""Every response path runs the page's shell queries, its guards, and answers as they decide.

A shell query raising ``engine.NotFound`` means "this page does not exist for you": the full
page, the partial response ``?fragment=NAME`` (what ``$E.refresh`` fetches), every mode, the
crawler's document and HEAD must all answer 404 and show nothing of the page.
"""

from __future__ import annotations

from pathlib import Path

import demo_site
import pytest
from servers import fetch
from test_app import call

from engine.asgi import App
from examples.site import db as site_db

# (query-string suffix, extra headers): one row per response path.
PATHS = [
    ("", ()),
    ("&mode=out-of-order", ()),
    ("&mode=in-order", ()),
    ("&mode=buffered", ()),
    ("", (("User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1)"),)),
    ("&fragment=body", ()),
    ("&fragment=body&mode=in-order", ()),
    ("&fragment=body", (("User-Agent", "Googlebot/2.1"),)),
]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_the_guard_holds_on_every_response_path(site, method: str) -> None:
    for suffix, headers in PATHS:
        denied = fetch(site.port, f"/doc/7?user=mallory{suffix}", method=method, headers=headers)
        assert (denied.status, denied.eof) == (404, True), (suffix, headers, denied.status)
        assert demo_site.GUARDED.encode() not in denied.body
        allowed = fetch(site.port, f"/doc/7?user=alice{suffix}", method=method, headers=headers)
        assert (allowed.status, allowed.eof) == (200, True), (suffix, headers, allowed.status)
        shown = demo_site.GUARDED.encode() + b" 7" in allowed.body
        assert shown is (method == "GET"), (suffix, headers)


def test_a_missing_guard_parameter_is_a_400_for_the_fragment_too(site) -> None:
    assert fetch(site.port, "/doc/7").status == 400
    assert fetch(site.port, "/doc/7?fragment=body").status == 400


async def test_the_site_fragment_of_a_missing_product_is_a_404(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(site_db, "DB_PATH", tmp_path / "acme.db")
    product = Path(site_db.__file__).with_name("pages") / "product.toml"
    app = App({"/product/{product_id}": str(product)})
    for query in ("", "fragment=reviews", "fragment=related", "mode=buffered"):
        missing = await call(app, "/product/999", query)
        assert missing.start["status"] == 404, query
        assert b"no product 999" in missing.body
    found = await call(app, "/product/3", "fragment=reviews")
    assert found.start["status"] == 200 and b'<template for="reviews">' in found.body
