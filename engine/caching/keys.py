"""Cache keys: every input of a query's call, so different inputs never share an entry.

A key is the SHA-256 of one msgpack document holding the query's identity (entry family,
version, callable, result type), each request parameter as (name, source, present, value) and
each dependency's value. msgpack is self-delimiting, so the document is injective: two calls
share a key only if every one of those parts encodes to the same bytes (equal values that
encode differently, such as a dict in another order, only cost a miss).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from ..definition.caching import CachePolicy
from ..definition.nodes import QueryNode

__all__ = ["UnkeyableInput", "cache_key", "constant_key"]

_encode = msgspec.msgpack.Encoder().encode


class UnkeyableInput(Exception):
    """An input value msgpack cannot encode (a query declared with an ``any`` result that
    returns an arbitrary object): such a call is made uncached, never keyed partially."""


def cache_key(
    policy: CachePolicy,
    q: QueryNode,
    params: Mapping[str, Any],
    dependencies: Sequence[Any],
) -> str:
    """The store key of one call of ``q``: ``family/sha256``; raises :class:`UnkeyableInput`."""
    if not q.params and not dependencies:  # no inputs: one key, hashed once
        return constant_key(policy)
    parameters: list[tuple[str, str, bool, Any]] = [
        (name, q.sources.get(name, ""), True, params[name])
        if name in params
        else (name, q.sources.get(name, ""), False, None)
        for name in q.params
    ]
    return _hashed(policy, parameters, dependencies)


def constant_key(policy: CachePolicy) -> str:
    """The key of a query without inputs: one per policy, hashed once."""
    key = _CONSTANT.get(policy.identity)
    if key is None:
        key = _CONSTANT[policy.identity] = _hashed(policy, [], [])
    return key


_CONSTANT: dict[str, str] = {}
"""The key of each query without inputs, by identity (a bounded set: one per declared query)."""


def _hashed(
    policy: CachePolicy, parameters: list[tuple[str, str, bool, Any]], dependencies: Sequence[Any]
) -> str:
    try:
        document = _encode((policy.identity, parameters, dependencies))
    except (TypeError, ValueError, OverflowError) as exc:
        raise UnkeyableInput(str(exc)) from exc
    return f"{policy.family}/{hashlib.sha256(document).hexdigest()}"
