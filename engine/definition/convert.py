"""Turning what a query returned into its declared result type.

The conversion is chosen once per query when the graph is built, not on every result:
msgspec for the types it knows (structs, dataclasses, attrs classes, containers),
cattrs for the rest, nothing at all for ``Any``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import cattrs
import msgspec

__all__ = ["CONVERSION_ERRORS", "converter_for"]

CONVERSION_ERRORS = (msgspec.ValidationError, cattrs.BaseValidationError, TypeError, ValueError)
"""What a converter raises for a value that is not of its type."""

_cattrs = cattrs.Converter()


def _unchanged(value: Any) -> Any:
    return value


def converter_for(tp: Any) -> Callable[[Any], Any]:
    """A function that converts a value to ``tp`` (raising one of ``CONVERSION_ERRORS``)."""
    if tp is Any:
        return _unchanged
    try:
        msgspec.inspect.type_info(tp)
    except (TypeError, ValueError):
        return functools.partial(_cattrs.structure, cl=tp)
    return functools.partial(msgspec.convert, type=tp, from_attributes=True)
