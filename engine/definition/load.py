"""Loading pages from files (TOML, JSON, YAML) or from ``module:attr`` references.

File errors name the file and the key (msgspec's ``$.path``), so a user can jump to
the line that is wrong. Whatever the bytes (binary, another encoding, nested 50,000
deep, a key written twice), the outcome is a page or a :class:`PageError`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from schemas import Page

from .._errors import PageError, Problem
from .decode import MAX_FILE_BYTES, FileProblem, decode_file
from .refs import RefError, import_ref
from .validate import structure_problems

__all__ = ["MAX_FILE_BYTES", "PAGE_SUFFIXES", "load", "read_file"]

T = TypeVar("T", bound=msgspec.Struct)

PAGE_SUFFIXES = (".toml", ".json", ".yaml", ".yml")


def load(ref: str | Path) -> Page:
    """Load a page from a page file path or a ``"module:attr"`` reference.

    Module names inside a page file resolve from the current directory and from the
    file's own directory. Raises :class:`PageError` naming the file and key.
    """
    path = Path(ref)
    if path.suffix.lower() in PAGE_SUFFIXES:
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
    name = path.stem
    page = read_file(path, Page, page=name)
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
    """Decode a page or layout file; every problem names the file and the key.

    A page file's own ``name`` names the page in its problems, once it can be read.
    """
    try:
        data = decode_file(path)
    except FileProblem as problem:
        raise PageError(
            [Problem(page=page, file=str(path), key=problem.key, message=str(problem))]
        ) from None
    if type is Page and isinstance(data, dict) and isinstance(data.get("name"), str):
        page = data["name"] or page
    problems = structure_problems(data, type, page=page, file=str(path), python=False)
    if problems:
        raise PageError(problems)
    return msgspec.convert(data, type)


def _ensure_on_path(directory: Path) -> None:
    entry = str(directory)
    if entry not in sys.path:
        sys.path.insert(0, entry)
