"""Turning the strings of page files into Python objects.

Callables are ``"package.module:attr"``; result types are builtin names,
``"package.module:Class"`` or generics of those (``"list[shop.models:Review]"``,
``"dict[str, int]"``, ``"shop.models:Product | None"``). Type expressions are parsed
by a small grammar, never ``eval``-ed.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from .suggest import did_you_mean

__all__ = ["RefError", "import_ref", "parse_type"]


class RefError(ValueError):
    """A reference string cannot be resolved; the message says why and how to fix it."""

    def __init__(self, message: str, *, missing_module: str | None = None) -> None:
        super().__init__(message)
        self.missing_module = missing_module
        """The module that could not be found, when that is the cause: every reference
        under it fails for the same reason, and is reported once."""


MAX_TYPE_DEPTH = 32
"""Nesting of ``[ ]`` in a type expression: far beyond any real type, and a clear
error instead of Python's recursion limit for a hostile or broken file."""

_BUILTIN_TYPES: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "bytes": bytes,
    "dict": dict,
    "list": list,
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
    "object": object,
    "any": Any,
    "Any": Any,
    "None": type(None),
}

_TOKEN = re.compile(r"\s*(?:(\.\.\.)|([A-Za-z_][\w.]*(?::[A-Za-z_][\w.]*)?)|([\[\],|]))")


def import_ref(ref: str) -> Any:
    """Import ``"package.module:attr"`` (``attr`` may be dotted)."""
    module_name, sep, attr_path = ref.partition(":")
    if not sep or not module_name or not attr_path:
        raise RefError(f"{ref!r} is not of the form 'package.module:attribute'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        missing = getattr(exc, "name", None)
        raise RefError(
            f"cannot import module {module_name!r} for {ref!r}: {exc}",
            missing_module=missing if isinstance(exc, ModuleNotFoundError) else None,
        ) from exc
    except SystemExit as exc:  # a module calling sys.exit() must not end `engine check`
        raise RefError(
            f"importing module {module_name!r} for {ref!r} called sys.exit({exc.code!r}):"
            " a module a page uses must not exit when imported"
        ) from None
    except Exception as exc:  # a module that fails while importing: say which and why
        raise RefError(
            f"importing module {module_name!r} for {ref!r} raised {type(exc).__name__}: {exc}"
        ) from exc
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise RefError(
                f"module {module_name!r} has no attribute {attr_path!r}" + did_you_mean(part, names)
            ) from None
    return obj


def parse_type(text: str) -> Any:
    """Parse a type expression of a page file into a type object."""
    tokens = _tokenize(text)
    parser = _TypeParser(text, tokens)
    result = parser.union()
    if parser.pos != len(tokens):
        raise RefError(f"unexpected {tokens[parser.pos]!r} in type {text!r}")
    return result


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    stripped_end = len(text.rstrip())
    while pos < stripped_end:
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise RefError(f"cannot read type {text!r} at position {pos}")
        tokens.append(match.group(match.lastindex or 0))
        pos = match.end()
    if not tokens:
        raise RefError("empty type")
    return tokens


class _TypeParser:
    def __init__(self, text: str, tokens: list[str]) -> None:
        self.text = text
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str:
        token = self._peek()
        if token is None or (expected is not None and token != expected):
            want = repr(expected) if expected else "a type"
            raise RefError(f"expected {want} in type {self.text!r}")
        self.pos += 1
        return token

    def union(self) -> Any:
        result = self.atom()
        while self._peek() == "|":
            self._take("|")
            result = result | self.atom()
        return result

    def atom(self) -> Any:
        name = self._take()
        if name in "[],|":
            raise RefError(f"expected a type name, found {name!r} in {self.text!r}")
        base = _BUILTIN_TYPES.get(name)
        if base is None:
            if ":" not in name:
                known = sorted(k for k in _BUILTIN_TYPES if k != "Any")
                raise RefError(
                    f"unknown type {name!r} in {self.text!r}{did_you_mean(name, known)}: use"
                    f" one of {', '.join(known)}, or 'package.module:Class'"
                )
            base = import_ref(name)
        if self._peek() != "[":
            return base
        self._take("[")
        self.depth += 1
        if self.depth > MAX_TYPE_DEPTH:
            raise RefError(f"type {self.text[:40]!r}… nests deeper than {MAX_TYPE_DEPTH} levels")
        args = [self._argument()]
        while self._peek() == ",":
            self._take(",")
            args.append(self._argument())
        self._take("]")
        self.depth -= 1
        try:
            return base[tuple(args) if len(args) > 1 else args[0]]
        except TypeError as exc:
            raise RefError(f"{name!r} takes no parameters {args!r}: {exc}") from None

    def _argument(self) -> Any:
        if self._peek() == "...":
            self._take()
            return ...
        return self.union()
