"""Behind nginx (Debian's package, configured on loopback by the test) the stream still streams.

nginx buffers proxied responses by default and gzip makes it hold them; the app's
``X-Accel-Buffering: no`` header is what keeps chunks flowing (../shared/STREAMING.md §2.1).
"""

from __future__ import annotations

import pytest
from test_streaming import COMPLETE, FIRST_PAINT, STATE, first_contentful_paint, open_gate

from engine.cli.diagnose import fetch

pytestmark = pytest.mark.proxy


@pytest.mark.browser
def test_browser_through_gzip_proxy_paints_progressively(hypercorn_site, nginx, new_page) -> None:
    proxy = nginx(hypercorn_site.port, gzip=True)
    page = new_page()
    gate = "through-gzip-proxy"
    response = page.goto(f"{proxy.url}/item/p?delay=30&gate={gate}", wait_until="commit")
    page.wait_for_selector("#slow-box .fallback", state="attached", timeout=10_000)
    assert page.evaluate(STATE)["slow"] is None
    page.wait_for_function(FIRST_PAINT, timeout=10_000)
    opened_at = page.evaluate("() => performance.now()")
    open_gate(hypercorn_site, gate)
    page.wait_for_load_state("load", timeout=10_000)
    assert response.headers.get("content-encoding") == "gzip"
    assert first_contentful_paint(page) < opened_at, "painted through gzip, before the end"
    final = page.evaluate(STATE)
    assert {k: final[k] for k in COMPLETE} == COMPLETE


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_chunks_arrive_as_flushed_through_nginx(hypercorn_site, nginx, gzip: bool) -> None:
    proxy = nginx(hypercorn_site.port, gzip=gzip)
    report = fetch(f"{proxy.url}/item/q?delay=1", [], gzip=gzip, timeout=10)
    assert report.status == 200
    assert report.headers.get("content-encoding") == ("gzip" if gzip else None)
    assert len(report.arrivals) >= 3 and report.arrivals[-1].flushed >= 1.0
    assert max(report.delays()) < 0.2, [(a.flushed, a.arrived) for a in report.arrivals]


def test_without_the_header_nginx_gzip_holds_the_whole_page(buffered_upstream, nginx) -> None:
    """Why the header is on by default: the same page, with ``proxy_buffering=True``."""
    proxy = nginx(buffered_upstream.port, gzip=True)
    report = fetch(f"{proxy.url}/item/r?delay=1", [], gzip=True, timeout=10)
    assert report.status == 200 and "x-accel-buffering" not in report.headers
    assert report.arrivals[0].arrived >= 1.0, "even the shell waited for the end"
    assert max(report.delays()) >= 0.9
