"""The scheduler on the cases mutation testing found unheld (docs/mutation.md).

Each test renders a real page in every mode and checks what docs/contract.md and
docs/wire.md promise about its bytes: what goes out, once, where and in which order.
"""

from __future__ import annotations

import logging

import pytest
import trio
from markupsafe import Markup

from engine import Fragment, Page, Query, Shell
from engine.testing import assert_contract, render_timeline
from engine.wire.format import Wire

MODES = ("out-of-order", "in-order", "buffered")
SHELL = '<!doctype html><html><head><meta charset="utf-8"></head><body>{}</body></html>'


def after(delay: float, value: object = 1):
    async def call(**deps: object) -> object:
        await trio.sleep(delay)
        return value

    return call


def page(*fragments: Fragment, queries: tuple[Query, ...]) -> Page:
    slots = "".join(f'<?marker name="{f.target}">' for f in fragments)
    return Page(
        name="cases", shell=Shell(html=SHELL.format(slots)), queries=queries, fragments=fragments
    )


def shows(target: str, *uses: str, **options: object) -> Fragment:
    template = "".join(f"[{{{{ {u} }}}}]" for u in uses)
    return Fragment(target=target, uses=uses, template=template, fallback="…", **options)


@pytest.mark.parametrize("mode", MODES)
async def test_each_stylesheet_is_linked_once_among_several(autojump_clock, mode) -> None:
    # x.css, then y.css, then x.css again: linking y must not forget that x is linked.
    p = page(
        shows("a", "qa", stylesheets=("/x.css",)),
        shows("b", "qb", stylesheets=("/y.css",)),
        shows("c", "qc", stylesheets=("/x.css", "/y.css")),
        queries=(
            Query(name="qa", call=after(0.1, "A"), result=str),
            Query(name="qb", call=after(0.2, "B"), result=str),
            Query(name="qc", call=after(0.3, "C"), result=str),
        ),
    )
    timeline = await render_timeline(p, mode=mode)
    html = timeline.html
    assert html.count('<link rel="stylesheet" href="/x.css">') == 1
    assert html.count('<link rel="stylesheet" href="/y.css">') == 1
    assert html.index('href="/x.css"') < html.index("[A]")
    assert_contract(timeline)


@pytest.mark.parametrize("mode", MODES)
async def test_exposed_data_goes_out_once_among_several(autojump_clock, mode) -> None:
    # qx's fragments come before and after qy's: sending qy must not forget that qx went.
    p = page(
        shows("a", "qx"),
        shows("b", "qy"),
        shows("c", "qx", "qz"),
        queries=(
            Query(name="qx", call=after(0.1, "X"), result=str, expose=True),
            Query(name="qy", call=after(0.2, "Y"), result=str, expose=True),
            Query(name="qz", call=after(0.3, "Z"), result=str),
        ),
    )
    timeline = await render_timeline(p, mode=mode)
    html = timeline.html
    assert html.count('data-query="qx"') == 1
    assert html.count('data-query="qy"') == 1
    assert 'data-query="qz"' not in html
    assert_contract(timeline)


