"""engine.asgi.App driven in process under trio's MockClock: exact virtual timings, no sockets."""

from __future__ import annotations

import logging
import re

import demo_site
import pytest
import trio
import trio.testing

import engine
from engine.asgi import App


class Client:
    """The server side of one ASGI call: what the app sent, and when (virtual seconds)."""

    def __init__(
        self,
        *,
        send_gate: trio.Event | None = None,
        gate_from: int = 1,
        gate_final: bool = False,
        send_error: type[BaseException] | None = None,
    ) -> None:
        self.sent: list[tuple[float, dict]] = []
        self.disconnected = trio.Event()
        self.send_gate, self.gate_from, self.send_error = send_gate, gate_from, send_error
        self.gate_final = gate_final
        self.sending = 0
        self.max_concurrent_sends = 0
        self.origin = trio.current_time()  # MockClock does not start at 0

    async def receive(self) -> dict:
        if not hasattr(self, "_asked"):
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        self.sending += 1
        self.max_concurrent_sends = max(self.max_concurrent_sends, self.sending)
        try:
            if self.send_error is not None and message["type"] == "http.response.body":
                raise self.send_error("client gone")
            final = message["type"] == "http.response.body" and not message.get("more_body")
            if (
                self.send_gate is not None
                and len(self.sent) >= self.gate_from
                and (final or not self.gate_final)
            ):
                await self.send_gate.wait()
            self.sent.append((trio.current_time() - self.origin, message))
        finally:
            self.sending -= 1

    @property
    def start(self) -> dict:
        return self.sent[0][1]

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.start["headers"])

    @property
    def bodies(self) -> list[tuple[float, dict]]:
        return [(t, m) for t, m in self.sent if m["type"] == "http.response.body"]

    @property
    def body(self) -> bytes:
        return b"".join(m["body"] for _, m in self.bodies)

    @property
    def complete(self) -> bool:
        return bool(self.bodies) and not self.bodies[-1][1].get("more_body", False)


def scope(path: str, query: str = "", method: str = "GET", headers=(), root_path: str = ""):
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": root_path,
        "query_string": query.encode(),
        "headers": list(headers),
    }


async def call(app: App, *args, client: Client | None = None, **kwargs) -> Client:
    client = client or Client()
    await app(scope(*args, **kwargs), client.receive, client.send)
    return client


APP = App(demo_site.PAGES)


async def test_each_write_is_sent_at_once_and_the_response_ends_cleanly(autojump_clock) -> None:
    client = await call(APP, "/item/x", "delay=2")
    assert client.start["status"] == 200
    headers = client.headers
    assert headers[b"content-type"] == b"text/html; charset=utf-8"
    assert headers[b"cache-control"] == b"no-store"
    assert headers[b"x-accel-buffering"] == b"no"
    assert b"content-length" not in headers
    assert re.fullmatch(rb"title;dur=\d+\.\d", headers[b"server-timing"])
    times = [t for t, m in client.bodies if m["body"]]
    assert times[0] == 0, "the shell leaves before any fragment query is awaited"
    assert times[1] == pytest.approx(0.05) and times[-1] == pytest.approx(2.0)
    assert all(m["more_body"] for _, m in client.bodies[:-1]) and client.complete
    ended_at, last = client.bodies[-1]
    assert last["body"].endswith(b"</html>"), "the last write ends the body: a message fewer"
    assert ended_at == pytest.approx(2.0)
    assert re.search(
        rb'<template for="slow">.*<p id="slow">slow part</p>.*</template>', client.body
    )


@pytest.mark.parametrize(
    ("path", "query", "status", "shown"),
    [
        ("/nowhere", "", 404, b"No page at this address."),
        ("/item/missing", "delay=1", 404, b"no item missing"),
        ("/item/x", "delay=soon", 400, b"request parameter &#39;delay&#39;=&#39;soon&#39;"),
        ("/item/x", "mode=fast", 400, b"mode=&#39;fast&#39;: expected one of"),
        ("/item/boom", "delay=1", 500, b"<h1>500 Internal Server Error</h1>"),
    ],
)
async def test_failures_before_the_first_byte_get_a_real_status(
    autojump_clock, path, query, status, shown
) -> None:
    client = await call(APP, path, query)
    assert client.start["status"] == status
    assert shown in client.body and client.complete
    assert int(client.headers[b"content-length"]) == len(client.body)
    assert b"database is down" not in client.body, "no internals in a 500 page"


