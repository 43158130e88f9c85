"""The ASGI 3 application: paths to pages, one streamed render per request.

One object serves natively under Hypercorn's trio worker and, through trio guest mode, under
any asyncio server or mounted in Starlette/FastAPI (see ``_guest``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast
from urllib.parse import parse_qsl

import attrs
import trio

from schemas import Mode

from .._errors import NoAsyncioHost, ParameterError, RenderError
from .._render import render, render_fragment
from ..definition.graph import Graph
from ..resolution.bridge import require_asyncio_host
from ._guest import Receive, Scope, Send, TrioASGI
from ._log import log, log_access, printable
from ._options import Options
from ._response import HeadComplete, Response
from ._routes import PageLike, Route, build_routes, match
from ._timing import STAMP_HEADER, ShellTimer

FRAGMENT_PARAM = "fragment"
"""``?fragment=slot`` renders that one fragment (what the runtime's ``$E.refresh`` fetches)."""


@attrs.frozen
class Request:
    method: str
    path: str
    """Relative to the mount point (``root_path``), which is how routes are written."""
    target: str
    """As requested, for the access log."""
    query: dict[str, str]
    headers: dict[bytes, bytes]

    @classmethod
    def parse(cls, scope: Scope) -> Request:
        path, qs = scope["path"], scope.get("query_string", b"").decode("latin-1")
        return cls(
            method=scope["method"],
            path=path.removeprefix(scope.get("root_path", "")) or "/",
            target=path + (f"?{qs}" if qs else ""),
            query=dict(parse_qsl(qs, keep_blank_values=True)),
            headers={k.lower(): v for k, v in scope.get("headers", ())},
        )


@attrs.frozen
class Plan:
    """A render to run: which graph, which fragment (or the whole page), in which mode."""

    graph: Graph
    fragment: str | None
    mode: str
    params: dict[str, str]


@attrs.frozen
class Refusal:
    """An answer decided before rendering anything."""

    status: int
    detail: str | None
    headers: tuple[tuple[bytes, bytes], ...] = ()
    mode: str = "-"


class App:
    """Serve pages over ASGI: ``App({"/product/{product_id}": page}, **options)``.

    Path captures and query-string parameters become the render's request parameters (path
    captures win). Pages are checked here, at startup: a broken page raises ``PageError`` now,
    not on the first request. ``options`` are the fields of :class:`Options`.
    """

    def __init__(self, pages: Mapping[str, PageLike], **options: Any) -> None:
        self.routes: tuple[Route, ...] = build_routes(pages)
        self.options = Options(**options)
        self._entry = TrioASGI(self._asgi)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._entry(scope, receive, send)

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(Request.parse(scope), receive, send)
        elif scope["type"] == "lifespan":
            await _lifespan(receive, send, self._startup_problem)
        else:  # ASGI: raise for unsupported scopes (Hypercorn crashes on a silent return)
            raise RuntimeError(f"engine.asgi.App does not serve {scope['type']!r} scopes")

    @property
    def asyncio_queries(self) -> dict[str, tuple[str, ...]]:
        """Page name → its queries that run on asyncio; non-empty: serve on an asyncio loop."""
        return {
            r.graph.name: r.graph.asyncio_queries for r in self.routes if r.graph.asyncio_queries
        }

    def _startup_problem(self) -> str | None:
        """Why this app cannot serve on the current host, or None (checked at lifespan startup)."""
        for page, queries in self.asyncio_queries.items():
            try:
                require_asyncio_host(page, queries)
            except NoAsyncioHost as exc:
                return str(exc)
        return None

    def _plan(self, request: Request) -> Plan | Refusal:
        found = match(self.routes, request.path)
        if found is None:
            return Refusal(404, "No page at this address.")
        if request.method not in ("GET", "HEAD"):
            return Refusal(405, None, ((b"allow", b"GET, HEAD"),))
        route, captures = found
        params = {**request.query, **captures}
        fragment = request.query.get(FRAGMENT_PARAM)
        if fragment is not None:
            return Plan(route.graph, fragment, "fragment", params)
        agent = request.headers.get(b"user-agent", b"").decode("latin-1")
        try:
            mode = self.options.choose_mode(
                route.graph.page.mode, request.query, agent, route.graph.name
            )
        except ParameterError as exc:
            return Refusal(400, exc.reason)
        return Plan(route.graph, None, mode, params)

    async def _http(self, request: Request, receive: Receive, send: Send) -> None:
        began = trio.current_time()
        opts = self.options
        nonce = opts.new_nonce()
        plan = self._plan(request)
        timer = None
        if isinstance(plan, Plan) and plan.fragment is None and plan.graph.shell_queries:
            timer = ShellTimer(plan.graph)  # Server-Timing covers the shell queries only
        response = Response(
            send,
            opts.headers(nonce),
            head=request.method == "HEAD",
            buffered=plan.mode == "buffered",
            timer=timer,
            write_timeout=opts.write_timeout,
            stamps=opts.flush_stamps and request.headers.get(STAMP_HEADER) == b"1",
        )
        outcome = "aborted"
        try:
            if isinstance(plan, Refusal):
                await response.fail(plan.status, plan.detail, plan.headers)
                outcome = "ok"
            else:
                outcome = await _stream(plan, response, receive, nonce, timer)
        finally:
            log_access(
                request.method,
                request.target,
                response,
                plan.mode,
                outcome,
                trio.current_time() - began,
            )


async def _stream(
    plan: Plan, response: Response, receive: Receive, nonce: str | None, timer: ShellTimer | None
) -> str:
    """Render under a disconnect watcher; return "ok" or "client gone".

    The watcher cancels the render (and so every query still running), never a final send:
    it is stopped before ``finish`` runs, and ``finish`` is shielded anyway. Failures before
    the first byte become error pages; after it, the engine reports them in-band, and
    anything else escaping (a write timeout, a bug) aborts the connection without its final
    chunk, so no proxy or cache mistakes the truncated page for a complete one.
    """
    with trio.CancelScope() as producer:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_watch_disconnect, receive, producer)
            try:
                if plan.fragment is not None:
                    await render_fragment(
                        plan.graph, plan.fragment, response.write, params=plan.params, nonce=nonce
                    )
                else:
                    await render(
                        plan.graph,
                        response.write,
                        params=plan.params,
                        mode=cast("Mode", plan.mode),
                        nonce=nonce,
                        tracer=timer,
                    )
            except HeadComplete:
                pass
            except OSError:  # uvicorn >= 0.27 reports a gone client from send()
                producer.cancel()
            except RenderError as exc:
                if exc.status_code == 500:
                    reason = printable(exc.reason)
                    log.error("page %r: %s", plan.graph.name, reason, exc_info=exc.__cause__)
                await response.fail(exc.status_code, None if exc.status_code == 500 else exc.reason)
                nursery.cancel_scope.cancel()
                return "ok"
            nursery.cancel_scope.cancel()
    if producer.cancelled_caught:
        return "client gone"
    await response.finish()
    return "ok"


async def _watch_disconnect(receive: Receive, producer: trio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    producer.cancel()


async def _lifespan(
    receive: Receive, send: Send, startup_problem: Callable[[], str | None]
) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            problem = startup_problem()
            if problem is not None:
                log.error("%s", problem)
                await send({"type": "lifespan.startup.failed", "message": problem})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
