"""Rendering on trio: timing under MockClock, failure isolation, cancellation, security."""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable

import msgspec
import pytest
import trio

import engine
from engine import Fragment, Page, Query, Shell
from engine.testing import assert_contract, render_timeline
from engine.wire.format import ACTIONS_JS
from tests.memory import held_per_task

SHELL = '<!doctype html><html><head><meta charset="utf-8"></head><body>{}</body></html>'


def page(
    *fragments: Fragment,
    queries: tuple[Query, ...],
    shell_queries=(),
    deadline=None,
    html: str | None = None,
) -> Page:
    slots = "".join(f'<?marker name="{f.target}">' for f in fragments if "." not in f.target)
    return Page(
        name="t",
        shell=Shell(html=html or SHELL.format(slots), queries=shell_queries),
        queries=queries,
        fragments=fragments,
        deadline=deadline,
    )


def sleeper(value, delay: float):
    async def call(**deps):
        await trio.sleep(delay)
        return value

    return call


def frag(target: str, *uses: str, **options) -> Fragment:
    template = "".join(f"[{{{{ {u} }}}}]" for u in uses) or "static"
    return Fragment(
        target=target, uses=uses, template=template, fallback=f"<i>{target}…</i>", **options
    )


class Sink:
    def __init__(self) -> None:
        self.writes: list[tuple[float, bytes]] = []

    async def __call__(self, data: bytes) -> None:
        self.writes.append((trio.current_time(), data))

    @property
    def html(self) -> str:
        return b"".join(d for _, d in self.writes).decode()


async def test_shell_first_then_each_fragment_at_its_latency(autojump_clock) -> None:
    p = page(
        frag("fast", "a"),
        frag("slow", "b"),
        queries=(
            Query(name="a", call=sleeper(1, 0.05), result=int),
            Query(name="b", call=sleeper(2, 0.3), result=int),
        ),
    )
    sink = Sink()
    await engine.render(p, sink)
    assert [t for t, _ in sink.writes] == [0, 0.05, 0.3]
    assert b'<?start name="fast"><i>fast' in sink.writes[0][1]
    assert b'<template for="fast"><?start name="fast">[1]<?end></template>' in sink.writes[1][1]
    assert sink.writes[-1][1].endswith(b"</body></html>")


async def test_ready_chunks_leave_in_one_write_by_priority(autojump_clock) -> None:
    p = page(
        frag("low", "a", priority="low"),
        frag("normal", "a"),
        frag("high", "a", priority="high"),
        queries=(Query(name="a", call=sleeper(1, 0.1), result=int),),
    )
    timeline = await render_timeline(p)
    assert len(timeline.writes) == 2
    assert timeline.order() == ["high", "normal", "low"]
    assert_contract(timeline)


async def test_a_query_starts_when_its_own_dependencies_resolve(autojump_clock) -> None:
    started: dict[str, float] = {}

    def tracked(name: str, delay: float):
        async def call(**deps):
            started[name] = trio.current_time()
            await trio.sleep(delay)
            return 1

        return call

    p = page(
        frag("x", "c"),
        frag("y", "b"),
        queries=(
            Query(name="a", call=tracked("a", 0.1), result=int),
            Query(name="b", call=tracked("b", 1.0), result=int),
            Query(name="c", call=tracked("c", 0.1), result=int, depends_on=("a",)),
        ),
    )
    await engine.render(p, Sink())
    assert started == {"a": 0, "b": 0, "c": 0.1}  # c does not wait for the slow b


async def test_each_query_runs_once_however_many_use_it(autojump_clock) -> None:
    calls = []

    async def counted() -> int:
        calls.append(1)
        return 7

    p = page(
        frag("a", "q"),
        frag("b", "q"),
        frag("c", "q"),
        queries=(Query(name="q", call=counted, result=int, expose=True),),
    )
    sink = Sink()
    await engine.render(p, sink)
    assert len(calls) == 1
    assert sink.html.count('data-query="q"') == 1


