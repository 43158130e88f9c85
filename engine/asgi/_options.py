"""What an app lets a request choose, and the streaming-safe headers it sends by default."""

from __future__ import annotations

import re
import secrets
from typing import Literal

import attrs

from schemas import Mode

from .._errors import ParameterError
from ..caching import DEFAULT_STORE, CacheStore
from ..resolution.resolve import DEFAULT_SOURCES
from ..resolution.sources import Sources
from ..wire.format import SCRIPT_HASHES
from ._lifespan import GC_THRESHOLD

MODES: tuple[Mode, ...] = ("out-of-order", "in-order", "buffered")

CRAWLERS = (
    r"bot\b|crawl|spider|slurp|facebookexternalhit|embedly|quora link preview|outbrain"
    r"|pinterest|vkshare|w3c_validator|whatsapp|skypeuripreview|bingpreview|ia_archiver"
)
"""User agents that get one complete document (``crawler_mode``): indexers and link previews
read the final HTML, and a buffered render gives them the real status and a Content-Length."""


@attrs.frozen(kw_only=True)
class Options:
    """Per-app serving options; every streaming-safe default can be switched off.

    - ``cache_control``: the Cache-Control value (``no-store`` by default: a streamed page may
      carry per-request data or an in-band error, and must not be cached as if complete).
    - ``no_transform``: append ``no-transform`` so CDNs (Cloudflare) do not buffer to rewrite.
    - ``proxy_buffering``: when False (default) send ``X-Accel-Buffering: no``, which makes
      nginx pass each chunk on, gzip included.
    - ``identity_encoding``: send ``Content-Encoding: identity`` so compression middleware
      (Starlette, Django) leaves the stream alone.
    - ``csp``: ``"nonce"`` (a fresh nonce per response on every engine script) or ``"hash"``
      (the published SCRIPT_HASHES); sets a Content-Security-Policy header.
    - ``mode_param``: query parameter that picks the mode (``?mode=in-order``); None disables.
    - ``crawlers``/``crawler_mode``: a user-agent regex (None disables) and the mode it gets.
    - ``flush_stamps``: honour ``X-Engine-Flush-Stamps: 1`` (``engine diagnose``).
    - ``write_timeout``: seconds one send may block on a client that does not read; then the
      response is aborted and its queries cancelled.
    - ``sources``: the data sources' limits every render of this app shares
      (``engine.Sources``; docs/pages.md#sources).
    - ``tracing``: OpenTelemetry spans for every render, query and flush (docs/data.md#tracing):
      True sends them to the global tracer provider, a ``TracerProvider`` to that one. Needs
      ``pip install 'engine[otel]'``; off by default, and then costs nothing.
    - ``action_max_bytes``: the largest body a POST to an action may send (413 beyond).
    - ``cache``: the store of cached query results (``engine.MemoryStore()`` in process by
      default, ``engine.RedisStore(url)`` shared by workers; docs/data.md#caching).
    - ``freeze_heap``: at lifespan startup, once the resources are open, move everything the
      process holds into the garbage collector's permanent generation (``gc.freeze()``,
      once per process), so full collections stop walking the app's long-lived objects
      (docs/serving.md#garbage-collection).
    - ``gc_threshold``: at lifespan startup, collect the young generation only after this many
      net allocations (``gc.set_threshold``; never lowered; None leaves the process's own):
      finished renders leave no cycles for it to find (docs/serving.md#garbage-collection).
    """

    cache_control: str = "no-store"
    no_transform: bool = False
    proxy_buffering: bool = False
    identity_encoding: bool = False
    csp: Literal["nonce", "hash"] | None = None
    mode_param: str | None = "mode"
    crawlers: str | None = CRAWLERS
    crawler_mode: Mode = "buffered"
    flush_stamps: bool = True
    write_timeout: float | None = 30.0
    sources: Sources = DEFAULT_SOURCES
    tracing: object = False
    cache: CacheStore = DEFAULT_STORE
    action_max_bytes: int = 64 * 1024
    freeze_heap: bool = True
    gc_threshold: int | None = GC_THRESHOLD
    _crawler_re: re.Pattern[str] | None = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.crawler_mode not in MODES:
            raise ValueError(f"crawler_mode must be one of {', '.join(MODES)}")
        if self.gc_threshold is not None and self.gc_threshold < 1:
            raise ValueError("gc_threshold must be a positive number of allocations, or None")
        if self.csp not in (None, "nonce", "hash"):
            raise ValueError("csp must be 'nonce', 'hash' or None")
        pattern = re.compile(self.crawlers, re.IGNORECASE) if self.crawlers else None
        object.__setattr__(self, "_crawler_re", pattern)

    def choose_mode(self, default: Mode, query: dict[str, str], user_agent: str, page: str) -> Mode:
        """An explicit ``?mode=`` wins, then the crawler rule, then the page's own mode."""
        if self.mode_param and self.mode_param in query:
            asked = query[self.mode_param]
            for mode in MODES:
                if mode == asked:
                    return mode
            raise ParameterError(
                f"{self.mode_param}={asked!r}: expected one of {', '.join(MODES)}", page=page
            )
        if self._crawler_re is not None and self._crawler_re.search(user_agent):
            return self.crawler_mode
        return default

    def headers(self, nonce: str | None) -> list[tuple[bytes, bytes]]:
        """The headers every page and fragment response carries."""
        cache = self.cache_control + (", no-transform" if self.no_transform else "")
        out = [(b"content-type", b"text/html; charset=utf-8"), (b"cache-control", cache.encode())]
        if not self.proxy_buffering:
            out.append((b"x-accel-buffering", b"no"))
        if self.identity_encoding:
            out.append((b"content-encoding", b"identity"))
        if self.crawlers:
            out.append((b"vary", b"User-Agent"))
        if self.csp:
            out.append((b"content-security-policy", self._policy(nonce).encode()))
        return out

    def new_nonce(self) -> str | None:
        return secrets.token_urlsafe(18) if self.csp == "nonce" else None

    def _policy(self, nonce: str | None) -> str:
        sources = [f"'nonce-{nonce}'"] if nonce else [f"'{h}'" for h in SCRIPT_HASHES]
        return f"script-src 'self' {' '.join(sources)}; object-src 'none'; base-uri 'none'"
