"""``engine schema``: the JSON Schema of page files, for editors."""

from __future__ import annotations

import argparse
import sys

import msgspec

from schemas import Page


def page_schema() -> str:
    """The JSON Schema text kept in ``schemas/page.schema.json``."""
    schema = msgspec.json.schema(Page)
    return msgspec.json.format(msgspec.json.encode(schema), indent=2).decode() + "\n"


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("schema", help="print the JSON Schema of page files")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(page_schema())
    return 0
