"""examples/site in Chromium (Debian's package), served the way the README serves it: signed
out and signed in, with and without JavaScript, with native partial updates and the polyfill."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from servers import ServerProcess, free_port, start_server

pytestmark = pytest.mark.browser

PRODUCT = """() => ({
  title: document.title,
  name: document.getElementById('product-name')?.textContent ?? null,
  related: document.querySelectorAll('main .grid .card').length,
  reviews: document.querySelectorAll('.reviews .review').length,
  rating: document.querySelector('.rating')?.textContent ?? null,
  skeletons: document.querySelectorAll('.skeleton').length,
  templates: document.querySelectorAll('template').length,
  stylesheet: getComputedStyle(document.querySelector('nav')).backgroundColor,
})"""


@pytest.fixture(scope="module")
def acme(tmp_path_factory) -> Iterator[ServerProcess]:
    port = free_port()
    argv = [sys.executable, "-m", "engine", "serve", "examples.site.app:app"]
    log = tmp_path_factory.mktemp("acme") / "serve.log"
    server = start_server([*argv, "--port", str(port)], port=port, log=log, name="engine serve")
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("native", "javascript"),
    [(True, True), (False, True), (True, False)],
    ids=["native", "polyfill", "no-javascript"],
)
def test_a_product_page_is_complete(acme, new_page, native: bool, javascript: bool) -> None:
    page = new_page(native=native, javascript=javascript)
    page.goto(f"{acme.url}/product/3", wait_until="load", timeout=15_000)
    state = page.evaluate(PRODUCT)
    assert state["title"].endswith(" · Acme") and state["name"] in state["title"]
    assert state["related"] == 8 + 4, "related products and recommendations"
    assert state["reviews"] >= 2 and state["rating"].endswith("reviews")
    assert state["skeletons"] == 0 and state["templates"] == 0
    assert state["stylesheet"] == "rgb(35, 57, 93)", "the static stylesheet applies"


def test_without_javascript_in_order_mode_is_complete(acme, new_page) -> None:
    page = new_page(native=False, javascript=False)
    page.goto(f"{acme.url}/product/3?mode=in-order", wait_until="load", timeout=15_000)
    state = page.evaluate(PRODUCT)
    assert state["reviews"] >= 2 and state["skeletons"] == 0 and state["templates"] == 0


def sign_in(page, name: str, password: str) -> None:
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def nav(page) -> dict:
    return page.evaluate("""() => ({
      visitor: document.querySelector('nav .visitor')?.textContent ?? null,
      signIn: !!document.querySelector('nav a[href="/signin"]'),
      signOut: !!document.querySelector('nav form[action="/signout"] button'),
    })""")


SIGNED_OUT = {"visitor": None, "signIn": True, "signOut": False}
SIGNED_IN = {"visitor": "Ann Example", "signIn": False, "signOut": True}


@pytest.mark.parametrize(
    ("native", "javascript"),
    [(True, True), (False, True), (True, False)],
    ids=["native", "polyfill", "no-javascript"],
)
def test_signed_out_then_in_then_out(acme, new_page, native: bool, javascript: bool) -> None:
    page = new_page(native=native, javascript=javascript)
    page.goto(f"{acme.url}/account", wait_until="load")
    assert page.url == f"{acme.url}/signin?next=%2Faccount", "signed out: sent to sign in"
    assert nav(page) == SIGNED_OUT
    sign_in(page, "ann", "wrong")
    page.wait_for_url("**/signin?next=%2Faccount&failed=1")
    assert page.text_content(".problem") == "Wrong name or password."
    sign_in(page, "ann", "ann-password")
    page.wait_for_url(f"{acme.url}/account")
    page.wait_for_load_state("load")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["acme_session"]["httpOnly"] and cookies["acme_session"]["sameSite"] == "Lax"
    assert nav(page) == SIGNED_IN
    assert page.text_content("h1") == "Your orders, Ann Example"
    assert page.locator("table.orders tbody tr").count() >= 3, "orders, through aiosqlite"
    page.goto(f"{acme.url}/product/3", wait_until="load")
    assert nav(page) == SIGNED_IN, "the layout's nav bar on every page"
    page.click("nav form[action='/signout'] button")
    page.wait_for_url(f"{acme.url}/")
    page.wait_for_load_state("load")
    assert nav(page) == SIGNED_OUT
    assert "acme_session" not in {c["name"] for c in page.context.cookies()}


CART = """() => ({
  count: document.getElementById('cart-count')?.textContent ?? null,
  lines: [...document.querySelectorAll('table.cart tbody tr')].map(
    (row) => [row.id, row.querySelector('input[name=quantity]').value]),
  empty: !!document.querySelector('main .empty'),
})"""


def submit(page, button: str) -> None:
    """Click a form's submit button and wait for the page the 303 leads to."""
    with page.expect_navigation(wait_until="load"):
        page.click(button)


def test_the_cart_without_javascript(acme, new_page) -> None:
    page = new_page(native=True, javascript=False)
    page.goto(f"{acme.url}/product/3", wait_until="load")
    assert page.evaluate(CART)["count"] == "0"
    page.fill("form.buy input[name=quantity]", "2")
    submit(page, "form.buy button[value=add_to_cart]")
    assert page.url == f"{acme.url}/product/3", "303 back to the product"
    assert page.evaluate(CART)["count"] == "2"
    submit(page, "nav a.cart")
    assert page.url == f"{acme.url}/cart"
    assert page.evaluate(CART) == {"count": "2", "lines": [["line-3", "2"]], "empty": False}
    page.fill("#line-3 input[name=quantity]", "5")
    submit(page, "#line-3 button[value=update]")
    assert page.evaluate(CART) == {"count": "5", "lines": [["line-3", "5"]], "empty": False}
    submit(page, "#line-3 button[value=remove]")
    assert page.evaluate(CART) == {"count": "0", "lines": [], "empty": True}


