"""demo_site's App mounted under /shop in a Starlette app that gzips its responses."""

from demo_site import app as engine_app
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route


async def health(request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[Route("/health", health), Mount("/shop", app=engine_app)],
    middleware=[Middleware(GZipMiddleware, minimum_size=1)],
)
