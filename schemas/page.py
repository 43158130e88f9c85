"""The declarative page model: frozen msgspec Structs, no I/O, no trio.

A page is a graph of typed nodes. Queries fetch data (and may depend on other
queries); fragments render HTML from queries into named slots. The same Structs
are built in Python or decoded from TOML, JSON or YAML files, where callables and
types are written as ``"module:attr"`` strings.

Graph-wide checks (cycles, unknown names, slot targets, renderer types) live in
``engine``: a Struct only checks what it can see by itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

import msgspec

__all__ = [
    "Action",
    "Cache",
    "Fragment",
    "Layout",
    "Mode",
    "Navigation",
    "Page",
    "Params",
    "Priority",
    "Query",
    "Shell",
]

Name = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="A query name: a Python identifier (results are passed as keyword arguments).",
    ),
]
SlotName = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z][A-Za-z0-9_-]*$",
        description="A slot name: letters, digits, '_' and '-', starting with a letter.",
    ),
]
SourceName = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="A data source name: its limit is configured with engine.Sources(name=N).",
    ),
]
Seconds = Annotated[float, msgspec.Meta(gt=0, description="A duration in seconds.")]

Priority = Literal["high", "normal", "low"] | int
"""Larger is more urgent: ``high`` is 1, ``normal`` 0, ``low`` -1; any integer is allowed."""

Mode = Literal["out-of-order", "in-order", "buffered"]

Navigation = bool | Literal["marked"]
"""Streamed navigation (docs/navigation.md): ``True`` for every same-origin link and GET form
of the document, ``"marked"`` for those inside a ``data-engine-nav`` element, ``False`` off."""

# Page files name callables and types as "module:attr" strings; Python users pass the
# objects themselves. msgspec validates and documents the file form, type checkers
# see both.
if TYPE_CHECKING:
    from collections.abc import Callable

    CallableRef = str | Callable[..., Any]
    TypeRef = str | type | Any
    LayoutRef: TypeAlias = "str | Layout"
    ResourcesRef = str | Any
    LoaderRef = str | Any
else:
    LayoutRef = Annotated[
        "str | Layout",
        msgspec.Meta(
            description="A layout file, relative to the file that names it (or an inline layout)."
        ),
    ]
    CallableRef = Annotated[
        str,
        msgspec.Meta(
            pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
            description="A Python callable, written as 'package.module:attribute'.",
        ),
    ]
    TypeRef = Annotated[
        str,
        msgspec.Meta(
            description=(
                "A result type: a builtin ('str', 'int', 'float', 'bool', 'dict', 'list', 'any'),"
                " 'package.module:Class', or a generic of those such as 'list[pkg.mod:Item]'."
            ),
        ),
    ]
    ResourcesRef = Annotated[
        str,
        msgspec.Meta(
            pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
            description="An engine.Resources object, written as 'package.module:attribute'.",
        ),
    ]
    LoaderRef = Annotated[
        str,
        msgspec.Meta(
            pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
            description="An engine.Loader (a batched data source), as 'package.module:attribute'.",
        ),
    ]


class _Node(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Shared configuration: immutable, keyword-only, unknown keys rejected."""


class Params(_Node, frozen=True, kw_only=True):
    """Request parameters by source; a value is only ever read from its declared source.

    In a page file: ``params = { path = ["account_id"], query = ["page"] }``.
    """

    path: tuple[Name, ...] = ()
    """Captures of the route (``/account/{account_id}``); a route that lacks one is an error."""
    query: tuple[Name, ...] = ()
    """Query-string parameters (``?page=2``); a name annotated ``list[...]`` gets every value."""
    header: tuple[Name, ...] = ()
    """Request headers; ``accept_language`` reads ``Accept-Language``."""
    cookie: tuple[Name, ...] = ()
    """Cookies, by their exact name."""


