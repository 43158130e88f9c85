"""Serve pages over ASGI: natively on trio (Hypercorn's trio worker) and inside asyncio servers.

``App({"/product/{product_id}": "examples/site/pages/product.toml"})`` is an ASGI 3 application; the
same object runs under ``hypercorn --worker-class trio``, under uvicorn, and mounted in a
Starlette or FastAPI app (docs/serving.md).
"""

from ._app import FRAGMENT_PARAM, App
from ._guest import TrioASGI, in_trio, run_as_asyncio_guest
from ._lifespan import GC_THRESHOLD
from ._options import CRAWLERS, MODES, Options
from ._static import StaticFiles

__all__ = [
    "CRAWLERS",
    "FRAGMENT_PARAM",
    "GC_THRESHOLD",
    "MODES",
    "App",
    "Options",
    "StaticFiles",
    "TrioASGI",
    "in_trio",
    "run_as_asyncio_guest",
]
