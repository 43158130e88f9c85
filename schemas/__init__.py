"""The declarative model of a page: msgspec Structs, decodable from TOML, JSON and YAML."""

from .page import Cache, Fragment, Layout, Mode, Page, Params, Priority, Query, Shell

__all__ = ["Cache", "Fragment", "Layout", "Mode", "Page", "Params", "Priority", "Query", "Shell"]