async def test_head_sends_the_real_headers_and_cancels_the_render(autojump_clock) -> None:
    client = await call(APP, "/item/x", "delay=100", method="HEAD")
    assert client.start["status"] == 200 and b"server-timing" in client.headers
    assert client.body == b"" and client.complete
    assert client.sent[-1][0] == 0
    assert demo_site.RUNNING["queries"] == 0
    missing = await call(APP, "/item/missing", "delay=1", method="HEAD")
    assert missing.start["status"] == 404 and missing.body == b""


@pytest.mark.parametrize("mode", ["out-of-order", "in-order", "buffered"])
async def test_head_never_carries_a_body_in_any_mode(autojump_clock, mode: str) -> None:
    get = await call(APP, "/item/x", f"delay=1&mode={mode}")
    head = await call(APP, "/item/x", f"delay=1&mode={mode}", method="HEAD")
    assert head.start["status"] == 200 and head.complete
    assert [m["body"] for _, m in head.bodies] == [b""], "one empty final body"
    assert head.headers.get(b"content-length") == get.headers.get(b"content-length")
    for path, query in (("/item/missing", "delay=1"), ("/nowhere", ""), ("/item/x", "delay=x")):
        refused = await call(APP, path, query, method="HEAD")
        assert refused.start["status"] in (400, 404) and refused.body == b"", path
        assert int(refused.headers[b"content-length"]) > 0, "the length the GET would have"


async def test_a_buffered_response_has_its_exact_content_length(autojump_clock) -> None:
    client = await call(APP, "/item/x", "delay=1&mode=buffered")
    assert [bool(m["body"]) for _, m in client.bodies] == [True], "one complete body"
    assert int(client.headers[b"content-length"]) == len(client.body)
    assert client.body.endswith(b"</html>")


async def test_a_path_capture_wins_over_the_same_name_in_the_query_string(autojump_clock) -> None:
    client = await call(APP, "/item/x", "item=missing&delay=0.1")
    assert client.start["status"] == 200, "the capture 'x', not the query's 'missing'"
    assert b'<h1 id="shell">Item x</h1>' in client.body


class TaskNames(trio.abc.Instrument):
    def __init__(self) -> None:
        self.names: list[str] = []

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        self.names.append(task.name)


async def test_a_page_served_from_memory_starts_no_task_a_waiting_one_is_watched(
    autojump_clock,
) -> None:
    # A render watches for its client leaving from when it first waits for a query: a page
    # whose every query is a hit never waits, so it costs no watcher task (nor a receive).
    async def value() -> str:
        await trio.sleep(1)
        return "<v>"

    page = engine.Page(
        name="cached",
        shell=engine.Shell(html='<main><?marker name="a"></main>'),
        queries=(engine.Query(name="value", call=value, result=str, cache=engine.Cache(ttl=60)),),
        fragments=(engine.Fragment(target="a", uses=("value",), render=lambda value: value),),
    )
    app = App({"/": page}, cache=engine.MemoryStore())
    spawned = TaskNames()
    trio.lowlevel.add_instrument(spawned)
    try:
        cold = await call(app, "/")
        cold_tasks, spawned.names = spawned.names, []
        assert b'<template for="a">' in cold.body, "the cold render waited for its query"
        warm = await call(app, "/")
        gone = Client()
        gone.disconnected.set()
        await call(app, "/", client=gone)
    finally:
        trio.lowlevel.remove_instrument(spawned)
    assert any(name.endswith("_watch_client") for name in cold_tasks), "the cold one waited"
    assert spawned.names == [] and not hasattr(warm, "_asked"), "no task, no receive"
    assert b'<main><?start name="a"><v><?end></main>' in warm.body and warm.complete
    assert gone.complete and gone.body == warm.body, "nothing waits, so nothing is cancelled"


