"""Checking that every peer renders the same page, modulo the wire.

Peers put the same sections on the wire in different envelopes: in document order (a
template rendered whole), inside ``<template>`` elements with a swap script (the engine,
hand-written out-of-order pages), inside React's hidden ``<div>`` boundaries. What must
not differ is each section's own HTML: ``<section data-section="i">...</section>``, byte
for byte, escaping included. ``section_mismatch`` finds each section in the de-chunked
body and compares it with the expected HTML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bench import client, page

if TYPE_CHECKING:
    from bench.servers import Server

SECTION = re.compile(rb'<section data-section="(\d+)">.*?</section>', re.DOTALL)
CONTEXT = 40  # bytes of each side shown around the first difference


def sections(body: bytes) -> dict[int, list[bytes]]:
    """Every ``<section data-section=i>`` element in ``body``, by section number.

    Sections do not nest, so the first ``</section>`` after a start closes it.
    """
    found: dict[int, list[bytes]] = {}
    for match in SECTION.finditer(body):
        found.setdefault(int(match.group(1)), []).append(match.group(0))
    return found


def first_difference(got: bytes, want: bytes) -> int:
    """The offset of the first byte where ``got`` and ``want`` differ (a length if a prefix)."""
    for k, (a, b) in enumerate(zip(got, want, strict=False)):
        if a != b:
            return k
    return min(len(got), len(want))


def section_mismatch(body: bytes, expected: Sequence[str]) -> str | None:
    """Why ``body`` does not hold exactly the ``expected`` sections once each, or None."""
    found = sections(body)
    extra = sorted(set(found) - set(range(len(expected))))
    if extra:
        return f"unexpected section(s) {extra}"
    for i, html in enumerate(expected):
        copies = found.get(i, [])
        if len(copies) != 1:
            return f"section {i} appears {len(copies)} times, expected once"
        got, want = copies[0], html.encode()
        if got != want:
            k = first_difference(got, want)
            lo = max(0, k - CONTEXT)
            return (
                f"section {i} differs at byte {k} of {len(want)}: got "
                f"{got[lo : k + CONTEXT]!r}, expected {want[lo : k + CONTEXT]!r}"
            )
    return None


def verify(server: Server, path: str) -> dict[str, Any]:
    """Fetch ``path`` once; check status, completion, every marker and every section's bytes."""
    expected = page.expected_sections(path)
    r = client.fetch(
        server.port, path, [page.marker(i) for i in range(len(expected))], timeout=30,
        keep_body=True,
    )  # fmt: skip
    body = r.pop("body")
    error = r["error"] or section_mismatch(body, expected)
    if error:
        raise RuntimeError(f"{server.peer.name} {path}: {error}")
    return r
