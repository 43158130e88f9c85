"""The scenario runners: S1 (slow data), S2 (throughput), S3 (open streams), profile."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import client, load, page, throughput
from bench.servers import (
    CLIENT_CPU,
    NODE_DIR,
    RESULTS,
    ROOT,
    SERVER_CPU,
    Peer,
    Server,
    log,
    pin_self,
)  # fmt: skip
from bench.stats import quantile, summary
from bench.verify import verify

S3_LARGE = 10_000  # the second S3 step ("then show the same at 10,000 open streams")
# Opening 10,000 connections takes longer than S3's 5 s wait on the slower servers, so the
# first streams would end before the last open. This step holds each stream 30 s instead,
# so that all 10,000 are open at once when memory is sampled.
S3_LARGE_LATENCY_MS = 30_000
# Peers whose S3 behaviour is already covered by another peer (one section, same server)
# are left out of the 10,000-stream step to keep the full run near 20 minutes.
S3_LARGE_SKIP = {"react-microtask", "starlette-inorder", "jinja-async"}


@dataclass
class Settings:
    """Scenario parameters as read from scenarios.json, shrunk by --quick."""

    quick: bool = False
    runs: int = 3
    #: Runs of S4 and S5 (each adds a dozen peers at 12 s; two keep the full run near 25 min).
    more_runs: int = 2

    def __post_init__(self) -> None:
        sc = page.SCENARIOS
        self.s1_repeats = 2 if self.quick else sc["S1"]["repeats"]
        self.s1_warmup = 1 if self.quick else sc["S1"]["warmup"]
        self.s2_duration = 1 if self.quick else sc["S2"]["duration_s"]
        self.s2_warmup = 0 if self.quick else sc["S2"]["warmup_s"]
        self.s2_concurrency = sc["S2"]["concurrency"]
        self.s3_connections = 50 if self.quick else sc["S3"]["connections"]
        # The smoke run shortens S3's wait (servers read it from the environment).
        self.s3_latency_ms = 500 if self.quick else sc["S3"]["latency_ms"]
        self.s3_deadline_s = sc["S3"]["first_byte_deadline_s"]
        self.s3_large = 0 if self.quick else S3_LARGE
        self.s4_duration = 1 if self.quick else sc["S4"]["duration_s"]
        self.s4_warmup = 0 if self.quick else sc["S4"]["warmup_s"]
        self.s5_duration = 1 if self.quick else sc["S5"]["duration_s"]
        self.s5_warmup = 1 if self.quick else sc["S5"]["warmup_s"]  # the warmup fills the cache
        self.s6_repeats = 3 if self.quick else sc["S6"]["repeats"]
        self.s6_warmup = 1 if self.quick else sc["S6"]["warmup"]
        if self.quick:
            self.runs = self.more_runs = 1


# ---------------------------------------------------------------------------------------
# Machine description
# ---------------------------------------------------------------------------------------
def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cmd(argv: Sequence[str]) -> str | None:
    if not shutil.which(argv[0]):
        return None
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (
        (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else None
    )


def machine() -> dict[str, Any]:
    cpu_model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_kib = None
    with contextlib.suppress(OSError):
        m = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        mem_kib = int(m.group(1)) if m else None
    react = None
    with contextlib.suppress(OSError, ValueError):
        import json

        react = json.loads((NODE_DIR / "node_modules/react/package.json").read_text())["version"]
    versions = {
        "python": platform.python_version(),
        **{d: _version(d) for d in ("trio", "hypercorn", "uvicorn", "starlette", "jinja2",
                                    "h11", "anyio", "msgspec", "markupsafe", "engine")},
        "node": _cmd(["node", "--version"]),
        "react": react,
        "wrk": (_cmd(["wrk", "--version"]) or "").split(" [")[0] or None,
    }  # fmt: skip
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "mem_gib": round(mem_kib / 1024 / 1024, 1) if mem_kib else None,
        "kernel": platform.release(),
        "os": _cmd(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "versions": versions,
        "server_cpu": SERVER_CPU,
        "client_cpu": CLIENT_CPU,
    }


def ensure_react(log_fn: Callable[[str], None] = log) -> str | None:
    """Install React 19 into bench/.node when node and npm exist; returns a skip reason or None."""
    if (NODE_DIR / "node_modules" / "react-dom").is_dir():
        return None
    if not shutil.which("node") or not shutil.which("npm"):
        return "node/npm not found: the React peer is skipped"
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    pkg = NODE_DIR / "package.json"
    if not pkg.exists():
        pkg.write_text('{"name": "bench-react-peer", "private": true, "version": "0.0.0"}\n')
    log_fn("installing react@19 and react-dom@19 into bench/.node (npm)")
    proc = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--silent", "react@19", "react-dom@19"],
        cwd=NODE_DIR, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        return f"npm install failed: {proc.stderr.strip()[-300:]}"
    return None


# ---------------------------------------------------------------------------------------
# S1
# ---------------------------------------------------------------------------------------
def run_s1(peers: list[Peer], st: Settings) -> dict[str, Any]:
    cfg = page.SCENARIOS["S1"]
    path = cfg["path"]
    lat_ms = cfg["latencies_ms"]
    markers = [page.marker(i) for i in range(len(lat_ms))]
    raw: dict[str, list[dict[str, Any]]] = {p.name: [] for p in peers}
    failed: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        servers: dict[str, Server] = {}
        for p in peers:
            try:
                servers[p.name] = stack.enter_context(Server(p, SERVER_CPU, "-s1"))
                verify(servers[p.name], path)
            except Exception as exc:  # a broken peer is reported, the others still run
                failed[p.name] = str(exc)
                log(f"S1 {p.name}: FAILED {exc}")
        live = [p for p in peers if p.name in servers and p.name not in failed]
        total = st.s1_warmup + st.s1_repeats
        log(f"S1: {len(live)} peers x {total} requests (warmup {st.s1_warmup}), interleaved")
        for rep in range(total):
            k = rep % max(1, len(live))
            for p in live[k:] + live[:k]:  # rotate the order each round
                r = client.fetch(servers[p.name].port, path, markers)
                if rep >= st.s1_warmup:
                    raw[p.name].append(r)
    out: dict[str, Any] = {"latencies_ms": lat_ms, "peers": {}, "failed": failed}
    for p in peers:
        rs = raw[p.name]
        if not rs:
            continue
        ok = [r for r in rs if not r["error"]]
        sections = [summary(r["sections_ms"][i] for r in ok) for i in range(len(lat_ms))]
        lag = [
            None if s["median"] is None else round(s["median"] - lat_ms[i], 3)
            for i, s in enumerate(sections)
        ]
        out["peers"][p.name] = {
            "requests": len(rs),
            "errors": [r["error"] for r in rs if r["error"]],
            "connect_ms": summary(r["connect_ms"] for r in ok),
            "first_body_ms": summary(r["first_body_ms"] for r in ok),
            "sections_ms": sections,
            "section_lag_ms": lag,
            "max_section_lag_ms": max((x for x in lag if x is not None), default=None),
            "last_byte_ms": summary(r["last_byte_ms"] for r in ok),
            "body_bytes": summary((r["body_bytes"] for r in ok), 0),
            "reads": summary((r["reads"] for r in ok), 0),
            "raw": [
                {k: r[k] for k in ("first_body_ms", "sections_ms", "last_byte_ms", "error")}
                for r in rs
            ],
        }
        s = out["peers"][p.name]
        log(
            f"S1 {p.name:18s} first byte {s['first_body_ms']['median']} ms, "
            f"worst section lag {s['max_section_lag_ms']} ms, "
            f"last byte {s['last_byte_ms']['median']} ms"
        )
    return out


# ---------------------------------------------------------------------------------------
# S2
# ---------------------------------------------------------------------------------------
def run_s2(peers: list[Peer], st: Settings) -> dict[str, Any]:
    return throughput.run("S2", peers, st.runs, st.s2_duration, st.s2_warmup)


def run_s4(peers: list[Peer], st: Settings) -> dict[str, Any]:
    return throughput.run("S4", peers, st.more_runs, st.s4_duration, st.s4_warmup)


def run_s5(peers: list[Peer], st: Settings) -> dict[str, Any]:
    """S5, and on each engine peer's same server its S2 throughput (the target is a ratio)."""
    from bench.peers import engine_app

    if engine_app.cache_policy() is None:
        log("S5: the engine has no query caching (schemas.Cache) yet: its peers are left out")
        peers = [p for p in peers if p.family != "engine"]
    return throughput.run("S5", peers, st.more_runs, st.s5_duration, st.s5_warmup, engine_also="S2")