async def test_a_client_leaving_while_the_shell_query_runs_cancels_it(autojump_clock) -> None:
    ran: list[str] = []

    async def user() -> str:
        try:
            await trio.sleep(100)
        finally:
            ran.append("cancelled" if trio.current_time() < 100 else "finished")
        return "ann"

    page = engine.Page(
        name="guarded",
        shell=engine.Shell(html='<meta charset="utf-8"><p>{{ user }}</p>', queries=("user",)),
        queries=(engine.Query(name="user", call=user, result=str),),
    )
    client = Client()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: call(App({"/": page}), "/", client=client))
        await trio.sleep(1)
        client.disconnected.set()
    assert ran == ["cancelled"] and client.sent == []


async def test_other_methods_get_405(autojump_clock) -> None:
    client = await call(APP, "/item/x", method="POST")
    assert client.start["status"] == 405 and client.headers[b"allow"] == b"GET, HEAD"


async def test_disconnect_cancels_every_query_of_many_aborted_requests(autojump_clock) -> None:
    clients = [Client() for _ in range(50)]
    began = trio.current_time()
    async with trio.open_nursery() as nursery:
        for i, client in enumerate(clients):
            nursery.start_soon(
                lambda c=client, i=i: call(APP, f"/item/{i}", "delay=1000", client=c)
            )
        await trio.sleep(0.2)
        assert demo_site.RUNNING["queries"] == 50, "every slow query is running"
        for client in clients:
            client.disconnected.set()
    assert trio.current_time() - began < 1, "the handlers returned promptly"
    assert demo_site.RUNNING["queries"] == 0
    assert not any(c.complete for c in clients), "no final chunk for a gone client"


async def test_a_send_that_fails_ends_the_request_quietly(autojump_clock) -> None:
    client = await call(APP, "/item/x", "delay=1000", client=Client(send_error=OSError))
    assert trio.current_time() - client.origin < 1 and demo_site.RUNNING["queries"] == 0
    assert client.bodies == []


async def test_a_slow_reader_holds_the_writer_not_a_buffer(autojump_clock) -> None:
    gate = trio.Event()
    client = Client(send_gate=gate, gate_from=2)  # start + shell pass, then the reader stalls
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: call(APP, "/item/x", "delay=1", client=client))
        await trio.sleep(5)
        assert len(client.sent) == 2 and client.sending == 1, "one write waits; none queued"
        gate.set()
    assert client.max_concurrent_sends == 1 and client.complete
    assert b'<p id="slow">' in client.body


async def test_a_client_that_never_reads_is_aborted_after_write_timeout(
    autojump_clock, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="engine")
    app = App(demo_site.PAGES, write_timeout=10)
    client = Client(send_gate=trio.Event(), gate_from=2)
    await call(app, "/item/x", "delay=1000", client=client)  # returns: nothing to raise
    assert trio.current_time() - client.origin == pytest.approx(0.05 + 10), "from the stall"
    assert demo_site.RUNNING["queries"] == 0 and not client.complete
    # No socket behind this in-process call, so the send itself was cancelled.
    [line] = [r.getMessage() for r in caplog.records]
    assert line.endswith("mode=out-of-order (write timeout; send cancelled)"), line


async def test_write_timeout_counts_from_each_send_not_from_the_response(autojump_clock) -> None:
    app = App(demo_site.PAGES, write_timeout=10)
    gate = trio.Event()
    client = Client(send_gate=gate, gate_from=2)

    async def release_after(seconds: float) -> None:
        await trio.sleep(seconds)
        gate.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(release_after, 9)  # a stall just shorter than the timeout
        await call(app, "/item/x", "delay=30", client=client)
    assert client.complete and b'<p id="slow">' in client.body


