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
        names: Any = getattr(item, "__struct_fields__", None) or getattr(item, "__slots__", ())
        fields = {name: getattr(item, name, None) for name in names if isinstance(name, str)}
        fields.update(getattr(item, "__dict__", {}))
        for name, child in fields.items():
            yield f"{path}.{name}", child
