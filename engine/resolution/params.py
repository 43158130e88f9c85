"""A render's request parameters: each read from the one source its query declares.

Conversion follows the callable's annotation (``account_id: int``); a ``list[...]`` annotation
receives every value of a repeated query parameter or header.
"""

from __future__ import annotations

import typing
from typing import Any

import msgspec

from .._errors import ParameterError
from ..context.request import Request, header_name
from ..definition.graph import Graph
from ..definition.signatures import type_name

__all__ = ["request_values"]

_MULTIPLE = (list, tuple, set, frozenset)


def request_values(
    graph: Graph, request: Request, only: frozenset[int] | None = None
) -> dict[str, Any]:
    """Each query's request parameters, read from its declared source and converted to the
    callable's annotation (``list[...]`` gets every value of a repeated one).

    Only the queries in ``only`` (all by default) need theirs; a parameter the callable
    has a default for may be left out.
    """
    out: dict[str, Any] = {}
    for q in graph.param_queries:
        if only is not None and q.index not in only:
            continue
        for name in q.params:
            if name in out:
                continue
            tp = q.param_types[name]
            raw = _read(request, name, q.sources[name], tp)
            if raw is None:
                if name in q.optional_params:
                    continue
                raise ParameterError(
                    f"missing request parameter {name!r}"
                    f" ({_where(name, q.sources[name])}, query {q.name!r})",
                    page=graph.name,
                    node=q.name,
                )
            try:
                out[name] = msgspec.convert(raw, tp, strict=False)
            except msgspec.ValidationError as exc:
                raise ParameterError(
                    f"request parameter {name!r}={raw!r} is not a valid {type_name(tp)}: {exc}",
                    page=graph.name,
                    node=q.name,
                ) from None
    return out


def _read(request: Request, name: str, source: str, tp: Any) -> Any:
    """The raw value (or values) of one parameter from its one source, or None."""
    multiple = typing.get_origin(tp) in _MULTIPLE or tp in _MULTIPLE
    if source == "path" or (source == "path-or-query" and name in request.path_params):
        return request.path_params.get(name)
    if source in ("query", "path-or-query"):
        if multiple:
            return request.query_params.getlist(name) or None
        return request.query_params.get(name)
    if source == "header":
        if multiple:
            return request.headers.getlist(header_name(name)) or None
        return request.headers.get(header_name(name))
    if source == "cookie":
        return request.cookies.get(name)
    raise AssertionError(f"unknown source {source!r}")


def _where(name: str, source: str) -> str:
    if source == "header":
        return f"header {header_name(name)!r}"
    if source == "cookie":
        return f"cookie {name!r}"
    if source == "path":
        return "path"
    if source == "query":
        return "query string"
    return "path or query string"
