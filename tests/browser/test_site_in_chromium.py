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


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_signing_in_and_out_with_the_form(acme, new_page, javascript: bool) -> None:
    page = new_page(javascript=javascript)
    page.goto(f"{acme.url}/signin?next=/product/7", wait_until="load")
    page.fill("input[name=name]", "ann")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    page.wait_for_url("**/signin?next=%2Fproduct%2F7&failed=1")
    assert page.text_content(".problem") == "Wrong name or password."
    page.fill("input[name=name]", "ann")
    page.fill("input[name=password]", "ann-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{acme.url}/product/7")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["acme_session"]["httpOnly"] and cookies["acme_session"]["sameSite"] == "Lax"
