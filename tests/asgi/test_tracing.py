"""OpenTelemetry tracing (App(tracing=...)): the span tree of a render, its attributes, flush
spans that end only once their bytes were sent, and the link to the server's request span, in
process under trio's MockClock, in an asyncio guest run, and behind real servers."""

from __future__ import annotations

import asyncio
import contextvars
import json
import subprocess
import sys
import textwrap

import pytest
import trio
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode
from servers import REPO, fetch, free_port, hypercorn_argv, start_server, uvicorn_argv
from test_app import Client, call, scope
from traced_site import PAGES, page

import engine
from engine import Graph
from engine.asgi import App, TrioASGI
from engine.observe.otel import Tracing
from engine.resolution.resolve import Resolution


class Spans:
    """A tracer provider whose finished spans stay in memory, looked up by name."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(shutdown_on_exit=False)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    @property
    def finished(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    def named(self, name: str) -> ReadableSpan:
        found = [s for s in self.finished if s.name == name]
        assert len(found) == 1, f"{len(found)} spans named {name!r}: {self.names}"
        return found[0]

    def all_named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.finished if s.name == name]

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.finished]


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def seconds(span: ReadableSpan) -> float:
    return (span.end_time - span.start_time) / 1e9


@pytest.fixture
def spans() -> Spans:
    return Spans()


async def test_a_render_is_one_span_with_a_child_per_query(autojump_clock, spans) -> None:
    client = await call(App(PAGES, tracing=spans.provider), "/traced/x", "delay=2")
    assert client.start["status"] == 200 and client.complete

    render = spans.named("render traced")
    assert render.parent is None, "no request span: the render is the root"
    assert dict(render.attributes) == {
        "engine.page": "traced",
        "engine.mode": "out-of-order",
        "http.response.status_code": 200,
        "engine.outcome": "ok",
    }
    assert render.status.status_code is StatusCode.UNSET
    assert seconds(render) == pytest.approx(2.0)

    queries = {
        n: spans.named(f"query {n}") for n in ("title", "broken", "after", "slow", "derived")
    }
    for span in queries.values():
        assert parent_of(span) == render.context.span_id
        assert span.context.trace_id == render.context.trace_id

    broken = queries["broken"]
    assert broken.attributes["engine.query.outcome"] == "failed"
    assert broken.attributes["error.type"] == "ValueError"
    assert broken.status.status_code is StatusCode.ERROR
    assert "the source is down" in broken.status.description
    assert [e.name for e in broken.events] == ["exception"]

    after = queries["after"]  # never ran: failed with the query it depends on
    assert after.attributes["engine.query.outcome"] == "failed"
    assert after.attributes["error.type"] == "DependencyFailed"
    assert after.attributes["engine.query.failed_dependency"] == "broken"
    assert after.status.status_code is StatusCode.ERROR
    assert after.events == (), "the dependency's exception is recorded once, on its own span"
    assert [link.context.span_id for link in after.links] == [broken.context.span_id]

    slow, derived = queries["slow"], queries["derived"]
    assert slow.attributes["engine.query.outcome"] == "done" and "error.type" not in slow.attributes
    assert slow.status.status_code is StatusCode.UNSET
    assert seconds(slow) == pytest.approx(2.0), "span times follow the render's (mock) clock"
    assert [link.context.span_id for link in derived.links] == [slow.context.span_id]
    assert derived.start_time >= slow.end_time

    assert client.headers[b"server-timing"] == b"title;dur=0.0", "Server-Timing still works"


async def test_a_404_from_a_shell_query_is_an_answer_not_an_error(autojump_clock, spans) -> None:
    client = await call(App(PAGES, tracing=spans.provider), "/traced/missing")
    assert client.start["status"] == 404
    render, title = spans.named("render traced"), spans.named("query title")
    assert render.attributes["http.response.status_code"] == 404
    assert render.status.status_code is StatusCode.UNSET
    assert title.attributes["error.type"] == "NotFound"
    assert title.status.status_code is StatusCode.UNSET and title.events == ()


class CountingProvider:
    """A tracer provider that counts the spans the engine asks for."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.started: list[str] = []

    def get_tracer(self, *args, **kwargs):
        tracer = self.provider.get_tracer(*args, **kwargs)
        counting = self

        class Counting:
            def start_span(self, name, *args, **kwargs):
                counting.started.append(name)
                return tracer.start_span(name, *args, **kwargs)

        return Counting()


