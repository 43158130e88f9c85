"""Under an asyncio server, the server's own ``send`` takes its first step in the trio task.

Most of uvicorn's sends only write to the transport: stepped at once, they cost no asyncio
task and no wake-up of trio through its I/O thread. A send that suspends (flow control) is
handed to an asyncio task and behaves as before; a middleware's send is never stepped outside
an asyncio task. In process, on an asyncio loop, with channels that stand for a server's own.
"""

from __future__ import annotations

import asyncio

import pytest
import trio
from uvicorn.protocols.http import h11_impl, httptools_impl

from engine.asgi import TrioASGI
from engine.asgi._guest import _Resumed, _server_own

HTTP_SCOPE = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": []}


class ServerChannels:
    """``receive`` and ``send`` as bound methods of a server's own class (as uvicorn's are)."""

    __module__ = "uvicorn.protocols.http.fake"

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.in_task: list[bool] = []
        self.writable = asyncio.Event()
        self.writable.set()
        self.settled: list[str] = []
        self.called = asyncio.Event()

    async def receive(self) -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(self, message: dict) -> None:
        self.in_task.append(asyncio.current_task() is not None)
        self.called.set()
        if message.get("body") == b"boom now":
            raise OSError("the transport is closed")
        try:
            await self.writable.wait()  # flow control: suspends only while paused
        finally:
            self.settled.append(message["type"])
        if message.get("body") == b"boom later":
            raise OSError("the client went away")
        self.sent.append(message)


class Middleware(ServerChannels):
    """The same channels, wrapped by something that is not the server."""

    __module__ = __name__


def chunks(n: int):
    async def app(scope, receive, send) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(n):
            await send({"type": "http.response.body", "body": b"%d" % i, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


def tasks_made(app, channels: ServerChannels) -> int:
    made = 0

    async def main() -> None:
        wrapped = TrioASGI(app)
        await wrapped(dict(HTTP_SCOPE), channels.receive, channels.send)  # starts the guest run
        loop = asyncio.get_running_loop()

        def counting(loop, coro, **kwargs):
            nonlocal made
            made += 1
            return asyncio.Task(coro, loop=loop, **kwargs)

        loop.set_task_factory(counting)
        await wrapped(dict(HTTP_SCOPE), channels.receive, channels.send)
        loop.set_task_factory(None)

    asyncio.run(main())
    return made


def test_uvicorns_own_channels_are_recognised() -> None:
    for module in (h11_impl, httptools_impl):
        cycle = object.__new__(module.RequestResponseCycle)
        assert _server_own(cycle.send) and _server_own(cycle.receive), module.__name__
    assert not _server_own(Middleware().send)
    assert not _server_own(lambda message: None)


def test_a_send_that_does_not_suspend_costs_no_asyncio_task() -> None:
    assert tasks_made(chunks(1), ServerChannels()) == tasks_made(chunks(50), ServerChannels())
    assert tasks_made(chunks(50), Middleware()) >= tasks_made(chunks(1), Middleware()) + 49


def test_a_middlewares_send_always_runs_in_an_asyncio_task() -> None:
    channels = Middleware()
    asyncio.run(TrioASGI(chunks(3))(dict(HTTP_SCOPE), channels.receive, channels.send))
    assert len(channels.in_task) == 5 and all(channels.in_task)


def test_a_send_that_suspends_is_finished_by_an_asyncio_task_before_trio_goes_on() -> None:
    channels = ServerChannels()
    order: list[str] = []

    async def app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        order.append("started")
        await send({"type": "http.response.body", "body": b"paused", "more_body": True})
        order.append("paused chunk sent")
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def main() -> None:
        channels.writable.clear()
        task = asyncio.create_task(TrioASGI(app)(dict(HTTP_SCOPE), channels.receive, channels.send))
        await channels.called.wait()
        await asyncio.sleep(0.01)
        assert order == [] and channels.sent == [], "trio must wait for the suspended send"
        channels.writable.set()
        await task

    asyncio.run(main())
    assert order == ["started", "paused chunk sent"]
    assert [m.get("body") for m in channels.sent] == [None, b"paused", b""]
    assert channels.in_task == [False, False, False], "each send took its first step in trio"


@pytest.mark.parametrize("body", [b"boom now", b"boom later"])
def test_a_failing_send_raises_in_the_trio_task_whether_it_suspended_or_not(body: bytes) -> None:
    channels = ServerChannels()
    seen: list[BaseException] = []

    async def app(scope, receive, send) -> None:
        try:
            await send({"type": "http.response.body", "body": body, "more_body": True})
        except OSError as exc:
            seen.append(exc)

    async def main() -> None:
        channels.writable.clear()
        task = asyncio.create_task(TrioASGI(app)(dict(HTTP_SCOPE), channels.receive, channels.send))
        await asyncio.sleep(0.01)
        channels.writable.set()
        await task

    asyncio.run(main())
    assert [str(exc) for exc in seen] == [
        "the transport is closed" if body == b"boom now" else "the client went away"
    ]


def test_cancelling_trio_during_a_suspended_send_settles_it_on_the_host_first() -> None:
    channels = ServerChannels()
    events: list[str] = []

    async def app(scope, receive, send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        except trio.Cancelled:
            events.append(f"trio saw cancellation after {channels.settled}")
            raise

    async def main() -> None:
        channels.writable.clear()  # a client that does not read
        task = asyncio.create_task(TrioASGI(app)(dict(HTTP_SCOPE), channels.receive, channels.send))
        await channels.called.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert events == ["trio saw cancellation after ['http.response.start']"]
    assert channels.sent == []


def test_the_relay_passes_what_the_task_sends_and_throws_to_the_coroutine() -> None:
    loop = asyncio.new_event_loop()
    first, second = loop.create_future(), loop.create_future()

    async def inner() -> str:
        value = await first
        try:
            await second
        except ValueError as exc:
            return f"{value}, then caught {exc}"
        return "not thrown"

    coroutine = inner()
    relay = _Resumed(coroutine, coroutine.send(None)).__await__()
    assert next(relay) is first
    first.set_result("sent")
    assert relay.send(None) is second
    with pytest.raises(StopIteration) as finished:
        relay.throw(ValueError("thrown"))
    assert finished.value.value == "sent, then caught thrown"
    loop.close()
