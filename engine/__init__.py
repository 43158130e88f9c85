"""A declarative dataflow engine that streams HTML.

Declare a page as typed queries and fragments (:mod:`schemas`), then stream it:
every query starts as soon as its inputs resolve, the shell goes out at once, and
each fragment follows the moment the ordering contract allows.
"""

from schemas import Action, Cache, Fragment, Layout, Mode, Page, Params, Query, Shell

from ._errors import (
    DependencyFailed,
    EngineError,
    FragmentError,
    NoAsyncioHost,
    NotFound,
    PageError,
    ParameterError,
    Problem,
    QueryError,
    QueryTimeout,
    Redirect,
    RenderError,
    ResultTypeError,
    ShellError,
    SourceExhausted,
)
from ._render import Sink, render, render_fragment, render_to_bytes
from .caching import CacheStore, MemoryStore, RedisStore
from .context.forms import FormState, form_state
from .context.request import Headers, QueryParams, Request
from .context.resources import ResourceError, Resources
from .context.response import Response
from .definition.graph import Graph
from .definition.load import load
from .definition.loaders import Loader, loader
from .definition.nodes import on_asyncio
from .markup.templates import html
from .markup.urls import BLOCKED_URL, safe_url
from .resolution.batching import RequestLoader
from .resolution.resolve import ErrorHook, Tracer
from .resolution.sources import Sources, SourceStatistics
from .wire.format import SCRIPT_HASHES

__all__ = [
    "BLOCKED_URL",
    "SCRIPT_HASHES",
    "Action",
    "Cache",
    "CacheStore",
    "DependencyFailed",
    "EngineError",
    "ErrorHook",
    "FormState",
    "Fragment",
    "FragmentError",
    "Graph",
    "Headers",
    "Layout",
    "Loader",
    "MemoryStore",
    "Mode",
    "NoAsyncioHost",
    "NotFound",
    "Page",
    "PageError",
    "ParameterError",
    "Params",
    "Problem",
    "Query",
    "QueryError",
    "QueryParams",
    "QueryTimeout",
    "Redirect",
    "RedisStore",
    "RenderError",
    "Request",
    "RequestLoader",
    "ResourceError",
    "Resources",
    "Response",
    "ResultTypeError",
    "Shell",
    "ShellError",
    "Sink",
    "SourceExhausted",
    "SourceStatistics",
    "Sources",
    "Tracer",
    "form_state",
    "html",
    "load",
    "loader",
    "on_asyncio",
    "render",
    "render_fragment",
    "render_to_bytes",
    "safe_url",
]
