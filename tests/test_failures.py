"""Failures at render time fail only what they touch, and the document still closes.

BaseException subclasses raised by queries and renderers, failing heads of deep
dependency chains, and the error hook: each case is rendered in every mode.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
import trio

import engine
from engine import Fragment, Page, Query, Shell
from engine.resolution.resolve import Event, Resolution

MODES = ("out-of-order", "in-order", "buffered")
SHELL = '<!doctype html><html><head><meta charset="utf-8"></head><body>{}</body></html>'
TAIL = "</body></html>"


class Custom(BaseException):
    """A library's own BaseException subclass."""


RAISED = [
    SystemExit(3),
    GeneratorExit(),
    asyncio.CancelledError(),
    Custom("custom"),
    BaseExceptionGroup("group", [SystemExit(1), ValueError("v")]),
]


def two_slot_page(broken_query, *, renderer=None) -> Page:
    """Slot ``bad`` uses the broken query (or the broken renderer); slot ``ok`` does not."""
    bad = (
        Fragment(target="bad", uses=("good",), render=renderer, error="<p>sorry</p>")
        if renderer is not None
        else Fragment(target="bad", uses=("broken",), template="{{ broken }}", error="<p>sorry</p>")
    )

    async def good() -> int:
        await trio.sleep(0.1)
        return 7

    queries = [Query(name="good", call=good, result=int)]
    if broken_query is not None:
        queries.append(Query(name="broken", call=broken_query, result=int))
    return Page(
        name="p",
        shell=Shell(html=SHELL.format('<?marker name="bad"><?marker name="ok">')),
        queries=tuple(queries),
        fragments=(bad, Fragment(target="ok", uses=("good",), template="ok={{ good }}")),
    )


def assert_only_bad_failed(html: str) -> None:
    assert "<!--engine:failed--><p>sorry</p>" in html
    assert "ok=7" in html
    assert html.endswith(TAIL)


