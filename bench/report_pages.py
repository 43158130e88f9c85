"""docs/benchmarks.md, the real-looking pages (issue 11): S4, S5, S6, their targets and pictures."""

from __future__ import annotations

from typing import Any

from bench import page, svg

# Targets from issue 11.
S4_VS_JINJA = 0.9  # the engine at least 0.9x the plain Jinja2 page, on the same server
S5_VS_OWN_S2 = 3.0  # a cached page at least 3x the engine's own S2 throughput
#: The plain Jinja2 page on each server: what an engine peer on that server is compared with.
JINJA_PAGE = {"uvicorn": "jinja-page", "hypercorn-trio": "jinja-page-hypercorn",
              "uvicorn-std": "jinja-page-std"}  # fmt: skip
#: The hand-written out-of-order page and the bare app on each server (S2's and S3's targets).
HAND_WRITTEN = {"uvicorn": "starlette-ooo", "hypercorn-trio": "trio-ooo",
                "uvicorn-std": "starlette-ooo-std"}  # fmt: skip
BARE = {"uvicorn": "bare", "hypercorn-trio": "bare-trio"}
S6_PLAIN = "/s6"
SERVER_NAMES = {"uvicorn": "uvicorn (h11, asyncio)", "uvicorn-std": "uvicorn[standard]",
                "hypercorn-trio": "Hypercorn (trio)", "node": "Node http"}  # fmt: skip


