"""S5's floor on a server: the cached page rendered whole from a dict, one send.

No streaming, no scheduler, no cache lookups: the page's own work (its 50 sections over rows
already in memory, joined into the document) and one ``http.response.body``. What any
engine serving S5 on the same server adds is the difference; S2's own throughput over this
peer's S5 is the highest S5/S2 ratio an engine could read there.
"""

from __future__ import annotations

from typing import Any

from bench import page
from bench.peers._asgi import HEADERS, lifespan, not_found

CACHE = [page.items(i) for i in range(page.S5_SECTIONS)]  # S5's warm cache


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    if scope["path"] != page.S5_PATH:
        await not_found(send)
        return
    sections = "".join(page.render_section(i, rows) for i, rows in enumerate(CACHE))
    body = (page.inorder_head() + sections + page.TAIL).encode()
    headers = [*HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
