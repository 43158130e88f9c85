"""Calling a fragment's renderer and checking that its HTML can be placed.

Rendered HTML is kept split at its slot markers, so every mode can expand the
slots its own way without parsing the HTML again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import escape

from .._errors import FragmentError, ShellError
from ..definition.graph import FragmentNode, Graph
from ..definition.ranges import PartShell
from ..markup.jinja import JinjaError
from ..markup.templates import Expr, Slot, Template, split_slots, template_balance_error
from ..resolution.resolve import propagates

__all__ = ["Content", "ShellParts", "expand_shell", "render_content"]

Content = tuple[str | Slot, ...]
"""Rendered HTML, split at its slot markers."""

ShellParts = Sequence[str | Slot]
"""The shell of one response: its HTML with every value in place, split at its slots."""


def expand_shell(graph: Graph, values: Mapping[str, Any]) -> ShellParts:
    """The shell with the shell queries' values in place, before the first byte.

    A placeholder that cannot be evaluated (``{{ team.nam }}``, or a field of a shell
    query that returned None) fails the whole document, so it is a
    :class:`ShellError` (500) naming the page and the placeholder, raised while the
    caller can still choose the status.
    """
    try:
        return graph.shell.expand(values)
    except Exception as exc:
        shell = graph.shell.whole if isinstance(graph.shell, PartShell) else graph.shell
        failed = _failing_placeholder(shell, values) if isinstance(shell, Template) else None
        if failed is None:  # a Jinja2 shell: its error names the template and line
            own = isinstance(exc, JinjaError)
            why, node = f"shell template: {exc if own else f'{type(exc).__name__}: {exc}'}", None
        else:
            expr, reason = failed
            why, node = f"shell placeholder {{{{ {_path(expr)} }}}}: {reason}", expr.root
        raise ShellError(why, page=graph.name, node=node) from exc


def _failing_placeholder(shell: Template, values: Mapping[str, Any]) -> tuple[Expr, str] | None:
    for part in shell.parts:
        if isinstance(part, Expr):
            try:
                str(escape(part.evaluate(values)))
            except Exception as exc:
                return part, _why(part, values, exc)
    return None


def _path(expr: Expr) -> str:
    return ".".join((expr.root, *expr.path))


def _why(expr: Expr, values: Mapping[str, Any], exc: Exception) -> str:
    """Which step of the path failed, in the page's own words."""
    for depth in range(len(expr.path)):
        prefix = Expr(expr.root, expr.path[:depth])
        try:
            value = prefix.evaluate(values)
        except Exception:
            break
        if value is None:
            return (
                f"{_path(prefix)} is None, so it has no {expr.path[depth]!r}"
                " (guard it, or raise engine.NotFound in the query)"
            )
        try:
            Expr(expr.root, expr.path[: depth + 1]).evaluate(values)
        except Exception:
            return f"{_path(prefix)} ({type(value).__name__}) has no {expr.path[depth]!r}"
    return f"{type(exc).__name__}: {exc}"


def render_content(graph: Graph, f: FragmentNode, values: Mapping[str, Any]) -> Content:
    """Render ``f`` from the values of the queries it uses."""
    try:
        html = f.renderer(values)
    except BaseException as exc:  # SystemExit and friends fail the fragment too
        if propagates(exc):
            raise
        raise FragmentError(
            f"renderer raised {type(exc).__name__}: {exc}", page=graph.name, fragment=f.target
        ) from exc
    if type(html) is not str:
        if not isinstance(html, str):
            raise FragmentError(
                f"renderer returned {type(html).__name__}, expected HTML as str",
                page=graph.name,
                fragment=f.target,
            )
        html = str(html)  # markupsafe.Markup and other str subclasses
    broken = template_balance_error(html) if "template" in html.lower() else None
    if broken is not None:  # (only HTML that names a template is scanned: that is rare)
        raise FragmentError(broken, page=graph.name, fragment=f.target)
    # The common case: nothing to split. A one-character test first: it is a memchr, where
    # CPython's search for "<?" reads every character (20 times slower on a section).
    if not f.slots and ("?" not in html or "<?" not in html):
        return (html,)
    pieces = tuple(split_slots(html))
    found = [p.name for p in pieces if isinstance(p, Slot)]
    if sorted(found) != sorted(f.slots):
        raise FragmentError(
            f"rendered slots {found} but the fragment declares slots {list(f.slots)}",
            page=graph.name,
            fragment=f.target,
        )
    return pieces
