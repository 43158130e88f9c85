"""A page for the tracing tests, and ``app``: it behind OpenTelemetry's ASGI middleware.

``/traced/{item}``: a shell query (``title``: Server-Timing reports it, ``missing`` is a 404),
a query that fails (``broken``) and one that depends on it (``after``), a slow one (``slow``,
``?delay=`` seconds) and one that depends on it (``derived``). Served by a real server process,
``app`` writes every finished span as one JSON line to the file named by ``ENGINE_TRACE_FILE``.
"""

from __future__ import annotations

import json
import os

import trio

import engine
from engine.asgi import App

SHELL = (
    '<!doctype html><html><head><meta charset="utf-8"><title>{{ title }}</title></head><body>'
    '<?marker name="bad"><?marker name="ok"></body></html>'
)


async def title(item: str) -> str:
    if item == "missing":
        raise engine.NotFound(f"no item {item}")
    return f"Item {item}"


async def broken() -> int:
    raise ValueError("the source is down")


async def after(broken: int) -> int:
    return broken + 1


async def slow(delay: float = 1.0) -> int:
    await trio.sleep(delay)
    return 7


async def derived(slow: int) -> int:
    return slow * 6


page = engine.Page(
    name="traced",
    shell=engine.Shell(html=SHELL, queries=("title",)),
    queries=(
        engine.Query(name="title", call=title, result=str, params=("item",)),
        engine.Query(name="broken", call=broken, result=int),
        engine.Query(name="after", call=after, result=int, depends_on=("broken",)),
        engine.Query(name="slow", call=slow, result=int, params=("delay",)),
        engine.Query(name="derived", call=derived, result=int, depends_on=("slow",)),
    ),
    fragments=(
        engine.Fragment(target="bad", uses=("after",), template="{{ after }}", error="sorry"),
        engine.Fragment(target="ok", uses=("derived",), template="<p>{{ derived }}</p>"),
    ),
)

PAGES = {"/traced/{item}": page}


def _served() -> object:
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    out = open(os.environ["ENGINE_TRACE_FILE"], "a")  # noqa: SIM115 (open for the process)
    provider = TracerProvider(shutdown_on_exit=False)
    exporter = ConsoleSpanExporter(out=out, formatter=lambda span: json.dumps(_row(span)) + "\n")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OpenTelemetryMiddleware(App(PAGES, tracing=provider), tracer_provider=provider)


def _row(span) -> dict:
    parent = span.parent
    return {
        "name": span.name,
        "trace_id": f"{span.context.trace_id:032x}",
        "span_id": f"{span.context.span_id:016x}",
        "parent_id": f"{parent.span_id:016x}" if parent is not None else None,
        "kind": span.kind.name,
        "attributes": dict(span.attributes),
    }


app = _served() if "ENGINE_TRACE_FILE" in os.environ else None
