"""Definition checks of what queries take from outside the graph: request parameters and
their sources, the request and response objects, and the app's resources.

A request parameter has one source per page (path, query string, header, cookie, or a plain
name: the path capture when the route captures it, else the query string), so a value can never
arrive from a source it was not declared for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from schemas import Page, Params, Query

from ..context.request import Request, Source
from ..context.resources import Resources
from ..context.response import Response
from .nodes import Report
from .refs import RefError, import_ref
from .signatures import annotations_of, describe

__all__ = [
    "check_resource_names",
    "check_response_users",
    "context_arguments",
    "declared_resources",
    "param_sources",
]

_PLAIN: Source = "path-or-query"


def _declared(q: Query) -> Iterator[tuple[str, Source, str]]:
    """(name, source, key suffix) for each request parameter ``q`` declares."""
    if isinstance(q.params, Params):
        for source in ("path", "query", "header", "cookie"):
            for j, name in enumerate(getattr(q.params, source)):
                yield name, source, f"params.{source}[{j}]"
    else:
        for j, name in enumerate(q.params):
            yield name, _PLAIN, f"params[{j}]"


def param_sources(page: Page, report: Report) -> list[dict[str, Source]]:
    """Each query's parameters and their sources; a name with two sources is an error."""
    page_wide: dict[str, tuple[Source, str]] = {}
    out: list[dict[str, Source]] = []
    for i, q in enumerate(page.queries):
        if not isinstance(q.params, (tuple, list, Params)):
            report.problem(
                "params must be a list of names or a table of sources"
                " (path, query, header, cookie)",
                node=q.name,
                key=f"$.queries[{i}].params",
            )
            out.append({})
            continue
        sources: dict[str, Source] = {}
        for name, source, suffix in _declared(q):
            key = f"$.queries[{i}].{suffix}"
            if name in sources:
                report.problem(
                    f"parameter {name!r} is declared twice ({_says(sources[name])} and"
                    f" {_says(source)}): a parameter has one source; keep one of them",
                    node=q.name,
                    key=key,
                )
                continue
            sources[name] = source
            first = page_wide.setdefault(name, (source, q.name))
            if first[0] != source:
                report.problem(
                    f"parameter {name!r} comes from {_says(source)} here but from"
                    f" {_says(first[0])} in query {first[1]!r}: a name has one source per page;"
                    " declare the same source in both or rename one",
                    node=q.name,
                    key=key,
                )
        out.append(sources)
    return out


def _says(source: Source) -> str:
    return {
        "path": "the path",
        "query": "the query string",
        "header": "a header",
        "cookie": "a cookie",
        "path-or-query": "a plain name in params (path or query string)",
    }[source]


def context_arguments(call: Callable[..., Any]) -> dict[str, str]:
    """Parameters of ``call`` annotated ``engine.Request`` or ``engine.Response``."""
    found: dict[str, str] = {}
    for name, annotation in annotations_of(call).items():
        if isinstance(annotation, type) and issubclass(annotation, Request):
            found[name] = "request"
        elif isinstance(annotation, type) and issubclass(annotation, Response):
            found[name] = "response"
    return found


def declared_resources(page: Page, report: Report) -> Resources | None:
    """The page's ``resources`` (an ``engine.Resources``), checked."""
    ref = page.resources
    if ref is None:
        return None
    if isinstance(ref, str):
        try:
            ref = import_ref(ref)
        except RefError as exc:
            report.problem(str(exc), key="$.resources")
            return None
    if not isinstance(ref, Resources):
        report.problem(
            f"resources must name an engine.Resources, not a {type(ref).__name__}:"
            " declare them as resources = engine.Resources(db=open_database, ...)",
            key="$.resources",
        )
        return None
    return ref


def check_resource_names(report: Report, index: int, q: Query, declared: Resources | None) -> bool:
    """Report each resource ``q`` names that is not declared; False if there was one."""
    ok = True
    for j, name in enumerate(q.resources):
        if declared is not None and name in declared.factories:
            continue
        if declared is None:
            fix = (
                "the page declares no resources: add resources = 'package.module:attr' naming an"
                f" engine.Resources that has {name!r}"
            )
        else:
            known = ", ".join(repr(n) for n in declared.names) or "none"
            fix = f"the page's resources declare {known}; add {name!r} to them or fix the name"
        report.problem(
            f"needs resource {name!r}, which is not declared: {fix}",
            node=q.name,
            key=f"$.queries[{index}].resources[{j}]",
        )
        ok = False
    return ok


def check_response_users(
    report: Report,
    responders: Mapping[str, tuple[int, str, Callable[..., Any]]],
    before_first_byte: set[str],
) -> None:
    """Only queries the shell waits for may shape the response head."""
    for name, (i, argument, call) in responders.items():
        if name in before_first_byte:
            continue
        report.problem(
            f"parameter {argument!r} of {describe(call)} is an engine.Response, but query"
            f" {name!r} runs after the first byte, when the head is already sent: add"
            f" {name!r} to shell.queries (or set headers and cookies from a shell query)",
            node=name,
            key=f"$.queries[{i}].call",
        )
