"""S6 peer: the shared-source page on the engine, with and without its help at the source.

The source is a stand-in for a database or an API: a call for some keys takes
``source_latency_ms + per_key_ms x keys``, and the source itself serves at most
``source_concurrency`` calls at once (later calls queue in arrival order, as a connection
pool's do). The page has one fragment per key, each fed by one query; fragment
``high_priority_fragment`` (declared last) is ``high`` priority.

Variants, one path each (``GET /s6/variants`` lists those this engine can serve, each with
what the engine knows of the source):

* ``/s6``: each query calls the source for its key; the engine knows nothing of the source.
* ``/s6/admission``: the queries name the source (``source="s6"``, ``Sources(s6=limit)``), so
  the engine holds the calls beyond the limit and admits them by the urgency of the fragment
  that needs them.
* ``/s6/batched``: the queries load their key through a batched source (``engine.Loader``
  over the same source, with its limit): the loads of queries that start together go out as
  one call, admitted by urgency. Served once the engine has batching.

``GET /s6/calls`` returns the source's counters since the previous read (calls, keys, the
most calls in flight at once) and resets them; the client reads it after each page.
"""

from __future__ import annotations

import json
from typing import Any

import trio

import engine
from bench import page as bp
from bench.peers._asgi import HEADERS
from bench.peers.engine_app import Item, section_renderer, shell
from engine.asgi import App

CFG = bp.S6
N = CFG["fragments"]
LIMIT = CFG["source_concurrency"]
HIGH = CFG["high_priority_fragment"]
SOURCE = "s6"


class Source:
    """A data source with fixed latency, a cost per key and its own limit of calls at once."""

    def __init__(self) -> None:
        self.pool = trio.Semaphore(LIMIT)  # FIFO, as a connection pool
        self.in_flight = 0
        self.counts = dict.fromkeys(("calls", "keys", "max_in_flight"), 0)

    def take_counts(self) -> dict[str, int]:
        """The counters since the previous read, then zero."""
        counts, self.counts = self.counts, dict.fromkeys(self.counts, 0)
        return counts

    async def get_many(self, keys: list[int]) -> dict[int, list[dict[str, Any]]]:
        async with self.pool:
            self.counts["calls"] += 1
            self.counts["keys"] += len(keys)
            self.in_flight += 1
            self.counts["max_in_flight"] = max(self.counts["max_in_flight"], self.in_flight)
            try:
                await trio.sleep((CFG["source_latency_ms"] + CFG["per_key_ms"] * len(keys)) / 1000)
            finally:
                self.in_flight -= 1
        return {k: bp.items(k) for k in keys}


source = Source()


def _one(i: int) -> Any:
    async def fetch() -> list[dict[str, Any]]:
        return (await source.get_many([i]))[i]

    return fetch


def _loaded(i: int) -> Any:
    # The loader arrives under its name; the annotation is engine.RequestLoader.
    async def fetch(items: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await items.load(i)
        return result

    if (request_loader := getattr(engine, "RequestLoader", None)) is not None:
        fetch.__annotations__["items"] = request_loader[int, list[dict[str, Any]]]
    return fetch


def build(name: str, call: Any = _one, **query_options: Any) -> Any:
    from schemas import Fragment, Page, Query

    queries = tuple(
        Query(name=f"q{i}", call=call(i), result=list[Item], **query_options) for i in range(N)
    )
    fragments = tuple(
        Fragment(
            target=f"section-{i}", uses=(f"q{i}",), render=section_renderer(i, f"q{i}"),
            fallback=bp.fallback_html(), priority="high" if i == HIGH else "normal",
        )
        for i in range(N)
    )  # fmt: skip
    return Page(name=name, shell=shell(N), queries=queries, fragments=fragments)


#: path -> (what the engine knows of the source, the page)
VARIANTS = {
    bp.S6_PATH: ("nothing: one call per key, the source queues them", build("s6")),
    f"{bp.S6_PATH}/admission": (
        f"its limit (source=, Sources(s6={LIMIT})): one call per key, admitted by urgency",
        build("s6_admission", source=SOURCE),
    ),
}
if hasattr(engine, "Loader"):  # batching, once the engine has it
    items_loader = engine.Loader(source.get_many, name="items", source=SOURCE)
    VARIANTS[f"{bp.S6_PATH}/batched"] = (
        f"a batched source (engine.Loader, source={SOURCE!r}): one call per turn's keys,"
        " admitted by urgency",
        build("s6_batched", _loaded, loaders=(items_loader,)),
    )
SOURCES = engine.Sources(**{SOURCE: LIMIT})
pages = App({path: pg for path, (_, pg) in VARIANTS.items()}, sources=SOURCES)


async def _json(send: Any, value: Any) -> None:
    body = json.dumps(value).encode()
    headers = [*HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http" and scope["path"] == f"{bp.S6_PATH}/calls":
        await _json(send, source.take_counts())
    elif scope["type"] == "http" and scope["path"] == f"{bp.S6_PATH}/variants":
        await _json(send, {path: label for path, (label, _) in VARIANTS.items()})
    else:
        await pages(scope, receive, send)
