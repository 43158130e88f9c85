"""What the garbage collector costs per page: the heap as it is, frozen, and then collected
young less often, as ``engine.asgi.App``'s lifespan startup leaves the process.

``python -m bench.collector [PAGES] [ROUNDS]``: S2's and S5's pages through ``engine.asgi.App``
(on trio as under Hypercorn, and on asyncio as under uvicorn) and the hand-written Starlette
page, 64 requests at a time in process (``bench.instructions``' driver). Each case runs in its
own process and rotates, ``ROUNDS`` times, through ``PAGES`` pages with each heap:

- ``plain``: as Python leaves it (young collections every 700 net allocations);
- ``frozen``: after ``gc.freeze()`` (``Options.freeze_heap``);
- ``startup``: frozen, and the young generation's threshold raised to
  ``engine.asgi.GC_THRESHOLD`` (``Options.gc_threshold``): what the App's startup does.

Rotating inside one process pairs each measurement with its neighbours, so a machine whose
speed drifts (this one's does, by a third within minutes) still gives stable ratios. Each
line: CPU time per page and the part spent in collections (``gc.callbacks``), medians, and
the median of the paired ratios against ``plain``.

Instruction counts (``bench.instructions``) barely see this: a collection executes few
instructions per object it walks, but on a large heap each one is a cache miss.
"""

from __future__ import annotations

import gc
import statistics
import subprocess
import sys
import time

CASES = ("app", "app-asyncio", "s5-app", "s5-app-asyncio", "peer-asyncio")
HEAPS = ("plain", "frozen", "startup")


def _set_heap(heap: str, default_threshold: tuple[int, int, int]) -> None:
    from engine.asgi import GC_THRESHOLD

    gc.unfreeze()
    gc.set_threshold(*default_threshold)
    gc.collect()
    if heap != "plain":
        gc.freeze()
    if heap == "startup":
        gc.set_threshold(GC_THRESHOLD, *default_threshold[1:])


def _alternate(case: str, pages: int, rounds: int) -> None:
    from bench.instructions import _drive

    _drive(case, 128)  # warm: imports, first graphs, caches
    default_threshold = gc.get_threshold()
    spent = [0.0, 0.0]

    def timed(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            spent[1] = time.perf_counter()
        else:
            spent[0] += time.perf_counter() - spent[1]

    gc.callbacks.append(timed)
    cpu: dict[str, list[float]] = {heap: [] for heap in HEAPS}
    collecting: dict[str, list[float]] = {heap: [] for heap in HEAPS}
    for k in range(rounds):
        for heap in HEAPS[k % 3 :] + HEAPS[: k % 3]:
            _set_heap(heap, default_threshold)
            spent[0] = 0.0
            started = time.process_time()
            _drive(case, pages)
            cpu[heap].append((time.process_time() - started) / pages * 1e3)
            collecting[heap].append(spent[0] / pages * 1e3)
    for heap in HEAPS:
        paired = statistics.median(h / p for h, p in zip(cpu[heap], cpu["plain"], strict=True))
        print(
            f"{case:15} {heap:8} {statistics.median(cpu[heap]):12.3f}"
            f" {statistics.median(collecting[heap]):8.3f} {paired:12.3f}"
        )


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--case":
        _alternate(argv[1], int(argv[2]), int(argv[3]))
        return 0
    pages = argv[0] if argv else "320"
    rounds = argv[1] if len(argv) > 1 else "15"
    print(
        f"{'case':15} {'heap':8} {'CPU ms/page':>12} {'in GC':>8} {'x plain CPU':>12}"
        f"  (medians of {rounds} rounds)"
    )
    for case in CASES:
        argv_case = [sys.executable, "-m", "bench.collector", "--case", case, pages, rounds]
        if subprocess.run(argv_case).returncode:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
