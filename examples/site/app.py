"""The whole site as one ASGI app: ``engine serve examples.site.app:app`` (or uvicorn).

The engine serves the pages (GET and HEAD, and POST to the pages that declare actions: the
cart's forms). What a page does not do is composed around it with Starlette, as a real site
would: a signed session cookie (``SessionMiddleware``) and the two form posts that sign in and
out (each answers 303 See Other, so a reload never posts twice). The engine's app also serves the
static stylesheet.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

import engine
from engine.asgi import App

from . import accounts
from .cart import SESSION_KEY as CART

HERE = Path(__file__).parent

pages = App(
    {
        "/": HERE / "pages" / "home.toml",
        "/product/{product_id}": HERE / "pages" / "product.toml",
        "/signin": HERE / "pages" / "signin.toml",
        "/account": HERE / "pages" / "account.toml",
        "/cart": HERE / "pages" / "cart.toml",
    },
    static=HERE / "static",  # /static/site.css, with ETag, Last-Modified and 304s
    # At most 8 SQLite reads at once per worker; waiting ones go most urgent first.
    sources=engine.Sources(sqlite=8),
)


def _same_origin(request: Request) -> bool:
    """Browsers send Origin with every form post: refuse posts made by other sites' pages."""
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


async def sign_in(request: Request) -> Response:
    if not _same_origin(request):
        return PlainTextResponse("Cross-site form posts are refused.", status_code=403)
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    next_path = accounts.safe_next(form.get("next", "/"))
    user = await run_in_threadpool(
        accounts.authenticate, form.get("name", ""), form.get("password", "")
    )
    if user is None:
        query = urlencode({"next": next_path, "failed": "1"})
        return RedirectResponse(f"/signin?{query}", status_code=303)
    cart = request.session.get(CART)
    request.session.clear()  # a new session for the user, the visitor's cart carried over
    request.session["user"] = user.name
    if cart is not None:
        request.session[CART] = cart
    return RedirectResponse(next_path, status_code=303)


async def sign_out(request: Request) -> Response:
    if not _same_origin(request):
        return PlainTextResponse("Cross-site form posts are refused.", status_code=403)
    request.session.clear()
    return RedirectResponse("/", status_code=303)


app = Starlette(
    routes=[
        Route("/signin", sign_in, methods=["POST"]),
        Route("/signout", sign_out, methods=["POST"]),
        Mount("/", pages),
    ],
    middleware=[
        Middleware(
            SessionMiddleware,
            secret_key=accounts.session_secret(),
            session_cookie="acme_session",
            same_site="lax",
        )
    ],
)
