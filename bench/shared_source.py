"""S6, the shared-source page: calls made to the source, time to the high-priority fragment,
last byte, for each variant a peer serves (``GET /s6/variants``), with and without the
engine's batching and admission.

Requests go one at a time on fresh connections (as in S1), the variants interleaved, so that
each page has the source to itself: what is measured is how one render uses a limited
source, not how renders share it. After each page the client reads the source's counters
(``GET /s6/calls``, which also resets them).
"""

from __future__ import annotations

import json
import socket
from typing import Any

from bench import client, page
from bench.servers import SERVER_CPU, Peer, Server, log
from bench.stats import summary
from bench.verify import verify


def get_json(port: int, path: str) -> Any:
    """A small JSON GET on a fresh connection (the peer's counters and variant list)."""
    with socket.create_connection((client.HOST, port), timeout=10) as s:
        s.sendall(client.request_bytes(path, port))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"GET {path}: {head.splitlines()[0]!r}")
    return json.loads(body)


def _variant_summary(rows: list[dict[str, Any]], high: int) -> dict[str, Any]:
    ok = [r for r in rows if not r["error"]]
    return {
        "requests": len(rows),
        "errors": sorted({r["error"] for r in rows if r["error"]})[:5],
        "calls": summary((r["calls"]["calls"] for r in ok), 1),
        "keys": summary((r["calls"]["keys"] for r in ok), 1),
        "max_in_flight": max((r["calls"]["max_in_flight"] for r in ok), default=None),
        "first_body_ms": summary(r["first_body_ms"] for r in ok),
        "high_priority_ms": summary(r["sections_ms"][high] for r in ok),
        "first_section_ms": summary(min(r["sections_ms"]) for r in ok),
        "last_byte_ms": summary(r["last_byte_ms"] for r in ok),
    }


def run(peers: list[Peer], repeats: int, warmup: int) -> dict[str, Any]:
    cfg = page.S6
    n, high = cfg["fragments"], cfg["high_priority_fragment"]
    markers = [page.marker(i) for i in range(n)]
    out: dict[str, Any] = {"peers": {}, "failed": {}}
    for p in peers:
        try:
            with Server(p, SERVER_CPU, "-s6") as srv:
                labels: dict[str, str] = get_json(srv.port, f"{cfg['path']}/variants")
                variants = list(labels)
                raw: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
                for v in variants:
                    verify(srv, v)
                    get_json(srv.port, f"{cfg['path']}/calls")  # zero the counters
                for rep in range(warmup + repeats):
                    k = rep % len(variants)
                    for v in variants[k:] + variants[:k]:  # rotate the order each round
                        r = client.fetch(srv.port, v, markers)
                        r["calls"] = get_json(srv.port, f"{cfg['path']}/calls")
                        if rep >= warmup:
                            raw[v].append(r)
        except Exception as exc:  # a broken peer is reported, the others still run
            out["failed"][p.name] = str(exc)
            log(f"S6 {p.name}: FAILED {exc}")
            continue
        out["peers"][p.name] = {
            v: {"label": labels[v], **_variant_summary(rows, high)} for v, rows in raw.items()
        }
        for v, s in out["peers"][p.name].items():
            log(
                f"S6 {p.name} {v:16s} calls {s['calls']['median']}, at once "
                f"{s['max_in_flight']}, high-priority fragment {s['high_priority_ms']['median']}"
                f" ms, last byte {s['last_byte_ms']['median']} ms"
            )
    return out
