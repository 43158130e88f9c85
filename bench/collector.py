"""What the garbage collector costs per S2 page, with and without the startup freeze.

``python -m bench.collector [PAGES] [ROUNDS]``: S2's page through ``engine.asgi.App`` (on trio
as under Hypercorn, and on asyncio as under uvicorn) and the hand-written Starlette page,
64 requests at a time in process (``bench.instructions``' driver). Each case runs in its
own process and alternates, ``ROUNDS`` times, ``PAGES`` pages with the heap as it is and
``PAGES`` pages after ``gc.freeze()`` (what ``App`` does at lifespan startup:
``Options.freeze_heap``). Alternating inside one process pairs each measurement with its
neighbour, so a machine whose speed drifts (this one's does, by a third within minutes)
still gives a stable ratio. Each line: CPU time per page and the part spent in collections
(``gc.callbacks``), medians, and the median of the paired ratios.

Instruction counts (``bench.instructions``) barely see this: a full collection executes few
instructions per object it walks, but on a large heap each one is a cache miss.
"""

from __future__ import annotations

import gc
import statistics
import subprocess
import sys
import time

CASES = ("app", "app-asyncio", "peer-asyncio")


def _alternate(case: str, pages: int, rounds: int) -> None:
    from bench.instructions import _drive

    _drive(case, 128)  # warm: imports, first graphs, caches
    spent = [0.0, 0.0]

    def timed(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            spent[1] = time.perf_counter()
        else:
            spent[0] += time.perf_counter() - spent[1]

    gc.callbacks.append(timed)
    cpu: dict[str, list[float]] = {"plain": [], "frozen": []}
    collecting: dict[str, list[float]] = {"plain": [], "frozen": []}
    for k in range(rounds):
        for heap in ("plain", "frozen") if k % 2 == 0 else ("frozen", "plain"):
            gc.unfreeze()
            gc.collect()
            if heap == "frozen":
                gc.freeze()
            spent[0] = 0.0
            started = time.process_time()
            _drive(case, pages)
            cpu[heap].append((time.process_time() - started) / pages * 1e3)
            collecting[heap].append(spent[0] / pages * 1e3)
    for heap in ("plain", "frozen"):
        print(
            f"{case:13} {heap:7} {statistics.median(cpu[heap]):12.3f}"
            f" {statistics.median(collecting[heap]):8.3f}"
        )
    paired = statistics.median(f / p for f, p in zip(cpu["frozen"], cpu["plain"], strict=True))
    print(f"{case:13} frozen/plain CPU, paired: {paired:.3f}")


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--case":
        _alternate(argv[1], int(argv[2]), int(argv[3]))
        return 0
    pages = argv[0] if argv else "320"
    rounds = argv[1] if len(argv) > 1 else "16"
    print(f"{'case':13} {'heap':7} {'CPU ms/page':>12} {'in GC':>8}  (medians of {rounds} rounds)")
    for case in CASES:
        argv_case = [sys.executable, "-m", "bench.collector", "--case", case, pages, rounds]
        if subprocess.run(argv_case).returncode:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
