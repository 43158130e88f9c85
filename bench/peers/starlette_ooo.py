"""Peer (b): the out-of-order page a Python developer writes by hand today.

Starlette on uvicorn; one asyncio task per section, all started at once when the
request arrives; the shell goes out first, then a ``<template>`` plus a swap script per
section in completion order (one ``StreamingResponse`` chunk each). On ``/s5`` (S5, the S2
page with its data cached and warm) the same page reads each section from a dict.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from bench import page


async def fetch(i: int, latency: float) -> tuple[int, list[dict[str, Any]]]:
    await asyncio.sleep(latency)  # the data call
    return i, page.items(i)


CACHE = {i: page.items(i) for i in range(page.S5_SECTIONS)}  # S5's warm cache


async def cached(i: int) -> tuple[int, list[dict[str, Any]]]:
    return i, CACHE[i]  # a hit: nothing to wait for


async def endpoint(request: Request) -> StreamingResponse:
    path = request.url.path
    if path == page.S5_PATH:
        tasks = [asyncio.create_task(cached(i)) for i in CACHE]
    else:
        tasks = [asyncio.create_task(fetch(i, lat)) for i, lat in enumerate(page.ROUTES[path])]

    async def body():
        try:
            yield page.ooo_shell(len(tasks))
            for next_done in asyncio.as_completed(tasks):
                i, rows = await next_done
                yield page.ooo_chunk(i, rows)
            yield page.TAIL
        finally:
            for task in tasks:
                task.cancel()

    return StreamingResponse(
        body(), media_type="text/html; charset=utf-8", headers={"cache-control": "no-store"}
    )


app = Starlette(routes=[Route(path, endpoint) for path in [*page.ROUTES, page.S5_PATH]])
