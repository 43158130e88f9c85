"""The declarative model of a page: msgspec Structs, decodable from TOML, JSON and YAML."""

from .page import Fragment, Mode, Page, Priority, Query, Shell

__all__ = ["Fragment", "Mode", "Page", "Priority", "Query", "Shell"]
