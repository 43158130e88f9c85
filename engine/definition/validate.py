"""A page's structure checked against the schema: page files and pages built in Python alike.

msgspec validates the structs of a page file while decoding, but nothing validates a
page built in Python: ``Fragment(priority="urgent")`` or ``Query(timeout="3")`` would
crash later, far from the mistake. Both go through the same conversion here, and every
node's first problem is reported (msgspec stops at the first one of a whole page), with
the key, the node, and the fix when it is a near miss.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from schemas import Action, Fragment, Layout, Page, Query, Shell

from .._errors import Problem
from .suggest import did_you_mean

__all__ = ["python_page_data", "structure_problems"]

_AT_KEY = re.compile(
    r"^(?P<message>.*?)(?: - at (?P<in_key>`key` in )?`(?P<key>\$[^`]*)`)?$", re.DOTALL
)
_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_NODES: tuple[tuple[str, type[msgspec.Struct], str], ...] = (
    ("queries", Query, "name"),
    ("fragments", Fragment, "target"),
    ("actions", Action, "name"),
)
_REFS = {
    Query: ("call", "result", "loaders"),
    Fragment: ("render",),
    Action: ("call", "input"),
    Page: ("resources",),
    Layout: ("resources",),
}
_PYTHON_OBJECT = "python:object"
"""Stands for a callable or type given as an object (the schema only knows strings)."""


def structure_problems(
    data: Any,
    struct: type[msgspec.Struct] = Page,
    *,
    page: str,
    file: str | None,
    python: bool,
) -> list[Problem]:
    """Each node's first structural problem (empty when ``data`` converts to ``struct``,
    a Page or a Layout).

    ``python`` says the data came from a page built in Python: hints then speak of
    tuples and keyword arguments rather than lists and keys.
    """
    try:
        msgspec.convert(data, struct)
    except msgspec.ValidationError as error:
        first = str(error)
    else:
        return []
    found: list[tuple[str, str | None]] = []  # (msgspec's message, prefix of its key)
    if isinstance(data, Mapping):
        rest = dict(data)
        for field, node_type, _ in _NODES:
            items = data.get(field)
            if isinstance(items, list):
                rest[field] = []
                for i, item in enumerate(items):
                    _collect(found, item, node_type, f"$.{field}[{i}]")
        if isinstance(data.get("shell"), Mapping):
            rest["shell"] = {"html": ""}
            _collect(found, data["shell"], Shell, "$.shell")
        _collect(found, rest, struct, "$")
    if not found:
        found.append((first, None))
    root = msgspec.inspect.type_info(struct)
    return [_problem(message, prefix, data, root, page, file, python) for message, prefix in found]


def python_page_data(page: Any) -> Any:
    """A page built in Python as the builtins a page file decodes to.

    Callables and types given as objects become a placeholder the schema accepts;
    whether they are callable, and of which type, is the graph checks' business.
    """
    if isinstance(page, msgspec.Struct):
        refs = _REFS.get(type(page), ())
        return {
            name: _python_ref(getattr(page, name))
            if name in refs
            else python_page_data(getattr(page, name))
            for name in page.__struct_fields__
        }
    if isinstance(page, tuple | list):
        return [python_page_data(item) for item in page]
    if isinstance(page, dict):
        return {key: python_page_data(value) for key, value in page.items()}
    return page


def _python_ref(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_python_ref(item) for item in value]
    return value if isinstance(value, str | None) else _PYTHON_OBJECT


def _collect(
    found: list[tuple[str, str | None]], data: Any, struct: type[msgspec.Struct], prefix: str
) -> None:
    try:
        msgspec.convert(data, struct)
    except msgspec.ValidationError as error:
        found.append((str(error), prefix))


def _problem(
    text: str,
    prefix: str | None,
    data: Any,
    root: msgspec.inspect.Type,
    page: str,
    file: str | None,
    python: bool,
) -> Problem:
    match = _AT_KEY.match(text)
    assert match is not None  # the pattern matches any text
    message, key = match["message"], match["key"] or "$"
    if match["in_key"]:
        message = f"{message} for a key: keys are names, written as text"
    if prefix is not None and prefix != "$":
        key = prefix + key[1:]
    node = _node_name(data, key)
    message, key = _explain(message, key, data, root, python)
    return Problem(
        page=page, node=node, file=file, key=None if key == "$" else key, message=message
    )


def _explain(
    message: str, key: str, data: Any, root: msgspec.inspect.Type, python: bool
) -> tuple[str, str]:
    """msgspec's message, said for a page author, with the fix when there is an obvious one."""
    field_type = _type_at(root, key)
    if (unknown := re.fullmatch(r"Object contains unknown field `(.*)`", message)) is not None:
        name = unknown[1]
        known = _field_names(field_type)
        what = "keyword argument" if python else "key"
        hint = did_you_mean(name, known) or f" (known: {', '.join(known)})"
        return f"unknown {what} {name!r}{hint}", f"{key}.{name}"
    if (missing := re.fullmatch(r"Object missing required field `(.*)`", message)) is not None:
        name = missing[1]
        about = _description(_type_at(root, f"{key}.{name}"))
        return f"missing required key {name!r}{f': {about}' if about else ''}", f"{key}.{name}"
    value = _value_at(data, key)
    if message.startswith("Invalid enum value"):
        choices = _literal_values(field_type)
        hint = did_you_mean(str(value), choices)
        allowed = ", ".join(repr(c) for c in choices)
        integer = " or an integer" if _accepts_int(field_type) else ""
        if _accepts_bool(field_type):
            integer += ", true or false"
        return f"invalid value {value!r}{hint}: expected one of {allowed}{integer}", key
    if "matching regex" in message and isinstance(value, str):
        about = _description(field_type) or message
        return f"{value!r} is not {about[0].lower()}{about[1:].rstrip('.')}", key
    if message in (
        "Expected `array`, got `str`",
        "Expected `object | array`, got `str`",
    ) and _is_list_of_names(field_type):
        fix = f"({value!r},)" if python else f"[{_quoted(value)}]"
        comma = " (a one-element tuple needs its trailing comma)" if python else ""
        return f"expected a list of names, got the string {value!r}: write {fix}{comma}", key
    if re.match(r"Expected `(float|int)\b.*`, got `str`", message) and _is_number(value):
        fix = f"{value.strip()} without quotes"
        return f"expected a number, got the string {value!r}: write {fix}", key
    if message.startswith("Expected `object`, got"):
        return f"{message} (a table of keys)", key
    return message, key


