"""Layouts: a page and the layouts around it, flattened into one page once, at build time.

The outermost layout's shell is the document; each layout below it, and finally the
page, fills the content slot of the one above. Queries and fragments of every layer
join one graph, so resolution, scheduling, the contract and every mode work unchanged.
Each flattened node remembers its layer, so a problem names the file that declared it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import msgspec

from schemas import Fragment, Layout, Page, Query, Shell

from .._errors import PageError, Problem
from ..markup.jinja import SLOT_CALL, with_markers
from ..markup.templates import MARKER, Template, TemplateSyntaxError, slot_names
from .load import read_file
from .ranges import LayoutRange, content_name, head_name, layout_id, range_end, range_start
from .suggest import nearest

__all__ = ["Flat", "Layer", "flatten"]

_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)
_NODE_KEY = re.compile(r"^\$\.(queries|fragments|shell\.queries)\[(\d+)\](.*)$", re.DOTALL)


@attrs.frozen
class Layer:
    """One layout, or the page, with where it was declared."""

    label: str
    """``layout 'site'`` or ``page 'product'``: how messages name it."""
    file: str | None
    prefix: str
    """Its key inside ``file``: ``$`` for a file of its own, ``$.layout`` inline."""
    directory: Path
    """Where its relative paths (layouts, templates) resolve from."""
    shell: Shell
    queries: tuple[Query, ...]
    fragments: tuple[Fragment, ...]
    content: str | None
    """The slot its child fills; ``None`` for the page."""
    text: str = ""
    """Its shell's text: HTML, or Jinja2 source (read from its file) when ``jinja_key`` is set."""
    jinja_key: str | None = None
    """``$.shell.jinja`` or ``$.shell.jinja_source`` for a Jinja2 shell."""

    @property
    def jinja_file(self) -> Path | None:
        jinja = self.shell.jinja
        return self.directory / jinja if jinja is not None else None

    resources: Any = None
    """The ``engine.Resources`` it declares (``resources``), if any."""
    navigation: Any = None
    """Its ``navigation`` field: ``True``, ``False``, ``"marked"`` or None (as the layer above)."""

    def where(self) -> str:
        return self.file or (self.label if self.prefix == "$" else f"{self.label} ({self.prefix})")


@attrs.frozen
class Flat:
    """The page with its layouts folded in, and where every piece came from."""

    page: Page
    layers: tuple[Layer, ...]
    """Outermost layout first, the page last."""
    queries: tuple[tuple[int, int], ...]
    """``(layer, index in the layer)`` of each flat query."""
    fragments: tuple[tuple[int, int], ...]
    shell_queries: tuple[tuple[int, int], ...]
    shell_slots: Mapping[str, int]
    """The layer whose shell declares each shell slot (its first, if several)."""
    shell_roots: Mapping[str, int]
    """The layer whose shell first reads each ``{{ name }}``."""
    jinja_source: str | None = None
    """The folded shell's Jinja2 source, when a layer's shell is Jinja2 (the folded page's
    ``shell.html`` then has the same text with ``slot()`` calls written as markers)."""
    navigation: str | None = None
    """``"all"`` or ``"marked"`` when the page streams its navigation, else None."""
    ranges: tuple[LayoutRange, ...] = ()
    """With navigation, each layout's range, outermost first."""

    def locate(self, key: str | None, layer: int | None = None) -> tuple[str | None, str | None]:
        """The file and key, in its own layer, of a key of the flat page."""
        if layer is None and key is not None:
            match = _NODE_KEY.match(key)
            if match is not None:
                kind, index, rest = match.groups()
                origins = {
                    "queries": self.queries,
                    "fragments": self.fragments,
                    "shell.queries": self.shell_queries,
                }[kind]
                layer, own = origins[int(index)]
                key = f"$.{kind}[{own}]{rest}"
        layer = len(self.layers) - 1 if layer is None else layer
        where = self.layers[layer]
        if key is not None and where.prefix != "$":
            key = where.prefix + key[1:]
        return where.file, key

    def directory_of_fragment(self, index: int) -> Path:
        return self.layers[self.fragments[index][0]].directory


class Problems:
    """Problems found while flattening, each with the layer it belongs to."""

    def __init__(self) -> None:
        self.found: list[tuple[str, int, str | None, str | None]] = []
        self.located: list[Problem] = []
        """Problems inside a layout file that could not be read: they name it themselves."""
        self.chain_broken = False
        """A layout or a shell's template could not be read: checking the rest would only
        report its absence (no </body>, every slot missing)."""

    def add(self, message: str, layer: int, key: str | None, node: str | None = None) -> None:
        self.found.append((message, layer, key, node))


