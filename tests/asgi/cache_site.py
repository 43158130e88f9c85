"""A cached page behind real servers, for the served cache tests.

``/stock`` shows a cached query that takes ``CACHE_LATENCY`` seconds and answers with the
process id and this process's call count; ``/calls`` shows the count. ``CACHE_REDIS`` (a
redis:// URL) makes the store Redis, else it is the in-process default.
"""

from __future__ import annotations

import logging
import os
import sys

import trio

import engine
from engine.asgi import App

# The access log says which renders ended "client gone": the tests read it.
_access = logging.getLogger("engine.access")
_access.setLevel(logging.INFO)
_access.addHandler(logging.StreamHandler(sys.stderr))

LATENCY = float(os.environ.get("CACHE_LATENCY", "0.5"))
CALLS = 0


async def stock() -> str:
    global CALLS
    CALLS += 1
    await trio.sleep(LATENCY)
    return f"pid={os.getpid()} call={CALLS}"


async def calls() -> int:
    return CALLS


def _shell(body: str) -> str:
    head = '<!doctype html><html><head><meta charset="utf-8"><title>t</title></head>'
    return f"{head}<body>{body}</body></html>"


stock_page = engine.Page(
    name="stock",
    shell=engine.Shell(html=_shell('<h1>stock</h1><p id="stock"><?marker name="stock"></p>')),
    queries=(engine.Query(name="stock", call=stock, result=str, cache=engine.Cache(ttl=600)),),
    fragments=(
        engine.Fragment(target="stock", uses=("stock",), template="{{ stock }}", fallback="…"),
    ),
)
calls_page = engine.Page(
    name="calls",
    shell=engine.Shell(html=_shell("<p>calls={{ calls }}</p>"), queries=("calls",)),
    queries=(engine.Query(name="calls", call=calls, result=int),),
)

_redis = os.environ.get("CACHE_REDIS")
app = App(
    {"/stock": stock_page, "/calls": calls_page},
    cache=engine.RedisStore(_redis) if _redis else engine.MemoryStore(),
)