def _node_name(data: Any, key: str) -> str | None:
    for field, _, name_key in _NODES:
        match = re.match(rf"\$\.{field}\[(\d+)\]", key)
        if match and isinstance(data, Mapping) and isinstance(data.get(field), list):
            item = data[field][int(match[1])]
            if isinstance(item, Mapping) and isinstance(item.get(name_key), str):
                return str(item[name_key])
    return None


def _segments(key: str) -> list[str | int]:
    return [m[1] if m[1] is not None else int(m[2]) for m in _SEGMENT.finditer(key)]


def _value_at(data: Any, key: str) -> Any:
    for segment in _segments(key):
        in_list = isinstance(segment, int) and isinstance(data, list) and segment < len(data)
        if in_list or (isinstance(segment, str) and isinstance(data, Mapping) and segment in data):
            data = data[segment]
        else:
            return None
    return data


def _type_at(root: msgspec.inspect.Type, key: str) -> msgspec.inspect.Type | None:
    """The schema type at a ``$.path``, or None where the path leaves the schema."""
    current: msgspec.inspect.Type | None = root
    for segment in _segments(key):
        current = _unwrap(current, struct=isinstance(segment, str))
        if isinstance(segment, str) and isinstance(current, msgspec.inspect.StructType):
            fields = {f.encode_name: f.type for f in current.fields}
            current = fields.get(segment)
        elif isinstance(segment, int) and isinstance(
            current, msgspec.inspect.VarTupleType | msgspec.inspect.ListType
        ):
            current = current.item_type
        else:
            return None
    return current


def _unwrap(tp: msgspec.inspect.Type | None, *, struct: bool) -> msgspec.inspect.Type | None:
    """The member of a union (or metadata wrapper) that a path can go into."""
    while isinstance(tp, msgspec.inspect.Metadata | msgspec.inspect.UnionType):
        if isinstance(tp, msgspec.inspect.Metadata):
            tp = tp.type
            continue
        wanted = (
            msgspec.inspect.StructType
            if struct
            else (msgspec.inspect.VarTupleType, msgspec.inspect.ListType)
        )
        tp = next((t for t in tp.types if isinstance(t, wanted)), None)
    return tp


def _field_names(tp: msgspec.inspect.Type | None) -> list[str]:
    tp = _unwrap(tp, struct=True)
    if isinstance(tp, msgspec.inspect.StructType):
        return [f.encode_name for f in tp.fields]
    return []


def _members(tp: msgspec.inspect.Type | None) -> list[msgspec.inspect.Type]:
    if isinstance(tp, msgspec.inspect.Metadata):
        return _members(tp.type)
    if isinstance(tp, msgspec.inspect.UnionType):
        return [m for t in tp.types for m in _members(t)]
    return [] if tp is None else [tp]


def _is_list_of_names(tp: msgspec.inspect.Type | None) -> bool:
    """A list of strings (``uses``, ``depends_on``), not of tables (``queries``)."""
    return any(
        isinstance(item, msgspec.inspect.StrType)
        for member in _members(tp)
        if isinstance(member, msgspec.inspect.VarTupleType | msgspec.inspect.ListType)
        for item in _members(member.item_type)
    )


def _literal_values(tp: msgspec.inspect.Type | None) -> list[str]:
    for member in _members(tp):
        if isinstance(member, msgspec.inspect.LiteralType):
            return [str(v) for v in member.values]
    return []


def _accepts_int(tp: msgspec.inspect.Type | None) -> bool:
    return any(isinstance(m, msgspec.inspect.IntType) for m in _members(tp))


def _accepts_bool(tp: msgspec.inspect.Type | None) -> bool:
    return any(isinstance(m, msgspec.inspect.BoolType) for m in _members(tp))


def _description(tp: msgspec.inspect.Type | None) -> str | None:
    for candidate in (tp, *(_members(tp) if tp is not None else ())):
        if isinstance(candidate, msgspec.inspect.Metadata) and candidate.extra_json_schema:
            description = candidate.extra_json_schema.get("description")
            if isinstance(description, str):
                return description
    return None


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _quoted(value: Any) -> str:
    return msgspec.json.encode(value).decode()
