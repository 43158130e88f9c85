"""Throughput scenarios (S2, S4, S5): wrk at fixed concurrency against each peer's page.

Each run starts every peer's server afresh (peer order rotated between runs), checks the
page's bytes once (``bench.verify``), warms up, then measures. Ratios between an engine peer
and every other peer are taken pair by pair inside each run, then the median over runs.
"""

from __future__ import annotations

from typing import Any

from bench import load, page
from bench.servers import CLIENT_CPU, SERVER_CPU, Peer, Server, loadavg, log
from bench.stats import summary
from bench.verify import verify


def measure(srv: Server, path: str, concurrency: int, duration: float, warmup: float) -> Any:
    """Verify ``path`` on a running server, warm it up, then one wrk measurement."""
    v = verify(srv, path)
    url = f"http://127.0.0.1:{srv.port}{path}"
    if warmup:
        load.run_wrk(url, concurrency, warmup, cpu=CLIENT_CPU)
    la = loadavg()
    cpu0 = srv.cpu_s()
    w = load.run_wrk(url, concurrency, duration, cpu=CLIENT_CPU)
    cpu = srv.cpu_s() - cpu0
    w["loadavg"] = la
    w["server_cpu_s"] = round(cpu, 3)
    # wrk counts responses it finished reading; the server may be midway through a few more.
    w["cpu_ms_per_request"] = round(1000 * cpu / w["requests"], 3) if w["requests"] else None
    w["body_bytes"] = v["body_bytes"]
    w["server_rss_kib"] = srv.rss_kib()
    return w


def _line(w: dict[str, Any]) -> str:
    return (
        f"{w['rps']:>9.1f} req/s  p50 {w['latency_ms']['p50']} ms  "
        f"p99 {w['latency_ms']['p99']} ms  errors {w['error_count']}  "
        f"server CPU {w['cpu_ms_per_request']} ms/request"
    )


def rates(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Summary of one peer's measurements over runs."""
    return {
        "rps": summary((r["rps"] for r in rows), 1),
        "latency_p50_ms": summary(r["latency_ms"]["p50"] for r in rows),
        "latency_p99_ms": summary(r["latency_ms"]["p99"] for r in rows),
        "errors": sum(r["error_count"] for r in rows),
        "body_bytes": rows[0]["body_bytes"],
        "cpu_ms_per_request": summary(r.get("cpu_ms_per_request") for r in rows),
    }


def ratios(runs: list[dict[str, Any]], peers: list[Peer]) -> dict[str, Any]:
    """``engine/peer``: the median over runs of the pair's req/s ratio within each run."""
    out: dict[str, Any] = {}
    for a in [p.name for p in peers if p.family == "engine"]:
        for b in [p.name for p in peers if p.name != a]:
            rs = [r[a]["rps"] / r[b]["rps"] for r in runs if a in r and b in r and r[b]["rps"]]
            if rs:
                out[f"{a}/{b}"] = summary(rs, 3)
    return out


def run(
    scenario: str,
    peers: list[Peer],
    runs: int,
    duration: float,
    warmup: float,
    *,
    engine_also: str | None = None,
) -> dict[str, Any]:
    """``scenario``'s page against every peer that serves it, ``runs`` times.

    ``engine_also`` names a second scenario measured on each engine peer's same server right
    after the first (S5 takes the engine's own S2 throughput so), kept under ``also``.
    """
    cfg = page.SCENARIOS[scenario]
    path, concurrency = cfg["path"], cfg["concurrency"]
    tag = f"-{scenario.lower()}"
    all_runs: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    for k in range(runs):
        this: dict[str, Any] = {}
        order = peers[k % len(peers) :] + peers[: k % len(peers)] if peers else []
        for p in order:
            if p.name in failed:
                continue
            try:
                with Server(p, SERVER_CPU, tag) as srv:
                    w = this[p.name] = measure(srv, path, concurrency, duration, warmup)
                    log(f"{scenario} run {k + 1}/{runs} {p.name:21s} {scenario} {_line(w)}")
                    if engine_also and p.family == "engine":
                        other = page.SCENARIOS[engine_also]["path"]
                        w2 = measure(srv, other, concurrency, duration, warmup)
                        w["also"] = {engine_also: w2}
                        log(f"{scenario} run {k + 1}/{runs} {p.name:21s} {engine_also} {_line(w2)}")
            except Exception as exc:  # a broken peer is reported, the others still run
                failed[p.name] = str(exc)
                this.pop(p.name, None)
                log(f"{scenario} {p.name}: FAILED {exc}")
        all_runs.append(this)
    return aggregate(scenario, all_runs, peers, failed, engine_also)


def aggregate(
    scenario: str,
    all_runs: list[dict[str, Any]],
    peers: list[Peer],
    failed: dict[str, str],
    engine_also: str | None = None,
) -> dict[str, Any]:
    """Each peer's summary over runs, the pairwise ratios, and the engine's second scenario."""
    out: dict[str, Any] = {"runs": all_runs, "peers": {}, "ratios": {}, "failed": failed}
    for p in peers:
        rows = [r[p.name] for r in all_runs if p.name in r]
        if rows:
            out["peers"][p.name] = rates(rows)
    out["ratios"] = ratios(all_runs, peers)
    if engine_also:
        out["also"] = {}
        for p in peers:
            pairs = [r[p.name] for r in all_runs if "also" in r.get(p.name, {})]
            if pairs:
                out["also"][p.name] = {
                    engine_also: rates([w["also"][engine_also] for w in pairs]),
                    f"{scenario}/{engine_also}": summary(
                        (
                            w["rps"] / w["also"][engine_also]["rps"]
                            for w in pairs
                            if w["also"][engine_also]["rps"]  # none finished: no ratio
                        ),
                        3,
                    ),
                }
    return out
