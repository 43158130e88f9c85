"""docs/benchmarks.md, its pictures and docs/benchmarks.json, regenerated from a results file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import report_pages, svg
from bench.servers import ROOT

DOCS = ROOT / "docs"
IMG = DOCS / "img"
NOTES = Path(__file__).with_name("NOTES.md")

# Targets from issue 4, as ratios against peers measured in the same run.
S1_FIRST_BYTE_SLACK_MS = 1.0
S1_SECTION_SLACK_MS = 2.0
S1_LAST_BYTE_FACTOR = 1.01
S3_KIB_PER_STREAM = 15.0
S3_FIRST_BYTE_MS = 250.0
S2_REACT_AIM = 2.0


def _f(v: float | None, digits: int = 1, unit: str = "") -> str:
    if v is None:
        return "–"
    return f"{v:,.{digits}f}{unit}"


def _ok(flag: bool | None) -> str:
    return "–" if flag is None else ("**yes**" if flag else "no")


def _spread(s: dict[str, Any], digits: int = 1) -> str:
    if not s or s.get("median") is None:
        return "–"
    return f"{_f(s['median'], digits)} ({_f(s['p10'], digits)}–{_f(s['p90'], digits)})"


def _range(s: dict[str, Any], digits: int = 0) -> str:
    if not s or s.get("median") is None:
        return "–"
    return f"{_f(s['median'], digits)} ({_f(s['min'], digits)}–{_f(s['max'], digits)})"


def targets(res: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(target, engine peer, measured, met) rows."""
    rows: list[tuple[str, str, str, bool | None]] = []
    engines = [p for p in res["peers"] if p["family"] == "engine" and p.get("ran")]
    s1 = res.get("S1", {}).get("peers", {})
    s2 = res.get("S2", {})
    for p in engines:
        e = p["name"]
        if e in s1:
            d = s1[e]
            bare = report_pages.BARE.get(p["server"], "bare")
            bare = bare if bare in s1 else "bare"
            if bare in s1:
                diff = d["first_body_ms"]["median"] - s1[bare]["first_body_ms"]["median"]
                rows.append((
                    f"S1 first byte within {S1_FIRST_BYTE_SLACK_MS:g} ms of {bare}'s", e,
                    f"{diff:+.2f} ms", diff <= S1_FIRST_BYTE_SLACK_MS,
                ))  # fmt: skip
            ref = s1.get(bare)
            lag = d["max_section_lag_ms"]
            ref_lag = f" ({bare}: {_f(ref['max_section_lag_ms'], 2)} ms)" if ref else ""
            rows.append((
                f"S1 every section within {S1_SECTION_SLACK_MS:g} ms of its latency", e,
                f"worst median lag {_f(lag, 2)} ms{ref_lag}",
                None if lag is None else lag <= S1_SECTION_SLACK_MS,
            ))  # fmt: skip
            slowest = max(res["S1"]["latencies_ms"])
            lb = d["last_byte_ms"]["median"]
            ref_lb = f" ({bare}: {ref['last_byte_ms']['median'] / slowest:.3f}x)" if ref else ""
            rows.append((
                f"S1 last byte within {S1_LAST_BYTE_FACTOR}x the slowest latency", e,
                f"{_f(lb, 1)} ms = {lb / slowest:.3f}x{ref_lb}",
                lb <= S1_LAST_BYTE_FACTOR * slowest,
            ))  # fmt: skip
        ratios = s2.get("ratios", {})
        if ratios:
            others = {
                k.split("/", 1)[1]: v for k, v in ratios.items()
                if k.startswith(e + "/") and not k.split("/", 1)[1].startswith(("bare", "engine"))
            }  # fmt: skip
            if others:
                worst_name, worst = min(others.items(), key=lambda kv: kv[1]["median"])
                rows.append((
                    "S2 more req/s than every peer", e,
                    f"lowest ratio {worst['median']:.2f}x (vs {worst_name})",
                    worst["median"] > 1.0,
                ))  # fmt: skip
            if "react" in others:
                r = others["react"]["median"]
                rows.append((f"S2 aim: {S2_REACT_AIM:g}x React", e, f"{r:.2f}x", r >= S2_REACT_AIM))
        for key in ("S3", "S3_large"):
            s3 = res.get(key, {}).get("peers", {})
            if e in s3:
                d = s3[e]
                n = res[key]["connections"]
                kib = d["kib_per_stream"]
                rows.append((
                    f"S3 at most {S3_KIB_PER_STREAM:g} KiB per open stream ({n:,})", e,
                    f"{_f(kib, 1)} KiB", None if kib is None else kib <= S3_KIB_PER_STREAM,
                ))  # fmt: skip
                fbmax = d["first_body_ms"]["max"]
                ok = d["within_deadline"] == n and fbmax is not None and fbmax <= S3_FIRST_BYTE_MS
                rows.append((
                    f"S3 all {n:,} first bytes within {S3_FIRST_BYTE_MS:g} ms", e,
                    f"max {_f(fbmax, 0)} ms, {d['within_deadline']:,}/{n:,} within "
                    f"{d['deadline_ms']:.0f} ms, {d['max_open']:,} open at once", ok,
                ))  # fmt: skip
    return rows + report_pages.targets(res)


