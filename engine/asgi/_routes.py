"""Paths to pages: ``/product/{product_id}`` patterns whose captures become request parameters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import attrs

from schemas import Page

from .._errors import PageError, Problem
from ..definition.graph import Graph
from ..definition.load import load

PageLike = Page | Graph | str | Path
"""A page object, a checked graph, a page file path or a ``"module:attr"`` reference."""

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@attrs.frozen
class Route:
    pattern: str
    regex: re.Pattern[str]
    graph: Graph


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``/a/{x}/b`` → a regex with one named group per ``{name}``; a capture is one segment."""
    if not pattern.startswith("/"):
        raise ValueError(f"route {pattern!r} must start with '/'")
    parts, last = [], 0
    for match in _PARAM.finditer(pattern):
        parts += [re.escape(pattern[last : match.start()]), f"(?P<{match[1]}>[^/]+)"]
        last = match.end()
    parts.append(re.escape(pattern[last:]))
    try:
        return re.compile("".join(parts))
    except re.error as exc:  # the same {name} twice
        raise ValueError(f"route {pattern!r}: {exc}") from None


def as_graph(page: PageLike) -> Graph:
    """Check a page at definition time, so a broken page fails at startup, not per request."""
    if isinstance(page, Graph):
        return page
    if isinstance(page, Page):
        return Graph.build(page)
    source = str(page)
    is_file = Path(source).suffix.lower() in (".toml", ".json", ".yaml", ".yml")
    return Graph.build(load(source), source=source if is_file else None)


def build_routes(pages: Mapping[str, PageLike]) -> tuple[Route, ...]:
    routes = tuple(Route(p, compile_pattern(p), as_graph(page)) for p, page in pages.items())
    problems = [problem for route in routes for problem in _uncaptured(route)]
    if problems:
        raise PageError(problems)
    return routes


def _uncaptured(route: Route) -> list[Problem]:
    """A parameter declared from the path that the route does not capture can never be set."""
    captured = set(route.regex.groupindex)
    return [
        Problem(
            page=route.graph.name,
            node=q.name,
            file=route.graph.source,
            key=f"$.queries[{q.index}].params.path",
            message=f"parameter {name!r} comes from the path, but route {route.pattern!r} does"
            f" not capture it: write the route as '.../{{{name}}}', or declare it from the query"
            " string",
        )
        for q in route.graph.queries
        for name, source in q.sources.items()
        if source == "path" and name not in captured
    ]


def match(routes: tuple[Route, ...], path: str) -> tuple[Route, dict[str, str]] | None:
    """The first route matching ``path`` (percent-decoded by the server) and its captures."""
    for route in routes:
        found = route.regex.fullmatch(path)
        if found:
            return route, found.groupdict()
    return None
