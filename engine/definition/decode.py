"""The bytes of a page file, read into plain data, or one clear problem.

Each format's decoder has its own failure modes, and none of them may reach a user
as a traceback: text that is not UTF-8, nesting beyond Python's recursion limit,
YAML aliases that expand without end, and keys written twice (TOML rejects them, but
JSON and YAML decoders silently keep the last one, hiding the first from the author).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import yaml

__all__ = ["MAX_FILE_BYTES", "FileProblem", "decode_file"]

MAX_FILE_BYTES = 4 * 1024 * 1024
"""Far beyond any page (the shop's is 5 KB): keeps `engine check` of a runaway file quick."""
MAX_YAML_NODES = 100_000
"""YAML aliases may point at aliases: a few lines can expand to billions of nodes."""

_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BYTE = re.compile(r"\(byte (\d+)\)")
_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


class FileProblem(ValueError):
    """What is wrong with a page file as a file (before its keys mean anything)."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def decode_file(path: Path) -> Any:
    """The page file's data (dicts, lists, scalars), or :class:`FileProblem`."""
    decode = _DECODERS.get(path.suffix.lower())
    if decode is None:
        raise FileProblem(
            f"expected a .toml, .json or .yaml file, not {path.suffix or 'no suffix'!r}"
        )
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise FileProblem(
                f"the file is {size / 2**20:.1f} MiB; page files are limited to"
                f" {MAX_FILE_BYTES // 2**20} MiB (keep large static content out of the page)"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise FileProblem(exc.strerror or str(exc)) from None
    text = _text(data)
    if not text.strip():
        raise FileProblem("the file is empty: a page needs at least 'name' and 'shell.html'")
    try:
        return decode(text)
    except RecursionError:
        raise FileProblem(
            "the file nests too deeply to read (a page is a few levels deep)"
        ) from None


def _text(data: bytes) -> str:
    for bom, encoding in ((b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16")):
        if data.startswith(bom):
            raise FileProblem(f"the file is {encoding} encoded: save it as UTF-8")
    if b"\x00" in data:
        raise FileProblem("the file holds NUL bytes: it is binary, not a page file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = _position(data, exc.start)
        raise FileProblem(
            f"the file is not UTF-8: byte 0x{data[exc.start]:02x} at line {line}, column"
            f" {column} cannot be decoded; save it as UTF-8"
        ) from None


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """Line (from 1) and column (from 0) of a byte offset."""
    before = data[:offset]
    return before.count(b"\n") + 1, offset - (before.rfind(b"\n") + 1)


def _json(text: str) -> Any:
    raw = text.encode()
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        message = str(exc)
        byte = _BYTE.search(message)
        if byte is not None:
            line, column = _position(raw, int(byte[1]))
            message = f"{message[: byte.start()]}(line {line}, column {column + 1})"
        raise FileProblem(message) from None
    _refuse_duplicates(json.loads(text, object_pairs_hook=_Object.from_pairs))
    return data


class _Object(dict[str, Any]):
    """A JSON object that remembers the first key it saw twice."""

    duplicate: str | None = None

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> _Object:
        obj = cls()
        for key, value in pairs:
            if key in obj and obj.duplicate is None:
                obj.duplicate = key
            obj[key] = value
        return obj


def _refuse_duplicates(data: Any) -> None:
    stack: list[tuple[Any, str]] = [(data, "$")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, _Object):
            if value.duplicate is not None:
                raise FileProblem(
                    f"key {value.duplicate!r} is written twice in one object (JSON decoders"
                    " keep only the last): remove one",
                    key=f"{path}.{value.duplicate}",
                )
            stack.extend((v, f"{path}.{k}") for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]") for i, v in reversed(list(enumerate(value))))


def _toml(text: str) -> Any:
    try:
        return msgspec.toml.decode(text)
    except msgspec.DecodeError as exc:
        message = str(exc)
        at = _TOML_AT.search(message)
        if at is not None and message.startswith(("Cannot overwrite a value", "Cannot declare")):
            line = text.splitlines()[int(at[1]) - 1]
            key = line.partition("=")[0].strip().strip("[]").strip()
            message = f"key {key!r} is written twice (line {at[1]}): remove one"
        raise FileProblem(message) from None


def _yaml(text: str) -> Any:
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_yaml_nodes(node)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        message = re.sub(r"\s*\n\s*", " ", str(exc)).replace("\t", "\\t")
        message = message.replace(' in "<unicode string>",', " at")
        raise FileProblem(message) from None
    finally:
        loader.dispose()


def _check_yaml_nodes(root: yaml.Node) -> None:
    """Duplicate keys, recursive aliases and aliases expanding past MAX_YAML_NODES, found
    without recursion."""
    expanded: dict[int, int] = {}  # node id -> how many values it stands for, once built
    visiting: set[int] = set()
    stack: list[tuple[yaml.Node, str, list[tuple[yaml.Node, str]] | None]] = [(root, "$", None)]
    while stack:
        node, path, children = stack.pop()
        if children is None:
            if id(node) in expanded:
                continue
            if id(node) in visiting:
                raise FileProblem("a YAML alias refers to a value that holds it", key=path)
            visiting.add(id(node))
            children = _yaml_children(node, path)
            stack.append((node, path, children))
            stack.extend((child, child_path, None) for child, child_path in children)
            continue
        size = 1 + sum(expanded[id(child)] for child, _ in children)
        if size > MAX_YAML_NODES:
            raise FileProblem(
                f"YAML aliases expand to more than {MAX_YAML_NODES} values: a page is far"
                " smaller (use fewer aliases of aliases)",
                key=path,
            )
        visiting.discard(id(node))
        expanded[id(node)] = size


def _yaml_children(node: yaml.Node, path: str) -> list[tuple[yaml.Node, str]]:
    if isinstance(node, yaml.SequenceNode):
        return [(child, f"{path}[{i}]") for i, child in enumerate(node.value)]
    if not isinstance(node, yaml.MappingNode):
        return []
    seen: set[str] = set()
    children: list[tuple[yaml.Node, str]] = []
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if isinstance(key, str):
            if key in seen:
                raise FileProblem(
                    f"key {key!r} is written twice (line {key_node.start_mark.line + 1}; YAML"
                    " decoders keep only the last): remove one",
                    key=f"{path}.{key}",
                )
            seen.add(key)
        children.append((key_node, path))
        children.append((value_node, f"{path}.{key}" if key is not None else path))
    return children


_DECODERS: dict[str, Callable[[str], Any]] = {
    ".toml": _toml,
    ".json": _json,
    ".yaml": _yaml,
    ".yml": _yaml,
}