# ---------------------------------------------------------------------------------------
# S3
# ---------------------------------------------------------------------------------------
def run_s3(
    peers: list[Peer], st: Settings, n: int, latency_ms: int | None = None
) -> dict[str, Any]:
    cfg = page.SCENARIOS["S3"]
    path = cfg["path"]
    deadline_ms = cfg["first_byte_deadline_s"] * 1000
    if latency_ms is None:
        latency_ms = st.s3_latency_ms
    saved = os.environ.get(page.S3_LATENCY_ENV)
    os.environ[page.S3_LATENCY_ENV] = str(latency_ms)  # read by the servers at start
    try:
        return _run_s3(peers, n, path, deadline_ms, latency_ms, 3 if st.quick else 20)
    finally:
        if saved is None:
            os.environ.pop(page.S3_LATENCY_ENV, None)
        else:
            os.environ[page.S3_LATENCY_ENV] = saved


def _run_s3(
    peers: list[Peer], n: int, path: str, deadline_ms: float, latency_ms: int, warm: int = 20
) -> dict[str, Any]:
    markers = [page.marker(0)]
    out: dict[str, Any] = {"connections": n, "latency_ms": latency_ms, "peers": {}, "failed": {}}
    for p in peers:
        try:
            with Server(p, SERVER_CPU, f"-s3-{n}") as srv:
                for _ in range(warm):  # warm the code paths, not the per-connection state
                    verify(srv, page.SCENARIOS["S2"]["path"])
                time.sleep(0.5)
                base = min(srv.rss_kib() for _ in range(3))
                res = asyncio.run(
                    client.open_streams(
                        srv.port, path, n, markers,
                        stream_timeout=latency_ms / 1000 + 60, sample=srv.rss_kib,
                    )
                )  # fmt: skip
                time.sleep(0.3)
                after = srv.rss_kib()
        except Exception as exc:
            out["failed"][p.name] = str(exc)
            log(f"S3 {n} {p.name}: FAILED {exc}")
            continue
        results = res["results"]
        fb = [r["first_body_ms"] for r in results if r["first_body_ms"] is not None]
        samples = res["samples"]
        max_open = max((s[2] for s in samples), default=0)
        plateau = [s for s in samples if max_open and s[2] >= 0.99 * max_open]
        rss_open = max((s[1] for s in plateau), default=base)
        complete = sum(1 for r in results if not r["error"])
        out["peers"][p.name] = {
            "rss_base_kib": base,
            "rss_open_kib": rss_open,
            "rss_after_kib": after,
            "max_open": max_open,
            "kib_per_stream": round((rss_open - base) / max_open, 2) if max_open else None,
            "first_body_ms": {
                **summary(fb),
                "p99": None if not fb else round(quantile(fb, 0.99), 3),
            },
            "within_deadline": sum(1 for v in fb if v <= deadline_ms),
            "deadline_ms": deadline_ms,
            "completed": complete,
            "connect_errors": len(res["connect_errors"]),
            "errors": sorted({r["error"] for r in results if r["error"]})[:5],
            "wall_s": round(res["wall_s"], 2),
        }
        s = out["peers"][p.name]
        log(
            f"S3 {n} {p.name:18s} {s['kib_per_stream']} KiB/stream (open {max_open}), "
            f"first byte max {s['first_body_ms']['max']} ms, within {deadline_ms:.0f} ms: "
            f"{s['within_deadline']}/{n}, completed {complete}/{n}"
        )
    return out