@pytest.mark.parametrize("mode", MODES)
async def test_a_renderer_failure_is_logged_once_with_its_traceback(
    autojump_clock, caplog, mode
) -> None:
    # docs/contract.md: failures are logged (logger "engine") naming page and node; the
    # renderer's own traceback comes with it, since the bug is in the renderer.
    def explode(q: int) -> str:
        raise KeyError("oops")

    p = page(
        Fragment(target="a", uses=("q",), render=explode, fallback="…"),
        shows("b", "q"),
        queries=(Query(name="q", call=after(0.1), result=int),),
    )
    with caplog.at_level(logging.WARNING, logger="engine"):
        await render_timeline(p, mode=mode)
    [record] = [r for r in caplog.records if r.name == "engine"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "page 'cases', fragment 'a': renderer raised KeyError: 'oops'"
    assert record.exc_info is not None and isinstance(record.exc_info[1], KeyError)


@pytest.mark.parametrize("mode", MODES)
async def test_a_renderer_that_returns_no_text_fails_its_fragment_and_says_so(
    autojump_clock, caplog, mode
) -> None:
    p = page(
        Fragment(target="a", uses=("q",), render=lambda q: b"<p>bytes</p>", fallback="…"),
        Fragment(target="b", uses=("q",), render=lambda q: Markup("<p>markup</p>"), fallback="…"),
        queries=(Query(name="q", call=after(0.1), result=int),),
    )
    with caplog.at_level(logging.WARNING, logger="engine"):
        timeline = await render_timeline(p, mode=mode)
    assert "<!--engine:failed-->…" in timeline.html  # the fallback stays
    assert "<p>markup</p>" in timeline.html  # a str subclass is HTML
    assert [r.getMessage() for r in caplog.records if r.name == "engine"] == [
        "page 'cases', fragment 'a': renderer returned bytes, expected HTML as str"
    ]
    assert_contract(timeline)


@pytest.mark.parametrize("mode", MODES)
async def test_a_renderer_whose_slots_differ_from_the_declared_ones_fails_its_fragment(
    autojump_clock, caplog, mode
) -> None:
    p = Page(
        name="cases",
        shell=Shell(html=SHELL.format('<?marker name="a"><?marker name="b">')),
        queries=(Query(name="q", call=after(0.1), result=int),),
        fragments=(
            Fragment(
                target="a",
                uses=("q",),
                render=lambda q: '<div><?marker name="other"></div>',
                slots=("inner",),
                fallback="…",
            ),
            Fragment(target="inner", template="<p>inner</p>"),
            # No slots declared: the marker it renders is found all the same.
            Fragment(target="b", uses=("q",), render=lambda q: '<?marker name="stray">'),
        ),
    )
    with caplog.at_level(logging.WARNING, logger="engine"):
        timeline = await render_timeline(p, mode=mode)
    assert "<!--engine:failed-->…" in timeline.html and "<p>inner</p>" not in timeline.html
    assert [r.getMessage() for r in caplog.records if r.name == "engine"] == [
        "page 'cases', fragment 'a': rendered slots ['other'] but the fragment declares"
        " slots ['inner']",
        "page 'cases', fragment 'b': rendered slots ['stray'] but the fragment declares slots []",
    ]
    assert_contract(timeline)


async def test_in_order_the_swap_script_ends_only_writes_that_bring_something(
    autojump_clock,
) -> None:
    # docs/wire.md: in order, where data is exposed, a write that completed a slot or brought
    # data ends with the swap script; the first write (the shell up to a slot still waiting,
    # then the runtime) brings neither, so it ends with the runtime.
    p = page(
        shows("a", "qx"),
        queries=(Query(name="qx", call=after(0.1, "X"), result=str, expose=True),),
    )
    timeline = await render_timeline(p, mode="in-order")
    wire = Wire()
    first, second = (w.data.decode() for w in timeline.writes if w.data)
    assert first == SHELL.format("").removesuffix("</body></html>") + wire.runtime()
    assert second == (
        '<script type="application/json" data-query="qx">"X"</script><?start name="a">[X]<?end>'
        + wire.swap()
        + "</body></html>"
    )
    assert_contract(timeline)


async def test_out_of_order_a_nested_fragments_data_and_stylesheet_go_before_the_template(
    autojump_clock,
) -> None:
    # docs/wire.md: a write carries data first, then stylesheets, then templates. A fragment
    # placed inside its parent's template brings its prelude before that template, not inside
    # it: a template's content is inert, so a link or data island there is not on the page.
    p = Page(
        name="cases",
        shell=Shell(html=SHELL.format('<?marker name="outer">')),
        queries=(
            Query(name="qo", call=after(0.1, "O"), result=str),
            Query(name="qi", call=after(0.1, "I"), result=str, expose=True),
        ),
        fragments=(
            Fragment(
                target="outer",
                uses=("qo",),
                template='<div>{{ qo }}<?marker name="inner"></div>',
                slots=("inner",),
                fallback="…",
            ),
            shows("inner", "qi", stylesheets=("/inner.css",)),
        ),
    )
    timeline = await render_timeline(p, mode="out-of-order")
    wire = Wire()
    later = [w.data.decode() for w in timeline.writes if w.data][1]
    assert later == (
        '<script type="application/json" data-query="qi">"I"</script>'
        '<link rel="stylesheet" href="/inner.css">'
        '<template for="outer"><?start name="outer"><div>O<?start name="inner">[I]<?end></div>'
        "<?end></template>" + wire.swap() + "</body></html>"
    )
    assert_contract(timeline)
