"""Watching for the client's leaving under an asyncio server: a host task, no trio task.

In process on an asyncio loop with the engine as trio's guest (what uvicorn gives it): an open
stream that waits for its data is watched by one task of the host loop awaiting the server's
own ``receive``; the client leaving cancels the render; the watch ends with the response; a
``receive`` that fails fails the request, as it did when a trio task awaited it.
"""

from __future__ import annotations

import asyncio

import pytest
import trio
from test_guest import HTTP_SCOPE, Recorder

import engine
from engine.asgi import App

REQUEST = {"type": "http.request", "body": b"", "more_body": False}


def slow_page(log: list[str], started: asyncio.Event | None = None) -> engine.Page:
    async def slow() -> str:
        log.append("started")
        if started is not None:
            started.set()  # host code may be called from a guest task: same thread and loop
        try:
            await trio.sleep(60)
        except trio.Cancelled:
            log.append("cancelled")
            raise
        return "late"

    return one_query_page(slow)


def watched() -> int:
    """How many host tasks await the server's receive for the client's leaving."""
    return sum("_until_disconnect" in repr(task.get_coro()) for task in asyncio.all_tasks())


def fast_page(seen: list[int]) -> engine.Page:
    async def quick() -> str:
        await trio.sleep(0.01)  # the render waits for it, so its client is watched
        seen.append(watched())
        return "soon"

    return one_query_page(quick)


def one_query_page(call) -> engine.Page:
    """A page whose one fragment shows what ``call`` returns."""
    return engine.Page(
        name=call.__name__,
        shell=engine.Shell(html='<main><?marker name="slot"></main>'),
        queries=(engine.Query(name="value", call=call, result=str),),
        fragments=(engine.Fragment(target="slot", uses=("value",), render=lambda value: value),),
    )


def trio_tasks_named(fragment: str) -> list[str]:
    """The names of the guest run's tasks that contain ``fragment`` (host code may look)."""
    found: list[str] = []
    pending = [trio.lowlevel.current_root_task()]
    while pending:
        task = pending.pop()
        if task is None:
            continue
        if fragment in task.name:
            found.append(task.name)
        pending.extend(child for nursery in task.child_nurseries for child in nursery.child_tasks)
    return found


def test_a_waiting_stream_is_watched_by_a_host_task_and_its_client_leaving_cancels_it() -> None:
    log: list[str] = []
    peer = Recorder(REQUEST)

    async def main() -> tuple[list[str], int, int]:
        started = asyncio.Event()
        app = App({"/": slow_page(log, started)})
        request = asyncio.create_task(app(dict(HTTP_SCOPE), peer.receive, peer.send))
        await peer.wait_sent(2)  # the start and the shell: the render now waits for `slow`
        await started.wait()
        await asyncio.sleep(0.01)  # the host task starts on one of the loop's next turns
        watchers = trio_tasks_named("watch")
        waiting_on_receive = watched()
        peer.push({"type": "http.disconnect"})
        await asyncio.wait_for(request, 5)
        return watchers, waiting_on_receive, len(asyncio.all_tasks())

    watchers, waiting_on_receive, tasks_after = asyncio.run(main())
    assert watchers == [], "no trio task waits on the host's receive"
    assert waiting_on_receive == 1, "one host task watches the client"
    assert log == ["started", "cancelled"], "the client leaving cancelled the query"
    assert all(m.get("more_body", True) for m in peer.sent[1:]), "no final send after it left"
    assert tasks_after <= 2, "nothing of the request is left on the loop (main, the guest's keeper)"


def test_the_watch_ends_with_the_response() -> None:
    # The render waits for its query (so the watch starts) and then finishes: the host task
    # that awaited the server's receive is cancelled with the response, not left behind.
    seen: list[int] = []
    app = App({"/": fast_page(seen)})
    peer = Recorder(REQUEST)

    async def main() -> int:
        await app(dict(HTTP_SCOPE), peer.receive, peer.send)
        await asyncio.sleep(0)  # a cancelled task settles on the loop's next turn
        return watched()

    assert asyncio.run(main()) == 0 and seen == [1], "watched while it waited, not after"
    assert peer.sent[-1].get("more_body") is False and b"soon" in b"".join(
        m.get("body", b"") for m in peer.sent
    )


def test_a_receive_that_fails_fails_the_request_and_cancels_its_queries() -> None:
    log: list[str] = []
    app = App({"/": slow_page(log)})
    asked = [0]

    async def receive() -> dict:
        asked[0] += 1
        if asked[0] == 1:
            return REQUEST
        await asyncio.sleep(0.01)
        raise OSError("the server's receive broke")

    async def main() -> None:
        await app(dict(HTTP_SCOPE), receive, Recorder().send)

    with pytest.raises(ExceptionGroup) as raised:  # as when a trio task awaited it
        asyncio.run(main())
    assert raised.group_contains(OSError, match="receive broke")
    assert log == ["started", "cancelled"]


def awaiting(coroutine) -> list[str]:
    """The qualified names of the coroutines in an await chain, outermost first."""
    names = []
    while hasattr(coroutine, "cr_code"):
        names.append(coroutine.cr_code.co_qualname)
        coroutine = coroutine.cr_await
    return names


def test_an_open_stream_holds_few_frames_on_either_side_of_the_bridge() -> None:
    # S3: an open stream holds every frame of its chain for as long as it waits. On the host:
    # the app and the call into the guest, with no adapter between.
    # In trio: the request's own task goes straight from the call to the HTTP handler.
    log: list[str] = []
    peer = Recorder(REQUEST)

    async def main() -> tuple[list[str], list[str]]:
        started = asyncio.Event()
        app = App({"/": slow_page(log, started)})
        request = asyncio.create_task(app(dict(HTTP_SCOPE), peer.receive, peer.send))
        await started.wait()
        host = awaiting(request.get_coro())
        (handler,) = (
            task
            for nursery in trio.lowlevel.current_root_task().child_nurseries
            for guest in nursery.child_tasks
            for inner in guest.child_nurseries
            for task in inner.child_tasks
            if "_GuestCall" in task.name
        )
        guest_side = awaiting(handler.coro)[:2]
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        return host, guest_side

    host, guest_side = asyncio.run(main())
    assert host == ["App.__call__", "run_in_guest"]
    assert guest_side == ["_GuestCall.run", "App._http"]
    assert log == ["started", "cancelled"], "cancelling the host task cancelled the render"