# ---------------------------------------------------------------------------------------
# S2's page without a server
# ---------------------------------------------------------------------------------------
def run_render(st: Settings, engine_ok: bool) -> dict[str, Any]:
    """``bench.micro`` in a fresh process pinned to the server core."""
    import json
    import sys

    argv = [sys.executable, "-m", "bench.micro"]
    argv += ["--quick"] if st.quick else []
    argv += [] if engine_ok else ["--no-engine"]
    if shutil.which("taskset"):
        argv = ["taskset", "-c", str(SERVER_CPU), *argv]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bench.micro failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------
# Profile of the engine in S2
# ---------------------------------------------------------------------------------------
def run_profile(
    peer: Peer, st: Settings, duration_s: float = 10.0, tag: str = "", scenario: str = "S2"
) -> dict[str, Any]:
    """py-spy samples the engine's server process while wrk runs ``scenario`` against it."""
    from bench import profile

    spy = shutil.which("py-spy")
    if spy is None:
        return {"skipped": "py-spy is not installed (pip install py-spy)"}
    cfg = page.SCENARIOS[scenario]
    path = cfg["path"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    raw_path = RESULTS / f"profile-{peer.name}-{scenario}{tag}.txt"
    svg_path = RESULTS / f"profile-{peer.name}-{scenario}{tag}.svg"
    with Server(peer, SERVER_CPU, "-profile") as srv:
        verify(srv, path)
        url = f"http://127.0.0.1:{srv.port}{path}"
        load.run_wrk(url, st.s2_concurrency, 2 if not st.quick else 1, cpu=CLIENT_CPU)
        d = 2 if st.quick else duration_s
        common = ["--pid", str(srv.pid), "--duration", str(int(d)), "--rate", "250"]
        spy_raw = subprocess.Popen(
            ["taskset", "-c", str(CLIENT_CPU), spy, "record", *common,
             "--format", "raw", "--output", str(raw_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(0.5)
        w = load.run_wrk(url, st.s2_concurrency, d, cpu=CLIENT_CPU)
        try:
            _, err = spy_raw.communicate(timeout=d + 60)
        except subprocess.TimeoutExpired:
            spy_raw.kill()
            _, err = spy_raw.communicate()
        if not raw_path.exists():
            return {"skipped": f"py-spy produced no profile: {err.strip()[-300:]}"}
    profile.flamegraph_svg(raw_path, svg_path)
    summary_ = profile.summarize(raw_path)
    summary_["rps_while_sampled"] = w["rps"]
    summary_["raw_file"] = str(raw_path.relative_to(ROOT))
    summary_["flamegraph_file"] = str(svg_path.relative_to(ROOT))
    return summary_


def pin_client() -> None:
    pin_self(CLIENT_CPU)
