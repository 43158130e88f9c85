"""Throughput load (S2) with wrk, pinned to the client core."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

LUA = Path(__file__).with_name("wrk_report.lua")


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    url: str, connections: int, duration_s: float, *, cpu: int | None = 1, timeout_s: int = 10
) -> dict[str, Any]:
    """One wrk run (1 thread, keep-alive connections); returns counts, req/s and latencies."""
    argv = [
        "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration_s))}s",
        "--timeout", f"{timeout_s}s", "-s", str(LUA), url,
    ]  # fmt: skip
    if cpu is not None and shutil.which("taskset"):
        argv = ["taskset", "-c", str(cpu), *argv]
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=duration_s + timeout_s + 30, check=False
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("JSON:")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout}")
    data = json.loads(line[5:])
    seconds = data["duration_us"] / 1e6
    errors = data["errors"]
    data["rps"] = round(data["requests"] / seconds, 1) if seconds else 0.0
    data["error_count"] = sum(errors.values())
    data["bytes_per_response"] = round(data["bytes"] / data["requests"]) if data["requests"] else 0
    data["latency_ms"] = {k: round(v / 1000, 3) for k, v in data.pop("latency_us").items()}
    return data