SAME_LAYOUT = """() => window.__notReloaded === true
  && window.__nav === document.querySelector('nav') && window.__nav.isConnected"""


def keep_layout(page) -> None:
    page.evaluate(
        "() => { window.__nav = document.querySelector('nav'); window.__notReloaded = true; }"
    )


def arrive(page, url: str, title: str, ready: str) -> None:
    """Wait for a streamed navigation: the URL, the new title, the page's late part."""
    page.wait_for_url(url)
    page.wait_for_function("(title) => document.title === title", arg=title)
    page.wait_for_selector(ready)


def test_navigating_home_product_cart_and_back_streams_below_the_layout(acme, new_page) -> None:
    page = new_page()
    page.goto(f"{acme.url}/", wait_until="load")
    keep_layout(page)
    product = page.text_content("main .grid a[href='/product/4'] .name") + " · Acme"
    page.click("main .grid a[href='/product/4']")
    arrive(page, f"{acme.url}/product/4", product, ".rating")  # late fragments stream in too
    assert page.evaluate(SAME_LAYOUT), "the nav bar stays: only the part below it streamed"
    page.click("nav a.cart")
    arrive(page, f"{acme.url}/cart", "Your cart · Acme", "main .empty")
    assert page.evaluate(SAME_LAYOUT)
    page.go_back()
    arrive(page, f"{acme.url}/product/4", product, ".rating")
    page.go_back()
    arrive(page, f"{acme.url}/", "Acme Widgets", "main .grid .card")
    assert page.evaluate(SAME_LAYOUT)
    page.go_forward()
    arrive(page, f"{acme.url}/product/4", product, ".rating")
    assert page.evaluate(SAME_LAYOUT) and page.evaluate(CART)["count"] == "0"


MARK = """() => {
  window.__marks = {
    nav: document.querySelector('nav'),
    count: document.getElementById('cart-count'),
    name: document.getElementById('product-name'),
    related: document.querySelector('main .grid'),
    reviews: document.querySelector('.reviews'),
    rating: document.querySelector('.rating'),
  };
  window.__notReloaded = true;
}"""

KEPT = """() => window.__notReloaded === true && Object.entries(window.__marks).every(
  ([name, node]) => node && node.isConnected)"""


@pytest.mark.parametrize("native", [True, False], ids=["native", "polyfill"])
def test_adding_to_the_cart_with_javascript_updates_the_bound_count(acme, new_page, native):
    page = new_page(native=native)
    page.goto(f"{acme.url}/product/3", wait_until="load")
    page.evaluate(MARK)
    page.fill("form.buy input[name=quantity]", "2")
    page.click("form.buy button[value=add_to_cart]")
    page.wait_for_function("document.getElementById('cart-count').textContent === '2'")
    assert page.evaluate(KEPT), "no reload; the nav bar and the other fragments are the same nodes"
    assert page.evaluate("$E.data('cart_count')") == {"items": 2}
    assert page.url == f"{acme.url}/product/3"
    # A refused quantity (past the input's own max, which a script can lift): the form's
    # fragment comes back with the error and the value as typed; nothing else changes.
    page.evaluate("document.querySelector('form.buy input[name=quantity]').removeAttribute('max')")
    page.fill("form.buy input[name=quantity]", "100")
    page.click("form.buy button[value=add_to_cart]")
    page.wait_for_function("document.querySelector('form.buy .problem').textContent !== ''")
    assert page.text_content("form.buy .problem") == "Expected `int` <= 99"
    assert page.input_value("form.buy input[name=quantity]") == "100"
    assert page.text_content("#cart-count") == "2" and page.evaluate(KEPT)


def test_changing_the_cart_with_javascript_morphs_the_lines_in_place(acme, new_page) -> None:
    page = new_page()
    page.goto(f"{acme.url}/product/3", wait_until="load")
    page.click("form.buy button[value=add_to_cart]")
    page.wait_for_function("document.getElementById('cart-count').textContent === '1'")
    page.click("nav a.cart")
    page.wait_for_url(f"{acme.url}/cart")
    page.wait_for_selector("#line-3")
    page.evaluate("""() => { window.__nav = document.querySelector('nav');
      window.__table = document.querySelector('table.cart'); window.__notReloaded = true; }""")
    page.fill("#line-3 input[name=quantity]", "4")
    page.click("#line-3 button[value=update]")
    page.wait_for_function("document.getElementById('cart-count').textContent === '4'")
    assert page.evaluate(CART) == {"count": "4", "lines": [["line-3", "4"]], "empty": False}
    assert page.evaluate("""() => window.__notReloaded
      && window.__nav === document.querySelector('nav')
      && window.__table === document.querySelector('table.cart')"""), "morphed, not replaced"
    page.click("#line-3 button[value=remove]")
    page.wait_for_selector("main .empty")
    assert page.evaluate(CART) == {"count": "0", "lines": [], "empty": True}