async def test_sync_queries_run_in_a_worker_thread() -> None:
    seen = []

    def blocking() -> str:
        seen.append(threading.current_thread() is threading.main_thread())
        return "done"

    html = (
        await engine.render_to_bytes(
            page(frag("a", "q"), queries=(Query(name="q", call=blocking, result=str),)),
            mode="buffered",
        )
    ).decode()
    assert seen == [False]
    assert "[done]" in html


async def test_a_failing_query_fails_only_what_depends_on_it(autojump_clock, caplog) -> None:
    async def broken() -> int:
        raise RuntimeError("database down")

    hooked = []
    p = page(
        frag("ok", "good"),
        frag("bad", "derived"),
        queries=(
            Query(name="good", call=sleeper(1, 0.2), result=int),
            Query(name="broken", call=broken, result=int),
            Query(name="derived", call=sleeper(2, 0), result=int, depends_on=("broken",)),
        ),
    )
    sink = Sink()
    with caplog.at_level(logging.WARNING, logger="engine"):
        await engine.render(p, sink, on_error=lambda page, node, exc: hooked.append((page, node)))
    assert hooked == [("t", "broken")]
    assert "page 't', query 'broken': RuntimeError: database down" in caplog.text
    assert '<template for="bad"><?start name="bad"><!--engine:failed--><i>bad…</i>' in sink.html
    assert '<?start name="ok">[1]<?end>' in sink.html
    assert sink.html.endswith("</body></html>")


async def test_query_timeout_and_page_deadline(autojump_clock) -> None:
    p = page(
        frag("a", "quick"),
        frag("b", "stuck"),
        frag("c", "late"),
        frag("d", "patient"),
        queries=(
            Query(name="quick", call=sleeper(1, 0.1), result=int),
            Query(name="stuck", call=sleeper(1, 60), result=int, timeout=0.5),
            Query(name="late", call=sleeper(1, 60), result=int),
            # Its own timeout would pass after the page's deadline: the deadline is the reason.
            Query(name="patient", call=sleeper(1, 60), result=int, timeout=10),
        ),
        deadline=2.0,
    )
    timeline = await render_timeline(p)
    assert timeline.time_of("b") == 0.5 and timeline.time_of("c") == timeline.time_of("d") == 2.0
    assert str(timeline.queries["stuck"].error) == "page 't', query 'stuck': timed out after 0.5 s"
    assert str(timeline.queries["late"].error) == "page 't', query 'late': the page deadline passed"
    assert (
        str(timeline.queries["patient"].error)
        == "page 't', query 'patient': the page deadline passed"
    )
    assert timeline.writes[-1].time == 2.0
    assert_contract(timeline)


class Product(msgspec.Struct):
    name: str
    price: float


async def test_results_are_converted_and_a_mismatch_names_the_field(autojump_clock) -> None:
    async def good() -> dict:
        return {"name": "x", "price": 1}

    async def bad() -> dict:
        return {"name": "y", "price": "free"}

    p = page(
        frag("a", "good"),
        frag("b", "bad"),
        queries=(
            Query(name="good", call=good, result=Product),
            Query(name="bad", call=bad, result=Product),
        ),
    )
    timeline = await render_timeline(p)
    error = timeline.queries["bad"].error
    assert isinstance(error, engine.ResultTypeError)
    assert str(error) == (
        "page 't', query 'bad': returned a value that is not a valid Product:"
        " Expected `float`, got `str` - at `$.price`"
    )
    assert "Product(name=&#39;x&#39;, price=1.0)" in timeline.html


