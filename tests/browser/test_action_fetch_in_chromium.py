"""Actions with JavaScript, in Debian's Chromium: the runtime submits the form by fetch and morphs
in what the action changed (two fragments), leaving the untouched one's nodes alone; a 422 shows
the errors with the typed input kept; a redirect navigates; a strict CSP (nonce or hashes) reports
no violation. The page never reloads: a property set on ``window`` before survives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import ServerProcess, actions_server

WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  e => window.__violations.push(e.violatedDirective));
"""

MARK = """() => {
  window.__same = 'page';
  for (const id of ['note', 'badge', 'add']) document.getElementById(id).__kept = id;
  window.__item = document.querySelector('input[name=item]');
}"""

STATE = """() => ({
  page: window.__same === 'page',
  items: document.getElementById('items').innerText,
  badge: document.getElementById('badge').innerText,
  kept: ['note', 'badge', 'add'].filter(id => document.getElementById(id).__kept === id),
  note: document.getElementById('note').innerText,
  item: document.querySelector('input[name=item]').value,
  sameInput: window.__item === document.querySelector('input[name=item]'),
  focused: document.activeElement && document.activeElement.name,
  qtyError: document.getElementById('qty-error').innerText,
  islands: [...document.querySelectorAll('script[data-query=total]')].map(e => e.textContent),
  violations: window.__violations,
})"""


@pytest.fixture(scope="module", params=["none", "nonce", "hash"])
def board_site(request, tmp_path_factory) -> Iterator[ServerProcess]:
    env = {} if request.param == "none" else {"ACTIONS_CSP": request.param}
    server = actions_server(Path(tmp_path_factory.mktemp(f"board-{request.param}")), **env)
    yield server
    server.stop()


def _open(board_site, new_page, name: str, native: bool = True):
    page = new_page(native=native)
    page.add_init_script(WATCH)
    page.goto(f"{board_site.url}/boards/{name}", wait_until="load", timeout=10_000)
    page.evaluate(MARK)
    return page


@pytest.mark.parametrize("native", [True, False], ids=["native", "polyfill"])
def test_a_form_with_javascript_morphs_in_what_changed(board_site, new_page, native) -> None:
    name = f"js-{native}-{board_site.port}"
    page = _open(board_site, new_page, name, native)
    note = page.inner_text("#note")
    page.fill("input[name=item]", "apples")
    page.fill("input[name=qty]", "2")
    page.click("button[name=_action][value=add]")
    # The answer may come in several writes (its queries run in threads and finish apart): the
    # badge is the first fragment to go, the form the last, so wait for both before reading.
    page.wait_for_function(
        "() => document.getElementById('badge').innerText === '1'"
        " && document.querySelector('input[name=item]').value === ''"
    )
    state = page.evaluate(STATE)
    assert state == {
        "page": True,  # no navigation: the same document
        "items": "2 x apples",
        "badge": "1",
        "kept": ["note", "badge", "add"],  # the untouched note and the morphed nodes are kept
        "note": note,  # not re-rendered (its query counts renders)
        "item": "",  # a fresh form after a success
        "sameInput": True,
        "focused": "_action",
        "qtyError": "",
        "islands": ["1"],  # the new island replaced the old one
        "violations": [],
    }


def test_a_validation_error_shows_with_the_typed_input_kept(board_site, new_page) -> None:
    page = _open(board_site, new_page, f"invalid-{board_site.port}")
    page.fill("input[name=item]", "pears")
    page.fill("input[name=qty]", "lots")
    page.focus("input[name=item]")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.keyboard.press("Enter")  # submitted from the focused input
    assert answer.value.status == 422
    page.wait_for_function("() => document.getElementById('qty-error').innerText !== ''")
    state = page.evaluate(STATE)
    assert state["qtyError"] == "Expected `int`, got `str`"
    assert (state["page"], state["items"], state["badge"]) == (True, "", "0")
    assert (state["item"], state["sameInput"], state["focused"]) == ("pears", True, "item")
    assert page.input_value("input[name=qty]") == "lots"
    assert state["kept"] == ["note", "badge", "add"] and state["violations"] == []


def test_a_redirect_from_the_action_navigates(board_site, new_page) -> None:
    page = _open(board_site, new_page, f"away-{board_site.port}")
    page.evaluate(
        "() => document.getElementById('add').insertAdjacentHTML('beforeend',"
        " '<button id=clear name=_action value=clear>clear</button>')"
    )
    with page.expect_navigation(wait_until="load", timeout=10_000):
        page.click("#clear")
    assert page.url.endswith(f"/lists/away-{board_site.port}?cleared=1")


def test_a_form_that_opts_out_posts_plainly(board_site, new_page) -> None:
    page = _open(board_site, new_page, f"plain-{board_site.port}")
    page.evaluate("() => document.getElementById('add').setAttribute('data-engine-reload', '')")
    page.fill("input[name=item]", "figs")
    with page.expect_navigation(wait_until="load", timeout=10_000) as navigation:
        page.click("button[name=_action][value=add]")
    assert navigation.value.status == 200  # after the 303
    assert page.evaluate("() => window.__same") is None, "a new document"
    assert page.inner_text("#items") == "1 x figs"


def test_a_refused_fetch_falls_back_to_the_plain_post(board_site, new_page) -> None:
    page = _open(board_site, new_page, f"expired-{board_site.port}")
    page.evaluate("() => { document.querySelector('input[name=_token]').value = 'forged'; }")
    page.fill("input[name=item]", "figs")
    with page.expect_navigation(wait_until="load", timeout=10_000) as navigation:
        page.click("button[name=_action][value=add]")
    assert navigation.value.status == 403, "the user sees why, not a dead button"
    assert "did not come from this site" in page.inner_text("body")
