"""Streaming proven in headless Chromium (Debian's package) against real servers.

The demo item page (tests/asgi/demo_site.py) has a shell query, a fast fragment, a slow one
(``?delay=`` s) and slots inside a table, a list, a select and an SVG.
"""

from __future__ import annotations

import json

import demo_site
import pytest
from servers import fetch

pytestmark = pytest.mark.browser


STATE = """() => {
  const dot = document.getElementById('dot');
  return {
    ready: document.readyState,
    shell: !!document.getElementById('shell'),
    fast: document.getElementById('fast')?.textContent ?? null,
    slow: document.getElementById('slow')?.textContent ?? null,
    fallbacks: document.querySelectorAll('.fallback').length,
    rows: [...document.querySelectorAll('#table tr.row')].map(r => r.textContent),
    items: [...document.querySelectorAll('#list > li.item')].map(r => r.textContent),
    options: [...document.querySelectorAll('#select > option.opt')].map(r => r.textContent),
    dotInSvg: !!dot && dot.namespaceURI === 'http://www.w3.org/2000/svg'
              && !!dot.closest('#svg') && dot.getBBox().width === 20,
    templates: document.querySelectorAll('template').length,
    scripts: document.querySelectorAll('script:not([type="application/json"])').length,
    strayText: document.body.innerText.includes('loading'),
  };
}"""

COMPLETE = {
    "ready": "complete",
    "shell": True,
    "fast": "fast: blue",
    "slow": "slow part",
    "fallbacks": 0,
    "rows": ["row 1", "row 2", "row 3"],
    "items": ["item 1", "item 2", "item 3"],
    "options": ["size 1", "size 2", "size 3"],
    "dotInSvg": True,
    "templates": 0,
    "strayText": False,
}


FIRST_PAINT = "() => performance.getEntriesByName('first-contentful-paint').length > 0"


def first_contentful_paint(page) -> float:
    return page.evaluate(
        "() => performance.getEntriesByName('first-contentful-paint')[0].startTime"
    )


def open_gate(site, gate: str) -> None:
    assert fetch(site.port, f"/open?gate={gate}").status == 200


@pytest.mark.parametrize("native", [True, False], ids=["native", "polyfill"])
def test_shell_paints_first_and_every_fragment_lands(site, new_page, native: bool) -> None:
    # The slow part waits for the test to open its gate: everything checked before that is
    # certainly seen before the slow part arrived, however busy the machine is.
    gate = f"paints-{site.name}-{native}"
    page = new_page(native=native)
    page.goto(f"{site.url}/item/a?delay=30&gate={gate}", wait_until="commit")
    page.wait_for_selector("#slow-box .fallback", state="attached", timeout=10_000)
    early = page.evaluate(STATE)
    assert early["ready"] == "loading" and early["shell"] and early["slow"] is None
    shot = page.context.new_cdp_session(page).send("Page.captureScreenshot")  # a frame, now
    assert len(shot["data"]) > 1000
    page.wait_for_function(FIRST_PAINT, timeout=10_000)
    opened_at = page.evaluate("() => performance.now()")
    open_gate(site, gate)
    page.wait_for_load_state("load", timeout=10_000)
    assert first_contentful_paint(page) < opened_at, "painted before the slow part was let go"
    final = page.evaluate(STATE)
    assert {k: final[k] for k in COMPLETE} == COMPLETE
    assert final["scripts"] == 1, "only the runtime stays; each $E() script removed itself"


def test_without_javascript_in_order_is_complete(site, new_page) -> None:
    page = new_page(javascript=False)
    page.goto(f"{site.url}/item/b?delay=0.3&mode=in-order", wait_until="load", timeout=10_000)
    final = page.evaluate(STATE)
    assert {k: final[k] for k in COMPLETE} == COMPLETE
    # Complete with nothing run: the only scripts are $E's (the page exposes data), inert here.


def test_without_javascript_native_partial_updates_fill_every_slot(site, new_page) -> None:
    page = new_page(javascript=False)
    page.goto(f"{site.url}/item/c?delay=0.3", wait_until="load", timeout=10_000)
    final = page.evaluate(STATE)
    assert {k: final[k] for k in COMPLETE} == COMPLETE


def test_with_neither_javascript_nor_native_updates_the_fallbacks_stay(site, new_page) -> None:
    page = new_page(native=False, javascript=False)
    page.goto(f"{site.url}/item/d?delay=0.3", wait_until="load", timeout=10_000)
    final = page.evaluate(STATE)
    assert final["shell"] and final["fast"] is None and final["slow"] is None
    assert final["fallbacks"] == 6 and final["templates"] == 6, "inert templates, fallbacks shown"


@pytest.mark.parametrize("native", [True, False], ids=["native", "polyfill"])
def test_refresh_morphs_and_keeps_focus_and_typed_value(
    hypercorn_site, new_page, native: bool
) -> None:
    page = new_page(native=native)
    page.goto(f"{hypercorn_site.url}/form", wait_until="load", timeout=10_000)
    before = int(page.text_content("#count"))
    page.click("#q")
    page.keyboard.type("hello")
    page.evaluate("() => { window.__input = document.getElementById('q'); }")
    page.evaluate("() => $E.refresh('form')")
    after = page.evaluate("""() => ({
        count: +document.getElementById('count').textContent,
        focused: document.activeElement.id,
        value: document.getElementById('q').value,
        same: window.__input === document.getElementById('q'),
    })""")
    # One server render per refresh: the counter the fragment shows moved by exactly one.
    assert after == {"count": before + 1, "focused": "q", "value": "hello", "same": True}


@pytest.mark.parametrize("native", [True, False], ids=["native", "polyfill"])
def test_strict_csp_works_without_violations(csp_site, new_page, native: bool) -> None:
    page = new_page(native=native)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation',"
        " e => (window.__violations = window.__violations || []).push(e.violatedDirective))"
    )
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    response = page.goto(f"{csp_site.url}/item/e?delay=0.3", wait_until="load", timeout=10_000)
    assert "script-src" in response.headers["content-security-policy"]
    final = page.evaluate(STATE)
    assert {k: final[k] for k in COMPLETE} == COMPLETE
    assert page.evaluate("() => window.__violations || []") == []
    assert not [text for text in console if "Content Security Policy" in text], console
    assert page.evaluate("() => typeof $E.data") == "function", "the runtime ran"


def test_exposed_data_is_readable_and_nothing_else_is_sent(site, new_page) -> None:
    page = new_page()
    response = page.goto(f"{site.url}/item/f?delay=0.3", wait_until="load", timeout=10_000)
    assert page.evaluate("() => $E.data('exposed')") == {"colour": "blue", "sizes": [1, 2, 3]}
    assert page.evaluate("() => $E.data('fast')") is None, "a query not exposed has no data"
    body = response.body().decode()
    assert demo_site.SECRET not in body
    assert demo_site.SECRET not in page.content()
    islands = page.eval_on_selector_all(
        'script[type="application/json"]', "els => els.map(e => e.dataset.query)"
    )
    assert islands == ["exposed"]
    assert json.loads(page.text_content('script[data-query="exposed"]'))["colour"] == "blue"