class Cache(_Node, frozen=True, kw_only=True):
    """A query's cache policy: its results are kept across requests, keyed by all its inputs.

    The key is never declared by hand: it is always every request parameter (with its source),
    every dependency's value, the query's identity (``name``, its callable and result type) and
    ``version``, so two calls share an entry only if they would receive the same arguments.
    In a page file: ``cache = { ttl = 60, stale = 300 }``.
    """

    ttl: Seconds
    """How long a result is fresh: served without calling the query."""
    stale: Annotated[float, msgspec.Meta(ge=0)] = 0
    """Stale-while-revalidate: for this long after ``ttl``, the old result is served at once
    and one call in the background refreshes it."""
    failures: Seconds | None = None
    """Cache a failure (an exception from the call, a result of the wrong type) for this long;
    by default a failure is never cached and the next request calls again. Timeouts never are."""
    name: Annotated[str, msgspec.Meta(min_length=1, pattern=r"^\S+$")] | None = None
    """The entry family, ``page.query`` by default. Pages that give the same query the same
    name share its entries (its inputs, callable and result type are still in the key)."""
    version: str = ""
    """Part of every key: change it (``"2"``) to stop serving entries written before."""


class Query(_Node, frozen=True, kw_only=True):
    """A data call whose result feeds fragments and other queries."""

    name: Name
    call: CallableRef
    """Async or sync callable; sync ones run in a worker thread. An async generator
    (or any callable returning an async iterator) yields its result in batches."""
    result: TypeRef
    """Declared type of the result (of each batch, for a batched query); the value
    returned is converted to it and a mismatch fails this query."""
    depends_on: tuple[Name, ...] = ()
    """Queries whose results are passed to ``call`` as keyword arguments."""
    params: tuple[Name, ...] | Params = ()
    """Request parameters passed to ``call`` as keyword arguments, converted to its
    annotations. A plain name is the route's path capture when the route captures it, else
    the query string (never both); a ``Params`` table names each one's source."""
    resources: tuple[Name, ...] = ()
    """App resources (a database pool, an HTTP client) passed to ``call`` by name; the page's
    ``resources`` declares them."""
    loaders: tuple[LoaderRef, ...] = ()
    """Batched data sources (``engine.Loader``) passed to ``call`` under their names: loads
    of single keys by queries that start together go out as one call (``await
    users.load(user_id)``)."""
    timeout: Seconds | None = None
    expose: bool = False
    """Send this query's JSON to the browser (it is never sent otherwise)."""
    loop: Literal["trio", "asyncio"] = "trio"
    """``asyncio``: ``call`` awaits asyncio libraries (asyncpg, aiosqlite, httpx, redis.asyncio),
    so it runs as a task on the asyncio loop that hosts the engine (uvicorn, Hypercorn's
    asyncio worker, Starlette, FastAPI). A callable decorated ``@engine.on_asyncio`` needs
    no key."""
    source: SourceName | None = None
    """The data source it calls: at most that source's limit of its calls run at once
    (``engine.Sources``). Sync queries that name none share the source ``default``."""
    cache: Cache | None = None
    """Keep results across requests (``engine.Cache``); the app's store holds them."""


class Fragment(_Node, frozen=True, kw_only=True):
    """HTML rendered from queries into one slot of the page."""

    target: SlotName
    uses: tuple[Name, ...] = ()
    """Queries passed to the renderer as keyword arguments."""
    render: CallableRef | None = None
    """A function of the used queries returning HTML (``str`` is escaped-by-author HTML)."""
    template: str | None = None
    """Alternative to ``render``: HTML with ``{{ query.field }}`` placeholders, escaped."""
    jinja: str | None = None
    """Alternative to ``render``: a Jinja2 template file, relative to the file that declares
    the fragment; the used queries are its variables (autoescaped, undefined names are errors)."""
    jinja_source: str | None = None
    """Alternative to ``render``: an inline Jinja2 template, as ``jinja``."""
    priority: Priority = "normal"
    fallback: str = ""
    """HTML shown in the slot until the fragment arrives."""
    error: str | None = None
    """HTML shown if the fragment fails; by default the fallback stays."""
    mode: Literal["replace", "append"] = "replace"
    """``append`` renders each batch of a batched query and appends it, in order."""
    stylesheets: tuple[str, ...] = ()
    slots: tuple[SlotName, ...] = ()
    """Slots that the rendered HTML contains (inferred from a template)."""
    reveal: SlotName | None = None
    """Reveal group: fragments of one group are emitted together, when all are ready."""


