"""POST to a page: run one of its actions, then redirect (303) or re-render with errors (422).

Every POST passes the same guards as a GET and more, in this order: the page declares actions
(else 405), the request is same-origin (``Origin``, ``Sec-Fetch-Site``), its body fits
``action_max_bytes`` (413), is a form or JSON (415), names a known action (400) and carries
the form token that matches the token cookie (403); then the page's shell queries run as for a
GET (a 404 or a redirect there stops the action), and only then the action. Nothing about a
failure goes to the client but its status: an action that raises is logged with its page and
action and answered with the engine's 500 page.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs
import msgspec
import trio

from .._errors import Redirect, RenderError
from .._render import render_changes, renew_cached
from ..caching import CacheStore
from ..context.forms import (
    ACTION_FIELD,
    SCOPE_SUBMISSION,
    SCOPE_TOKEN,
    TOKEN_COOKIE,
    TOKEN_FIELD,
    TOKEN_HEADER,
    Submission,
)
from ..context.request import Request as PageRequest
from ..context.request import parse_cookies, raw_values
from ..context.response import Response as Head
from ..definition.actions import DATA_ARGUMENT, ActionNode, InputError, form_queries
from ..definition.graph import Graph
from ..resolution.bridge import run_on_asyncio
from ..resolution.sources import Sources
from ._guest import Receive, Scope

__all__ = [
    "ACTION_MODE",
    "Submitted",
    "accept",
    "allowed_methods",
    "changed_queries",
    "is_action_fetch",
    "issue_token",
    "run_action",
]

ACTION_MODE = "action"
"""The plan's mode (and the access log's) for an action submitted by the runtime."""
REQUEST_KIND = b"x-engine-request"
"""``X-Engine-Request: action``: the runtime submitted the form and applies what streams back."""
VARY = (b"vary", b"X-Engine-Request")

_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"


def allowed_methods(graph: Graph) -> bytes:
    """The ``Allow`` header of a page: POST only where it declares actions."""
    return b"GET, HEAD, POST" if graph.actions else b"GET, HEAD"


def issue_token(scope: Scope, head: Head) -> str:
    """The request's form token: the token cookie's value, or a new one set as that cookie."""
    token = _cookie_token(scope)
    if token is None:
        token = secrets.token_urlsafe(32)
        head.set_cookie(TOKEN_COOKIE, token, samesite="lax")
    scope[SCOPE_TOKEN] = token
    return token


def _cookie_token(scope: Scope) -> str | None:
    token = parse_cookies(raw_values(scope.get("headers", ()), b"cookie")).get(TOKEN_COOKIE, "")
    return token if 32 <= len(token) <= 64 else None


@attrs.frozen
class Submitted:
    """An accepted POST: the action to run and its input, or why that input was refused."""

    action: ActionNode
    data: msgspec.Struct | None
    invalid: InputError | None
    values: Mapping[str, str]


class Refused(Exception):
    """A POST answered with an error status before any query or action of the page runs."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


async def accept(
    graph: Graph, scope: Scope, headers: Mapping[bytes, bytes], receive: Receive, limit: int
) -> Submitted | Refused:
    """Check a POST before anything of the page runs; read and decode its body."""
    try:
        _same_origin(headers)
        kind = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        if kind not in (_FORM, _JSON):
            raise Refused(415, "Send the form as application/x-www-form-urlencoded or JSON.")
        body = await _read_body(headers, receive, limit)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if kind == _FORM:
            try:
                pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
            except UnicodeDecodeError:
                raise Refused(400, "The form is not UTF-8.") from None
            fields = dict(pairs)
            name = fields.get(ACTION_FIELD) or query.get(ACTION_FIELD)
            sent_token = fields.get(TOKEN_FIELD) or _header_token(headers)
        else:
            pairs = []
            name = query.get(ACTION_FIELD)
            sent_token = _header_token(headers)
        if not name:
            raise Refused(400, f"Which action? Send the field {ACTION_FIELD}=name.")
        action = graph.actions.get(name)
        if action is None:
            raise Refused(400, "This page has no such action.")
        expected = _cookie_token(scope)
        if expected is None or not hmac.compare_digest(sent_token.encode(), expected.encode()):
            raise Refused(403, "The form has expired or did not come from this site; reload it.")
        scope[SCOPE_TOKEN] = expected
    except Refused as refused:
        return refused
    fields_sent = [(k, v) for k, v in pairs if k not in (ACTION_FIELD, TOKEN_FIELD)]
    values = dict(fields_sent)
    try:
        data = action.decode_form(fields_sent) if kind == _FORM else action.decode_json(body)
    except InputError as invalid:
        return Submitted(action, None, invalid, values)
    return Submitted(action, data, None, values)


def _header_token(headers: Mapping[bytes, bytes]) -> str:
    return headers.get(TOKEN_HEADER.encode(), b"").decode("latin-1")


