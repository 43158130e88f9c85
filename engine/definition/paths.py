"""``{{ query.field }}`` paths checked against declared result types, before any request.

A misspelled field (``{{ oncall.logn }}``) or a field of a result that may be ``None``
would otherwise fail every request that renders it, the shell's before any byte. The
walk follows what the declared type says and stops, trusting the author, where a type
says nothing more (``Any``, ``dict``, a plain class's instance attributes).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs
import msgspec

from ..markup.templates import Expr
from .signatures import type_name
from .suggest import did_you_mean

__all__ = ["json_path_problem", "path_problem"]

Place = Literal["shell", "fragment"]

_IF_NONE: Mapping[Place, str] = {
    "shell": "raise engine.NotFound in the query instead of returning None (a 404), or declare"
    " the result without None",
    "fragment": "raise in the query instead of returning None (the fragment then shows its"
    " error HTML), or render with a function that handles None",
}
_SCALARS = (str, int, float, bool, bytes, type(None))
_STOP = object()
"""The walk cannot know more: trust the author from here on."""


def path_problem(expr: Expr, declared: Any, place: Place) -> str | None:
    """Why ``expr`` fails for every value of type ``declared``, or None."""
    current = declared
    walked = expr.root
    for part in expr.path:
        members = _members(current)
        if type(None) in members:
            what = f"query {expr.root!r}" if walked == expr.root else repr(walked)
            return (
                f"{expr}: {what} is declared {type_name(current)}, so .{part} fails whenever"
                f" it is None: {_IF_NONE[place]}"
            )
        found: list[Any] = []
        for member in members:
            step = _step(member, part)
            if isinstance(step, str):
                return f"{expr}: {walked} is {type_name(member)}, which {step}"
            found.append(step)
        if any(step is _STOP for step in found):
            return None
        current = found[0] if len(found) == 1 else typing.Union[tuple(found)]  # noqa: UP007
        walked = f"{walked}.{part}"
    return None


def json_path_problem(query: str, path: Sequence[str], declared: Any) -> str | None:
    """Why ``query.path`` leads nowhere in the JSON of every value of type ``declared``.

    A client binding (docs/client.md) walks the JSON: fields as msgspec encodes them, items
    by index. ``None`` on the way is no problem (the binding then leaves its element as
    rendered); a key that no type along the way can have is. What the types do not
    describe (``dict``, ``Any``, the ``length`` of a list) is trusted.
    """
    current, walked = declared, query
    for part in path:
        steps = [_json_step(m, part) for m in _members(current) if m is not type(None)]
        if not steps or any(step is _STOP for step in steps):
            return None
        found = [step for step in steps if not isinstance(step, str)]
        if not found:
            return f"{walked} is {type_name(current)}, which {steps[0]}"
        current = found[0] if len(found) == 1 else typing.Union[tuple(found)]  # noqa: UP007
        walked = f"{walked}.{part}"
    return None


def _json_step(tp: Any, part: str) -> Any:
    """The type of ``json[part]`` for a value of type ``tp``, _STOP, or why it fails (a str)."""
    origin = typing.get_origin(tp) or tp
    if isinstance(origin, type) and issubclass(origin, msgspec.Struct):
        if origin.__struct_config__.array_like:
            return _STOP
        keys = {f.encode_name: f.type for f in msgspec.structs.fields(origin)}
    elif _is_typed_dict(origin) or (_fields(origin) is not None and not issubclass(origin, tuple)):
        keys = _hints(origin) if _is_typed_dict(origin) else _fields(origin) or {}
    else:
        return _step(tp, part) if part.isdigit() else _STOP
    return keys[part] if part in keys else f"has no key {part!r}{did_you_mean(part, keys)}"


def _members(tp: Any) -> tuple[Any, ...]:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return tuple(m for arg in typing.get_args(tp) for m in _members(arg))
    return (tp,)


def _step(tp: Any, part: str) -> Any:
    """The type of ``value.part`` (or ``value[part]``), _STOP, or why it fails (a str)."""
    if tp is Any or tp is object or isinstance(tp, typing.TypeVar):
        return _STOP
    origin = typing.get_origin(tp) or tp
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return _step(type(args[0]), part) if args else _STOP
    if part.isdigit():
        return _item(origin, args, int(part))
    if _is_typed_dict(origin):
        hints = _hints(origin)
        return hints[part] if part in hints else f"has no key {part!r}{did_you_mean(part, hints)}"
    if isinstance(origin, type) and issubclass(origin, Mapping):
        return args[1] if len(args) == 2 else _STOP
    fields = _fields(origin)
    if fields is not None:
        if part in fields:
            return fields[part]
        if hasattr(origin, part):
            return _STOP  # a property or method: what it returns is not declared here
        return f"has no field {part!r}{did_you_mean(part, fields)}"
    if isinstance(origin, type) and (issubclass(origin, _SCALARS) or origin in (list, tuple)):
        if hasattr(origin, part):
            return _STOP
        return f"has no attribute {part!r}" + (
            " (an item is .0, .1, ...)" if origin in (list, tuple) else ""
        )
    return _STOP


def _item(origin: Any, args: tuple[Any, ...], index: int) -> Any:
    if origin is tuple and args and args[-1] is not Ellipsis:
        if index >= len(args):
            return f"has {len(args)} items, so item {index} never exists"
        return args[index]
    if isinstance(origin, type) and issubclass(origin, str | bytes):
        return origin
    if isinstance(origin, type) and issubclass(origin, Sequence):
        return args[0] if args else _STOP
    if isinstance(origin, type) and issubclass(origin, Mapping):
        return args[1] if len(args) == 2 else _STOP
    struct_like = isinstance(origin, type) and (
        issubclass(origin, _SCALARS) or _fields(origin) is not None
    )
    if struct_like and not hasattr(origin, "__getitem__"):
        return f"has no items (.{index} is for lists and tuples)"
    return _STOP


def _fields(cls: Any) -> dict[str, Any] | None:
    """The declared fields of a struct-like class (None for any other type)."""
    if not isinstance(cls, type):
        return None
    if issubclass(cls, msgspec.Struct):
        names: Sequence[str] = cls.__struct_fields__
    elif dataclasses.is_dataclass(cls):
        names = [f.name for f in dataclasses.fields(cls)]
    elif attrs.has(cls):
        names = [a.name for a in attrs.fields(cls)]
    elif issubclass(cls, tuple) and hasattr(cls, "_fields"):
        names = cls._fields
    else:
        return None
    hints = _hints(cls)
    return {name: hints.get(name, Any) for name in names}


def _is_typed_dict(cls: Any) -> bool:
    return isinstance(cls, type) and typing.is_typeddict(cls)


def _hints(cls: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # unresolvable forward references: nothing to check against
        return dict.fromkeys(getattr(cls, "__annotations__", {}), Any)