async def test_a_broken_sink_cancels_every_running_query(autojump_clock) -> None:
    cancelled = []

    async def forever() -> int:
        try:
            await trio.sleep_forever()
        finally:
            cancelled.append(trio.current_time())

    async def sink(data: bytes) -> None:
        if b"</template>" in data or trio.current_time() > 0:
            raise trio.BrokenResourceError("client went away")

    p = page(
        frag("a", "quick"),
        frag("b", "stuck"),
        queries=(
            Query(name="quick", call=sleeper(1, 1), result=int),
            Query(name="stuck", call=forever, result=int),
        ),
    )
    with pytest.raises(trio.BrokenResourceError):
        await engine.render(p, sink)
    assert cancelled == [1]


async def test_cancelling_the_caller_cancels_promptly(autojump_clock) -> None:
    p = page(frag("a", "q"), queries=(Query(name="q", call=sleeper(1, 100), result=int),))
    with trio.move_on_after(3) as scope:
        await engine.render(p, Sink())
    assert scope.cancelled_caught and trio.current_time() == 3


async def test_a_query_finishing_as_the_render_is_cancelled_ends_it_quietly(autojump_clock) -> None:
    # The caller leaves (here: its scope is cancelled) in the very step a query finishes:
    # the writer, waiting for outcomes, has stopped waiting, and the outcome that arrives
    # after must neither wake it nor fail the render.
    with trio.CancelScope() as scope:

        async def last_word() -> int:
            await trio.sleep(1)
            scope.cancel()
            return 1  # no checkpoint: this query succeeds after the cancellation

        p = page(frag("a", "q"), queries=(Query(name="q", call=last_word, result=int),))
        sink = Sink()
        await engine.render(p, sink)
    assert scope.cancelled_caught and trio.current_time() == 1
    assert [t for t, _ in sink.writes] == [0]  # the shell; nothing after the cancellation


async def test_shell_queries_decide_status_before_the_first_byte(autojump_clock) -> None:
    async def missing(product_id: int) -> str:
        raise engine.NotFound(f"no product {product_id}")

    async def broken() -> str:
        raise ValueError("boom")

    html = SHELL.format("{{ p }}")
    not_found = Page(
        name="t",
        shell=Shell(html=html, queries=("p",)),
        queries=(Query(name="p", call=missing, result=str, params=("product_id",)),),
    )
    sink = Sink()
    with pytest.raises(engine.NotFound, match="page 't': no product 42") as caught:
        await engine.render(not_found, sink, params={"product_id": "42"})
    assert caught.value.status_code == 404 and sink.writes == []
    with pytest.raises(engine.ParameterError, match="missing request parameter 'product_id'"):
        await engine.render(not_found, sink)
    with pytest.raises(engine.ParameterError, match="'product_id'='x' is not a valid int"):
        await engine.render(not_found, sink, params={"product_id": "x"})
    failing = Page(
        name="t",
        shell=Shell(html=html, queries=("p",)),
        queries=(Query(name="p", call=broken, result=str),),
    )
    with pytest.raises(engine.ShellError, match="shell query 'p' failed") as shell_error:
        await engine.render(failing, sink)
    assert shell_error.value.status_code == 500 and sink.writes == []


async def test_defaulted_parameters_may_be_left_out(autojump_clock) -> None:
    async def greet(name: str = "world") -> str:
        return f"hello {name}"

    p = page(frag("a", "g"), queries=(Query(name="g", call=greet, result=str, params=("name",)),))
    assert b"[hello world]" in await engine.render_to_bytes(p, mode="buffered")
    assert b"[hello you]" in await engine.render_to_bytes(
        p, mode="buffered", params={"name": "you"}
    )


