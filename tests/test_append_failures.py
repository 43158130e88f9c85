"""Crawlers see what browsers see: every mode ends with the same document.

Append fragments whose batched query fails after some batches are the hard case: out
of order the delivered batches are already on the page when the failure arrives; in
order and buffered, the failure may be known before the slot is reached, and the
batches must still be written before the failure mark.
"""

from __future__ import annotations

import re

import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from engine import Fragment, Page, Query, Shell
from engine.testing import assert_contract, render_timeline
from tests.test_html5 import TEMPLATE, apply

MODES = ("out-of-order", "in-order", "buffered")
SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL)
SHELL = '<!doctype html><html><head><meta charset="utf-8"></head><body>{}</body></html>'


def final_document(html: str) -> str:
    """The document as a browser ends up with it: templates applied, scripts gone."""
    templates = TEMPLATE.findall(html)
    page = TEMPLATE.sub("", html)
    return SCRIPT.sub("", apply(page, templates))


def batches_then_failure(words: list[str], gap: float, fails: bool):
    async def call():
        for word in words:
            await trio.sleep(gap)
            yield word
        await trio.sleep(gap)
        if fails:
            raise ConnectionError("feed dropped")

    return call


async def test_an_append_fragment_keeps_its_batches_when_it_fails_later(autojump_clock) -> None:
    async def slow() -> str:
        await trio.sleep(5)  # in order, the feed's slot is reached only after this
        return "intro"

    page = Page(
        name="feed",
        shell=Shell(html=SHELL.format('<?marker name="intro"><ul><?marker name="feed"></ul>')),
        queries=(
            Query(name="slow", call=slow, result=str),
            Query(name="feed", call=batches_then_failure(["one", "two"], 1, True), result=str),
        ),
        fragments=(
            Fragment(target="intro", uses=("slow",), template="<p>{{ slow }}</p>"),
            Fragment(
                target="feed",
                uses=("feed",),
                mode="append",
                template="<li>{{ feed }}</li>",
                fallback="<li>…</li>",
            ),
        ),
    )
    finals = []
    for mode in MODES:
        timeline = await render_timeline(page, mode=mode)
        assert_contract(timeline)
        finals.append(final_document(timeline.html))
    assert (
        '<ul><?start name="feed"><li>one</li><li>two</li><!--engine:failed--><?end></ul>'
        in (finals[0])
    )
    assert finals[1] == finals[0] and finals[2] == finals[0]


@st.composite
def feeds(draw: st.DrawFn) -> Page:
    """Up to three append slots, each fed by batches that may stop with a failure, between
    plain fragments whose latencies decide when in order reaches each slot."""
    slots, queries, fragments = [], [], []
    for i in range(draw(st.integers(1, 3))):
        delay = draw(st.integers(0, 6))
        queries.append(Query(name=f"p{i}", call=_after(delay, f"plain {i}"), result=str))
        fragments.append(
            Fragment(target=f"plain{i}", uses=(f"p{i}",), template=f"<p>{{{{ p{i} }}}}</p>")
        )
        slots.append(f'<?marker name="plain{i}">')
        words = [f"b{i}.{k}" for k in range(draw(st.integers(0, 4)))]
        call = batches_then_failure(words, draw(st.integers(1, 3)), draw(st.booleans()))
        queries.append(Query(name=f"feed{i}", call=call, result=str))
        fragments.append(
            Fragment(
                target=f"feed{i}",
                uses=(f"feed{i}",),
                mode="append",
                template=f"<li>{{{{ feed{i} }}}}</li>",
                fallback="<li>…</li>",
                error=draw(st.sampled_from([None, "<li>lost</li>"])),
                priority=draw(st.integers(-1, 1)),
            )
        )
        slots.append(f'<ul><?marker name="feed{i}"></ul>')
    return Page(
        name="feeds",
        shell=Shell(html=SHELL.format("".join(slots))),
        queries=tuple(queries),
        fragments=tuple(fragments),
    )


def _after(delay: int, value: str):
    async def call() -> str:
        await trio.sleep(delay)
        return value

    return call


@given(feeds())
def test_every_mode_ends_with_the_same_document(page: Page) -> None:
    async def main() -> list[str]:
        out = []
        for mode in MODES:
            timeline = await render_timeline(page, mode=mode)
            assert_contract(timeline)
            out.append(final_document(timeline.html))
        return out

    out_of_order, in_order, buffered = trio.run(
        main, clock=trio.testing.MockClock(autojump_threshold=0)
    )
    assert in_order == out_of_order
    assert buffered == out_of_order
