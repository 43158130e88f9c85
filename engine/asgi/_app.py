"""The ASGI 3 application: paths to pages, one streamed render per request.

One object serves natively under Hypercorn's trio worker and, through trio guest mode, under
any asyncio server or mounted in Starlette/FastAPI (see ``_guest``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import Any, cast

import attrs
import trio

from schemas import Mode

from .._errors import NoAsyncioHost, ParameterError, Redirect, RenderError
from .._logs import printable
from .._render import render_changes, render_fragment, render_in
from ..context.request import Request as PageRequest
from ..context.response import Response as Head
from ..definition.navigation import navigation_view
from ..observe import tracing_for
from ..resolution.bridge import require_asyncio_host
from ..resolution.resolve import Tracer
from ._actions import (
    ACTION_MODE,
    VARY,
    Refused,
    accept,
    allowed_methods,
    changed_queries,
    is_action_fetch,
    issue_token,
    run_action,
)
from ._client import ClientWatch
from ._guest import Receive, Scope, Send, TrioASGI, in_trio, run_in_guest
from ._lifespan import AppResources
from ._log import access_log, log_access, log_error
from ._options import Options
from ._plan import Plan, Refusal, Request
from ._response import HeadComplete, Response, WriteTimeout
from ._routes import PageLike, Route, build_routes, match
from ._static import StaticFiles
from ._timing import STAMP_HEADER, ShellTimer

FRAGMENT_PARAM = "fragment"
"""``?fragment=slot`` renders that one fragment (what the runtime's ``$E.refresh`` fetches)."""

REQUEST_KIND = b"x-engine-request"
"""Tells the runtime's requests apart: ``navigate`` (navigate.js) or ``action``."""
LAYOUT_HEADER = b"x-engine-layout"
"""With ``navigate``: the layouts the client holds; on the answer, the one it fills."""
NAVIGATION_HEADER = b"x-engine-navigation"
"""On a navigation answer: the page's ``navigation`` (``all`` or ``marked``), which the client
follows from then on."""


class App:
    """Serve pages over ASGI: ``App({"/product/{product_id}": page}, **options)``.

    Each query reads its request parameters from the source it declares (path capture, query
    string, header, cookie) and may receive the whole request (``request: engine.Request``).
    Pages are checked here, at startup: a broken page raises ``PageError`` now, not on the
    first request. ``static="static/"`` serves that folder under ``static_path``
    (``/static``): see :class:`StaticFiles`. ``options`` are the fields of :class:`Options`.
    The pages' resources are entered at lifespan startup; ``resources`` replaces some by name
    with values given as is (fakes in tests).
    """

    def __init__(
        self,
        pages: Mapping[str, PageLike],
        *,
        static: str | Path | None = None,
        static_path: str = "/static",
        resources: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        self.routes: tuple[Route, ...] = build_routes(pages)
        self.options = Options(**options)
        self.static = None if static is None else StaticFiles(static)
        if not static_path.startswith("/") or static_path.endswith("/"):
            raise ValueError(f"static_path {static_path!r} must start with '/' and not end with it")
        self.static_prefix = static_path + "/"
        self.resources = AppResources((route.graph for route in self.routes), resources)
        self._tracing = tracing_for(self.options.tracing)
        self._entry = TrioASGI(self._asgi)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._tracing is None or scope["type"] != "http":
            if scope["type"] != "http":
                await self._entry(scope, receive, send)
            elif in_trio():  # the common cases, in fewer frames (open streams hold them all)
                await self._http(Request.parse(scope), receive, send, None)
            else:
                await run_in_guest(self._asgi, scope, receive, send)
            return
        # The server's request span is in the caller's contextvars, which do not flow into
        # the trio task of an asyncio server's guest run: capture it here and pass it on.
        parent = self._tracing.capture()
        await TrioASGI(functools.partial(self._asgi, parent=parent))(scope, receive, send)

    def _asgi(
        self, scope: Scope, receive: Receive, send: Send, parent: Any = None
    ) -> Awaitable[None]:
        """The app in trio: a plain function returning the call's coroutine (one frame fewer)."""
        if scope["type"] == "http":
            return self._http(Request.parse(scope), receive, send, parent)
        if scope["type"] == "lifespan":
            opts = self.options
            return self.resources.lifespan(
                receive, send, self._startup_problem, opts.freeze_heap, opts.gc_threshold
            )
        # ASGI: raise for unsupported scopes (Hypercorn crashes on a silent return)
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
        route, captures = found
        if request.method not in ("GET", "HEAD") and not (
            request.method == "POST" and route.graph.actions
        ):
            return Refusal(405, None, ((b"allow", allowed_methods(route.graph)),))
        context = PageRequest.from_scope(request.scope, captures)
        if request.method == "POST" and is_action_fetch(request.headers):
            return Plan(route.graph, None, ACTION_MODE, context)
        fragment = request.query.get(FRAGMENT_PARAM)
        if fragment is not None:
            return Plan(route.graph, fragment, "fragment", context)
        if route.graph.navigation and request.headers.get(REQUEST_KIND) == b"navigate":
            held = request.headers.get(LAYOUT_HEADER, b"").decode("latin-1")
            view = navigation_view(route.graph, held)
            if view is not None:  # only what lies below the layout it holds, streamed
                return Plan(view, None, "out-of-order", context)
        agent = request.headers.get(b"user-agent", b"").decode("latin-1")
        try:
            mode = self.options.choose_mode(
                route.graph.page.mode, request.query, agent, route.graph.name
            )
        except ParameterError as exc:
            return Refusal(400, exc.reason)
        return Plan(route.graph, None, mode, context)

    async def _static(self, static: StaticFiles, request: Request, send: Send) -> None:
        began = trio.current_time()
        relative = request.path.removeprefix(self.static_prefix)
        status = await static.serve(relative, request.method, request.headers, send)
        if access_log.isEnabledFor(logging.INFO):
            total = (trio.current_time() - began) * 1000
            access_log.info(
                "%s %s %s total=%.1fms static",
                printable(request.method),
                printable(request.target),
                status,
                total,
            )

    async def _accept(self, plan: Plan, request: Request, receive: Receive) -> Plan | Refusal:
        """Read and check a POST's body before the page runs (``_actions``)."""
        graph, limit = plan.graph, self.options.action_max_bytes
        accepted = await accept(graph, request.scope, request.headers, receive, limit)
        if isinstance(accepted, Refused):
            return Refusal(accepted.status, accepted.detail)
        return attrs.evolve(plan, submitted=accepted)

    async def _http(self, request: Request, receive: Receive, send: Send, parent: Any) -> None:
        if self.static is not None and request.path.startswith(self.static_prefix):
            await self._static(self.static, request, send)
            return
        began = trio.current_time()
        opts = self.options
        nonce = opts.new_nonce()
        plan = self._plan(request)
        if isinstance(plan, Plan) and request.method == "POST":
            plan = await self._accept(plan, request, receive)
        timer = None
        if isinstance(plan, Plan) and plan.fragment is None and plan.graph.shell_queries:
            timer = ShellTimer(plan.graph)  # Server-Timing covers the shell queries only
        tracer: Tracer | None = timer
        trace = None
        if self._tracing is not None and isinstance(plan, Plan):
            trace = self._tracing.start(
                plan.graph, plan.mode, parent, fragment=plan.fragment, also=timer
            )
            tracer, send = trace, trace.wrap_send(send)
        head = Head(secure=request.scope.get("scheme") == "https")
        headers = opts.headers(nonce)
        if isinstance(plan, Plan) and (plan.graph.navigation or request.method == "POST"):
            headers.append(VARY)  # the answer depends on who asked: the runtime, or the browser
        response = Response(
            request.scope,
            send,
            headers,
            head,
            head=request.method == "HEAD",
            buffered=plan.mode == "buffered",
            timer=timer,
            write_timeout=opts.write_timeout,
            stamps=opts.flush_stamps and request.headers.get(STAMP_HEADER) == b"1",
        )
        if isinstance(plan, Plan) and plan.graph.below and plan.graph.navigation:
            response.page_headers = [  # what the body fills: the client checks it
                (LAYOUT_HEADER, plan.graph.below.encode()),
                (NAVIGATION_HEADER, plan.graph.navigation.encode()),
            ]
        if isinstance(plan, Plan) and plan.graph.actions:
            issue_token(request.scope, head)
        outcome = "aborted"
        try:
            async with trio.open_nursery() as request_scope:
                # The client leaving cancels this whole scope: the render (and so every query
                # still running), never a final send, which is shielded. One scope for both
                # jobs keeps each open stream smaller. A render is watched from when it first
                # waits for a query (a page served from memory never does, and starts no
                # watcher task); a POST (its action, the rest of a refused body) or resources
                # opened on demand may wait at once.
                watch = ClientWatch(receive, request_scope)
                try:
                    if request.method == "POST" or (
                        isinstance(plan, Plan) and plan.graph.resources is not None
                    ):
                        watch.start()
                    else:
                        response.watch_client = watch.start
                    outcome = await _respond(
                        plan, response, head, self.resources, nonce, tracer, opts, request_scope
                    )
                    if response.connection_reset:
                        # The connection was reset: let the server see it go before returning,
                        # or an asyncio server logs "returned without completing response".
                        response.before_wait()
                        await trio.sleep(_SETTLE)  # the client's leaving ends this early
                finally:
                    watch.end()  # whatever ended the response
            if outcome == "aborted":  # nothing came back: the watcher cancelled the request
                outcome = _timed_out(response) or "client gone"
        finally:
            if trace is not None:
                trace.finish(response.status, outcome)
            log_access(
                request.method,
                request.target,
                response,
                plan.mode,
                outcome,
                trio.current_time() - began,
            )


_SETTLE = 1.0
"""Seconds to wait for the server to notice a connection the app reset."""


async def _respond(
    plan: Plan | Refusal,
    response: Response,
    head: Head,
    app_resources: AppResources,
    nonce: str | None,
    tracer: Tracer | None,
    opts: Options,
    request_scope: trio.Nursery,
) -> str:
    """Answer the request; return the outcome for the access log, never raise (but Cancelled).

    Failures before the first byte become error pages; after it, the engine reports them
    in-band. Whatever goes wrong ends here as one log line: a client that left or stopped
    reading is an outcome, and an unexpected exception before the first byte is the engine's
    500 page, after it an aborted connection (no final chunk, so no proxy or cache keeps a
    truncated page as complete), never a server traceback. (One function, not two: an open
    stream holds every frame of its chain.)
    """
    try:
        if isinstance(plan, Refusal):
            await response.fail(plan.status, plan.detail, plan.headers)
        else:
            try:
                resources = await app_resources.for_graph(plan.graph)
                page_request = plan.request
                if plan.submitted is not None:  # a POST: guards, then the action (_actions)
                    page_request = await run_action(
                        plan.graph,
                        plan.submitted,
                        plan.request,
                        head,
                        resources,
                        nonce=nonce,
                        sources=opts.sources,
                        cache=opts.cache,
                        fetch=plan.mode == ACTION_MODE,
                    )
                    if plan.submitted.invalid is not None:
                        response.page_status = 422
                if plan.mode == ACTION_MODE and plan.submitted is not None:
                    await render_changes(
                        plan.graph,
                        changed_queries(
                            plan.graph, plan.submitted, ran=plan.submitted.invalid is None
                        ),
                        response,
                        request=page_request,
                        response=head,
                        resources=resources,
                        nonce=nonce,
                        tracer=tracer,
                        sources=opts.sources,
                        cache=opts.cache,
                    )
                    if not response.started:  # nothing changed on the page: the head only
                        await response.write(b"")
                elif plan.fragment is not None:
                    await render_fragment(
                        plan.graph,
                        plan.fragment,
                        response,
                        request=plan.request,
                        response=head,
                        resources=resources,
                        nonce=nonce,
                        tracer=tracer,
                        sources=opts.sources,
                        cache=opts.cache,
                    )
                else:
                    await render_in(
                        request_scope,
                        plan.graph,
                        response,
                        request=page_request,
                        response=head,
                        resources=resources,
                        mode=cast("Mode", plan.mode),
                        nonce=nonce,
                        tracer=tracer,
                        sources=opts.sources,
                        cache=opts.cache,
                    )
            except HeadComplete:
                await response.finish()
            except Redirect as exc:
                if plan.mode == ACTION_MODE:  # fetch would follow a 303: the runtime goes there
                    await response.relocate(exc.location)
                else:
                    await response.redirect(exc.status_code, exc.location)
            except RenderError as exc:
                if exc.status_code == 500:
                    log_error(plan.graph.name, exc.reason, exc.__cause__)
                status = exc.status_code
                await response.fail(status, None if status == 500 else exc.reason)
            else:
                await response.finish()
        outcome = "ok"
    except (WriteTimeout, OSError):  # uvicorn >= 0.27 reports a gone client from send()
        outcome = "client gone"
    except Exception as exc:  # a bug, or a failure the render did not turn into an error
        name = plan.graph.name if isinstance(plan, Plan) else "-"
        log_error(name, f"unexpected {type(exc).__name__}: {exc}", exc)
        if not response.started:
            with contextlib.suppress(WriteTimeout, OSError):
                await response.fail(500, None)
            return "ok"
        response.abort()
        return "error"
    return _timed_out(response) or outcome


def _timed_out(response: Response) -> str | None:
    """The outcome of a response whose send timed out (whatever the client did next: it may be
    seen leaving first, once its connection is reset)."""
    if not response.timed_out:
        return None
    return "write timeout" if response.connection_reset else "write timeout; send cancelled"