async def test_a_render_sampled_out_asks_for_no_other_span(autojump_clock) -> None:
    """Sampling keeps a fraction of traces: the others cost one span, not one per query."""
    sampled_out = CountingProvider(TracerProvider(sampler=ALWAYS_OFF, shutdown_on_exit=False))
    client = await call(App(PAGES, tracing=sampled_out), "/traced/x", "delay=1")
    assert client.start["status"] == 200 and client.complete
    assert client.headers[b"server-timing"] == b"title;dur=0.0"
    assert sampled_out.started == ["render traced"]
    sampled_in = CountingProvider(TracerProvider(shutdown_on_exit=False))
    await call(App(PAGES, tracing=sampled_in), "/traced/x", "delay=1")
    assert len(sampled_in.started) == 1 + 5 + 2  # the render, its queries, its two flushes


async def test_a_fragment_render_and_a_buffered_one_say_so(autojump_clock, spans) -> None:
    app = App(PAGES, tracing=spans.provider)
    await call(app, "/traced/x", "delay=1&fragment=ok")
    await call(app, "/traced/x", "delay=1&mode=buffered")
    first, second = spans.all_named("render traced")
    assert first.attributes["engine.mode"] == "fragment"
    assert first.attributes["engine.fragment"] == "ok"
    assert second.attributes["engine.mode"] == "buffered"
    assert "engine.fragment" not in second.attributes


class SlowClient(Client):
    """Every body message takes ``SEND`` virtual seconds to be sent; records when each returned."""

    SEND = 0.5

    def __init__(self) -> None:
        super().__init__()
        self.sent_at: list[float] = []

    async def send(self, message: dict) -> None:
        if message["type"] == "http.response.body" and message["body"]:
            await trio.sleep(self.SEND)
        await super().send(message)
        if message["type"] == "http.response.body" and message["body"]:
            self.sent_at.append(trio.current_time() - self.origin)


@pytest.mark.parametrize("mode", ["out-of-order", "buffered"])
async def test_a_flush_span_ends_when_its_bytes_were_sent(autojump_clock, spans, mode) -> None:
    client = await call(
        App(PAGES, tracing=spans.provider, flush_stamps=False),
        "/traced/x",
        f"delay=2&mode={mode}",
        client=SlowClient(),
    )
    render = spans.named("render traced")
    flushes = sorted(spans.all_named("flush"), key=lambda s: s.attributes["engine.flush.index"])
    assert len(flushes) == len(client.sent_at) == (2 if mode == "out-of-order" else 1)
    for flush, sent_at in zip(flushes, client.sent_at, strict=True):
        assert parent_of(flush) == render.context.span_id
        # Ends exactly when the server's send returned (virtual time), not when handed over.
        assert flush.end_time - render.start_time == pytest.approx(sent_at * 1e9, abs=1e3)
        assert seconds(flush) == pytest.approx(SlowClient.SEND)
        assert flush.attributes["engine.flush.written"] is True
    assert b"".join(m["body"] for _, m in client.bodies) == client.body
    if mode == "out-of-order":
        shell, last = flushes
        assert shell.attributes["engine.flush.chunks"] == ("shell", "failed bad")
        assert shell.attributes["engine.flush.fragments"] == ("bad",)
        assert last.attributes["engine.flush.chunks"] == ("fragment ok", "close")
        assert last.attributes["engine.flush.bytes"] == len(client.bodies[1][1]["body"])
        assert shell.end_time <= last.start_time
    assert render.end_time >= flushes[-1].end_time


