"""Text that UTF-8 cannot carry: lone surrogates, and where they came from.

Python strings may hold lone surrogates (``json.loads('"\\ud800"')``, ``os.fsdecode``
of a file name that is not UTF-8), and no UTF-8 encoder accepts them. The wire writes
each one as U+FFFD, the replacement character, exactly as a browser's ``TextEncoder``
does; exposed JSON keeps them exactly, as ``\\ud800``-style escapes (``embed_json``). Finding
which query's value held one is only done when a write needs the replacement.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["REPLACEMENT", "encode_replacing", "surrogate_path"]

REPLACEMENT = "\ufffd"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def encode_replacing(text: str) -> tuple[bytes, str]:
    """``text`` as UTF-8 with each lone surrogate as U+FFFD; also the first one, as ``U+D800``."""
    first = _LONE_SURROGATE.search(text)
    where = f"U+{ord(first.group()):04X}" if first else ""
    return _LONE_SURROGATE.sub(REPLACEMENT, text).encode(), where


def surrogate_path(value: Any) -> str | None:
    """Where in ``value`` a string holds a lone surrogate (``.items[2].name``; ``""`` for
    the value itself), or None. Iterative: values may nest deeply."""
    stack: list[tuple[str, Any]] = [("", value)]
    seen: set[int] = set()
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if _LONE_SURROGATE.search(item):
                return path
            continue
        if isinstance(item, (int, float, bytes, bool)) or item is None or id(item) in seen:
            continue
        seen.add(id(item))
        stack.extend(reversed(list(_children(path, item))))
    return None


def _children(path: str, item: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(item, Mapping):
        for key, child in item.items():
            yield f"{path}[{key!r}]", key
            yield f"{path}[{key!r}]", child
    elif isinstance(item, (list, tuple, set, frozenset)):
        for i, child in enumerate(item):
            yield f"{path}[{i}]", child
    else:
        for name, child in _attributes(item).items():
            yield f"{path}.{name}", child


def _attributes(item: Any) -> dict[str, Any]:
    """The slots of every class an object is made of, bases first (a msgspec Struct's fields
    are slots too), then its ``__dict__``: a subclass's ``__slots__`` names only its own."""
    attributes: dict[str, Any] = {}
    for cls in reversed(type(item).__mro__):
        slots = cls.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name != "__dict__":  # a slot for the instance's dict: its items come below
                attributes[name] = getattr(item, name, None)  # a slot may be unset
    attributes.update(getattr(item, "__dict__", {}))
    return attributes