def is_action_fetch(headers: Mapping[bytes, bytes]) -> bool:
    """Whether the runtime sent this POST (it then streams back only what changed)."""
    return headers.get(REQUEST_KIND) == b"action"


def changed_queries(graph: Graph, submitted: Submitted, *, ran: bool) -> tuple[str, ...]:
    """What an action's streamed response re-renders: the queries the action invalidates (when
    it ran: a 422 changed nothing) and the form's state (fresh, or the errors)."""
    forms = form_queries(graph.queries)
    if not ran:
        return forms
    invalidated = tuple(graph.queries[q].name for q in submitted.action.invalidates)
    return (*invalidated, *(name for name in forms if name not in invalidated))


def _same_origin(headers: Mapping[bytes, bytes]) -> None:
    """Refuse what a browser says came from another site.

    ``Sec-Fetch-Site`` is the browser's own verdict; ``Origin`` is compared with ``Host``
    (host and port: a proxy that terminates TLS changes the scheme the app sees).
    """
    site = headers.get(b"sec-fetch-site")
    if site is not None and site not in (b"same-origin", b"none"):
        raise Refused(403, "Cross-site form submissions are refused.")
    origin = headers.get(b"origin")
    if origin is not None:
        host = headers.get(b"host", b"").decode("latin-1").lower()
        try:
            netloc = urlsplit(origin.decode("latin-1")).netloc.lower()
        except ValueError:
            netloc = ""
        if not netloc or netloc != host:
            raise Refused(403, "Cross-site form submissions are refused.")


async def _read_body(headers: Mapping[bytes, bytes], receive: Receive, limit: int) -> bytes:
    length = headers.get(b"content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise Refused(413, f"The form is larger than {limit} bytes.")
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refused(400, "The form was not sent in full.")
        body += message.get("body", b"")
        if len(body) > limit:
            raise Refused(413, f"The form is larger than {limit} bytes.")
        if not message.get("more_body", False):
            return bytes(body)


async def _no_bytes(data: bytes) -> None:
    raise AssertionError("the guards' render writes nothing")


async def run_action(
    graph: Graph,
    submitted: Submitted,
    request: PageRequest,
    head: Head,
    resources: Mapping[str, Any] | None,
    *,
    nonce: str | None,
    sources: Sources,
    cache: CacheStore,
    fetch: bool = False,
) -> PageRequest:
    """Run the guards, then the action; return the request to render the page for, with the
    submission and its errors (a 422 when ``submitted.invalid``), or raise what the caller
    answers with: the 303 (``Redirect``), the guards' 404 or redirect, a 500 (``RenderError``)
    naming the action.

    For the runtime (``fetch``), an action that ends normally returns the request too: the
    caller streams what it changed. Only an explicit ``engine.Redirect`` leaves the page.
    """
    # Nothing changed yet: this runs the shell queries (the guards) and nothing else.
    await render_changes(
        graph,
        (),
        _no_bytes,
        request=request,
        response=head,
        resources=resources,
        nonce=nonce,
        sources=sources,
        cache=cache,
    )
    action = submitted.action
    if submitted.invalid is not None:
        failed = Submission(
            action=action.name, values=dict(submitted.values), errors=submitted.invalid.errors
        )
        return request.with_scope_value(SCOPE_SUBMISSION, failed)
    kwargs: dict[str, Any] = {
        name: (request if kind == "request" else head) for name, kind in action.context.items()
    }
    if action.input is not None:
        kwargs[DATA_ARGUMENT] = submitted.data
    for name in action.resources:
        kwargs[name] = (resources or {})[name]
    try:
        outcome = await _call(action, kwargs)
    except Redirect as exc:
        outcome = exc
    except RenderError:
        raise
    except Exception as exc:
        why = f"action {action.name!r}: {type(exc).__name__}: {exc}"
        raise RenderError(why, page=graph.name, node=action.name) from exc
    if fetch and not isinstance(outcome, Redirect):
        return request  # the streamed answer renews the cached queries it invalidated
    invalidated = [graph.queries[q].name for q in action.invalidates]
    await renew_cached(
        graph,
        invalidated,
        request=request,
        response=head,
        resources=resources,
        sources=sources,
        cache=cache,
    )
    location = request.path + (f"?{request.query_string}" if request.query_string else "")
    if isinstance(outcome, Redirect):
        if not _same_site_path(outcome.location):
            why = f"action {action.name!r}: redirect to {outcome.location!r} refused: only paths"
            raise RenderError(why + " of this site ('/...') are allowed", page=graph.name)
        location = outcome.location
    raise Redirect(location, status=303, page=graph.name)


async def _call(action: ActionNode, kwargs: dict[str, Any]) -> Any:
    call = functools.partial(action.call, **kwargs)
    if action.loop == "asyncio":
        return await run_on_asyncio(call, what="action")
    if action.is_async:
        return await call()
    return await trio.to_thread.run_sync(call)


def _same_site_path(location: str) -> bool:
    return location.startswith("/") and not location.startswith(("//", "/\\"))
