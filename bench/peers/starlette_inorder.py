"""Peer (c): in-order streaming with sequential awaits (Starlette ``StreamingResponse``).

No JavaScript: the head goes out, then each section in document order, each awaited
after the previous one (so sections wait for the sum of the latencies before them).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from bench import page


async def fetch(i: int, latency: float) -> list[dict[str, Any]]:
    await asyncio.sleep(latency)  # the data call
    return page.items(i)


async def endpoint(request: Request) -> StreamingResponse:
    latencies = page.ROUTES[request.url.path]

    async def body():
        yield page.inorder_head()
        for i, lat in enumerate(latencies):
            yield page.render_section(i, await fetch(i, lat))
        yield page.TAIL

    return StreamingResponse(
        body(), media_type="text/html; charset=utf-8", headers={"cache-control": "no-store"}
    )


app = Starlette(routes=[Route(path, endpoint) for path in page.ROUTES])
