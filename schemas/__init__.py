"""The declarative model of a page: msgspec Structs, decodable from TOML, JSON and YAML."""

from .page import (
    Action,
    Cache,
    Fragment,
    Layout,
    Mode,
    Navigation,
    Page,
    Params,
    Priority,
    Query,
    Shell,
)

__all__ = [
    "Action",
    "Cache",
    "Fragment",
    "Layout",
    "Mode",
    "Navigation",
    "Page",
    "Params",
    "Priority",
    "Query",
    "Shell",
]
