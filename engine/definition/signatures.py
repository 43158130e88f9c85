"""What a callable accepts, and whether its annotations agree with declared types.

Used at definition time only: a renderer annotated ``reviews: list[Review]`` fed by
a query declared ``result = "list[Product]"`` is an error before any request.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "annotations_of",
    "compatible",
    "defaulted_parameters",
    "describe",
    "keyword_problems",
    "type_name",
]

_EMPTY = inspect.Parameter.empty


def annotations_of(fn: Callable[..., Any]) -> dict[str, Any]:
    """Resolved parameter annotations (string annotations evaluated); empty if unknown."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        # Unresolvable forward references: fall back to what the signature holds,
        # ignoring strings we could not evaluate.
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):
            return {}
        return {
            name: p.annotation
            for name, p in signature.parameters.items()
            if p.annotation is not _EMPTY and not isinstance(p.annotation, str)
        }
    hints.pop("return", None)
    return hints


def keyword_problems(fn: Callable[..., Any], names: Iterable[str]) -> list[str]:
    """Why ``fn(**{name: ...})`` would fail for these names, if it would."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    given = set(names)
    params = signature.parameters
    problems: list[str] = []
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if not accepts_any:
        unknown = sorted(
            n
            for n in given
            if n not in params or params[n].kind is inspect.Parameter.POSITIONAL_ONLY
        )
        if unknown:
            problems.append(f"does not accept keyword argument(s) {', '.join(unknown)}")
    # A positional-only parameter is never given by keyword: with **kwargs, its name goes there.
    missing = sorted(
        name
        for name, p in params.items()
        if p.default is _EMPTY
        and p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
        and (name not in given or (accepts_any and p.kind is inspect.Parameter.POSITIONAL_ONLY))
    )
    if missing:
        problems.append(f"requires argument(s) {', '.join(missing)} that nothing provides")
    return problems


def defaulted_parameters(fn: Callable[..., Any]) -> frozenset[str]:
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(name for name, p in parameters.items() if p.default is not _EMPTY)


def compatible(annotation: Any, declared: Any) -> bool:
    """Whether a value of type ``declared`` may be passed where ``annotation`` is expected."""
    if annotation in (_EMPTY, Any, object) or annotation == declared:
        return True
    if declared is Any:
        return True
    ann_origin = typing.get_origin(annotation)
    if ann_origin in (typing.Union, types.UnionType):
        decl_members = _union_members(declared)
        return all(any(compatible(a, d) for a in typing.get_args(annotation)) for d in decl_members)
    if ann_origin is typing.Annotated:
        return compatible(typing.get_args(annotation)[0], declared)
    decl_origin = typing.get_origin(declared)
    if ann_origin is None and decl_origin is None:
        return (
            isinstance(annotation, type)
            and isinstance(declared, type)
            and (issubclass(declared, annotation))
        )
    if ann_origin is None:  # a bare ``list`` accepts ``list[X]``
        return (
            isinstance(annotation, type)
            and isinstance(decl_origin, type)
            and (issubclass(decl_origin, annotation))
        )
    if decl_origin is None or not _origin_compatible(ann_origin, decl_origin):
        return False
    ann_args, decl_args = typing.get_args(annotation), typing.get_args(declared)
    if len(ann_args) != len(decl_args):
        return False
    return all(compatible(a, d) for a, d in zip(ann_args, decl_args, strict=True))


def _origin_compatible(annotation: Any, declared: Any) -> bool:
    if annotation == declared:
        return True
    return (
        isinstance(annotation, type)
        and isinstance(declared, type)
        and issubclass(declared, annotation)
    )


def _union_members(tp: Any) -> tuple[Any, ...]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return (tp,)


def type_name(tp: Any) -> str:
    """A type as its author wrote it: ``list[Review]``, ``Product | None``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(arg) for arg in typing.get_args(tp))
    if tp is type(None):
        return "None"
    if isinstance(tp, type) and origin is None:
        return tp.__qualname__
    if isinstance(origin, type) and typing.get_args(tp):
        args = ", ".join("..." if a is ... else type_name(a) for a in typing.get_args(tp))
        return f"{origin.__qualname__}[{args}]"
    return repr(tp).replace("typing.", "")


def describe(fn: Any) -> str:
    module = getattr(fn, "__module__", None)
    name = getattr(fn, "__qualname__", None) or repr(fn)
    return f"{module}:{name}" if module else name