def _sha(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()


async def test_every_inline_script_carries_the_nonce_and_hashes_match(autojump_clock) -> None:
    html_shell = SHELL.format(
        '<script nonce="{{ csp_nonce }}">window.mine=1</script><?marker name="a">'
    )
    p = page(
        frag("a", "q"),
        queries=(Query(name="q", call=sleeper(1, 0.1), result=int),),
        html=html_shell,
    )
    p = msgspec.structs.replace(p, navigation=True)  # navigate.js too
    html = (await engine.render_to_bytes(p, nonce="r4nd0mN0nce")).decode()
    tags = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
    executable = [(attrs, body) for attrs, body in tags if "application/json" not in attrs]
    assert len(executable) == 4
    assert all('nonce="r4nd0mN0nce"' in attrs for attrs, _ in executable)
    engine_scripts = {_sha(body) for _, body in executable if body != "window.mine=1"}
    assert engine_scripts == set(engine.SCRIPT_HASHES) - {_sha(ACTIONS_JS)}, "no actions here"
    with pytest.raises(ValueError, match="CSP nonce"):
        await engine.render_to_bytes(p, nonce='"><script>')


async def test_only_exposed_data_reaches_the_page_and_it_is_escaped(autojump_clock) -> None:
    p = page(
        frag("a", "public", "secret"),
        queries=(
            Query(name="public", call=sleeper("</script><b>", 0), result=str, expose=True),
            Query(name="secret", call=sleeper("s3cr3t-token", 0), result=str),
        ),
    )
    timeline = await render_timeline(p)
    html = timeline.html
    assert '<script type="application/json" data-query="public">"\\u003c/script\\u003e' in html
    assert 'data-query="secret"' not in html
    assert_contract(timeline)


async def test_in_order_has_no_script_and_buffered_is_one_write(autojump_clock) -> None:
    p = page(
        frag("a", "q"),
        frag("b", "r"),
        queries=(
            Query(name="q", call=sleeper(1, 0.2), result=int),
            Query(name="r", call=sleeper(2, 0.1), result=int),
        ),
    )
    in_order = await render_timeline(p, mode="in-order")
    assert "<script" not in in_order.html and "<template" not in in_order.html
    assert [w.time for w in in_order.writes] == [0, 0.2]
    buffered = await render_timeline(p, mode="buffered")
    assert len(buffered.writes) == 1 and buffered.writes[0].time == 0.2
    assert '<?start name="a">[1]<?end><?start name="b">[2]<?end>' in buffered.html


def list_page(rows: Callable[[], AsyncIterator[list[int]]]) -> Page:
    """A list filled by an append fragment, one ``<li>`` per row of each batch of ``rows``."""
    return page(
        Fragment(
            target="list",
            uses=("rows",),
            mode="append",
            fallback="<li>…</li>",
            render=lambda rows: "".join(f"<li>{r}</li>" for r in rows),
        ),
        queries=(Query(name="rows", call=rows, result=list[int]),),
    )


async def test_append_fragments_stream_batches_in_order(autojump_clock) -> None:
    async def rows():
        for i in range(3):
            await trio.sleep(0.1)
            yield [i]

    p = list_page(rows)
    ooo = await render_timeline(p)
    assert [w.time for w in ooo.writes] == pytest.approx([0, 0.1, 0.2, 0.3])
    assert '<template for="list.1"><li>1</li><?marker name="list.2"></template>' in ooo.html
    assert '<template for="list.2"><li>2</li></template>' in ooo.html
    assert_contract(ooo)
    in_order = await render_timeline(p, mode="in-order")
    assert "<li>0</li><li>1</li><li>2</li><?end>" in in_order.html
    assert "marker" not in in_order.html


class Countdown:
    """An async iterator that is not a generator: it has no ``aclose`` to call."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __aiter__(self) -> Countdown:
        return self

    async def __anext__(self) -> list[int]:
        if not self.n:
            raise StopAsyncIteration
        self.n -= 1
        return [self.n]


async def test_a_batched_query_may_return_any_async_iterator(autojump_clock) -> None:
    # A callable annotated to return an async iterator is batched too; only a generator has
    # `aclose` to call when it ends.
    def rows() -> AsyncIterator[list[int]]:
        return Countdown(2)

    p = list_page(rows)
    sink = Sink()
    await engine.render(p, sink, mode="in-order")
    assert '<?start name="list"><li>1</li><li>0</li><?end>' in sink.html
    timeline = await render_timeline(p, mode="in-order")  # its fakes wrap the iterator
    assert '<?start name="list"><li>1</li><li>0</li><?end>' in timeline.html


async def test_stylesheets_go_out_once_before_their_first_fragment(autojump_clock) -> None:
    p = page(
        frag("a", "q", stylesheets=("/x.css",)),
        frag("b", "r", stylesheets=("/x.css",)),
        queries=(
            Query(name="q", call=sleeper(1, 0.1), result=int),
            Query(name="r", call=sleeper(2, 0.2), result=int),
        ),
    )
    timeline = await render_timeline(p)
    assert timeline.html.count('<link rel="stylesheet" href="/x.css">') == 1
    assert_contract(timeline)


async def test_partial_fragment_render_for_refresh(autojump_clock) -> None:
    p = page(
        frag("a", "q"),
        frag("b", "r"),
        queries=(
            Query(name="q", call=sleeper(1, 0.1), result=int, expose=True),
            Query(name="r", call=sleeper(2, 50), result=int),
        ),
    )
    sink = Sink()
    await engine.render_fragment(p, "a", sink)
    assert sink.writes == [
        (
            0.1,
            b'<script type="application/json" data-query="q">1</script>'
            b'<template for="a"><?start name="a">[1]<?end></template>',
        )
    ]
    with pytest.raises(engine.NotFound, match="no fragment 'zz'"):
        await engine.render_fragment(p, "zz", sink)


async def test_each_query_gets_every_parameter_it_declares_though_others_share_them() -> None:
    # `a` is read once for both queries; `second` still gets `b`, declared after it. Rendered
    # alone, `y` reads only its own query's parameters (`c` may be absent), including those of
    # a query declared after one it does not need.
    async def first(a: int, c: int) -> int:
        return a + c

    async def second(a: int, b: int) -> int:
        return 10 * a + b

    p = page(
        frag("x", "first"),
        frag("y", "second"),
        queries=(
            Query(name="first", call=first, result=int, params=("a", "c")),
            Query(name="second", call=second, result=int, params=("a", "b")),
        ),
    )
    html = await engine.render_to_bytes(p, params={"a": "1", "b": "2", "c": "3"})
    assert b'<?start name="x">[4]<?end>' in html and b'<?start name="y">[12]<?end>' in html
    sink = Sink()
    await engine.render_fragment(p, "y", sink, params={"a": "1", "b": "2"})
    assert sink.html == '<template for="y"><?start name="y">[12]<?end></template>'


async def test_renderer_failures_are_isolated(autojump_clock) -> None:
    def explode(q: int) -> str:
        raise KeyError("oops")

    p = page(
        Fragment(target="a", uses=("q",), render=explode, fallback="…", error="<p>sorry</p>"),
        frag("b", "q"),
        queries=(Query(name="q", call=sleeper(1, 0.1), result=int),),
    )
    timeline = await render_timeline(p)
    assert "<!--engine:failed--><p>sorry</p>" in timeline.html
    assert '<?start name="b">[1]<?end>' in timeline.html
    assert_contract(timeline)


async def test_a_batched_query_runs_at_most_a_window_ahead_of_a_slow_client(
    autojump_clock,
) -> None:
    from engine._writer import BATCH_WINDOW

    produced: list[float] = []

    async def firehose():
        for i in range(100):
            produced.append(trio.current_time())
            yield [i]

    async def slow_client(data: bytes) -> None:
        await trio.sleep(1)

    p = page(
        Fragment(
            target="list",
            uses=("rows",),
            mode="append",
            fallback="<li>…</li>",
            render=lambda rows: f"<li>{rows[0]}</li>",
        ),
        queries=(Query(name="rows", call=firehose, result=list[int]),),
    )
    await engine.render(p, slow_client)
    # While the client takes the shell (1 s), the query may only run a window ahead.
    assert sum(1 for t in produced if t < 1) == BATCH_WINDOW
    assert len(produced) == 100
    html = await engine.render_to_bytes(p, mode="buffered")  # buffered: no window needed
    assert html.count(b"<li>") == 100


def _big_shell_page(call: Callable[[], object]) -> Page:
    text = "<p>" + "x" * 200_000 + "</p>"
    return Page(
        name="big",
        shell=Shell(html=f'<!doctype html><meta charset="utf-8"><body>{text}<?marker name="a">'),
        queries=(Query(name="q", call=call, result=str),),
        fragments=(Fragment(target="a", uses=("q",), template="{{ q }}"),),
    )


async def _held_per_render(p: Page, sink: engine.Sink, gate: list[trio.Event]) -> float:
    """Python heap each of four renders of ``p`` holds once all of them wait on ``gate``."""
    gate[0].set()
    await engine.render(p, sink)  # warm: graph, templates, code paths
    gate[0] = trio.Event()
    return await held_per_task([functools.partial(engine.render, p, sink)] * 4, gate[0].set)


async def test_a_stream_waiting_for_its_data_holds_no_copy_of_its_shell() -> None:
    """Open streams cost memory only for what they wait for (S3): once written, the shell's
    text is let go, however large it is."""
    gate = [trio.Event()]

    async def slow() -> str:
        await gate[0].wait()
        return "done"

    written = []

    async def sink(data: bytes) -> None:
        if not gate[0].is_set():  # what went out while the renders waited
            written.append(len(data))  # the bytes themselves are dropped, as a socket would

    held = await _held_per_render(_big_shell_page(slow), sink, gate)
    assert len(written) == 4 and min(written) > 200_000, "every shell is out, alone"
    assert held < 50_000, f"a waiting render holds {held:,.0f} bytes"


async def test_a_write_the_client_is_slow_to_take_holds_one_copy_of_its_bytes() -> None:
    """While a send waits (a thousand clients connecting at once, a socket that is full), the
    render holds the bytes it sends and not the text they were encoded from: each copy held
    across that wait is memory the process keeps after it (S3's RSS per stream)."""
    gate = [trio.Event()]

    async def sink(data: bytes) -> None:
        await gate[0].wait()  # the bytes stay with the send until the client takes them

    held = await _held_per_render(_big_shell_page(lambda: "done"), sink, gate)
    assert 200_000 < held < 300_000, f"a render waiting on its send holds {held:,.0f} bytes"


def _tasks(nursery: trio.Nursery) -> list[trio.lowlevel.Task]:
    return [
        found
        for task in nursery.child_tasks
        for found in (task, *(t for inner in task.child_nurseries for t in _tasks(inner)))
    ]


async def test_a_waiting_query_holds_no_frame_between_its_task_and_its_call() -> None:
    """S3: a stream waiting for a plain query holds its task's chain of frames, so the task
    awaits the query's own coroutine with nothing in between."""
    waiting, release = trio.Event(), trio.Event()

    async def slow() -> str:
        waiting.set()
        await release.wait()
        return "done"

    p = Page(
        name="p",
        shell=Shell(html='<!doctype html><meta charset="utf-8"><?marker name="a">'),
        queries=(Query(name="q", call=slow, result=str),),
        fragments=(Fragment(target="a", uses=("q",), template="{{ q }}"),),
    )

    async def sink(data: bytes) -> None:
        pass

    async with trio.open_nursery() as nursery:
        nursery.start_soon(engine.render, p, sink)
        await waiting.wait()
        (task,) = (t for t in _tasks(nursery) if t.name == "query q")
        chain, coroutine = [], task.coro
        while hasattr(coroutine, "cr_code"):
            chain.append(coroutine.cr_code.co_qualname)
            coroutine = coroutine.cr_await
        release.set()
    assert chain[:2] == [
        "Resolution._run",
        "test_a_waiting_query_holds_no_frame_between_its_task_and_its_call.<locals>.slow",
    ]
