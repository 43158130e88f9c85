"""The request context over ASGI: sources, the response head shaped by shell queries,
redirects, and Starlette's SessionMiddleware and AuthenticationMiddleware around the App."""

from __future__ import annotations

import re
import warnings

import context_site
import pytest
from servers import fetch, free_port, hypercorn_argv, start_server, uvicorn_argv
from starlette.exceptions import StarletteDeprecationWarning
from test_app import Client, call, scope

with warnings.catch_warnings():  # Starlette 1.10 prefers httpx2; httpx is what is installed
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

import engine
from engine import Page, Query, Response, Shell
from engine.asgi import App

APP = context_site.engine_app


async def test_a_path_parameter_cannot_be_set_from_the_query_string(autojump_clock) -> None:
    client = await call(APP, "/account/7", "account_id=666")
    assert client.start["status"] == 200 and b"account 7" in client.body
    assert b"666" not in client.body


async def test_a_shell_query_shapes_the_head(autojump_clock) -> None:
    client = await call(APP, "/shaped", headers=[(b"x-note", b"hello")])
    assert client.start["status"] == 200
    headers = client.start["headers"]
    assert (b"cache-control", b"private, max-age=60") in headers
    assert [v for k, v in headers if k == b"cache-control"] == [b"private, max-age=60"]
    assert (b"x-note", b"hello") in headers
    assert (b"set-cookie", b"seen=1; HttpOnly; Path=/; SameSite=Lax") in headers


async def test_cookies_are_secure_over_https(autojump_clock) -> None:
    https = scope("/shaped")
    https["scheme"] = "https"
    client = Client()
    await APP(https, client.receive, client.send)
    (cookie,) = [v for k, v in client.start["headers"] if k == b"set-cookie"]
    assert cookie == b"seen=1; HttpOnly; Path=/; SameSite=Lax; Secure"


async def test_a_header_value_with_a_line_break_fails_the_query_not_the_wire(
    autojump_clock,
) -> None:
    client = await call(APP, "/shaped", headers=[(b"x-note", b"a\rSet-Cookie: evil=1")])
    assert client.start["status"] == 500
    assert not any(b"evil" in v for _, v in client.start["headers"])


async def test_a_redirect_carries_its_location_and_cookies(autojump_clock) -> None:
    client = await call(APP, "/signin", "name=ann&next=/account/1", headers=[])
    # without SessionMiddleware, request.session is a clear failure: 500, no redirect
    assert client.start["status"] == 500
    mounted = TestClient(context_site.app, follow_redirects=False)
    with mounted:
        answer = mounted.get("/signin", params={"name": "ann", "next": "/account/1"})
    assert answer.status_code == 303 and answer.headers["location"] == "/account/1"
    assert "theme=dark; HttpOnly; Path=/; SameSite=Lax" in answer.headers.get_list("set-cookie")


def test_starlette_session_and_authentication_middleware_just_work() -> None:
    with TestClient(context_site.app, follow_redirects=False) as client:
        assert re.search(r"nobody via GET / pid=", client.get("/").text)
        signed = client.get("/signin?name=ann&next=/")
        assert signed.status_code == 303
        assert "session" in client.cookies
        assert "ann via GET / " in client.get("/").text
        out = client.get("/signout")
        assert out.status_code == 307 and out.headers["location"] == "/"
        assert "nobody via GET /" in client.get("/").text


def test_a_response_object_outside_the_shell_is_a_definition_error() -> None:
    def late(response: Response) -> str:
        return "x"

    page = Page(
        name="late",
        shell=Shell(html='<meta charset="utf-8"><?marker name="a">'),
        queries=(Query(name="late", call=late, result=str),),
        fragments=(engine.Fragment(target="a", uses=("late",), template="{{ late }}"),),
    )
    with pytest.raises(engine.PageError) as info:
        App({"/": page})
    (problem,) = info.value.problems
    assert problem.node == "late" and problem.key == "$.queries[0].call"
    assert "runs after the first byte" in problem.message
    assert "add 'late' to shell.queries" in problem.message


async def test_redirect_raised_after_the_first_byte_fails_in_band(autojump_clock) -> None:
    def late() -> str:
        raise engine.Redirect("/elsewhere")

    page = Page(
        name="late",
        shell=Shell(html='<meta charset="utf-8"><?marker name="a">'),
        queries=(Query(name="late", call=late, result=str),),
        fragments=(
            engine.Fragment(target="a", uses=("late",), template="{{ late }}", error="<b>x</b>"),
        ),
    )
    client = await call(App({"/": page}), "/")
    assert client.start["status"] == 200 and b"<b>x</b>" in client.body


@pytest.mark.parametrize("kind", ["hypercorn", "uvicorn"])
def test_signing_in_through_real_servers(tmp_path, kind) -> None:
    """Starlette (sessions, authentication) around the App, on real sockets: Hypercorn's trio
    worker runs Starlette on trio and the App natively; uvicorn hosts the App in guest mode."""
    port = free_port()
    app = "context_site:app"
    argv = hypercorn_argv(app, port) if kind == "hypercorn" else uvicorn_argv(app, port)
    server = start_server(argv, port=port, log=tmp_path / f"{kind}.log", name=kind)
    try:
        assert b"nobody via GET /" in fetch(port, "/").body
        signed = fetch(port, "/signin?name=ann&next=/account/3")
        assert signed.status == 303 and signed.headers["location"] == "/account/3"
        head = b"".join(d for _, d in signed.reads).partition(b"\r\n\r\n")[0]
        assert re.search(rb"(?i)set-cookie: theme=dark; HttpOnly; Path=/; SameSite=Lax", head)
        session = re.search(rb"(?i)set-cookie: (session=[^;]+)", head)
        assert session, head
        cookie = [("Cookie", session[1].decode())]
        assert b"ann via GET /" in fetch(port, "/", headers=cookie).body
        forged = [("Cookie", "session=eyJ1c2VyIjogImJvYiJ9.forged.sig")]
        assert b"nobody via GET /" in fetch(port, "/", headers=forged).body
    finally:
        server.stop()
    assert "Traceback" not in server.output(), server.output()