def flatten(page: Page, source: str | None, problems: Problems) -> Flat:
    """Fold ``page``'s layouts into one page; what cannot be folded is left out and reported."""
    directory = Path(source).resolve().parent if source else Path.cwd()
    page_layer = Layer(
        f"page {page.name!r}",
        source,
        "$",
        directory,
        page.shell,
        page.queries,
        page.fragments,
        None,
        resources=page.resources,
        navigation=page.navigation,
    )
    chain_problems: list[tuple[str, Layer, str]] = []
    layers = [*reversed(_chain(page, page_layer, chain_problems, problems.located)), page_layer]
    problems.chain_broken = bool(chain_problems or problems.located)
    for message, child, key in chain_problems:
        problems.add(message, next(i for i, la in enumerate(layers) if la is child), key)
    layers = [_with_text(i, layer, problems) for i, layer in enumerate(layers)]
    jinja = any(layer.jinja_key for layer in layers)
    queries = _merge(layers, "queries", lambda q: q.name, "query", problems)
    fragments = _merge(layers, "fragments", lambda f: f.target, "fragment for slot", problems)
    shell_queries: list[tuple[int, int]] = []
    shell_names: list[str] = []
    for i, layer in enumerate(layers):
        for j, name in enumerate(layer.shell.queries):
            if name not in shell_names:
                shell_names.append(name)
                shell_queries.append((i, j))
    navigation = _navigation(layers)
    ids = _layout_ids(layers) if navigation else ()
    folded = _fold_shells(layers, problems, ids)
    html = with_markers(folded) if jinja else folded
    shell_slots: dict[str, int] = {}
    shell_roots: dict[str, int] = {}
    for i, layer in enumerate(layers):
        for text in (with_markers(layer.text), layer.shell.head):
            for slot in slot_names(text):
                if slot != layer.content:
                    shell_slots.setdefault(slot, i)
            try:
                roots = Template.parse(text).roots
            except TemplateSyntaxError:
                continue  # the shell check reports it, in this layer
            for name in roots:
                shell_roots.setdefault(name, i)
    flat = msgspec.structs.replace(
        page,
        layout=None,
        # The page's own resources, else those of the nearest layout that declares some.
        resources=next((la.resources for la in reversed(layers) if la.resources), None),
        shell=Shell(html=html, queries=tuple(shell_names)),
        queries=tuple(layers[i].queries[j] for i, j in queries),
        fragments=tuple(layers[i].fragments[j] for i, j in fragments),
    )
    return Flat(
        page=flat,
        layers=tuple(layers),
        queries=tuple(queries),
        fragments=tuple(fragments),
        shell_queries=tuple(shell_queries),
        shell_slots=shell_slots,
        shell_roots=shell_roots,
        jinja_source=folded if jinja else None,
        navigation=navigation,
        ranges=tuple(
            LayoutRange(
                layout,
                layers[i].label,
                frozenset(slot for slot, at in shell_slots.items() if at > i),
            )
            for i, layout in enumerate(ids)
        ),
    )


def _navigation(layers: Sequence[Layer]) -> str | None:
    """The innermost layer that says decides: ``"all"``, ``"marked"`` or None (off)."""
    for layer in reversed(layers):
        if layer.navigation is not None:
            if layer.navigation is True:
                return "all"
            return "marked" if layer.navigation == "marked" else None
    return None


def _layout_ids(layers: Sequence[Layer]) -> tuple[str, ...]:
    """Each layout's identity (outermost first): what it is, and what is around it."""
    ids: list[str] = []
    for layer in layers[:-1]:
        shell = layer.shell
        ids.append(
            layout_id(
                ids[-1] if ids else "",
                layer.label,
                layer.text,
                shell.head,
                shell.queries,
                layer.content,
                layer.queries,
                layer.fragments,
            )
        )
    return tuple(ids)


def _with_text(i: int, layer: Layer, problems: Problems) -> Layer:
    """``layer`` with its shell's text, read from its Jinja2 file if it has one."""
    shell = layer.shell
    chosen = [k for k in ("html", "jinja", "jinja_source") if getattr(shell, k)]
    if len(chosen) > 1:
        problems.add(
            f"set one of 'html', 'jinja' and 'jinja_source' (found {', '.join(chosen)})",
            i,
            "$.shell",
        )
    if shell.jinja_source is not None:
        return attrs.evolve(layer, text=shell.jinja_source, jinja_key="$.shell.jinja_source")
    file = layer.jinja_file
    if file is None:
        return attrs.evolve(layer, text=shell.html)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        problems.add(f"cannot read template {file}: {reason or exc}", i, "$.shell.jinja")
        problems.chain_broken = True
        text = ""
    return attrs.evolve(layer, text=text, jinja_key="$.shell.jinja")


