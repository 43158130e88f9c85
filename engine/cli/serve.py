"""``engine serve APP``: pages over HTTP on Hypercorn, one log line per request.

Hypercorn's trio worker by default; its asyncio worker when a page has asyncio queries (they
run on its loop and trio runs as a guest, ``engine.asgi._guest``) or with ``--worker-class``.

APP is a page file, or ``module:attr`` naming a page, an ``engine.asgi.App`` or any ASGI app.
Hypercorn loads the app in each worker process by calling :func:`served_app`, which reads
what to serve from the environment, so ``--workers`` and ``--reload`` work for page files too.
With ``--reload`` each worker rebuilds its app when the page file (or a page file beside it,
such as a layout) or one of the user's modules changes, and serves the error until a broken
file is fixed (``_reload``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypercorn.config import Config
from hypercorn.run import run as hypercorn_run

from schemas import Page

from .._errors import EngineError
from ..asgi import App
from ..definition.graph import Graph
from ..definition.refs import import_ref
from ._common import fail, load_graph
from ._reload import Reloading

_ENV_APP = "ENGINE_SERVE_APP"
_ENV_ROUTES = "ENGINE_SERVE_ROUTES"
_ENV_RELOAD = "ENGINE_SERVE_RELOAD"
_ENV_STATIC = "ENGINE_SERVE_STATIC"
_PAGE_FILES = (".toml", ".json", ".yaml", ".yml")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "serve",
        help="serve pages over HTTP (Hypercorn, trio worker)",
        description="Serve APP: a page file, or module:attr naming a page or an ASGI app.",
    )
    parser.add_argument("app", metavar="APP", help="page file or module:attr")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--reload",
        action="store_true",
        help="rebuild the app when the page file or one of its modules changes",
    )
    parser.add_argument(
        "--route",
        action="append",
        metavar="PATTERN",
        help="where a single page is served, e.g. '/product/{product_id}' (repeatable;"
        " default '/'); path captures become request parameters",
    )
    parser.add_argument(
        "--static",
        metavar="DIR",
        help="serve this folder's files under --static-path (ETag, 304s, a year of caching for"
        " fingerprinted names such as app.3f2a9c1b.css)",
    )
    parser.add_argument("--static-path", default="/static", help="default: /static")
    parser.add_argument(
        "--worker-class",
        choices=("trio", "asyncio"),
        help="Hypercorn's worker (default: asyncio when a page has asyncio queries, which then"
        " run on its loop with trio as a guest; trio otherwise)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    routes = args.route or ["/"]
    os.environ[_ENV_APP] = args.app
    os.environ[_ENV_ROUTES] = json.dumps(routes)
    os.environ[_ENV_RELOAD] = "1" if args.reload else ""
    static = [str(Path(args.static).resolve()), args.static_path] if args.static else None
    os.environ[_ENV_STATIC] = json.dumps(static)
    try:
        app = _build_app()  # fail here, once, with a readable error rather than in every worker
    except (EngineError, ValueError) as error:  # RefError is a ValueError
        return fail(error)
    config = Config()
    config.bind = [f"{args.host}:{args.port}"]
    config.worker_class = args.worker_class or worker_class_for(app)
    config.application_path = f"{__name__}:served_app()"
    # Not Hypercorn's reloader: it misses page files and stops for good on a syntax error
    # (engine/cli/_reload.py rebuilds inside each worker instead).
    # Always worker processes: with 0, Hypercorn serves in this process and a Ctrl-C lands as
    # KeyboardInterrupt inside whichever request is running, crashing the server; a worker
    # ignores SIGINT and shuts down gracefully when the parent tells it to.
    config.workers = max(1, args.workers)
    config.errorlog = "-"
    return int(hypercorn_run(config) or 0)


def worker_class_for(app: Any) -> str:
    """asyncio when an engine app with asyncio queries is served, alone or mounted in a
    Starlette or FastAPI app (trio then runs as the loop's guest); trio otherwise.

    Other ASGI apps are opaque: they get trio unless ``--worker-class asyncio`` says otherwise.
    """
    return "asyncio" if any(a.asyncio_queries for a in _engine_apps(app)) else "trio"


def _engine_apps(app: Any, depth: int = 0) -> Iterator[App]:
    """The engine apps that ``app`` is or mounts (``routes`` of Starlette and FastAPI apps)."""
    if isinstance(app, App):
        yield app
    elif depth < 8:  # mounts nest a few levels at most; a cycle must not recurse forever
        for route in getattr(app, "routes", None) or ():
            yield from _engine_apps(getattr(route, "app", None), depth + 1)


def served_app() -> Any:
    """The ASGI app named by the environment (``engine serve`` sets it), access log on."""
    _enable_access_log()
    if not os.environ.get(_ENV_RELOAD):
        return _build_app()
    ref = os.environ[_ENV_APP]
    page_file = Path(ref) if Path(ref).suffix.lower() in _PAGE_FILES else None
    files = (
        sorted(p for p in page_file.parent.iterdir() if p.suffix.lower() in _PAGE_FILES)
        if page_file
        else []
    )
    roots = [Path.cwd(), *([page_file.parent] if page_file else [])]
    return Reloading(_build_app, files, roots)


def _build_app() -> Any:
    ref = os.environ[_ENV_APP]
    routes = json.loads(os.environ.get(_ENV_ROUTES, '["/"]'))
    static = json.loads(os.environ.get(_ENV_STATIC, "null"))
    folder = {"static": static[0], "static_path": static[1]} if static else {}
    if Path(ref).suffix.lower() in _PAGE_FILES:
        return App(dict.fromkeys(routes, load_graph(ref)), **folder)
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    target = import_ref(ref)
    if isinstance(target, Page):
        return App(dict.fromkeys(routes, Graph.build(target)), **folder)
    if not callable(target):
        raise ValueError(f"{ref!r} is a {type(target).__name__}: expected a page or an ASGI app")
    if static:
        raise ValueError(
            f"--static serves a folder next to a page; {ref!r} is an app already:"
            " give it the folder itself (engine.asgi.App(pages, static=...))"
        )
    return target


def _enable_access_log() -> None:
    access = logging.getLogger("engine.access")
    if not access.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False