async def test_the_final_send_survives_cancellation_of_the_request(autojump_clock) -> None:
    final_gate = trio.Event()
    client = Client(send_gate=final_gate, gate_final=True)

    async def cancel_during_final_send(request: trio.CancelScope) -> None:
        await trio.sleep(2)  # the render is over (at 1 s); the final send is blocked
        assert client.sending == 1 and not client.complete
        request.cancel()
        await trio.sleep(1)
        final_gate.set()

    async with trio.open_nursery() as nursery:
        with trio.CancelScope() as request:
            nursery.start_soon(cancel_during_final_send, request)
            await call(APP, "/item/x", "delay=1", client=client)
    assert client.complete, "the shielded final send completed despite the cancellation"
    assert client.sent[-1][0] == pytest.approx(3)


@pytest.mark.parametrize(
    ("query", "agent", "options", "streamed"),
    [
        ("", "Mozilla/5.0", {}, True),
        ("mode=in-order", "Mozilla/5.0", {}, True),
        ("mode=buffered", "Mozilla/5.0", {}, False),
        ("", "Mozilla/5.0 (compatible; Googlebot/2.1)", {}, False),
        ("", "facebookexternalhit/1.1", {"crawler_mode": "in-order"}, True),
        ("", "Googlebot/2.1", {"crawlers": None}, True),
        ("mode=in-order", "Mozilla/5.0", {"mode_param": None}, True),
    ],
)
async def test_mode_negotiation(autojump_clock, query, agent, options, streamed) -> None:
    app = App(demo_site.PAGES, **options)
    client = await call(
        app,
        "/item/x",
        "&".join(filter(None, [query, "delay=1"])),
        headers=[(b"user-agent", agent.encode())],
    )
    data_writes = [m for _, m in client.bodies if m["body"]]
    assert (len(data_writes) > 1) is streamed
    assert (b"content-length" in client.headers) is not streamed
    assert client.body.count(b"window.$E") == 1  # the page exposes data: $E in every mode
    assert b'<p id="slow">slow part</p>' in client.body
    crawler_rule = options.get("crawlers", "default") is not None
    assert (client.headers.get(b"vary") == b"User-Agent") is crawler_rule


async def test_a_fragment_can_be_served_alone(autojump_clock) -> None:
    client = await call(APP, "/item/x", "fragment=fast&delay=1")
    assert client.start["status"] == 200
    assert client.body.startswith(b'<script type="application/json" data-query="exposed">')
    assert re.search(
        rb'<template for="fast">.*<p id="fast">fast: blue</p>.*</template>', client.body
    )
    assert b"<html" not in client.body and b"slow" not in client.body
    unknown = await call(APP, "/item/x", "fragment=nope&delay=1")
    assert unknown.start["status"] == 404


async def test_exposed_data_is_sent_and_the_rest_never(autojump_clock) -> None:
    body = (await call(APP, "/item/x", "delay=0.1")).body
    assert b'data-query="exposed">{"colour":"blue","sizes":[1,2,3]}</script>' in body
    assert demo_site.SECRET.encode() not in body


@pytest.mark.parametrize("csp", ["nonce", "hash"])
async def test_content_security_policy(autojump_clock, csp: str) -> None:
    app = App(demo_site.PAGES, csp=csp)
    first = await call(app, "/item/x", "delay=0.1")
    second = await call(app, "/item/x", "delay=0.1")
    policy = first.headers[b"content-security-policy"].decode()
    scripts = re.findall(rb"<script( [^>]*)?>", first.body)
    executable = [s for s in scripts if b"application/json" not in s]
    assert executable
    if csp == "nonce":
        nonce = re.search(r"'nonce-([^']+)'", policy)[1]
        assert all(s == f' nonce="{nonce}"'.encode() for s in executable)
        assert second.headers[b"content-security-policy"].decode() != policy, "fresh per response"
    else:
        assert all(f"'{h}'" in policy for h in engine.SCRIPT_HASHES)
        assert all(not s for s in executable)


