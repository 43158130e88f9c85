"""Peer (e): the hand-written out-of-order page on trio, served by Hypercorn's trio worker.

A nursery starts one task per section at once; each finished section goes through a
memory channel and out as its own ASGI send (``<template>`` plus swap script). On ``/s5``
(S5, the S2 page with its data cached and warm) each task reads its section from a dict.
"""

from __future__ import annotations

import math
from typing import Any

import trio

from bench import page
from bench.peers._asgi import HEADERS, lifespan, not_found


async def section(i: int, latency: float, out: trio.MemorySendChannel[bytes]) -> None:
    async with out:
        await trio.sleep(latency)  # the data call
        rows = page.items(i)
        await out.send(page.ooo_chunk(i, rows).encode())


CACHE = {i: page.items(i) for i in range(page.S5_SECTIONS)}  # S5's warm cache


async def cached_section(i: int, out: trio.MemorySendChannel[bytes]) -> None:
    async with out:
        await out.send(page.ooo_chunk(i, CACHE[i]).encode())  # a hit: nothing to wait for


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    path = scope["path"]
    latencies = page.ROUTES.get(path)
    if latencies is None and path != page.S5_PATH:
        await not_found(send)
        return
    tx, rx = trio.open_memory_channel[bytes](math.inf)
    async with trio.open_nursery() as nursery:
        async with tx:
            if latencies is None:
                for i in CACHE:
                    nursery.start_soon(cached_section, i, tx.clone())
            else:
                for i, lat in enumerate(latencies):
                    nursery.start_soon(section, i, lat, tx.clone())
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        body = page.ooo_shell(len(CACHE) if latencies is None else len(latencies)).encode()
        await send({"type": "http.response.body", "body": body, "more_body": True})
        async with rx:
            async for chunk in rx:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": page.TAIL.encode()})