async def test_a_flush_whose_send_failed_or_never_came_says_so(autojump_clock, spans) -> None:
    app = App(PAGES, tracing=spans.provider)
    gone = await call(app, "/traced/x", "delay=1", client=Client(send_error=OSError))
    assert gone.start["status"] == 200 and not gone.bodies
    await call(app, "/traced/x", "delay=1", method="HEAD")
    failed, head = spans.all_named("render traced")
    assert failed.attributes["engine.outcome"] == "client gone"
    assert head.attributes["engine.outcome"] == "ok"
    (not_written, never_sent) = spans.all_named("flush")
    assert not_written.attributes["engine.flush.written"] is False
    assert not_written.status.status_code is StatusCode.ERROR
    assert "not written: OSError('client gone')" in not_written.status.description
    assert never_sent.attributes["engine.flush.written"] is False
    assert never_sent.status.status_code is StatusCode.UNSET
    assert never_sent.end_time == head.end_time


async def test_a_client_that_leaves_ends_every_span(autojump_clock, spans) -> None:
    app = App(PAGES, tracing=spans.provider)
    client = Client()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(app, scope("/traced/x", "delay=10"), client.receive, client.send)
        await trio.sleep(1)
        client.disconnected.set()
    render = spans.named("render traced")
    assert render.attributes["engine.outcome"] == "client gone"
    assert seconds(render) == pytest.approx(1.0)
    slow = spans.named("query slow")
    assert slow.attributes["engine.query.outcome"] == "cancelled"
    assert slow.end_time == render.end_time
    assert "query derived" not in spans.names, "never started, never reported"


async def test_data_layer_notes_become_engine_attributes(autojump_clock, spans) -> None:
    graph = Graph.build(page)
    slow = graph.queries[graph.query_index["slow"]]
    trace = Tracing(spans.provider).start(graph, "out-of-order", None)
    async with trio.open_nursery() as nursery:
        resolution = Resolution(
            graph, {"item": "x", "delay": 1.0}, nursery, lambda _: None, tracer=trace
        )
        resolution.note(slow, "cache", "miss")  # before its span exists
        resolution.start()
        await trio.sleep(0.5)
        resolution.note(slow, "admission.wait_s", 0.25)  # while it runs
        resolution.note(slow, "batch.size", 3)
        resolution.note(slow, "source", ("a", "b"))  # not an attribute type: its text
    resolution.note(slow, "cache", "stale")  # after its span ended: dropped, no warning
    trace.finish(None, "ok")
    attributes = spans.named("query slow").attributes
    assert attributes["engine.cache"] == "miss", "the late note did not reach the ended span"
    assert attributes["engine.admission.wait_s"] == 0.25
    assert attributes["engine.batch.size"] == 3
    assert attributes["engine.source"] == "('a', 'b')"


async def inner() -> str:
    span = trace.get_current_span()
    span.add_event("inside")
    return f"{span.get_span_context().span_id:016x}"


def threaded(inner: str) -> str:
    trace.get_current_span().add_event("in a thread")
    return inner


INNER = engine.Page(
    name="inner",
    shell=engine.Shell(html='<!doctype html><html><body><?marker name="x"></body></html>'),
    queries=(
        engine.Query(name="inner", call=inner, result=str),
        engine.Query(name="threaded", call=threaded, result=str, depends_on=("inner",)),
    ),
    fragments=(engine.Fragment(target="x", uses=("threaded",), template="{{ threaded }}"),),
)


async def test_code_a_query_calls_sees_the_query_span_as_current(spans) -> None:
    """So spans of instrumented libraries (HTTP clients, drivers) nest under the query's."""
    client = await call(App({"/": INNER}, tracing=spans.provider), "/")
    inner, threaded = spans.named("query inner"), spans.named("query threaded")
    assert [e.name for e in inner.events] == ["inside"]
    assert [e.name for e in threaded.events] == ["in a thread"]
    assert f"{inner.context.span_id:016x}".encode() in client.body
    render = spans.named("render inner")
    assert parent_of(inner) == parent_of(threaded) == render.context.span_id


async def fetch_users(ids: list[int]) -> dict[int, str]:
    await trio.sleep(1)
    return {i: f"user{i}" for i in ids}


