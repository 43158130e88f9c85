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

__all__ = ["CONVERSION_ERRORS", "converter_for", "convertible"]

CONVERSION_ERRORS = (msgspec.ValidationError, cattrs.BaseValidationError, TypeError, ValueError)
"""What a converter raises for a value that is not of its type."""

_cattrs = cattrs.Converter()


def _unchanged(value: Any) -> Any:
    return value


def convertible(tp: Any) -> bool:
    """Whether msgspec or cattrs can check a value of ``tp``. Many unions msgspec refuses,
    cattrs refuses too, on every value: a query declaring one would fail every call."""
    try:
        msgspec.inspect.type_info(tp)
    except (TypeError, ValueError):
        try:
            _cattrs.get_structure_hook(tp)
        except cattrs.errors.StructureHandlerNotFoundError:
            return False
    return True


def converter_for(tp: Any) -> Callable[[Any], Any]:
    """A function that converts a value to ``tp`` (raising one of ``CONVERSION_ERRORS``)."""
    if tp is Any:
        return _unchanged
    try:
        msgspec.inspect.type_info(tp)
    except (TypeError, ValueError):
        return functools.partial(_cattrs.structure, cl=tp)
    return functools.partial(msgspec.convert, type=tp, from_attributes=True)