async def test_flush_stamps_record_when_each_write_left(autojump_clock) -> None:
    asked = [(b"x-engine-flush-stamps", b"1")]
    client = await call(APP, "/item/x", "delay=2", headers=asked)
    stamps = [
        (t, re.search(rb"<!--engine:flush (\d+) ([\d.]+)ms-->$", m["body"]))
        for t, m in client.bodies
        if m["body"]
    ]
    assert [int(s[1]) for _, s in stamps] == list(range(len(stamps)))
    for sent_at, found in stamps:
        assert float(found[2]) / 1000 == pytest.approx(sent_at, abs=1e-3)
    unasked = await call(APP, "/item/x", "delay=0.1")
    off = await call(
        App(demo_site.PAGES, flush_stamps=False), "/item/x", "delay=0.1", headers=asked
    )
    assert b"engine:flush" not in unasked.body + off.body


async def test_streaming_safe_headers_can_be_switched(autojump_clock) -> None:
    app = App(
        demo_site.PAGES,
        no_transform=True,
        proxy_buffering=True,
        identity_encoding=True,
        cache_control="private, max-age=0",
        crawlers=None,
    )
    headers = (await call(app, "/item/x", "delay=0.1")).headers
    assert headers[b"cache-control"] == b"private, max-age=0, no-transform"
    assert b"x-accel-buffering" not in headers and b"vary" not in headers
    assert headers[b"content-encoding"] == b"identity"


async def test_routes_are_relative_to_the_mount_point(autojump_clock) -> None:
    client = await call(APP, "/shop/item/x", "delay=0.1", root_path="/shop")
    assert client.start["status"] == 200 and b"Item x" in client.body


async def test_one_access_log_line_per_request(autojump_clock, caplog) -> None:
    caplog.set_level(logging.INFO, logger="engine.access")
    await call(APP, "/item/x", "delay=1")
    await call(APP, "/item/missing", "delay=1")
    lines = [r.getMessage() for r in caplog.records if r.name == "engine.access"]
    assert re.fullmatch(
        r"GET /item/x\?delay=1 200 first-byte=0\.0ms total=1000\.0ms "
        r"bytes=\d+ mode=out-of-order",
        lines[0],
    ), lines[0]
    assert lines[1].startswith("GET /item/missing?delay=1 404 first-byte=")


async def test_request_data_cannot_forge_log_lines(autojump_clock, caplog) -> None:
    caplog.set_level(logging.INFO, logger="engine.access")
    forged = "/x\r\n12:00:00 GET /admin 200 first-byte=0.1ms\x1b[2J\u2028\u202e \\"
    await call(APP, forged, "q=\x00\x7f")
    [line] = [r.getMessage() for r in caplog.records]
    escaped = (
        r"/x\x0d\x0a12:00:00\x20GET\x20/admin\x20200\x20first-byte=0.1ms\x1b[2J\u2028\u202e"
        r"\x20\\?q=\x00\x7f"
    )
    assert line.startswith(f"GET {escaped} 404 first-byte="), line
    assert line.isprintable() and line.count(" 404 ") == 1


async def test_request_data_in_an_error_cannot_forge_log_lines(autojump_clock, caplog) -> None:
    # A failing shell query's message quotes what the client sent: the error line escapes it
    # (a line break would start a forged line of its own).
    async def team(team: str) -> str:
        raise LookupError(f"no team {team}")

    page = engine.Page(
        name="team",
        shell=engine.Shell(html='<meta charset="utf-8"><h1>{{ team }}</h1>', queries=("team",)),
        queries=(engine.Query(name="team", call=team, result=str, params=("team",)),),
    )
    caplog.set_level(logging.WARNING, logger="engine")
    client = await call(App({"/team/{team}": page}), "/team/a\r\nERROR forged\x1b[2J\u2028\\")
    assert client.start["status"] == 500
    escaped = r"LookupError: no team a\x0d\x0aERROR forged\x1b[2J\u2028\\"
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        ("engine", f"page 'team', query 'team': {escaped}"),
        ("engine.asgi", f"page 'team': shell query 'team' failed: {escaped}"),
    ]


