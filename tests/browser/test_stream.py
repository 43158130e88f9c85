"""``$E.stream``: the one streaming applier of the runtime (actions, navigation, refresh).

A page script feeds a ``Response`` built on a ``ReadableStream`` byte by byte as the test says,
so each assertion sees what the runtime did with the writes that had arrived, and nothing later.
"""

from __future__ import annotations

import pytest

FEED = """() => {
  const enc = new TextEncoder();
  let ctl;
  const body = new ReadableStream({ start(c) { ctl = c; } });
  window.__kept = document.getElementById('q');
  window.__kept.marked = 'before';
  window.__events = [];
  for (const t of ['engine:fragment', 'engine:data'])
    document.addEventListener(t, e => window.__events.push([t, e.detail.target || e.detail.query]));
  window.__push = s => ctl.enqueue(enc.encode(s));
  window.__close = () => ctl.close();
  window.__done = false;
  window.__streamed = $E.stream(new Response(body), true).then(() => { window.__done = true; });
}"""

STATE = """() => ({
  count: document.getElementById('count') && document.getElementById('count').textContent,
  kept: document.getElementById('q') === window.__kept && window.__kept.marked === 'before',
  islands: [...document.querySelectorAll('script[data-query="n"]')].map(e => e.textContent),
  css: document.querySelectorAll('link[href="/s.css"]').length,
  events: window.__events.splice(0),
  done: window.__done,
})"""


def _form(count: int) -> str:
    return (
        '<template for="form"><?start name="form"><form id="form"><label>Search '
        f'<input id="q" name="q" value=""></label><output id="count">{count}</output>'
        "</form><?end></template>"
    )


@pytest.mark.parametrize("native", [True, False], ids=["native", "polyfill"])
def test_each_write_lands_as_it_arrives_and_morphs_in_place(
    hypercorn_site, new_page, native: bool
) -> None:
    page = new_page(native=native)
    page.goto(f"{hypercorn_site.url}/form", wait_until="load", timeout=10_000)
    page.evaluate(FEED)
    swap = '<script nonce="abcdefgh">$E()</script>'
    first = (
        '<script type="application/json" data-query="n">1</script>'
        '<link rel="stylesheet" href="/s.css">' + _form(101) + swap
    )
    # The first write arrives cut inside its swap script: nothing lands until it is whole.
    page.evaluate("s => window.__push(s)", first[:-12])
    page.wait_for_timeout(50)
    assert page.evaluate(STATE)["count"] != "101"
    page.evaluate("s => window.__push(s)", first[-12:] + '<script type="application/json" data')
    page.wait_for_function("() => document.getElementById('count').textContent === '101'")
    state = page.evaluate(STATE)
    assert state == {
        "count": "101",
        "kept": True,
        "islands": ["1"],
        "css": 1,
        "events": [["engine:fragment", "form"], ["engine:data", "n"]],
        "done": False,
    }
    # The second write: a newer island of the same query replaces the first one; the same
    # stylesheet is not added twice; the stream's last write needs no swap script.
    page.evaluate(
        "s => { window.__push(s); window.__close(); return window.__streamed }",
        '-query="n">2</script><link rel="stylesheet" href="/s.css">' + _form(102),
    )
    state = page.evaluate(STATE)
    assert state == {
        "count": "102",
        "kept": True,
        "islands": ["2"],
        "css": 1,
        "events": [["engine:fragment", "form"], ["engine:data", "n"]],
        "done": True,
    }