class Action(_Node, frozen=True, kw_only=True):
    """Something the user can do on the page: server code a ``<form method="post">`` runs.

    In a page file: ``[[actions]]`` with ``name``, ``call``, ``input``, ``invalidates``.
    """

    name: Name
    call: CallableRef
    """Receives the decoded input as ``data``, and ``request``/``response``/resources by name."""
    input: TypeRef | None = None
    """A msgspec Struct decoded from the form fields (or a JSON body); None: no input."""
    invalidates: tuple[Name, ...] = ()
    """Queries whose results the action changes (they render fresh after it)."""
    resources: tuple[Name, ...] = ()
    """Resources it receives by name, as a query does."""


class Shell(_Node, frozen=True, kw_only=True):
    """The document around the slots.

    ``html`` is the whole document (with a layout: the page's part of it, which fills
    the layout's content slot); slots are written ``<?marker name="x">`` and values of
    shell queries as ``{{ query.field }}``. The first byte waits only for the shell
    queries.
    """

    html: str = ""
    jinja: str | None = None
    """Instead of ``html``: a Jinja2 template file, relative to the file that declares it;
    the shell queries (and ``csp_nonce``) are its variables."""
    jinja_source: str | None = None
    """Instead of ``html``: an inline Jinja2 template, as ``jinja``."""
    queries: tuple[Name, ...] = ()
    head: str = ""
    """HTML added just before the document's ``</head>`` (a ``<title>``, meta tags): how a
    page below a layout adds to the layout's head. ``{{ query.field }}`` of shell queries."""


class Layout(_Node, frozen=True, kw_only=True):
    """A document shared by pages: its own shell, queries and fragments.

    The page (or the layout below) fills the ``content`` slot of ``shell`` with its own
    shell HTML. Queries and fragments of every layout run with the page's, once per
    request; names must not collide across the layouts and the page.
    """

    name: str = ""
    """For messages; a layout file's name by default."""
    shell: Shell
    content: SlotName = "content"
    """The slot of ``shell`` that the page's shell fills."""
    queries: tuple[Query, ...] = ()
    fragments: tuple[Fragment, ...] = ()
    layout: LayoutRef | None = None
    """The layout around this one (a nested layout: site, then section)."""
    resources: ResourcesRef | None = None
    """The ``engine.Resources`` its queries draw on (a page's own ``resources`` win)."""
    navigation: Navigation | None = None
    """Streamed navigation for its pages (docs/navigation.md); None: as the layout around it."""


class Page(_Node, frozen=True, kw_only=True):
    """One page: its shell, queries and fragments."""

    name: Annotated[str, msgspec.Meta(min_length=1)]
    shell: Shell
    layout: LayoutRef | None = None
    """The layout this page fills: in a file, a path relative to the file; in Python, a
    :class:`Layout` (or a path)."""
    queries: tuple[Query, ...] = ()
    fragments: tuple[Fragment, ...] = ()
    mode: Mode = "out-of-order"
    deadline: Seconds | None = None
    """Overall budget of one render: what is not ready by then renders its error state."""
    actions: tuple[Action, ...] = ()
    """What the user can do: POSTs to the page run them (docs/actions.md)."""
    resources: ResourcesRef | None = None
    """The ``engine.Resources`` its queries draw on, entered once per app (or per render
    under ``engine render`` and in tests) and closed at shutdown."""
    navigation: Navigation | None = None
    """Streamed navigation (docs/navigation.md); None: as its layout says (off without one)."""
