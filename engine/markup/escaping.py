"""markupsafe's escaping, without its Python wrapper on the hot path: the same output.

markupsafe 3 wraps its C core (``_escape_inner``) in two Python calls per value (``escape``,
then ``Markup.__new__`` with a ``hasattr``). A 1,000-row table escapes 4,000 cells per
render, so those two frames were most of what the engine's templates cost: here a plain
``str`` (and an ``int`` or ``float``, whose text has nothing to escape) goes straight to the
C core, and every other value through markupsafe itself (``__html__``, ``str()``). With
markupsafe 2, whose ``escape`` is C already, both are markupsafe's own.
"""

from __future__ import annotations

from typing import Any

import markupsafe
from markupsafe import Markup

__all__ = ["escape", "escape_text"]

_inner = getattr(markupsafe, "_escape_inner", None)
_as_markup = str.__new__
_NOTHING_TO_ESCAPE = (int, float)
"""Exact types whose ``str()`` has no character to escape (digits, sign, ``.``, ``e``, inf, nan)."""


def _escape(value: Any, /) -> Markup:
    """``markupsafe.escape(value)``, exactly."""
    kind = type(value)
    if kind is str:
        return _as_markup(Markup, _inner(value))  # type: ignore[misc]
    if kind in _NOTHING_TO_ESCAPE:
        return _as_markup(Markup, str(value))
    return markupsafe.escape(value)


def _escape_text(value: Any, /) -> str:
    """``str(markupsafe.escape(value))``, exactly: for text joined into a larger string."""
    kind = type(value)
    if kind is str:
        return _inner(value)  # type: ignore[misc,no-any-return]
    if kind in _NOTHING_TO_ESCAPE:
        return str(value)
    return str(markupsafe.escape(value))


def _escape_text_v2(value: Any, /) -> str:
    return str(markupsafe.escape(value))


escape = _escape if _inner is not None else markupsafe.escape
escape_text = _escape_text if _inner is not None else _escape_text_v2
