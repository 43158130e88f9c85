"""Measure ``write_timeout`` with many real sockets (docs/serving.md#write-timeouts-measured).

    python tests/asgi/measure_write_timeout.py hypercorn nonreader 50 --seconds 40
    python tests/asgi/measure_write_timeout.py uvicorn slowreader 200 --seconds 30

Starts ``demo_site:app`` under the server with ``write_timeout=10``, opens N connections with a
4 KB receive buffer to a page far larger than every socket buffer, then reads nothing
(``nonreader``) or one byte a second (``slowreader``). At fixed marks it prints the server's
established connections and the access lines that ended in ``(write timeout)``. Raise the
descriptor limit for large N (``ulimit -n 4096``).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from pathlib import Path

from servers import REPO, free_port, hypercorn_argv, start_server, uvicorn_argv
from test_serving import SERVE
from test_write_timeout import server_connections, stalled_client

MARKS = (5, 10, 12, 15, 20, 30, 40, 60, 90)


def read_slowly(socks: list, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        for sock in socks:
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.recv(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("server", choices=["hypercorn", "engine-serve", "uvicorn"])
    parser.add_argument("kind", choices=["nonreader", "slowreader"])
    parser.add_argument("clients", type=int)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    port = free_port()
    serve = [sys.executable, "-c", SERVE, "serve", "demo_site:app", "--port", str(port)]
    argv = {
        "hypercorn": hypercorn_argv("demo_site:app", port),
        "uvicorn": uvicorn_argv("demo_site:app", port, "--no-access-log"),
        "engine-serve": serve,
    }[args.server]
    log = Path(f"/tmp/measure-{args.server}-{args.kind}.log")
    env = {"DEMO_WRITE_TIMEOUT": "10", "DEMO_ACCESS_LOG": "1"}
    server = start_server(argv, port=port, log=log, ready_path="/stats", cwd=REPO, env=env)
    stop = threading.Event()
    try:
        socks = [stalled_client(port, "/big?count=100000") for _ in range(args.clients)]
        began = time.monotonic()
        if args.kind == "slowreader":
            threading.Thread(target=read_slowly, args=(socks, stop), daemon=True).start()
        for mark in (m for m in MARKS if m <= args.seconds):
            time.sleep(max(0.0, began + mark - time.monotonic()))
            lines = [line for line in log.read_text().splitlines() if "GET /big" in line]
            timed_out = sum(line.endswith("(write timeout)") for line in lines)
            print(
                f"{args.server} {args.kind} clients={args.clients} t={mark}s"
                f" server-connections={server_connections(port)} write-timeouts={timed_out}",
                flush=True,
            )
        text = log.read_text()
        print(f"tracebacks={text.count('Traceback')} lines-for-/big={text.count('GET /big')}")
    finally:
        stop.set()
        server.stop(timeout=30)


if __name__ == "__main__":
    main()
