"""The client store and bindings in Chromium: elements bound with ``data-bind`` follow new data
for their query (text, attribute, class) without their fragment being rendered again, elements
that land later are bound when they land, ``$E.on`` subscribers hear each arrival, and hostile
values never run, under a strict CSP too; an action's streamed answer updates bindings as a
refresh does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import ServerProcess, actions_server

pytestmark = pytest.mark.browser

WATCH = """
document.addEventListener('securitypolicyviolation',
  e => (window.__violations = window.__violations || []).push(e.violatedDirective));
"""


def load(page, url: str) -> dict:
    """Open the store page once its late fragment is bound; the cart it shows."""
    page.add_init_script(WATCH)
    page.goto(url, wait_until="load", timeout=15_000)
    page.wait_for_function("() => document.getElementById('late-count')", timeout=10_000)
    return page.evaluate("() => $E.data('cart')")


def shown(page) -> dict:
    return page.evaluate(
        """() => {
          const a = document.getElementById('cart-link'), m = document.getElementById('missing');
          return {label: a.textContent, href: a.getAttribute('href'), title: a.title,
                  empty: a.classList.contains('empty'), cart: a.classList.contains('cart'),
                  late: document.getElementById('late-count').textContent,
                  missing: [m.textContent, m.title]};
        }"""
    )


def expected(cart: dict) -> dict:
    return {
        "label": cart["label"],
        "href": cart["url"],
        "title": cart["lines"][0]["sku"],
        "empty": cart["empty"],
        "cart": True,
        "late": str(cart["count"]),
        "missing": ["as rendered", "kept"],  # paths that lead nowhere leave the element be
    }


@pytest.mark.parametrize("native", [True, False], ids=["native", "polyfill"])
def test_bound_text_attribute_and_class_follow_refreshed_data(site, new_page, native) -> None:
    page = new_page(native=native)
    first = load(page, f"{site.url}/store?delay=0.3")
    # The late fragment does not use the cart: its "?" was bound to the store when it landed.
    assert shown(page) == expected(first)
    page.evaluate(
        """() => { window.__kept = ['cart-link', 'late-count', 'box', 'nav']
                     .map(id => document.getElementById(id)); }"""
    )
    for _ in range(2):  # the count's parity flips the class each time
        page.evaluate("() => $E.refresh('box')")
        cart = page.evaluate("() => $E.data('cart')")
        assert cart["count"] > first["count"]
        assert shown(page) == expected(cart)
    # Only the refreshed fragment was morphed; the bound elements are the same nodes.
    assert page.evaluate(
        """() => ['cart-link', 'late-count', 'box', 'nav']
                   .every((id, i) => document.getElementById(id) === window.__kept[i])"""
    )
    assert page.evaluate("() => document.getElementById('box').textContent") == (
        f"box {cart['count']}"
    )


@pytest.mark.parametrize("mode", ["in-order", "buffered"])
def test_first_render_binds_in_every_mode(site, new_page, mode) -> None:
    page = new_page(native=False)
    first = load(page, f"{site.url}/store?delay=0.3&mode={mode}")
    assert shown(page) == expected(first)


def test_subscribers_hear_each_arrival_once_until_they_unsubscribe(site, new_page) -> None:
    page = new_page()
    load(page, f"{site.url}/store?delay=0")
    page.evaluate(
        """() => { window.__heard = []; window.__other = 0;
                   window.__off = $E.on('cart', v => window.__heard.push(v.count));
                   $E.on('another', () => window.__other++); }"""
    )
    page.evaluate("() => $E.refresh('box')")
    page.evaluate("() => $E.refresh('box')")
    heard = page.evaluate("() => window.__heard")
    assert len(heard) == 2 and heard[1] == page.evaluate("() => $E.data('cart').count")
    page.evaluate("() => { window.__off(); return $E.refresh('box') }")
    assert page.evaluate("() => window.__heard") == heard
    assert page.evaluate("() => window.__other") == 0


@pytest.mark.parametrize("native", [True, False], ids=["native", "polyfill"])
def test_hostile_values_are_text_and_blocked_urls(site, new_page, native) -> None:
    page = new_page(native=native)
    cart = load(page, f"{site.url}/store?evil=1&delay=0")
    assert cart["url"].replace("\n", "").strip().startswith("javascript:")  # as browsers read it
    # Elements a page might bind carelessly: an empty script (setting its text would run it),
    # handlers, style and srcdoc. None of them may take the value.
    page.evaluate(
        """() => {
          const s = document.createElement('script');
          s.setAttribute('data-bind', 'cart.code');
          document.body.append(s);
          const b = document.createElement('b');
          b.id = 'careless';
          b.setAttribute('data-bind',
            'onclick:cart.code ONMOUSEOVER:cart.code style:cart.code srcdoc:cart.label');
          document.body.append(b);
          const f = document.createElement('iframe');
          f.setAttribute('data-bind', 'src:cart.url');
          document.body.append(f);
        }"""
    )
    page.evaluate("() => $E.refresh('box')")
    link = page.evaluate(
        """() => { const a = document.getElementById('cart-link');
                   return [a.textContent, a.getAttribute('href'), a.children.length]; }"""
    )
    cart = page.evaluate("() => $E.data('cart')")  # a new label: the text was written
    assert link == [cart["label"], "about:blank#blocked", 0]
    assert page.evaluate("() => document.querySelector('iframe').getAttribute('src')") == (
        "about:blank#blocked"
    )
    assert page.evaluate("() => document.getElementById('careless').attributes.length") == 2
    assert page.evaluate("() => document.querySelector('script[data-bind]').textContent") == ""
    page.dispatch_event("#careless", "click")
    page.dispatch_event("#careless", "mouseover")
    assert page.evaluate("() => window.__pwned") is None
    assert page.evaluate("() => document.querySelectorAll('img').length") == 0
    page.click("#cart-link")  # a javascript: URL would run here, in this document
    page.wait_for_url("about:blank#blocked", timeout=5_000)


def test_bindings_run_under_a_strict_csp(csp_site, new_page) -> None:
    page = new_page()
    first = load(page, f"{csp_site.url}/store?delay=0.3")
    assert shown(page) == expected(first)
    page.evaluate("() => $E.refresh('box')")
    cart = page.evaluate("() => $E.data('cart')")
    assert cart["count"] > first["count"] and shown(page) == expected(cart)
    assert page.evaluate("() => window.__violations || []") == []


# What `engine check` says the runtime refuses, and what the runtime does, must agree.
AGREEMENT = [
    '<a data-bind="href:cart.url">',
    '<b data-bind="title:cart.label">',
    '<b data-bind="aria-label:cart.label">',
    '<b data-bind="data-n:cart.count">',
    '<b data-bind=".full:cart.count">',
    '<b data-bind="cart.label">',
    '<b data-bind="onclick:cart.code">',
    '<b data-bind="OnMouseOver:cart.code">',
    '<b data-bind="style:cart.code">',
    '<b data-bind="1x:cart.code">',
    '<b data-bind=":cart.code">',
    '<b data-bind=".:cart.code">',
    '<iframe data-bind="srcdoc:cart.label">',
    '<svg><animate data-bind="to:cart.url"></animate></svg>',
    '<svg><set data-bind="attributeName:cart.label"></set></svg>',
    '<svg><animate data-bind="values:cart.url"></animate></svg>',
    '<svg><a data-bind="xlink:href:cart.url"></a></svg>',
    '<script data-bind="cart.count"></script>',
    '<style data-bind="cart.count"></style>',
]


def test_the_runtime_refuses_exactly_what_the_check_says_it_refuses(site, new_page) -> None:
    from engine.markup.bindings import bindings

    expected = [bindings(html)[0].refused is None for html in AGREEMENT]
    page = new_page()
    load(page, f"{site.url}/store?delay=0")
    applied = page.evaluate(
        """async (snippets) => {
          const bound = snippets.map(html => {
            const t = document.createElement('template');
            t.innerHTML = html;
            const root = t.content.firstElementChild;
            document.body.append(t.content);
            return root.matches('[data-bind]') ? root : root.querySelector('[data-bind]');
          });
          const state = el => el.outerHTML;
          const before = bound.map(state);
          await $E.refresh('box');
          return bound.map((el, i) => state(el) != before[i]);
        }""",
        AGREEMENT,
    )
    assert applied == expected
    assert expected.count(True) == 7  # the first six, and xlink:href


@pytest.fixture(scope="module")
def board_site(tmp_path_factory) -> Iterator[ServerProcess]:
    """tests/asgi/actions_site.py: its board page exposes ``total`` and has an ``add`` action."""
    server = actions_server(Path(tmp_path_factory.mktemp("board-bindings")))
    yield server
    server.stop()


@pytest.mark.parametrize("native", [True, False], ids=["native", "polyfill"])
def test_bound_elements_follow_an_action_response(board_site, new_page, native) -> None:
    page = new_page(native=native)
    page.add_init_script(WATCH)
    page.goto(f"{board_site.url}/boards/bound-{native}", wait_until="load", timeout=10_000)
    assert page.evaluate("() => $E.data('total')") == 0
    page.evaluate(
        """() => {
          const b = document.createElement('b');
          b.id = 'bound';
          b.textContent = '?';
          b.setAttribute('data-bind', 'total data-total:total .some:total');
          document.querySelector('h1').append(b);
          window.__bound = b;
          window.__heard = [];
          $E.on('total', v => window.__heard.push(v));
        }"""
    )
    page.fill("input[name=item]", "pears")
    page.click("button[name=_action][value=add]")
    page.wait_for_function("() => document.getElementById('bound').textContent === '1'")
    assert page.evaluate(
        """() => { const b = document.getElementById('bound');
                   return [b === window.__bound, b.dataset.total, b.classList.contains('some'),
                           window.__heard, window.__violations || []]; }"""
    ) == [True, "1", True, [1], []]
