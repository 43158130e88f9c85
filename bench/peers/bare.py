"""Peer (a), the limit: a bare ASGI app that sends precomputed bytes, no rendering at all.

S2: the out-of-order page's final bytes in one body (one send, Content-Length).
S1 and S3: the shell at once, then each section's precomputed chunk when its latency
has elapsed (timers only): the arithmetic limit of streaming on this server.
Runs under uvicorn (asyncio) and under Hypercorn's trio worker (anyio picks the loop).
"""

from __future__ import annotations

import time
from typing import Any

import anyio

from bench import page
from bench.peers._asgi import HEADERS, lifespan, not_found

S2_PATH = page.SCENARIOS["S2"]["path"]
FULL = {path: page.ooo_final_page(path) for path in page.ROUTES}
SHELL = {path: page.ooo_shell(len(lat)).encode() for path, lat in page.ROUTES.items()}
SCHEDULE = {
    path: sorted((lat[i], page.ooo_chunk(i, page.items(i)).encode()) for i in range(len(lat)))
    for path, lat in page.ROUTES.items()
}
TAIL = page.TAIL.encode()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    path = scope["path"]
    if path not in FULL:
        await not_found(send)
        return
    if path == S2_PATH:
        body = FULL[path]
        headers = [*HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    t0 = time.monotonic()
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": SHELL[path], "more_body": True})
    for due, chunk in SCHEDULE[path]:
        delay = t0 + due - time.monotonic()
        if delay > 0:
            await anyio.sleep(delay)
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": TAIL})
