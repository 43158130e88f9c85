"""Pages that use the request context, served alone and mounted in Starlette with
SessionMiddleware and AuthenticationMiddleware (used in process and by real servers)."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount

import engine
from engine import Page, Params, Query, Request, Response, Shell
from engine.asgi import App

DOC = '<!doctype html><meta charset="utf-8"><title>{{ who }}</title><p id="who">{{ who }}</p>'


def account(account_id: int) -> str:
    return f"account {account_id}"


def greeting(request: Request) -> str:
    """Who the middleware says is signed in (Starlette's AuthenticationMiddleware)."""
    user = request.user
    name = user.display_name if user.is_authenticated else "nobody"
    return f"{name} via {request.method} {request.path} pid={os.getpid()}"


def sign_in(request: Request, response: Response, name: str, next: str = "/") -> str:
    """Writes the session (SessionMiddleware signs and saves it), then redirects."""
    request.session["user"] = name
    response.set_cookie("theme", "dark")
    raise engine.Redirect(next)


def sign_out(request: Request) -> str:
    request.session.clear()
    raise engine.Redirect("/", status=307)


def shaped(response: Response, x_note: str = "none") -> str:
    response.cache_control = "private, max-age=60"
    response.set_header("X-Note", x_note)
    response.set_cookie("seen", "1")
    return "shaped"


def shell_page(name: str, call, params=()) -> Page:
    return Page(
        name=name,
        shell=Shell(html=DOC, queries=("who",)),
        queries=(Query(name="who", call=call, result=str, params=params),),
    )


PAGES = {
    "/": shell_page("home", greeting),
    "/account/{account_id}": shell_page("account", account, Params(path=("account_id",))),
    "/signin": shell_page("signin", sign_in, ("name", "next")),
    "/signout": shell_page("signout", sign_out),
    "/shaped": shell_page("shaped", shaped, Params(header=("x_note",))),
}

engine_app = App(PAGES)


class SessionUser(AuthenticationBackend):
    """Signed in when the session names a user."""

    async def authenticate(self, conn):
        name = conn.session.get("user")
        if not name:
            return None
        return AuthCredentials(["authenticated"]), SimpleUser(name)


app = Starlette(
    routes=[Mount("/", app=engine_app)],
    middleware=[
        Middleware(SessionMiddleware, secret_key="test-secret"),
        Middleware(AuthenticationMiddleware, backend=SessionUser()),
    ],
)
