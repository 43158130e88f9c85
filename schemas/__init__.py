"""The declarative model of a page: msgspec Structs, decodable from TOML, JSON and YAML."""

from .page import Fragment, Layout, Mode, Page, Params, Priority, Query, Shell

__all__ = ["Fragment", "Layout", "Mode", "Page", "Params", "Priority", "Query", "Shell"]
