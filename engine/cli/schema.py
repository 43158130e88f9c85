"""``engine schema``: the JSON Schema of page files, for editors."""

from __future__ import annotations

import argparse
import inspect
import sys
from typing import Any

import msgspec

from schemas import Page


def page_schema() -> str:
    """The JSON Schema text kept in ``schemas/page.schema.json``."""
    schema = _clean_descriptions(msgspec.json.schema(Page))
    return msgspec.json.format(msgspec.json.encode(schema), indent=2).decode() + "\n"


def _clean_descriptions(node: Any) -> Any:
    """Dedent every description ourselves: msgspec 0.23 dedents docstrings and 0.22 did not,
    and the committed file must not depend on which one is installed."""
    if isinstance(node, dict):
        return {
            key: inspect.cleandoc(value)
            if key == "description" and isinstance(value, str)
            else _clean_descriptions(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_clean_descriptions(item) for item in node]
    return node


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("schema", help="print the JSON Schema of page files")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(page_schema())
    return 0
