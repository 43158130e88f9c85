"""Debian's redis-server on a free loopback port, in a temporary directory, for the cache tests."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from servers import free_port, require_executable


@contextmanager
def redis_server(directory: Path, *extra: str) -> Iterator[int]:
    """Run ``redis-server`` (nothing saved to disk) until the block ends; yield its port."""
    executable = require_executable("redis-server")
    port = free_port()
    argv: Sequence[str] = [
        executable,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(directory),
        "--save", "",
        "--appendonly", "no",
        *extra,
    ]  # fmt: skip
    with (directory / "redis.log").open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"redis-server did not start: {(directory / 'redis.log').read_text()}"
                    ) from None
                time.sleep(0.02)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