def render(res: dict[str, Any], results_name: str) -> str:
    m = res["meta"]
    mach = m["machine"]
    v = mach["versions"]
    peers = res["peers"]
    out: list[str] = []
    w = out.append
    w("# Benchmarks\n")
    w(
        "_Generated by `python -m bench` "
        f"({'quick smoke run' if m['quick'] else 'full run'}) on {m['started']}; "
        "do not edit by hand: change `bench/` and run it again._\n"
    )
    w(
        "The engine against the servers and templates a Python developer would pick instead,"
        " and against React 19's streaming renderer, all serving the same page on the same"
        " machine in the same invocation. Scenarios and their parameters come from"
        " [`bench/scenarios.json`](../bench/scenarios.json).\n"
    )
    rows = targets(res)
    if rows:
        w("## Targets (issues 4 and 11)\n")
        w("| target | peer | measured | met |")
        w("| --- | --- | --- | --- |")
        for t, e, meas, ok in rows:
            w(f"| {t} | {e} | {meas} | {_ok(ok)} |")
        w("")

    w("## Machine\n")
    w("| | |")
    w("| --- | --- |")
    w(f"| CPU | {mach['cpu_model']}, {mach['nproc']} cores (`nproc`) |")
    w(f"| memory | {mach['mem_gib']} GiB |")
    w(f"| OS | {mach['os']}, Linux {mach['kernel']} |")
    w(
        f"| pinning | servers on core {mach['server_cpu']}, client and wrk on core "
        f"{mach['client_cpu']} (`taskset`) |"
    )
    la0, la1 = m.get("loadavg_before") or [], m.get("loadavg_after") or []
    w(
        f"| load average (1, 5, 15 min) | before {', '.join(map(str, la0))}; after "
        f"{', '.join(map(str, la1))} (other work shares these 2 cores) |"
    )
    vs = ", ".join(f"{k} {val}" for k, val in v.items() if val)
    w(f"| versions | {vs} |")
    w(
        "| servers | uvicorn `--loop asyncio --http h11`; uvicorn[standard] `--loop uvloop"
        " --http httptools` (peers named `-std`); Hypercorn `--worker-class trio`; Node http |"
    )
    w("")

    w("## Peers\n")
    w("| peer | what it is | ran |")
    w("| --- | --- | --- |")
    for p in peers:
        ran = "yes" if p.get("ran") else f"skipped: {p.get('skipped') or 'not selected'}"
        w(f"| `{p['name']}` | {p['label']} | {ran} |")
    w("")
    if m.get("engine_asgi"):
        w(f"The engine peers are served by {m['engine_asgi']}.\n")
    w(
        "Every peer of S1-S3 serves `/s1`, `/s2` and `/s3`: a shell (title, stylesheet link,"
        " one slot per section showing “Loading…”), then per section"
        " `<section data-section=i>` with 5 items (names HTML-escaped) fed by one data call"
        " with the scenario's latency. The client finds each section's real content by that"
        " marker. Peer code: `bench/peers/`.\n"
    )

    if "S1" in res:
        s1 = res["S1"]
        lat = s1["latencies_ms"]
        w("## S1: slow data (first byte, each section, last byte)\n")
        first = next(iter(s1["peers"].values()), None)
        nreq = first["requests"] if first else 0
        w(
            f"10 sections with latencies {lat} ms. {nreq} requests per peer (after warmup),"
            " interleaved between peers, each on a fresh connection; times from before"
            " `connect()`; median (p10–p90) in ms. *Lag* is a section's median arrival minus its"
            " own latency, worst section shown.\n"
        )
        w("| peer | first body byte | worst section lag | last byte | body bytes |")
        w("| --- | --- | --- | --- | --- |")
        w(f"| arithmetic limit | 0 | 0 | {max(lat)} | – |")
        for p in peers:
            d = s1["peers"].get(p["name"])
            if not d:
                continue
            errs = f" ({len(d['errors'])} errors)" if d["errors"] else ""
            w(
                f"| `{p['name']}`{errs} | {_spread(d['first_body_ms'], 2)} | "
                f"{_f(d['max_section_lag_ms'], 1)} | {_spread(d['last_byte_ms'], 1)} | "
                f"{_f(d['body_bytes']['median'], 0)} |"
            )
        w("")
        w("Median arrival of each section (ms):\n")
        w("| peer | " + " | ".join(f"s{i} ({x})" for i, x in enumerate(lat)) + " |")
        w("| --- |" + " --- |" * len(lat))
        for p in peers:
            d = s1["peers"].get(p["name"])
            if d:
                cells = " | ".join(_f(s["median"], 1) for s in d["sections_ms"])
                w(f"| `{p['name']}` | {cells} |")
        w("")
        w("![S1 waterfall](img/bench-s1-waterfall.svg)\n")

    if "S2" in res:
        s2 = res["S2"]
        c = res["scenarios"]["S2"]
        w("## S2: throughput\n")
        w(
            f"{c['sections']} sections, latency {c['latency_ms']} (each section still goes"
            f" through its async data call), wrk with {c['concurrency']} keep-alive connections"
            f" for {m['settings']['s2_duration']} s after {m['settings']['s2_warmup']} s warmup,"
            f" {m['settings']['runs']} runs (a fresh server each run, peer order rotated)."
            " Median (min–max) over runs.\n"
        )
        engines = [p["name"] for p in peers if p["family"] == "engine" and p.get("ran")]
        head = "| peer | req/s | latency p50 ms | latency p99 ms | body bytes | errors |"
        head += "".join(f" {e} / peer |" for e in engines)
        w(head)
        w("| --- " * (6 + len(engines)) + "|")
        order = sorted(
            (p for p in peers if p["name"] in s2["peers"]),
            key=lambda p: -(s2["peers"][p["name"]]["rps"]["median"] or 0),
        )
        for p in order:
            d = s2["peers"][p["name"]]
            cells = [
                f"`{p['name']}`", _range(d["rps"], 0), _f(d["latency_p50_ms"]["median"], 1),
                _f(d["latency_p99_ms"]["median"], 1), f"{d['body_bytes']:,}", str(d["errors"]),
            ]  # fmt: skip
            for e in engines:
                r = s2["ratios"].get(f"{e}/{p['name']}")
                cells.append("–" if r is None else f"{r['median']:.2f}x")
            w("| " + " | ".join(cells) + " |")
        w("")
        w(
            "Ratios are computed pair by pair inside each run (same server start order, same"
            " background load) and the median over runs is shown.\n"
        )
        w("![S2 requests per second](img/bench-s2-rps.svg)\n")

    for key in ("S3", "S3_large"):
        if key not in res:
            continue
        s3 = res[key]
        n = s3["connections"]
        w(f"## {'S3' if key == 'S3' else 'S3 at scale'}: {n:,} open streams\n")
        w(
            f"{n:,} concurrent connections to `/s3`, whose single section waits"
            f" {s3['latency_ms'] / 1000:g} s. Server RSS (`/proc/PID/status` VmRSS) sampled every"
            " 100 ms; per stream = (RSS with the most streams open − RSS before) / streams open"
            " then. First byte measured per connection from its request; connections opened"
            " 256 at a time.\n"
        )
        w(
            "| peer | KiB per stream | streams open | RSS before → open (MiB) |"
            " first byte p50 / p99 /"
            " max ms | within deadline | completed |"
        )
        w("| --- | --- | --- | --- | --- | --- | --- |")
        for p in peers:
            d = s3["peers"].get(p["name"])
            if not d:
                continue
            fb = d["first_body_ms"]
            w(
                f"| `{p['name']}` | {_f(d['kib_per_stream'], 1)} | {d['max_open']:,} | "
                f"{d['rss_base_kib'] / 1024:.1f} → {d['rss_open_kib'] / 1024:.1f} | "
                f"{_f(fb['median'], 1)} / {_f(fb['p99'], 1)} / {_f(fb['max'], 1)} | "
                f"{d['within_deadline']:,}/{n:,} | {d['completed']:,}/{n:,} |"
            )
        if s3.get("failed"):
            for name, why in s3["failed"].items():
                w(f"\n`{name}` failed: {why}")
        w("")
    if "S3" in res:
        w("![S3 memory per open stream](img/bench-s3-memory.svg)\n")
    out.extend(report_pages.sections(res))

    if "render" in res:
        r = res["render"]
        w("## S2's page without a server\n")
        w(
            f"The S2 page ({r['sections']} sections, each data call yielding once) rendered"
            f" in-process in a loop on the server core, {r['iterations']} renders x"
            f" {r['rounds']} rounds (the best round is the usual micro-benchmark figure: trio's"
            " timings vary from round to round by up to 1.5x even on an idle machine), into a"
            " sink that only counts writes. This is the cost"
            " of the way the page is written, apart from the server's cost per send.\n"
        )
        w("| approach | µs per page, best round | median (max) of rounds | writes per page |")
        w("| --- | --- | --- | --- |")
        for name, row in r["rows"].items():
            writes = "–" if row["writes"] is None else str(row["writes"])
            us = row["us"]
            w(
                f"| {name} | {_f(us['min'], 0)} | {_f(us['median'], 0)} ({_f(us['max'], 0)}) |"
                f" {writes} |"
            )
        w("")
        mem = r.get("memory")
        if mem:
            w(
                f"Python heap held per open render (tracemalloc), {mem['renders']:,} renders of"
                " the S3 page all waiting on their query, driven through the ASGI interface"
                " without a server: the app's own share of S3's memory per stream, the"
                " server's connection state excluded.\n"
            )
            w("| app | KiB per open render |")
            w("| --- | --- |")
            for name, row in mem.items():
                if isinstance(row, dict):
                    w(f"| {name} | {row['kib_per_render']} |")
            w("")

    for key, img in (("profile", "bench-profile.svg"), ("profile_S4", "bench-profile-s4.svg")):
        if res.get(key):
            _profile(w, res[key], img)

    if NOTES.exists():
        w(NOTES.read_text(encoding="utf-8").rstrip() + "\n")

    w("## Reproduce\n")
    w("```sh")
    w("python -m bench                 # everything (about 25 minutes), regenerates this page")
    w("python -m bench --quick         # smoke run, a few minutes, leaves this page alone")
    w("python -m bench --only engine-hypercorn --only react --scenario S2")
    w("python -m bench report bench/results/latest.json   # re-render this page from results")
    w("```\n")
    w(
        "Needs `wrk` (Debian package) for S2, S4 and S5, `node`/`npm` for the React peers"
        " (installed into `bench/.node/`, git-ignored), and the `bench` extra"
        " (`pip install -e '.[bench]'`: uvicorn[standard], htpy, py-spy). Raw numbers of this run:"
        f" [`benchmarks.json`](benchmarks.json) (from `bench/results/{results_name}`).\n"
    )
    return "\n".join(out)


