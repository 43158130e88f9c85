"""``python -m bench``: run the benchmark suite and regenerate docs/benchmarks.md.

python -m bench                         all peers, all scenarios, profiles, docs
python -m bench --quick                 smoke run (a few minutes), docs left alone
python -m bench --only react --only engine-hypercorn --scenario S2
python -m bench report bench/results/latest.json    re-render the docs from a results file
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench import page, report, run, shared_source
from bench.servers import PEERS, PEERS_BY_NAME, RESULTS, Peer, loadavg, raise_nofile

SCENARIOS = ("S1", "S2", "S3", "S3-large", "S4", "S5", "S6", "render", "profile")


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run, a few minutes")
    ap.add_argument(
        "--only", action="append", metavar="PEER",
        help=f"run only these peers (repeatable or comma-separated): {', '.join(PEERS_BY_NAME)}",
    )  # fmt: skip
    ap.add_argument(
        "--scenario", action="append", metavar="S",
        help=f"run only these scenarios (repeatable): {', '.join(SCENARIOS)}",
    )  # fmt: skip
    ap.add_argument(
        "--runs", type=int, metavar="N",
        help="runs per peer of S2 (default 3), S4 and S5 (default 2)",
    )  # fmt: skip
    ap.add_argument(
        "--docs", action=argparse.BooleanOptionalAction, default=None,
        help="regenerate docs/benchmarks.md (default: on for full runs of every scenario)",
    )  # fmt: skip
    return ap.parse_args(argv)


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [x.strip() for v in values for x in v.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["report"]:
        path = Path(argv[1]) if len(argv) > 1 else RESULTS / "latest.json"
        res = json.loads(path.read_text(encoding="utf-8"))
        for p in report.write_docs(res, path):
            print(p)
        return 0
    args = parse(argv)
    only = _split(args.only)
    scenarios = _split(args.scenario) or list(SCENARIOS)
    unknown = [n for n in only or [] if n not in PEERS_BY_NAME]
    unknown += [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        print(f"unknown peer or scenario: {', '.join(unknown)}", file=sys.stderr)
        return 2
    shared = page.SCENARIOS_PATH.parent.parent.parent / "shared" / "bench" / "scenarios.json"
    if shared.exists() and json.loads(shared.read_text(encoding="utf-8")) != page.SCENARIOS:
        run.log(f"WARNING: bench/scenarios.json differs from {shared}; copy it over to compare")
    runs = {} if args.runs is None else {"runs": args.runs, "more_runs": args.runs}
    st = run.Settings(quick=args.quick, **runs)
    nofile = raise_nofile()
    run.pin_client()
    t_start = time.time()
    react_skip = run.ensure_react()
    selected = [p for p in PEERS if only is None or p.name in only]
    peers_meta: list[dict[str, Any]] = []
    live = []
    for p in PEERS:
        meta: dict[str, Any] = {"name": p.name, "label": p.label, "server": p.server,
                                "family": p.family, "ran": False}  # fmt: skip
        if p in selected:
            why = (react_skip if p.server == "node" else None) or p.unavailable()
            if why:
                meta["skipped"] = why
                run.log(f"SKIP {p.name}: {why}")
            else:
                meta["ran"] = True
                live.append(p)
        peers_meta.append(meta)
    res: dict[str, Any] = {
        "meta": {
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(t_start)),
            "quick": st.quick,
            "argv": argv,
            "nofile_limit": nofile,
            "settings": {k: v for k, v in vars(st).items()},
            "machine": run.machine(),
            "loadavg_before": loadavg(),
        },
        "scenarios": page.SCENARIOS,
        "peers": peers_meta,
    }
    if any(p.family == "engine" for p in live):
        from bench.peers import engine_app

        res["meta"]["engine_asgi"] = engine_app.ASGI_KIND
    run.log(f"load average {res['meta']['loadavg_before']}; peers: {[p.name for p in live]}")

    def serving(scenario: str) -> list[Peer]:
        return [p for p in live if scenario in p.scenarios]

    if "S1" in scenarios:
        res["S1"] = run.run_s1(serving("S1"), st)
    for key, runner in (("S2", run.run_s2), ("S4", run.run_s4), ("S5", run.run_s5)):
        if key in scenarios and serving(key):
            if run.load.wrk_available():
                res[key] = runner(serving(key), st)
            else:
                run.log(f"SKIP {key}: wrk is not installed (apt-get install wrk)")
        if key == "S2" and "S3" in scenarios:  # S1-S3 keep their order
            res["S3"] = run.run_s3(serving("S3"), st, st.s3_connections)
        if key == "S2" and "S3-large" in scenarios and st.s3_large:
            big = [p for p in serving("S3") if p.name not in run.S3_LARGE_SKIP]
            res["S3_large"] = run.run_s3(big, st, st.s3_large, run.S3_LARGE_LATENCY_MS)
    if "S6" in scenarios and serving("S6"):
        res["S6"] = shared_source.run(serving("S6"), st.s6_repeats, st.s6_warmup)
    if "render" in scenarios:
        run.log("render: S2's page in-process, no server (a fresh process on the server core)")
        res["render"] = run.run_render(st, any(p.family == "engine" for p in live))
        for name, row in res["render"]["rows"].items():
            run.log(f"render {name}: best {row['us']['min']} us, {row['writes']} writes")
        for name, row in res["render"].get("memory", {}).items():
            if isinstance(row, dict):
                run.log(f"memory {name}: {row['kib_per_render']} KiB per open render")
    if "profile" in scenarios:
        for key, scenario in (("profile", "S2"), ("profile_S4", "S4")):
            engines = [p for p in serving(scenario) if p.family == "engine"]
            eng = next((p for p in engines if p.name == "engine-hypercorn"), None)
            eng = eng or next(iter(engines), None)
            if eng is None:
                continue
            run.log(f"profiling {eng.name} in {scenario} with py-spy")
            try:
                tag = time.strftime("-%Y%m%d-%H%M%S", time.localtime(t_start))
                prof = run.run_profile(eng, st, tag=tag, scenario=scenario)
                res[key] = {"peer": eng.name, "scenario": scenario, **prof}
            except Exception as exc:
                res[key] = {"peer": eng.name, "scenario": scenario, "skipped": f"failed: {exc}"}
            run.log(f"profile {scenario}: {res[key].get('skipped') or 'done'}")
    res["meta"]["loadavg_after"] = loadavg()
    res["meta"]["wall_s"] = round(time.time() - t_start, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(t_start))
    path = RESULTS / f"{stamp}{'-quick' if st.quick else ''}.json"
    text = json.dumps(res, indent=1) + "\n"
    path.write_text(text, encoding="utf-8")
    (RESULTS / "latest.json").write_text(text, encoding="utf-8")
    run.log(f"results: {path} ({res['meta']['wall_s']} s)")
    docs = args.docs
    if docs is None:
        docs = not st.quick and only is None and set(SCENARIOS) <= set(scenarios)
    if docs:
        for p in report.write_docs(res, path):
            run.log(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