USERS = engine.Loader(fetch_users, name="users", source="db")


def loads(key: int):
    async def call(users: engine.RequestLoader[int, str], started: bool) -> str:
        return await users.load(key)

    return call


async def started() -> bool:
    return True


async def limited() -> str:
    await trio.sleep(0.5)
    return "limited"


DATA_LAYER = engine.Page(
    name="data",
    shell=engine.Shell(html=INNER.shell.html.replace('name="x"', 'name="a"><?marker name="b"')),
    queries=(
        # `limited` asks for db's one place in the first turn; the loading queries wait for
        # `started`, so their batched call asks in a later one whatever order trio runs tasks in.
        engine.Query(name="started", call=started, result=bool),
        engine.Query(
            name="a", call=loads(1), result=str, loaders=(USERS,), depends_on=("started",)
        ),
        engine.Query(
            name="b", call=loads(2), result=str, loaders=(USERS,), depends_on=("started",)
        ),
        engine.Query(name="limited", call=limited, result=str, source="db"),
    ),
    fragments=(
        engine.Fragment(target="a", uses=("a", "limited"), template="{{ a }}{{ limited }}"),
        engine.Fragment(target="b", uses=("b",), template="{{ b }}", priority="low"),
    ),
)


async def test_batch_size_and_admission_wait_are_query_attributes(autojump_clock, spans) -> None:
    """What the batching and admission layers note arrives on the spans of a served render."""
    app = App({"/": DATA_LAYER}, tracing=spans.provider, sources=engine.Sources(db=1))
    client = await call(app, "/")
    assert b"user1limited" in client.body and b"user2" in client.body
    a, b, limited = (spans.named(f"query {n}") for n in ("a", "b", "limited"))
    assert a.attributes["engine.batch.size"] == b.attributes["engine.batch.size"] == 2
    # One place in db: `limited` takes it at once; the batched call, which goes out once both
    # loading queries took their first step, waits until `limited` gives it back.
    assert limited.attributes["engine.admission.wait_s"] == 0
    assert a.attributes["engine.admission.wait_s"] == pytest.approx(0.5)
    assert b.attributes["engine.admission.wait_s"] == pytest.approx(0.5)
    assert seconds(a) == seconds(b) == pytest.approx(1.5)


def middleware(spans: Spans, **options) -> OpenTelemetryMiddleware:
    return OpenTelemetryMiddleware(
        App(PAGES, tracing=spans.provider, **options), tracer_provider=spans.provider
    )


def assert_linked_to_the_request_span(spans: Spans) -> None:
    server = next(s for s in spans.finished if s.kind is SpanKind.SERVER)
    render = spans.named("render traced")
    assert parent_of(render) == server.context.span_id
    assert render.context.trace_id == server.context.trace_id
    for name in ("query slow", "query derived", "query broken"):
        assert parent_of(spans.named(name)) == render.context.span_id
    # The flush span is current while its bytes are sent: the middleware's send span nests.
    flushes = {s.context.span_id for s in spans.all_named("flush")}
    sends = [s for s in spans.all_named("GET /traced/x http send") if parent_of(s) in flushes]
    assert len(sends) == len(flushes) == 2


async def test_the_render_is_a_child_of_the_request_span_under_trio(autojump_clock, spans) -> None:
    """Hypercorn's trio worker: middleware and app share one trio task and its context."""
    client = Client()
    await middleware(spans)(scope("/traced/x", "delay=1"), client.receive, client.send)
    assert client.start["status"] == 200
    assert_linked_to_the_request_span(spans)


