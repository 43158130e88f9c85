"""$E in every mode, in Chromium: the runtime ships wherever exposed data is sent (out of order,
in order, buffered, natively applied or polyfilled), ``$E.data`` holds the data, and the page
hears ``engine:fragment`` ({target}) and ``engine:data`` ({query}) events as things land."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

LISTEN = """
window.__events = [];
for (const type of ['engine:fragment', 'engine:data'])
  document.addEventListener(type, e => window.__events.push(
    [type, e.detail.target || e.detail.query, e.target.nodeType == 1]));
document.addEventListener('securitypolicyviolation',
  e => (window.__violations = window.__violations || []).push(e.violatedDirective));
"""
EXPOSED = {"colour": "blue", "sizes": [1, 2, 3]}
SLOTS = {"fast", "slow", "rows", "items", "options", "shapes"}


def events_after_load(page, url: str) -> list[list]:
    page.add_init_script(LISTEN)  # before any script of the page: listening from the start
    page.goto(url, wait_until="load", timeout=15_000)
    assert page.evaluate("() => $E.data('exposed')") == EXPOSED
    assert page.evaluate("() => window.__violations || []") == []
    return page.evaluate("() => window.__events")


def check(events: list[list], landed: set[str]) -> None:
    fragments = [name for kind, name, _ in events if kind == "engine:fragment"]
    assert set(fragments) == landed and len(fragments) == len(set(fragments)), events
    assert [name for kind, name, _ in events if kind == "engine:data"] == ["exposed"], events
    assert all(on_element for *_, on_element in events), "events are fired on the slot's parent"


@pytest.mark.parametrize("mode", ["in-order", "buffered"])
@pytest.mark.parametrize("native", [True, False], ids=["native", "polyfill"])
def test_in_order_and_buffered_pages_have_e_and_events(site, new_page, mode, native) -> None:
    page = new_page(native=native)
    check(events_after_load(page, f"{site.url}/item/m?delay=0.5&mode={mode}"), SLOTS)


@pytest.mark.parametrize("native", [True, False], ids=["native", "polyfill"])
def test_out_of_order_announces_what_streams_in(site, new_page, native) -> None:
    page = new_page(native=native)
    events = events_after_load(page, f"{site.url}/item/o?delay=0.5")
    # The slow part streams in after the runtime; what was ready with the shell is part of
    # the document already, not news.
    fragments = {name for kind, name, _ in events if kind == "engine:fragment"}
    assert "slow" in fragments and fragments <= SLOTS
    check(events, fragments)


def test_a_crawler_gets_e_in_its_buffered_document(site, browsers) -> None:
    context = browsers(True).new_context(user_agent="Mozilla/5.0 (compatible; Googlebot/2.1)")
    try:
        page = context.new_page()
        check(events_after_load(page, f"{site.url}/item/c?delay=0.2"), SLOTS)
    finally:
        context.close()


@pytest.mark.parametrize("mode", ["in-order", "buffered"])
def test_e_runs_under_a_strict_csp_in_every_mode(csp_site, new_page, mode) -> None:
    page = new_page()
    check(events_after_load(page, f"{csp_site.url}/item/s?delay=0.2&mode={mode}"), SLOTS)


def test_refresh_announces_the_fragment_again(site, new_page) -> None:
    page = new_page(native=False)
    page.add_init_script(LISTEN)
    page.goto(f"{site.url}/item/r?delay=0", wait_until="load", timeout=15_000)
    page.evaluate("() => { window.__events = []; return $E.refresh('fast') }")
    events = page.evaluate("() => window.__events")
    assert ["engine:fragment", "fast", True] in events
    assert ["engine:data", "exposed", True] in events  # the island it carried is news