def raiser(exc: BaseException, kind: str):
    if kind == "async":

        async def call() -> int:
            await trio.sleep(0.05)
            raise exc

    else:

        def call() -> int:  # runs in a worker thread
            raise exc

    return call


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("exc", RAISED, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_a_base_exception_from_a_query_fails_only_that_query(
    autojump_clock, mode, exc, kind, caplog
) -> None:
    p = two_slot_page(raiser(exc, kind))
    with caplog.at_level(logging.WARNING, logger="engine"):
        html = (await engine.render_to_bytes(p, mode=mode)).decode()
    assert_only_bad_failed(html)
    assert f"page 'p', query 'broken': {type(exc).__name__}" in caplog.text


async def test_a_base_exception_from_a_batched_query_ends_its_append_slot(autojump_clock) -> None:
    async def batches():
        yield [1]
        await trio.sleep(0.05)
        raise SystemExit(2)

    hooked: list[tuple[str, str, str]] = []
    p = Page(
        name="p",
        shell=Shell(html=SHELL.format('<ul><?marker name="feed"></ul>')),
        queries=(Query(name="feed", call=batches, result=list[int]),),
        fragments=(
            Fragment(
                target="feed", uses=("feed",), mode="append", template="<li>{{ feed.0 }}</li>"
            ),
        ),
    )
    sink = Collect()
    await engine.render(p, sink, on_error=lambda page, node, e: hooked.append((page, node, str(e))))
    assert hooked == [("p", "feed", "page 'p', query 'feed': SystemExit: 2")]
    assert "<li>1</li>" in sink.html and "<!--engine:failed-->" in sink.html
    assert sink.html.endswith(TAIL)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("exc", RAISED, ids=lambda e: type(e).__name__)
async def test_a_base_exception_from_a_renderer_fails_only_its_fragment(
    autojump_clock, mode, exc
) -> None:
    def renderer(good: int) -> str:
        raise exc

    hooked: list[tuple[str, str, type]] = []
    sink = Collect()
    await engine.render(
        two_slot_page(None, renderer=renderer),
        sink,
        mode=mode,
        on_error=lambda page, node, e: hooked.append((page, node, type(e.__cause__))),
    )
    assert_only_bad_failed(sink.html)
    assert hooked == [("p", "bad", type(exc))]


@pytest.mark.parametrize("mode", MODES)
async def test_renderer_failures_reach_on_error(autojump_clock, mode) -> None:
    def renderer(good: int) -> str:
        raise KeyError("oops")

    hooked: list[tuple[str, str, str]] = []
    sink = Collect()
    await engine.render(
        two_slot_page(None, renderer=renderer),
        sink,
        mode=mode,
        on_error=lambda page, node, e: hooked.append((page, node, str(e))),
    )
    assert hooked == [("p", "bad", "page 'p', fragment 'bad': renderer raised KeyError: 'oops'")]
    assert_only_bad_failed(sink.html)


async def test_an_error_hook_that_raises_is_logged_not_fatal(autojump_clock, caplog) -> None:
    async def broken() -> int:
        raise ValueError("down")

    def hook(page: str, node: str, error: BaseException) -> None:
        raise RuntimeError("metrics backend down")

    sink = Collect()
    with caplog.at_level(logging.ERROR, logger="engine"):
        await engine.render(two_slot_page(broken), sink, on_error=hook)
    assert_only_bad_failed(sink.html)
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "page 'p': on_error hook raised while reporting 'broken'"
    assert record.exc_info is not None and "metrics backend down" in str(record.exc_info[1])


async def test_keyboard_interrupt_and_trio_cancelled_propagate(autojump_clock) -> None:
    async def interrupted() -> int:
        raise KeyboardInterrupt

    with pytest.RaisesGroup(KeyboardInterrupt, flatten_subgroups=True):
        await engine.render(two_slot_page(interrupted), Collect())

    # trio.Cancelled is the engine's own cancellation (here the caller leaving): the
    # query that was running did not fail, so nothing is reported.
    async def slow() -> int:
        await trio.sleep(10)
        return 1

    hooked: list[BaseException] = []
    with trio.move_on_after(1):
        await engine.render(
            two_slot_page(slow), Collect(), on_error=lambda p, n, e: hooked.append(e)
        )
    assert hooked == []


@pytest.mark.parametrize("mode", MODES)
async def test_a_failing_head_of_a_deep_chain_fails_it_without_recursion(
    autojump_clock, mode
) -> None:
    depth = 1500  # deeper than the interpreter's recursion limit

    async def head() -> int:
        raise ValueError("head broke")

    async def link(**previous: int) -> int:
        return 1

    queries = [Query(name="q0", call=head, result=int)] + [
        Query(name=f"q{i}", call=link, result=int, depends_on=(f"q{i - 1}",))
        for i in range(1, depth)
    ]
    p = Page(
        name="chain",
        shell=Shell(html=SHELL.format('<?marker name="tail"><?marker name="ok">')),
        queries=tuple(queries),
        fragments=(
            Fragment(
                target="tail",
                uses=(f"q{depth - 1}",),
                template=f"{{{{ q{depth - 1} }}}}",
                error="<p>broken</p>",
            ),
            Fragment(target="ok", template="fine"),
        ),
    )
    hooked: list[str] = []
    sink = Collect()
    await engine.render(p, sink, mode=mode, on_error=lambda page, node, e: hooked.append(node))
    assert hooked == ["q0"]  # the dependents fail with it, reported as DependencyFailed only
    assert "<!--engine:failed--><p>broken</p>" in sink.html and "fine" in sink.html
    assert sink.html.endswith(TAIL)


async def test_a_failure_reaches_each_dependent_once_naming_it() -> None:
    # A diamond: `b` and `c` depend on `a`, `d` on both. When `a` fails, each dependent fails
    # once (reached through `b` first, `d` is not failed again through `c`), named in its error.
    async def broken() -> int:
        raise ValueError("a broke")

    async def after(**previous: int) -> int:
        return 1

    p = Page(
        name="diamond",
        shell=Shell(html=SHELL.format('<?marker name="d">')),
        queries=(
            Query(name="a", call=broken, result=int),
            Query(name="b", call=after, result=int, depends_on=("a",)),
            Query(name="c", call=after, result=int, depends_on=("a",)),
            Query(name="d", call=after, result=int, depends_on=("b", "c")),
        ),
        fragments=(Fragment(target="d", uses=("d",), template="{{ d }}"),),
    )
    graph = engine.Graph.build(p)
    events: list[Event] = []
    async with trio.open_nursery() as nursery:
        Resolution(graph, {}, nursery, events.append).start()
    failed = sorted((graph.queries[e.query].name, e.kind, str(e.error)) for e in events)
    assert failed == [
        ("a", "failed", "page 'diamond', query 'a': ValueError: a broke"),
        ("b", "failed", "page 'diamond', query 'b': depends on 'a', which failed"),
        ("c", "failed", "page 'diamond', query 'c': depends on 'a', which failed"),
        ("d", "failed", "page 'diamond', query 'd': depends on 'b', which failed"),
    ]


class Collect:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    async def __call__(self, data: bytes) -> None:
        self.parts.append(data)

    @property
    def html(self) -> str:
        return b"".join(self.parts).decode()


@pytest.mark.parametrize("how", ["timeout", "caller"])
async def test_a_batched_query_is_closed_at_once_when_cancelled(autojump_clock, how) -> None:
    """The generator waits at a ``yield`` (a window ahead of a slow client) when the
    render stops: the engine closes it then, not the garbage collector some time later."""
    closed: list[bool] = []
    returned: list[bool] = []

    async def endless():
        try:
            while True:
                yield [1]
        finally:
            closed.append(bool(returned))

    async def slow_client(data: bytes) -> None:
        await trio.sleep(10)

    p = Page(
        name="p",
        shell=Shell(html=SHELL.format('<ul><?marker name="feed"></ul>')),
        queries=(
            Query(
                name="feed",
                call=endless,
                result=list[int],
                timeout=2.5 if how == "timeout" else None,
            ),
        ),
        fragments=(
            Fragment(
                target="feed", uses=("feed",), mode="append", template="<li>{{ feed.0 }}</li>"
            ),
        ),
    )
    with trio.move_on_after(2.5 if how == "caller" else 100):
        await engine.render(p, slow_client)
    returned.append(True)
    assert closed == [False]
