"""A tiny trio-native ASGI app for the guest-mode tests: no engine core involved.

``/stream?n=N&delay=S`` sends N chunks S seconds apart, watching for ``http.disconnect`` the way
the engine does (cancel the producer, never an in-flight send; shield the final send).
``/stats`` reports counters as JSON so that a test can read them from a server subprocess.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import trio

from engine.asgi import TrioASGI, in_trio

STATS = {"started": 0, "completed": 0, "cancelled": 0, "inflight": 0, "lifespan": ""}


async def _watch_disconnect(receive, producer: trio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    producer.cancel()


async def _send_body(send, body: bytes, *, more: bool) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": more})


async def _stream(scope, receive, send) -> None:
    query = parse_qs(scope["query_string"].decode())
    count, delay = int(query.get("n", ["3"])[0]), float(query.get("delay", ["0.2"])[0])
    STATS["started"] += 1
    STATS["inflight"] += 1
    try:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
        )
        with trio.CancelScope() as producer:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_watch_disconnect, receive, producer)
                for i in range(count):
                    if i:
                        await trio.sleep(delay)
                    await _send_body(send, f"chunk {i} trio={in_trio()}\n".encode(), more=True)
                nursery.cancel_scope.cancel()
        if producer.cancelled_caught:
            STATS["cancelled"] += 1
            return
        with trio.CancelScope(shield=True):
            await _send_body(send, b"end\n", more=False)
        STATS["completed"] += 1
    except* OSError:  # uvicorn >= 0.27 raises ClientDisconnect from send() after a disconnect
        STATS["cancelled"] += 1
    finally:
        STATS["inflight"] -= 1


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            STATS["lifespan"] = "started"
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            STATS["lifespan"] = "stopped"
            await send({"type": "lifespan.shutdown.complete"})
            return


async def trio_app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    elif scope["path"].removeprefix(scope.get("root_path", "")) == "/stats":
        body = json.dumps(STATS).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await _send_body(send, body, more=False)
    else:
        await _stream(scope, receive, send)


app = TrioASGI(trio_app)
