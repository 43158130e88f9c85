"""The demo trio app mounted in a Starlette application (which forwards no lifespan to mounts)."""

from guest_demo_app import app as trio_demo
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route


async def hello(request) -> PlainTextResponse:
    return PlainTextResponse("asyncio route")


app = Starlette(routes=[Route("/hello", hello), Mount("/trio", app=trio_demo)])
