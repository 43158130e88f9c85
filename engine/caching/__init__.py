"""Query results kept across requests: keys, stores, single flight (docs/data.md#caching)."""

from .lookup import Lookup
from .redis import RedisStore
from .stores import DEFAULT_STORE, CacheStore, Entry, Found, MemoryStore, StoreUnavailable

__all__ = [
    "DEFAULT_STORE",
    "CacheStore",
    "Entry",
    "Found",
    "Lookup",
    "MemoryStore",
    "RedisStore",
    "StoreUnavailable",
]