def _profile(w: Callable[[str], None], prof: dict[str, Any], img: str) -> None:
    scenario = prof.get("scenario", "S2")
    w(f"## Profile of the engine in {scenario}\n")
    if "skipped" in prof:
        w(f"Skipped: {prof['skipped']}\n")
        return
    w(
        f"py-spy (`record --rate 250`, {prof['samples']:,} on-CPU samples)"
        f" of `{prof['peer']}` while wrk ran {scenario} against it"
        f" ({_f(prof.get('rps_while_sampled'), 0)} req/s while sampled)."
        " Time in the standard library and builtins is charged to the nearest"
        " caller in a known package.\n"
    )
    w("Who the CPU time is spent for (trio's own work charged to whoever called it):\n")
    w("| owner | share of CPU samples |")
    w("| --- | --- |")
    for r in prof.get("by_owner", []):
        w(f"| {r['owner']} | {r['pct']}% |")
    w("")
    w("Where it is spent (the package of the innermost non-stdlib frame):\n")
    w("| package | share of CPU samples |")
    w("| --- | --- |")
    for r in prof["by_component"]:
        w(f"| {r['component']} | {r['pct']}% |")
    w("")
    w("Top functions by self time:\n")
    w("| function | self % |")
    w("| --- | --- |")
    for r in prof["self"][:15]:
        w(f"| `{r['function']}` | {r['pct']}% |")
    w("")
    if prof.get("engine_inclusive"):
        w("Engine functions by inclusive time (their callees included):\n")
        w("| function | inclusive % |")
        w("| --- | --- |")
        for r in prof["engine_inclusive"][:15]:
            w(f"| `{r['function']}` | {r['pct']}% |")
        w("")
    if (IMG / img).exists():
        w(
            "Icicle graph (root on top; orange = engine, blue = server, green = trio):\n\n"
            f"![{scenario} profile](img/{img})\n"
        )


