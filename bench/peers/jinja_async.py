"""Peer (d): a Jinja2 async template with the awaits inside the template.

``Environment(enable_async=True)`` auto-awaits the data call made in the template;
``generate_async`` streams the output through Starlette's ``StreamingResponse`` (one
chunk per piece Jinja yields), in document order, sections awaited one after another.
"""

from __future__ import annotations

import asyncio
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from bench import page

TEMPLATE = """<!doctype html><html lang="en"><head><meta charset="utf-8">\
<title>{{ title }}</title><link rel="stylesheet" href="{{ stylesheet }}"></head>\
<body><h1>{{ title }}</h1>\
{% for lat in latencies %}{% set i = loop.index0 %}{% set rows = fetch(i, lat) %}\
<section data-section="{{ i }}"><h2>Section {{ i }}</h2><ul>\
{% for r in rows %}<li><a href="/item/{{ r.id }}">{{ r.name }}</a> \
<span class="price">${{ "%.2f"|format(r.price) }}</span></li>{% endfor %}\
</ul></section>{% endfor %}</body></html>"""

env = jinja2.Environment(enable_async=True, autoescape=True)
template = env.from_string(TEMPLATE)


async def fetch(i: int, latency: float) -> list[dict[str, Any]]:
    await asyncio.sleep(latency)  # the data call
    return page.items(i)


async def endpoint(request: Request) -> StreamingResponse:
    stream = template.generate_async(
        title=page.TITLE,
        stylesheet=page.STYLESHEET,
        latencies=page.ROUTES[request.url.path],
        fetch=fetch,
    )
    return StreamingResponse(
        stream, media_type="text/html; charset=utf-8", headers={"cache-control": "no-store"}
    )


app = Starlette(routes=[Route(path, endpoint) for path in page.ROUTES])
