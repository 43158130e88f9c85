"""Tiny helpers shared by the raw ASGI peers."""

from __future__ import annotations

from typing import Any

HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"cache-control", b"no-store"),
]


async def lifespan(receive: Any, send: Any) -> None:
    """Answer startup and shutdown (Hypercorn's trio worker crashes if an app just returns)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def not_found(send: Any) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": HEADERS})
    await send({"type": "http.response.body", "body": b"not found"})
