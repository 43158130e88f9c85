"""Summaries of a py-spy raw profile (collapsed stacks: ``root;...;leaf count`` per line)."""

from __future__ import annotations

import re
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

FRAME = re.compile(r"^(?P<name>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")

#: (component, pattern on the frame's file path), first match wins.
COMPONENTS: list[tuple[str, re.Pattern[str]]] = [
    ("engine", re.compile(r"(^|/)engine/")),
    ("schemas", re.compile(r"(^|/)schemas/")),
    ("bench page code", re.compile(r"(^|/)bench/")),
    ("hypercorn", re.compile(r"(^|/)hypercorn/")),
    ("uvicorn", re.compile(r"(^|/)uvicorn/")),
    ("h11", re.compile(r"(^|/)h11/")),
    ("trio", re.compile(r"(^|/)(trio|outcome|sniffio)/")),
    ("asyncio", re.compile(r"(^|/)asyncio/")),
    ("markupsafe", re.compile(r"(^|/)markupsafe/")),
    ("msgspec", re.compile(r"(^|/)msgspec/")),
    ("anyio/starlette", re.compile(r"(^|/)(anyio|starlette)/")),
]
LOOP_FRAMES = {"unrolled_run", "Handle._run", "_run_once"}
OWNERS = {
    "bench page code": "page code (query and render callables)",
    "engine": "engine (with the trio calls it makes)",
    "schemas": "engine (with the trio calls it makes)",
    "hypercorn": "server (HTTP, sockets)",
    "uvicorn": "server (HTTP, sockets)",
    "h11": "server (HTTP, sockets)",
    "asyncio": "server (HTTP, sockets)",
    "anyio/starlette": "server (HTTP, sockets)",
}
COLORS = {
    "engine": "#d9480f",
    "schemas": "#e8590c",
    "bench page code": "#f08c00",
    "hypercorn": "#1971c2",
    "uvicorn": "#1971c2",
    "h11": "#4dabf7",
    "trio": "#2f9e44",
    "asyncio": "#2f9e44",
    "markupsafe": "#ae3ec9",
    "msgspec": "#ae3ec9",
    "anyio/starlette": "#868e96",
    "stdlib/other": "#adb5bd",
}


def parse_frame(frame: str) -> tuple[str, str]:
    m = FRAME.match(frame)
    if not m:
        return frame, ""
    return m.group("name"), m.group("file")


def component(file: str) -> str | None:
    for name, pat in COMPONENTS:
        if pat.search(file):
            return name
    return None


def read(raw_path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in raw_path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        stacks.append((stack.split(";"), int(count)))
    return stacks


def summarize(raw_path: Path, top: int = 20) -> dict[str, Any]:
    stacks = read(raw_path)
    total = sum(c for _, c in stacks) or 1
    self_fn: Counter[str] = Counter()
    incl_fn: Counter[str] = Counter()
    by_component: Counter[str] = Counter()
    by_owner: Counter[str] = Counter()
    for frames, count in stacks:
        parsed = [parse_frame(f) for f in frames]
        name, file = parsed[-1]
        self_fn[f"{name} ({file})"] += count
        for key in {f"{n} ({f})" for n, f in parsed}:
            incl_fn[key] += count
        # Time in the standard library or builtins goes to the nearest known caller.
        comp = next((c for _, f in reversed(parsed) if (c := component(f))), "stdlib/other")
        by_component[comp] += count
        # Time in trio (and below) goes to whoever called it: the engine's task spawns and
        # cancel scopes count as engine, a server's socket sends as server; what is left is
        # trio's own scheduler loop and I/O wait.
        # Only frames above the event loop (task code) can own time; below it sit the
        # server's entry point and the loop itself.
        cut = max((k for k, (n, _) in enumerate(parsed) if n in LOOP_FRAMES), default=-1)
        owner = next(
            (OWNERS[c] for _, f in reversed(parsed[cut + 1 :]) if (c := component(f)) in OWNERS),
            "event loop (trio scheduler, I/O wait, asyncio)",
        )
        by_owner[owner] += count

    def rows(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {"function": k, "samples": v, "pct": round(100 * v / total, 1)}
            for k, v in counter.most_common(top)
        ]

    engine_incl = Counter(
        {k: v for k, v in incl_fn.items() if component(parse_frame(k)[1]) == "engine"}
    )
    return {
        "samples": total,
        "by_component": [
            {"component": k, "samples": v, "pct": round(100 * v / total, 1)}
            for k, v in by_component.most_common()
        ],
        "by_owner": [
            {"owner": k, "samples": v, "pct": round(100 * v / total, 1)}
            for k, v in by_owner.most_common()
        ],
        "self": rows(self_fn),
        "inclusive": rows(incl_fn),
        "engine_inclusive": rows(engine_incl),
    }


def flamegraph_svg(raw_path: Path, svg_path: Path, width: int = 1200, row: int = 16) -> None:
    """An icicle graph (root on top) of the collapsed stacks, frames under 0.3% dropped."""
    stacks = read(raw_path)
    total = sum(c for _, c in stacks) or 1
    tree: dict[str, Any] = {"n": 0, "kids": {}}
    for frames, count in stacks:
        node = tree
        node["n"] += count
        for f in frames:
            name, file = parse_frame(f)  # one box per function, whatever the line
            node = node["kids"].setdefault(f"{name} ({file})", {"n": 0, "kids": {}})
            node["n"] += count
    rects: list[str] = []
    max_depth = [0]

    def walk(node: dict[str, Any], x: float, depth: int) -> None:
        for frame, kid in sorted(node["kids"].items(), key=lambda kv: -kv[1]["n"]):
            w = width * kid["n"] / total
            if w < width * 0.003:
                x += w
                continue
            name, file = parse_frame(frame)
            comp = component(file) or "stdlib/other"
            y = depth * row
            max_depth[0] = max(max_depth[0], depth)
            label = name if w > 7 * len(name) else name[: max(0, int(w / 7) - 1)]
            title = f"{name} ({file}) {100 * kid['n'] / total:.1f}%"
            rects.append(
                f'<g><title>{escape(title)}</title><rect x="{x:.1f}" y="{y}" width="{w:.1f}" '
                f'height="{row - 1}" fill="{COLORS[comp]}" opacity="0.85"/>'
                + (
                    f'<text x="{x + 2:.1f}" y="{y + row - 4}">{escape(label)}</text>'
                    if label
                    else ""
                )
                + "</g>"
            )
            walk(kid, x, depth + 1)
            x += w

    walk(tree, 0.0, 0)
    height = (max_depth[0] + 1) * row
    svg_path.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="monospace" font-size="10">' + "".join(rects) + "</svg>\n",
        encoding="utf-8",
    )