async def test_a_renderers_error_message_cannot_forge_log_lines(autojump_clock, caplog) -> None:
    def show(name: str) -> str:
        raise ValueError(f"bad name {name}")

    page = engine.Page(
        name="hello",
        shell=engine.Shell(html='<meta charset="utf-8"><main><?marker name="a"></main>'),
        queries=(engine.Query(name="name", call=lambda name: name, result=str, params=("name",)),),
        fragments=(engine.Fragment(target="a", uses=("name",), render=show),),
    )
    caplog.set_level(logging.WARNING, logger="engine")
    client = await call(App({"/": page}), "/", "name=x%0D%0AERROR+forged")
    assert client.start["status"] == 200
    [record] = caplog.records
    assert record.getMessage() == (
        r"page 'hello', fragment 'a': renderer raised ValueError: bad name x\x0d\x0aERROR forged"
    )
    assert isinstance(record.exc_info[1], ValueError), "the renderer's traceback stays"


async def test_lifespan_and_unsupported_scopes(autojump_clock) -> None:
    sent: list[dict] = []
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict:
        return next(incoming)

    async def send(message: dict) -> None:
        sent.append(message)

    await APP({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    with pytest.raises(RuntimeError, match="websocket"):
        await APP({"type": "websocket"}, receive, send)


def test_routes_and_pages_are_checked_at_definition_time() -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        App({"item": demo_site.item})
    with pytest.raises(ValueError, match="redefinition"):
        App({"/{a}/{a}": demo_site.item})
    broken = engine.Page(name="broken", shell=engine.Shell(html='<p><?marker name="x"></p>'))
    with pytest.raises(engine.PageError):
        App({"/": broken})


def tasks_below(task: trio.lowlevel.Task) -> int:
    return sum(1 + tasks_below(child) for n in task.child_nurseries for child in n.child_tasks)


def nurseries_below(task: trio.lowlevel.Task) -> int:
    return sum(
        1 + sum(nurseries_below(child) for child in n.child_tasks) for n in task.child_nurseries
    )


async def test_an_open_stream_holds_three_tasks_and_one_nursery_whatever_its_write_timeout(
    autojump_clock,
) -> None:
    # The request, its disconnect watcher and its slow query: write_timeout is watched by one
    # task per run for every response (S3: thousands of open streams each pay per task). The
    # watcher and the queries share the request's nursery (each nursery is about 1 KiB).
    async def slow() -> str:
        await trio.sleep(100)
        return "late"

    page = engine.Page(
        name="waiting",
        shell=engine.Shell(html='<main><?marker name="late"></main>'),
        queries=(engine.Query(name="slow", call=slow, result=str),),
        fragments=(engine.Fragment(target="late", uses=("slow",), render=lambda slow: slow),),
    )
    app = App({"/": page}, write_timeout=10)
    async with trio.open_nursery() as nursery:
        before = nurseries_below(trio.lowlevel.current_task())
        for _ in range(4):
            nursery.start_soon(lambda: call(app, "/"))
        await trio.testing.wait_all_tasks_blocked()
        assert tasks_below(trio.lowlevel.current_task()) == 4 * 3
        assert nurseries_below(trio.lowlevel.current_task()) == before + 4 * 1
        nursery.cancel_scope.cancel()


async def test_stalled_sends_time_out_each_at_its_own_deadline(autojump_clock, caplog) -> None:
    caplog.set_level(logging.INFO, logger="engine")
    app = App(demo_site.PAGES, write_timeout=10)
    clients = [Client(send_gate=trio.Event(), gate_from=2) for _ in range(3)]
    origin = trio.current_time()
    async with trio.open_nursery() as nursery:
        for client in clients:
            nursery.start_soon(lambda c=client: call(app, "/item/x", "delay=1000", client=c))
            await trio.sleep(3)  # each stalls 3 s after the one before
    ends = sorted(float(re.search(r"total=([\d.]+)ms", r.getMessage())[1]) for r in caplog.records)
    assert ends == pytest.approx([10050, 10050, 10050], abs=1), "each 10 s after its own stall"
    assert trio.current_time() - origin == pytest.approx(6 + 10.05)
    assert all(not c.complete for c in clients)