class AsgiCall:
    """One ASGI call from an asyncio server: a request without body, then silence."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.asked = False

    async def receive(self) -> dict:
        if not self.asked:
            self.asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(self, message: dict) -> None:
        self.sent.append(message)


def test_the_render_is_a_child_of_the_request_span_in_a_guest_run(spans) -> None:
    """uvicorn: the middleware runs in an asyncio task, the render in trio's guest run."""
    app = middleware(spans)

    async def serve() -> None:
        for _ in range(2):  # the first call starts the guest run, the second finds it running
            call = AsgiCall()
            await app(scope("/traced/x", "delay=0.01"), call.receive, call.send)
            assert call.sent[0]["status"] == 200 and not call.sent[-1]["more_body"]

    asyncio.run(serve())
    servers = [s for s in spans.finished if s.kind is SpanKind.SERVER]
    renders = spans.all_named("render traced")
    assert [parent_of(r) for r in renders] == [s.context.span_id for s in servers]
    assert [r.context.trace_id for r in renders] == [s.context.trace_id for s in servers]
    flushes = {s.context.span_id for s in spans.all_named("flush")}
    sends = [s for s in spans.all_named("GET /traced/x http send") if parent_of(s) in flushes]
    assert len(sends) == len(flushes) == 4, "the host's send span nests in the guest's flush"


def test_the_request_that_starts_the_guest_run_leaks_no_context_into_it() -> None:
    """Trio's tasks inherit the context its run started in: it must not be a request's."""
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")
    seen: list[str | None] = []

    async def trio_app(scope, receive, send) -> None:
        seen.append(request_id.get(None))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def serve() -> None:
        app = TrioASGI(trio_app)
        for name in ("first", "second"):
            request_id.set(name)
            call = AsgiCall()
            await app(scope("/"), call.receive, call.send)

    asyncio.run(serve())
    assert seen == [None, None]


@pytest.mark.parametrize("server", ["uvicorn", "uvicorn-uvloop", "hypercorn"])
def test_a_real_server_links_the_render_to_its_request_span(tmp_path, server) -> None:
    """uvicorn on asyncio's own loop and on uvloop (its production setup): trio as a guest."""
    trace_file = tmp_path / "spans.jsonl"
    trace_file.touch()
    port = free_port()
    if server == "hypercorn":
        argv = hypercorn_argv("traced_site:app", port)
    elif server == "uvicorn":
        argv = uvicorn_argv("traced_site:app", port, "--loop", "asyncio")
    else:
        pytest.importorskip("uvloop", reason="uvloop comes with uvicorn[standard] (bench extra)")
        argv = uvicorn_argv("traced_site:app", port, "--loop", "uvloop")
    process = start_server(
        argv,
        port=port,
        log=tmp_path / "server.log",
        ready_path="/traced/ready?delay=0",
        name=server,
        env={"ENGINE_TRACE_FILE": str(trace_file)},
    )
    try:
        response = fetch(port, "/traced/x?delay=0.2")
    finally:
        process.stop()
    assert response.status == 200 and b"<p>42</p>" in response.body
    rows = [json.loads(line) for line in trace_file.read_text().splitlines()]
    requests = [
        r for r in rows if r["kind"] == "SERVER" and r["attributes"]["http.target"] == "/traced/x"
    ]
    assert len(requests) == 1, rows
    request = requests[0]
    (render,) = [
        r for r in rows if r["name"] == "render traced" and r["trace_id"] == request["trace_id"]
    ]
    assert render["parent_id"] == request["span_id"], "the render is the request span's child"
    in_render = {r["name"] for r in rows if r["parent_id"] == render["span_id"]}
    assert {"query slow", "query derived", "query broken", "query after", "flush"} <= in_render


def test_off_by_default_it_never_imports_opentelemetry() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, "tests/asgi")
        import trio
        from engine.asgi import App, TrioASGI
        from test_app import call
        from traced_site import PAGES

        client = trio.run(call, App(PAGES), "/traced/x", "delay=0")
        assert b"<p>42</p>" in client.body, client.body
        loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
        assert not loaded, loaded

        sys.modules["opentelemetry"] = None  # as if opentelemetry-api were not installed
        try:
            App(PAGES, tracing=True)
        except ImportError as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "tracing needs OpenTelemetry's API, an optional dependency: "
        "pip install 'engine[otel]' (or opentelemetry-api)"
    )


def test_tracing_must_be_a_bool_or_a_tracer_provider() -> None:
    with pytest.raises(TypeError, match="tracing must be True, False or an OpenTelemetry"):
        App(PAGES, tracing="yes")
