"""Sync shell queries behind real servers, for the thread-limit tests.

``/hung`` calls a backend that hangs for ``SOURCES_HANG`` seconds (its query gives up after
0.2 s, so the call is abandoned but keeps its thread); ``/fine`` is an unrelated page whose
sync shell query answers at once; ``/sources`` shows the sources' counters.
"""

from __future__ import annotations

import os
import time

import trio

import engine
from engine.asgi import App

HANG = float(os.environ.get("SOURCES_HANG", "20"))


def backend() -> str:
    time.sleep(HANG)  # a backend that stopped answering
    return "late"


def quick() -> str:
    return "quick answer"


def _shell(body: str) -> str:
    head = '<!doctype html><html><head><meta charset="utf-8"><title>t</title></head>'
    return f"{head}<body>{body}</body></html>"


hung = engine.Page(
    name="hung",
    shell=engine.Shell(html=_shell("<p>{{ backend }}</p>"), queries=("backend",)),
    queries=(
        engine.Query(name="backend", call=backend, result=str, source="backend", timeout=0.2),
    ),
)
fine = engine.Page(
    name="fine",
    shell=engine.Shell(html=_shell('<p id="quick">{{ quick }}</p>'), queries=("quick",)),
    queries=(engine.Query(name="quick", call=quick, result=str),),
)

SOURCES = engine.Sources(default=40, backend=int(os.environ.get("SOURCES_BACKEND", "50")))


async def counters() -> str:
    await trio.lowlevel.checkpoint()
    return f"abandoned={sum(s.abandoned for s in SOURCES.statistics())}"


report = engine.Page(
    name="sources",
    shell=engine.Shell(html=_shell('<p id="sources">{{ counters }}</p>'), queries=("counters",)),
    queries=(engine.Query(name="counters", call=counters, result=str),),
)

app = App({"/hung": hung, "/fine": fine, "/sources": report}, sources=SOURCES)
