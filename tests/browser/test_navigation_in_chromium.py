"""Streamed navigation in Debian's Chromium (tests/asgi/navigation_site.py under Hypercorn).

A streamed navigation keeps the page's JavaScript world: ``window.__world`` (set by the test)
survives it, and so do the layout's DOM nodes (a property set on them). A full navigation
starts a new world. Each test says which one it expects.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import ServerProcess, free_port, hypercorn_argv, start_server


def _serve(tmp_path_factory, csp: str = "") -> ServerProcess:
    port = free_port()
    return start_server(
        hypercorn_argv("navigation_site:app", port),
        port=port,
        log=Path(tmp_path_factory.mktemp(f"navigation{csp}")) / "hypercorn.log",
        ready_path="/a",
        name="hypercorn",
        env={"NAVIGATION_CSP": csp},
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[ServerProcess]:
    server = _serve(tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["nonce", "hash"])
def csp_site(request, tmp_path_factory) -> Iterator[ServerProcess]:
    server = _serve(tmp_path_factory, request.param)
    yield server
    server.stop()


WATCH = """() => {
  window.__world = 'kept';
  const header = document.getElementById('layout-header');
  header.__kept = true;
  document.querySelector('#menu span').__kept = true;
  window.__log = [];
  window.__transitions = 0;
  window.__violations = [];
  document.addEventListener('securitypolicyviolation',
    e => window.__violations.push(e.violatedDirective));
  const start = document.startViewTransition;
  if (start) document.startViewTransition = function (update) {
    window.__transitions++;
    return start.call(document, update);
  };
  document.addEventListener('engine:fragment', e => window.__log.push([
    e.detail.target.replace(/-[0-9a-f]{16}$/, ''),
    !!document.getElementById('late-fallback'),
    !!document.getElementById('late-done'),
  ]));
}"""

STATE = """() => ({
  world: window.__world || null,
  header: document.getElementById('layout-header').__kept === true,
  menu: document.querySelector('#menu span').__kept === true,
  heading: document.getElementById('heading') && document.getElementById('heading').textContent,
  title: document.title,
  path: location.pathname + location.search,
  transitions: window.__transitions,
  focus: document.activeElement && document.activeElement.id,
  scroll: scrollY,
  violations: window.__violations,
})"""


def _open(page, url: str) -> None:
    page.goto(url, wait_until="load", timeout=10_000)
    page.evaluate(WATCH)


def _heading(page, text: str) -> None:
    page.wait_for_function(
        "t => (document.getElementById('heading') || {}).textContent === t",
        arg=text,
        timeout=10_000,
    )


def _click(page, selector: str) -> None:
    """A plain left click (scrolling nothing: page.click would scroll the link into view)."""
    page.evaluate("s => document.querySelector(s).click()", selector)


@pytest.mark.parametrize("native", [True, False], ids=["native", "polyfill"])
def test_a_link_streams_the_next_page_into_the_layout_it_keeps(site, new_page, native) -> None:
    page = new_page(native=native)
    _open(page, f"{site.url}/a")
    page.evaluate("() => { document.getElementById('to-b').href = '/b?delay=0.5'; }")
    _click(page, "#to-b")
    page.wait_for_function(  # page A's own late fragment is there before the click
        "() => (document.getElementById('late-done') || {}).textContent === 'b: late content'",
        timeout=10_000,
    )
    state = page.evaluate(STATE)
    assert state == {
        "world": "kept",
        "header": True,
        "menu": True,
        "heading": "Page B",
        "title": "Page B",
        "path": "/b?delay=0.5",
        "transitions": 1,
        "focus": "main",
        "scroll": 0,
        "violations": [],
    }
    log = page.evaluate("() => window.__log")
    assert ["engine-content", True, False] in log, "the fallback came with the first write"
    assert log[-1] == ["late", False, True], "then the late fragment filled it"
    assert log.index(["engine-content", True, False]) < log.index(["late", False, True])
    assert page.evaluate("() => $E.data('late')") == "late content"


def test_back_and_forward_restore_the_pages_and_their_scroll(site, new_page) -> None:
    page = new_page()
    _open(page, f"{site.url}/a")
    page.evaluate("() => scrollTo(0, 1200)")
    page.wait_for_function("() => scrollY === 1200")
    _click(page, "#to-b")
    _heading(page, "Page B")
    assert page.evaluate(STATE)["scroll"] == 0
    page.evaluate("() => scrollTo(0, 700)")
    page.wait_for_function("() => scrollY === 700")
    page.go_back()
    _heading(page, "Page A")
    page.wait_for_function("() => scrollY === 1200", timeout=10_000)
    state = page.evaluate(STATE)
    assert (state["world"], state["header"], state["path"], state["title"]) == (
        "kept",
        True,
        "/a",
        "Page A",
    )
    page.go_forward()
    _heading(page, "Page B")
    page.wait_for_function("() => scrollY === 700", timeout=10_000)
    assert page.evaluate(STATE)["world"] == "kept"
    assert page.evaluate("() => window.__transitions") == 3


def test_a_get_form_streams_too_and_a_redirect_lands_where_it_leads(site, new_page) -> None:
    page = new_page()
    _open(page, f"{site.url}/a")
    _click(page, "#go")
    _heading(page, "Page B")
    assert page.evaluate(STATE)["path"] == "/b?q=tea"
    _click(page, "#to-moved")  # /item/1 answers 303 to /b
    page.wait_for_function("() => location.pathname + location.search === '/b'")
    assert page.evaluate(STATE)["world"] == "kept"


@pytest.mark.parametrize(
    ("link", "landed"),
    [
        ("#to-other", "() => !!document.getElementById('other-header')"),  # another layout
        ("#to-broken", "() => document.title === '404 Not Found'"),  # a failed response
        ("#to-scripted", "() => window.scripted === true"),  # its own script in the head
        ("#to-b-off", "() => location.pathname === '/b'"),  # data-engine-nav="off"
        ("#to-plain", "() => location.pathname === '/plain'"),  # a page without navigation
    ],
)
def test_what_cannot_stream_in_is_a_full_navigation(site, new_page, link, landed) -> None:
    page = new_page()
    _open(page, f"{site.url}/a")
    with page.expect_navigation(wait_until="load", timeout=10_000):
        _click(page, link)
    page.wait_for_function(landed, timeout=10_000)
    assert page.evaluate("() => window.__world || null") is None, "a new document"


def test_without_javascript_links_and_forms_are_plain(site, new_page) -> None:
    page = new_page(javascript=False)
    page.goto(f"{site.url}/a", wait_until="load", timeout=10_000)
    with page.expect_navigation(wait_until="load", timeout=10_000):
        page.click("#to-b")
    assert page.inner_text("#heading") == "Page B"
    assert page.title() == "Page B"
    with page.expect_navigation(wait_until="load", timeout=10_000):
        page.click("#go")
    assert page.url.endswith("/b?q=tea")


def test_navigation_under_a_strict_csp_violates_nothing(csp_site, new_page) -> None:
    page = new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _open(page, f"{csp_site.url}/a")
    _click(page, "#to-b")
    _heading(page, "Page B")
    page.wait_for_selector("#late-done", timeout=10_000)
    state = page.evaluate(STATE)
    assert (state["world"], state["header"], state["violations"]) == ("kept", True, [])
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_marked_pages_hash_links_and_scripts(site, new_page) -> None:
    """A page's own navigation setting holds once it is shown (here "marked": only links inside
    data-engine-nav stream); a link to a #fragment of the page is the browser's; scripts call
    $E.navigate."""
    page = new_page()
    _open(page, f"{site.url}/a")
    page.evaluate("() => { document.getElementById('heading').__kept = true; }")
    _click(page, "#to-top")
    page.wait_for_function("() => location.hash === '#top'")
    page.wait_for_timeout(300)  # a fetch would have replaced the page's part by now
    assert page.evaluate("() => document.getElementById('heading').__kept") is True, "no fetch"
    _click(page, "#to-marked")
    _heading(page, "marked")
    _click(page, "#marked-a")
    _heading(page, "Page A")
    page.evaluate("() => $E.navigate('/marked')")
    _heading(page, "marked")
    assert page.evaluate(STATE)["world"] == "kept"
    with page.expect_navigation(wait_until="load", timeout=10_000):
        _click(page, "#to-b")  # a layout link, not marked
    _heading(page, "Page B")
    assert page.evaluate("() => window.__world || null") is None


def test_a_fragment_stylesheet_in_the_part_streams_in(site, new_page) -> None:
    """Only scripts in the page's part force a full navigation: a stylesheet link (of a fragment
    ready with the shell) loads where it lands."""
    page = new_page()
    _open(page, f"{site.url}/a")
    _click(page, "#to-styled")
    _heading(page, "styled")
    assert page.evaluate(STATE)["world"] == "kept"
    assert page.evaluate("() => !!document.querySelector('link[href=\"/box.css\"]')")
