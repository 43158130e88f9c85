"""Loading pages from files (TOML, JSON, YAML) or from ``module:attr`` references.

File errors name the file and the key (msgspec's ``$.path``), so a user can jump to
the line that is wrong.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from schemas import Page

from .._errors import PageError, Problem
from .refs import RefError, import_ref

__all__ = ["load", "read_file"]

T = TypeVar("T")

_DECODERS: dict[str, Any] = {
    ".toml": msgspec.toml.decode,
    ".json": msgspec.json.decode,
    ".yaml": msgspec.yaml.decode,
    ".yml": msgspec.yaml.decode,
}
_AT_KEY = re.compile(r"^(?P<message>.*?) - at `(?P<key>\$[^`]*)`$", re.DOTALL)


def load(ref: str | Path) -> Page:
    """Load a page from a page file path or a ``"module:attr"`` reference.

    Module names inside a page file resolve from the current directory and from the
    file's own directory. Raises :class:`PageError` naming the file and key.
    """
    path = Path(ref)
    if path.suffix.lower() in _DECODERS:
        return _load_file(path)
    text = str(ref)
    if ":" not in text:
        raise PageError(
            [
                Problem(
                    page=text,
                    message="expected a page file (.toml, .json, .yaml) or 'module:attribute'",
                )
            ]
        )
    _ensure_on_path(Path.cwd())
    try:
        obj = import_ref(text)
    except RefError as exc:
        raise PageError([Problem(page=text, message=str(exc))]) from None
    if not isinstance(obj, Page):
        raise PageError(
            [Problem(page=text, message=f"{text!r} is a {type(obj).__name__}, not a schemas.Page")]
        )
    return obj


def _load_file(path: Path) -> Page:
    page = read_file(path, Page, page=path.stem)
    for directory in (Path.cwd(), path.resolve().parent):
        _ensure_on_path(directory)
    return _absolute_paths(page, path.resolve().parent)


def _absolute_paths(page: Page, directory: Path) -> Page:
    """The page with the file paths it names (layout, Jinja2 templates) made absolute, so a
    loaded page renders from anywhere."""

    def absolute(ref: str | None) -> str | None:
        return None if ref is None else str((directory / ref).resolve())

    changes: dict[str, Any] = {}
    if isinstance(page.layout, str):
        changes["layout"] = absolute(page.layout)
    if page.shell.jinja is not None:
        changes["shell"] = msgspec.structs.replace(page.shell, jinja=absolute(page.shell.jinja))
    if any(f.jinja is not None for f in page.fragments):
        changes["fragments"] = tuple(
            msgspec.structs.replace(f, jinja=absolute(f.jinja)) if f.jinja else f
            for f in page.fragments
        )
    return msgspec.structs.replace(page, **changes) if changes else page


def read_file(path: Path, type: type[T], *, page: str) -> T:
    """Decode a page or layout file; a problem names the file and the key."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        problem = Problem(page=page, file=str(path), message=exc.strerror or str(exc))
        raise PageError([problem]) from None
    decode = _DECODERS.get(path.suffix.lower())
    if decode is None:
        message = f"expected a .toml, .json or .yaml file, not {path.suffix or 'no suffix'!r}"
        raise PageError([Problem(page=page, file=str(path), message=message)])
    try:
        return decode(data, type=type)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        message, key = _split_key(str(exc))
        raise PageError([Problem(page=page, file=str(path), key=key, message=message)]) from None
    except msgspec.DecodeError as exc:
        raise PageError([Problem(page=page, file=str(path), message=str(exc))]) from None


def _split_key(message: str) -> tuple[str, str | None]:
    match = _AT_KEY.match(message)
    if match is None:
        return message, None
    return match["message"], match["key"]


def _ensure_on_path(directory: Path) -> None:
    entry = str(directory)
    if entry not in sys.path:
        sys.path.insert(0, entry)