def _f(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{v:,.{digits}f}"


def _range(s: dict[str, Any] | None, digits: int = 0) -> str:
    if not s or s.get("median") is None:
        return "–"
    return f"{_f(s['median'], digits)} ({_f(s['min'], digits)}–{_f(s['max'], digits)})"


def _ran(res: dict[str, Any], key: str, family: str | None = None) -> list[dict[str, Any]]:
    """Peers (their metadata) measured in ``key``, in the suite's order."""
    measured = res.get(key, {}).get("peers", {})
    return [
        p for p in res["peers"]
        if p["name"] in measured and (family is None or p["family"] == family)
    ]  # fmt: skip


def _ratio(res: dict[str, Any], key: str, a: str, b: str) -> float | None:
    r = res.get(key, {}).get("ratios", {}).get(f"{a}/{b}")
    return None if r is None else r["median"]


def targets(res: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(target, engine peer, measured, met) rows for issue 11: S2 and S3 as it words them,
    then S4-S6."""
    rows: list[tuple[str, str, str, bool | None]] = []
    for p in _ran(res, "S2", "engine"):
        for what, ref in (("the hand-written page on the same server",
                           HAND_WRITTEN.get(p["server"])),
                          ("React with suspending data", "react")):  # fmt: skip
            r = None if ref is None else _ratio(res, "S2", p["name"], ref)
            if r is not None:
                rows.append((f"S2 ahead of {what}", p["name"], f"{r:.2f}x ({ref})", r > 1.0))
    s3 = res.get("S3", {}).get("peers", {})
    for p in _ran(res, "S3", "engine"):
        bare, ref = BARE.get(p["server"]), HAND_WRITTEN.get(p["server"])
        kib = [s3.get(k, {}).get("kib_per_stream") for k in (p["name"], ref, bare)]
        if None not in kib:  # a peer that failed or was not run has none
            own, theirs, base = kib[0] - kib[2], kib[1] - kib[2], kib[2]
            rows.append((
                "S3 own share over the bare server at most the hand-written page's", p["name"],
                f"{own:.1f} vs {theirs:.1f} KiB ({ref}; {bare} {base:.1f})", own <= theirs,
            ))  # fmt: skip
    for p in _ran(res, "S4", "engine"):
        ref = JINJA_PAGE.get(p["server"])
        r = None if ref is None else _ratio(res, "S4", p["name"], ref)
        rows.append((
            f"S4 at least {S4_VS_JINJA:g}x the Jinja2 page on the same server", p["name"],
            "–" if r is None else f"{r:.2f}x ({ref})", None if r is None else r >= S4_VS_JINJA,
        ))  # fmt: skip
    also = res.get("S5", {}).get("also", {})
    for p in _ran(res, "S5", "engine"):
        own = (also.get(p["name"], {}).get("S5/S2") or {}).get("median")
        rows.append((
            f"S5 at least {S5_VS_OWN_S2:g}x its own S2 throughput (same server)", p["name"],
            "–" if own is None else f"{own:.2f}x", None if own is None else own >= S5_VS_OWN_S2,
        ))  # fmt: skip
        r = _ratio(res, "S5", p["name"], "react")
        rows.append((
            "S5 ahead of React with already-resolved data", p["name"],
            "–" if r is None else f"{r:.2f}x", None if r is None else r > 1.0,
        ))  # fmt: skip
    for name, variants in res.get("S6", {}).get("peers", {}).items():
        plain = variants.get(S6_PLAIN)
        if plain is None:
            continue
        for path, v in variants.items():
            if path == S6_PLAIN:
                continue
            # p90, not the median: without admission the fragment's wave is trio's coin
            # flip (see the S6 section), so a median of 20 pages says which side came up.
            hp, hp0 = v["high_priority_ms"]["p90"], plain["high_priority_ms"]["p90"]
            calls, calls0 = v["calls"]["median"], plain["calls"]["median"]
            rows.append((
                f"S6 `{path}`: high-priority fragment sooner than `{S6_PLAIN}` (p90)", name,
                f"{_f(hp)} ms vs {_f(hp0)} ms; {_f(calls, 0)} vs {_f(calls0, 0)} calls",
                None if hp is None or hp0 is None else hp < hp0,
            ))  # fmt: skip
    return rows


def _throughput_table(res: dict[str, Any], key: str, extra: list[str]) -> list[str]:
    """The rows of a req/s table, fastest first; ``extra`` names the per-row extra columns."""
    data = res[key]
    out = []
    order = sorted(_ran(res, key), key=lambda p: -(data["peers"][p["name"]]["rps"]["median"] or 0))
    for p in order:
        d = data["peers"][p["name"]]
        cells = [
            f"`{p['name']}`", SERVER_NAMES.get(p["server"], p["server"]), _range(d["rps"]),
            _f(d["latency_p50_ms"]["median"]), _f(d["latency_p99_ms"]["median"]),
            f"{d['body_bytes']:,}", str(d["errors"]),
            _f((d.get("cpu_ms_per_request") or {}).get("median"), 2),
        ]  # fmt: skip
        for column in extra:
            cells.append(_extra_cell(res, key, p, column))
        out.append("| " + " | ".join(cells) + " |")
    return out


def _extra_cell(res: dict[str, Any], key: str, p: dict[str, Any], column: str) -> str:
    name = p["name"]
    if column == "vs-jinja":
        ref = JINJA_PAGE.get(p["server"])
        r = None if p["family"] != "engine" or ref is None else _ratio(res, key, name, ref)
        return "–" if r is None else f"{r:.2f}x"
    if column == "own-s2":
        also = res[key].get("also", {}).get(name)
        if not also:
            return "– | –"
        ratio = also[f"{key}/S2"]["median"]
        return f"{_f(also['S2']['rps']['median'], 0)} | {'–' if ratio is None else f'{ratio:.2f}x'}"
    r = _ratio(res, key, column, name)  # an engine peer's ratio against this one
    return "–" if r is None else f"{r:.2f}x"


def sections(res: dict[str, Any]) -> list[str]:
    """The markdown of S4, S5 and S6 (empty for those not in ``res``)."""
    out: list[str] = []
    w = out.append
    m = res["meta"]["settings"]
    if "S4" in res:
        c = res["scenarios"]["S4"]
        w("## S4: a large page\n")
        w(
            f"A shell, one fragment holding a table of {c['rows']:,} rows (a 36-character id,"
            " a name holding `&` and `<`, an integer, a price; every cell escaped) and"
            f" {c['small_sections']} small sections, about"
            f" {len(page.s4_page().encode()) / 1000:.0f} kB rendered whole."
            f" Each section's data is one call with latency {c['latency_ms']} that yields once."
            f" wrk with {c['concurrency']} connections for {m['s4_duration']} s after"
            f" {m['s4_warmup']} s warmup, {m['more_runs']} runs; median (min–max) over runs."
            " Every peer's sections are checked byte for byte against the same expected HTML"
            " before it is measured (`bench/verify.py`). *Server CPU* is the server process's"
            " user + system time during the measurement divided by the requests wrk completed."
            ' The Jinja2 peers read dict rows (`r["id"]`), the engine typed records (`r.id`)'
            " converted from the same dicts.\n"
        )
        w(
            "| peer | server | req/s | latency p50 ms | latency p99 ms | body bytes | errors |"
            " server CPU ms per request | engine / Jinja2 page, same server (req/s) |"
        )
        w("| --- " * 9 + "|")
        out.extend(_throughput_table(res, "S4", ["vs-jinja"]))
        w("")
        w("![S4 requests per second](img/bench-s4-rps.svg)\n")
    if "S5" in res:
        c = res["scenarios"]["S5"]
        engines = [p["name"] for p in _ran(res, "S5", "engine")]
        w("## S5: a cached page\n")
        w(
            f"The S2 page ({c['sections']} sections) with every query's result cached and warm:"
            " the engine through its declared cache (`engine.Cache(ttl=3600)`, the in-process"
            " store, filled by the warmup),"
            " React with promises kept across requests and already fulfilled, the hand-written"
            " pages reading a dict in each section's task. wrk with"
            f" {c['concurrency']} connections for {m['s5_duration']} s after {m['s5_warmup']} s"
            f" warmup, {m['more_runs']} runs. Each engine server is then measured on S2 too,"
            " so that the S5/S2 ratio compares the same server in the same minute."
            + (
                " `s5-whole-trio` is the floor: the same page rendered whole from the dict and"
                " sent at once, no engine; what an engine on Hypercorn adds is measured from it."
                if "s5-whole-trio" in res["S5"].get("peers", {})
                else ""
            )
            + "\n"
        )
        head = "| peer | server | req/s | latency p50 ms | latency p99 ms | body bytes | errors |"
        head += " server CPU ms per request | its S2 req/s | S5 / S2 |"
        head += "".join(f" {e} / peer |" for e in engines)
        w(head)
        w("| --- " * (10 + len(engines)) + "|")
        out.extend(_throughput_table(res, "S5", ["own-s2", *engines]))
        if not engines:
            w("\nThe engine peers were left out: the engine had no query caching at this commit.")
        w("")
        w("![S5 requests per second](img/bench-s5-rps.svg)\n")
    if "S6" in res:
        c = res["scenarios"]["S6"]
        w("## S6: a shared source\n")
        w(
            f"{c['fragments']} fragments, each needing one key from one source whose calls take"
            f" {c['source_latency_ms']} ms + {c['per_key_ms']} ms per key and which serves at"
            f" most {c['source_concurrency']} calls at once (later calls queue in arrival"
            f" order, as a connection pool's). Fragment {c['high_priority_fragment']} (declared"
            f" last) is high priority. {m['s6_repeats']} pages per variant after"
            f" {m['s6_warmup']} warmup, one at a time on fresh connections, variants"
            " interleaved; median (p10–p90) ms from before `connect()`. *Calls* and *at once*"
            " are counted by the source itself. trio runs a batch of ready tasks in order or"
            " reversed, at random, so without admission the high-priority fragment gets its"
            " call in the first or the last wave (its p10 and p90 show both); with admission it"
            " waits at most for the calls that took the places before anyone waited.\n"
        )
        w(
            "| peer | variant | what the engine knows of the source | calls per page |"
            " at once (max) | high-priority fragment | first fragment | last byte |"
        )
        w("| --- " * 8 + "|")
        for name, variants in res["S6"]["peers"].items():
            for path, v in variants.items():
                w(
                    f"| `{name}` | `{path}` | {v['label']} | {_f(v['calls']['median'], 0)} |"
                    f" {v['max_in_flight']} | {_spread(v['high_priority_ms'])} |"
                    f" {_spread(v['first_section_ms'])} | {_spread(v['last_byte_ms'])} |"
                )
        for name, why in res["S6"].get("failed", {}).items():
            w(f"\n`{name}` failed: {why}")
        w("")
        w("![S6 timings](img/bench-s6.svg)\n")
    return out


def _spread(s: dict[str, Any]) -> str:
    if not s or s.get("median") is None:
        return "–"
    return f"{_f(s['median'])} ({_f(s['p10'])}–{_f(s['p90'])})"


def _rps_bars(res: dict[str, Any], key: str, title: str, subtitle: str) -> str:
    data = res[key]["peers"]
    items = sorted(
        (
            (p["name"], p["family"], data[p["name"]]["rps"]["median"],
             data[p["name"]]["rps"]["min"], data[p["name"]]["rps"]["max"])
            for p in _ran(res, key)
        ),
        key=lambda t: -t[2],
    )  # fmt: skip
    return svg.bars(title, subtitle, items, "requests per second")


def pictures(res: dict[str, Any]) -> dict[str, str]:
    pics: dict[str, str] = {}
    if res.get("S4", {}).get("peers"):
        c = res["scenarios"]["S4"]
        pics["bench-s4-rps.svg"] = _rps_bars(
            res, "S4", "S4: a large page, requests per second (median of runs, min–max)",
            f"{c['rows']:,}-row table + {c['small_sections']} small sections,"
            f" {c['concurrency']} connections, server on one core",
        )  # fmt: skip
    if res.get("S5", {}).get("peers"):
        c = res["scenarios"]["S5"]
        pics["bench-s5-rps.svg"] = _rps_bars(
            res, "S5", "S5: a cached page, requests per second (median of runs, min–max)",
            f"the S2 page ({c['sections']} sections), every query cached and warm,"
            f" {c['concurrency']} connections",
        )  # fmt: skip
    if res.get("S6", {}).get("peers"):
        c = res["scenarios"]["S6"]
        rows = [
            (f"{name} {path}", f"{_f(v['calls']['median'], 0)} calls",
             [("high-priority fragment", v["high_priority_ms"]["median"]),
              ("last byte", v["last_byte_ms"]["median"])])
            for name, variants in res["S6"]["peers"].items() for path, v in variants.items()
        ]  # fmt: skip
        pics["bench-s6.svg"] = svg.timings(
            "S6: a shared source (median ms)",
            f"{c['fragments']} fragments, one key each; source: {c['source_latency_ms']} ms +"
            f" {c['per_key_ms']} ms per key, at most {c['source_concurrency']} calls at once",
            rows,
            "milliseconds since connect",
        )
    return pics