def _chain(
    page: Page,
    page_layer: Layer,
    problems: list[tuple[str, Layer, str]],
    located: list[Problem],
) -> list[Layer]:
    """The layouts around the page, innermost first; a problem is reported on the child."""
    chain: list[Layer] = []
    seen: list[str] = []
    ref, child = page.layout, page_layer
    while ref is not None:
        key = "$.layout"  # in the child's own terms
        if isinstance(ref, Layout):
            name = ref.name or f"#{len(chain) + 1}"
            layout, file, directory = ref, child.file, child.directory
            prefix = f"{child.prefix}.layout"
        else:
            path = (child.directory / ref).resolve()
            if str(path) in seen:
                cycle = " -> ".join([*seen[seen.index(str(path)) :], str(path)])
                problems.append((f"layout cycle: {cycle}", child, key))
                break
            seen.append(str(path))
            try:
                layout = read_file(path, Layout, page=page.name)
            except PageError as error:
                if path.exists():
                    located.extend(error.problems)
                else:
                    looked = "" if ref == str(path) else f" (looked at {path})"
                    message = f"layout file {ref!r} not found{looked}"
                    problems.append((message, child, key))
                break
            name = layout.name or path.stem
            file, prefix, directory = str(path), "$", path.parent
        layer = Layer(
            f"layout {name!r}",
            file,
            prefix,
            directory,
            layout.shell,
            layout.queries,
            layout.fragments,
            layout.content,
            resources=layout.resources,
            navigation=layout.navigation,
        )
        chain.append(layer)
        ref, child = layout.layout, layer
    return chain


def _merge(
    layers: Sequence[Layer], field: str, name_of: object, what: str, problems: Problems
) -> list[tuple[int, int]]:
    """Every layer's nodes, outermost first; a name declared by two layers is reported once."""
    first: dict[str, int] = {}
    merged: list[tuple[int, int]] = []
    for i, layer in enumerate(layers):
        own: set[str] = set()
        for j, node in enumerate(getattr(layer, field)):
            name = name_of(node)  # type: ignore[operator]
            if name in first and name not in own:
                problems.add(
                    f"{what} {name!r} is declared both by {layers[first[name]].where()} and by"
                    f" {layer.where()}: rename one (a layout and its pages share one graph)",
                    i,
                    f"$.{field}[{j}]",
                    node=name,
                )
                continue
            own.add(name)
            first.setdefault(name, i)
            merged.append((i, j))
    return merged


def _fold_shells(layers: Sequence[Layer], problems: Problems, ids: Sequence[str] = ()) -> str:
    """The document: each layer's shell HTML in its parent's content slot, heads in <head>.

    With layout ``ids`` (navigation), what fills each layout's content slot, and the heads
    added below it, are written as ranges named after it (``ranges``).
    """
    html = ""
    for i in reversed(range(len(layers))):
        layer, own = layers[i], layers[i].text
        if layer.content is not None:
            patterns = (MARKER, SLOT_CALL) if layer.jinja_key else (MARKER,)
            named = [
                (m[1] if m[1] is not None else m[2], m)
                for pattern in patterns
                for m in pattern.finditer(own)
            ]
            markers = [m for name, m in named if name == layer.content]
            if len(markers) != 1:
                near = None if markers else nearest(layer.content, (name for name, _ in named))
                problems.add(
                    f"the shell of {layer.label} must hold its content slot"
                    f' <?marker name="{layer.content}"> exactly once, for the page to fill;'
                    f" found {len(markers)}"
                    + (f" (did you mean {near!r}?)" if near is not None else ""),
                    i,
                    layer.jinja_key or "$.shell.html",
                )
                if near is not None:  # the page goes where it was meant to: one mistake, one error
                    markers = [m for name, m in named if name == near]
            if markers:
                if i < len(ids):
                    html = range_start(content_name(ids[i])) + html + range_end()
                own = own[: markers[0].start()] + html + own[markers[0].end() :]
        html = own
    heads = "".join(
        layer.shell.head + (range_start(head_name(ids[i])) if i < len(ids) else "")
        for i, layer in enumerate(layers)
    ) + range_end() * len(ids)
    if heads:
        match = _HEAD_END.search(html)
        if match is None:
            at = next((i for i, layer in enumerate(layers) if layer.shell.head), None)
            if at is None:  # navigation marks the heads of the layers below each layout
                at = next(i for i, la in enumerate(layers) if la.navigation is not None)
                problems.add(
                    "navigation marks each layout's part of <head>, but the document has no"
                    " </head>: write <head>…</head> in the outermost layout's shell",
                    at,
                    "$.navigation",
                )
                return html
            problems.add(
                "'head' adds to the document's <head>, but the document has no </head>",
                at,
                "$.shell.head",
            )
        else:
            html = html[: match.start()] + heads + html[match.start() :]
    return html