def pictures(res: dict[str, Any]) -> dict[str, str]:
    peers = [p for p in res["peers"] if p.get("ran")]
    pics: dict[str, str] = {}
    if "S1" in res and res["S1"]["peers"]:
        pics["bench-s1-waterfall.svg"] = svg.waterfall(res["S1"], peers)
    if "S2" in res and res["S2"]["peers"]:
        s2 = res["S2"]["peers"]
        items = sorted(
            (
                (p["name"], p["family"], s2[p["name"]]["rps"]["median"],
                 s2[p["name"]]["rps"]["min"], s2[p["name"]]["rps"]["max"])
                for p in peers if p["name"] in s2 and p["family"] != "limit"
            ),
            key=lambda t: -t[2],
        )  # fmt: skip
        limits = ", ".join(
            f"{p['name']} {s2[p['name']]['rps']['median']:,.0f}"
            for p in peers
            if p["name"] in s2 and p["family"] == "limit"
        )
        c = res["scenarios"]["S2"]
        pics["bench-s2-rps.svg"] = svg.bars(
            "S2: requests per second (median of runs, min–max whisker)",
            f"{c['sections']} sections, latency 0, {c['concurrency']} connections, server on one"
            f" core; off the scale, the limits: {limits or '–'}",
            items,
            "requests per second",
        )
    if "S3" in res and res["S3"]["peers"]:
        s3 = res["S3"]["peers"]
        items = [
            (p["name"], p["family"], s3[p["name"]]["kib_per_stream"] or 0.0, None, None)
            for p in peers if p["name"] in s3
        ]  # fmt: skip
        pics["bench-s3-memory.svg"] = svg.bars(
            f"S3: server memory per open stream ({res['S3']['connections']:,} streams)",
            "RSS delta / open streams; lower is better",
            items,
            "KiB per open stream",
        )
    return pics | report_pages.pictures(res)


def write_docs(res: dict[str, Any], results_path: Path) -> list[Path]:
    IMG.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in pictures(res).items():
        (IMG / name).write_text(text, encoding="utf-8")
        written.append(IMG / name)
    for key, img in (("profile", "bench-profile.svg"), ("profile_S4", "bench-profile-s4.svg")):
        prof = res.get(key) or {}
        flame = ROOT / prof["flamegraph_file"] if prof.get("flamegraph_file") else None
        if flame and flame.exists():
            (IMG / img).write_text(flame.read_text(encoding="utf-8"), encoding="utf-8")
            written.append(IMG / img)
    (DOCS / "benchmarks.json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    written.append(DOCS / "benchmarks.json")
    (DOCS / "benchmarks.md").write_text(render(res, results_path.name), encoding="utf-8")
    written.append(DOCS / "benchmarks.md")
    return written
