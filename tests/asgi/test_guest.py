"""The trio guest-mode bridge, in process on an asyncio loop (no server, no core)."""

from __future__ import annotations

import asyncio
import logging

import guest_demo_app as demo
import pytest
import trio

from engine.asgi import TrioASGI, in_trio

HTTP_SCOPE = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": []}


class Recorder:
    """A host-side ASGI peer: scripted ``receive`` messages and every sent message."""

    def __init__(self, *incoming: dict) -> None:
        self.incoming = list(incoming)
        self.sent: list[dict] = []
        self.more = asyncio.Event()
        self.progress = asyncio.Event()

    async def receive(self) -> dict:
        while not self.incoming:
            self.more.clear()
            await self.more.wait()
        return self.incoming.pop(0)

    def push(self, message: dict) -> None:
        self.incoming.append(message)
        self.more.set()

    async def send(self, message: dict) -> None:
        self.sent.append(message)
        self.progress.set()

    async def wait_sent(self, count: int) -> None:
        while len(self.sent) < count:
            self.progress.clear()
            await self.progress.wait()


async def streaming_app(scope, receive, send) -> None:
    """Sends two chunks from a trio task, proving trio primitives work there."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for i in range(2):
        await trio.sleep(0.001)
        await send(
            {"type": "http.response.body", "body": f"{i}:{in_trio()}".encode(), "more_body": True}
        )
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def test_app_runs_as_a_trio_task_on_the_asyncio_loop() -> None:
    peer = Recorder()

    async def main() -> None:
        await TrioASGI(streaming_app)(dict(HTTP_SCOPE), peer.receive, peer.send)

    asyncio.run(main())
    assert [m.get("body") for m in peer.sent] == [None, b"0:True", b"1:True", b""]
    assert not trio.lowlevel.in_trio_run(), "the guest run must be over once the loop has closed"


def test_app_exception_reaches_the_host() -> None:
    async def failing(scope, receive, send) -> None:
        await trio.lowlevel.checkpoint()
        raise ValueError("boom")

    async def main() -> None:
        await TrioASGI(failing)(dict(HTTP_SCOPE), Recorder().receive, Recorder().send)

    with pytest.raises(ValueError, match="boom"):
        asyncio.run(main())


def test_host_cancellation_cancels_the_trio_handler_and_waits_for_it() -> None:
    events: list[str] = []
    peer = Recorder()

    async def forever(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            events.append("trio cancelled")
            raise
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(0.01)  # cleanup that needs the loop still works
            events.append("trio cleanup done")

    async def main() -> None:
        task = asyncio.create_task(TrioASGI(forever)(dict(HTTP_SCOPE), peer.receive, peer.send))
        await peer.wait_sent(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        events.append("host saw cancellation")

    asyncio.run(main())
    assert events == ["trio cancelled", "trio cleanup done", "host saw cancellation"]


def test_cancelling_the_host_never_interrupts_a_shielded_final_send() -> None:
    release, final_started = asyncio.Event(), asyncio.Event()
    delivered: list[dict] = []

    async def slow_send(message: dict) -> None:
        if not message.get("more_body", True) and message["type"] == "http.response.body":
            final_started.set()
            await release.wait()  # the transport is slow to accept the final chunk
        delivered.append(message)

    async def app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        with trio.CancelScope(shield=True):
            await send({"type": "http.response.body", "body": b"last", "more_body": False})

    async def main() -> None:
        task = asyncio.create_task(TrioASGI(app)(dict(HTTP_SCOPE), Recorder().receive, slow_send))
        await final_started.wait()
        task.cancel()
        await asyncio.sleep(0.01)
        assert not task.done(), "the host call must wait for the shielded send"
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert [m.get("body") for m in delivered] == [None, b"last"]


def test_a_cancelled_bridged_send_settles_on_the_host_before_trio_moves_on() -> None:
    events: list[str] = []
    sending = asyncio.Event()

    async def stuck_send(message: dict) -> None:
        sending.set()
        try:
            await asyncio.sleep(30)  # a peer that never drains
        finally:
            events.append("host send settled")

    async def app(scope, receive, send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        except trio.Cancelled:
            events.append("trio saw cancellation")
            raise

    async def main() -> None:
        task = asyncio.create_task(TrioASGI(app)(dict(HTTP_SCOPE), Recorder().receive, stuck_send))
        await sending.wait()  # the bridged send is on the host, however busy the machine is
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert events == ["host send settled", "trio saw cancellation"]


def test_disconnect_message_cancels_the_producer_only() -> None:
    before = dict(demo.STATS)
    peer = Recorder({"type": "http.request", "body": b"", "more_body": False})
    scope = {**HTTP_SCOPE, "path": "/stream", "query_string": b"n=100&delay=0.01"}

    async def main() -> None:
        task = asyncio.create_task(demo.app(scope, peer.receive, peer.send))
        await peer.wait_sent(3)
        peer.push({"type": "http.disconnect"})
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    assert demo.STATS["cancelled"] == before["cancelled"] + 1
    assert demo.STATS["inflight"] == before["inflight"]
    assert all(m.get("more_body", True) for m in peer.sent), "no final send after a disconnect"


def test_one_guest_run_per_loop_shared_by_concurrent_first_requests() -> None:
    tokens: set[object] = set()

    async def app(scope, receive, send) -> None:
        tokens.add(trio.lowlevel.current_trio_token())
        await trio.sleep(0.01)

    async def main() -> None:
        wrapped = TrioASGI(app)
        peer = Recorder()
        await asyncio.gather(
            *(wrapped(dict(HTTP_SCOPE), peer.receive, peer.send) for _ in range(5))
        )

    asyncio.run(main())
    assert len(tokens) == 1


def test_lifespan_shutdown_completes_only_after_the_guest_run_ended() -> None:
    seen: list[tuple[str, bool]] = []

    async def app(scope, receive, send) -> None:
        assert scope["type"] == "lifespan"
        while True:
            message = await receive()
            kind = message["type"].rsplit(".", 1)[1]
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return

    async def host_send(message: dict) -> None:
        seen.append((message["type"], trio.lowlevel.in_trio_run()))

    peer = Recorder({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})

    async def main() -> None:
        await TrioASGI(app)(
            {"type": "lifespan", "asgi": {"version": "3.0"}}, peer.receive, host_send
        )

    asyncio.run(main())
    assert seen == [("lifespan.startup.complete", True), ("lifespan.shutdown.complete", False)]


def test_loop_exit_without_lifespan_stops_the_guest_cleanly(caplog) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        await TrioASGI(streaming_app)(dict(HTTP_SCOPE), Recorder().receive, Recorder().send)
        assert trio.lowlevel.in_trio_run(), "the guest outlives the request until loop exit"

    asyncio.run(main())
    assert not trio.lowlevel.in_trio_run()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


async def test_under_trio_the_app_is_called_directly() -> None:
    me = trio.lowlevel.current_task()
    called_in: list[object] = []

    async def app(scope, receive, send) -> None:
        called_in.append(trio.lowlevel.current_task())

    async def never() -> dict:
        raise AssertionError

    await TrioASGI(app)(dict(HTTP_SCOPE), never, never)
    assert called_in == [me]


def test_a_busy_guest_run_ticks_without_waking_the_loop_through_its_self_pipe() -> None:
    # call_soon_threadsafe writes to the loop's wake-up pipe (a syscall) on every call; from
    # the host thread, trio's next tick needs only call_soon.
    peer = Recorder()
    threadsafe_calls = [0]

    async def busy_app(scope, receive, send) -> None:
        for _ in range(200):
            await trio.lowlevel.checkpoint()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    async def main() -> None:
        loop = asyncio.get_running_loop()
        real = loop.call_soon_threadsafe

        def counting(*args: object, **kwargs: object) -> object:
            threadsafe_calls[0] += 1
            return real(*args, **kwargs)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        await TrioASGI(busy_app)(dict(HTTP_SCOPE), peer.receive, peer.send)

    asyncio.run(main())
    assert peer.sent[-1]["body"] == b"done"
    assert threadsafe_calls[0] < 20, threadsafe_calls[0]
