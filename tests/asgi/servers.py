"""Real processes for the serving tests: servers and nginx on 127.0.0.1, a raw-socket HTTP
reader, and the flags Debian's Chromium runs with. Shared by tests/asgi and tests/browser.

Every start has a bounded readiness wait and every stop a bounded exit wait, so a broken
server fails a test instead of hanging the suite.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ASGI_TESTS = Path(__file__).resolve().parent


CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def require_executable(name: str) -> str:
    """Path of a system executable; missing means skip locally but FAIL under CI=true."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is None:
        message = f"{name} is not installed (Debian package {name!r})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Response:
    """A raw HTTP/1.1 response with the arrival time of every read from the socket."""

    status: int
    headers: dict[str, str]
    reads: list[tuple[float, bytes]]  # (seconds since the request was sent, bytes read)
    body: bytes
    eof: bool  # the server closed the connection within the timeout

    def arrival_of(self, needle: bytes) -> float:
        """Time at which the bytes read so far first contained ``needle``."""
        seen = b""
        for at, data in self.reads:
            seen += data
            if needle in seen:
                return at
        raise AssertionError(f"{needle!r} never arrived; got {seen[-300:]!r}")


def fetch(
    port: int,
    path: str,
    *,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
    timeout: float = 10.0,
    host: str = "127.0.0.1",
) -> Response:
    """Send one request with ``Connection: close`` and record every read until EOF or timeout."""
    sock = socket.create_connection((host, port), timeout=timeout)
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
    request = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n{extra}\r\n"
    reads: list[tuple[float, bytes]] = []
    eof = False
    with sock:
        t0 = time.monotonic()
        sock.sendall(request.encode())
        while (left := timeout - (time.monotonic() - t0)) > 0:
            sock.settimeout(left)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            if not data:
                eof = True
                break
            reads.append((time.monotonic() - t0, data))
    raw = b"".join(d for _, d in reads)
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines[0] else 0
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    chunked = hdrs.get("transfer-encoding", "").lower() == "chunked"
    return Response(status, hdrs, reads, _dechunk(rest) if chunked else rest, eof)


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


@dataclass
class ServerProcess:
    """A server subprocess listening on 127.0.0.1:port; stdout+stderr go to ``log``."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    name: str = "server"
    stopped: bool = field(default=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}:\n" + self.output()
                )
            try:
                if fetch(self.port, path, timeout=1.0).status:
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.output()}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10.0) -> int:
        """Signal the server and wait; kill it (and report -9) if it does not exit in time."""
        if not self.stopped:
            self.stopped = True
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
                    return -9
        return self.proc.returncode


def start_server(
    argv: Sequence[str],
    *,
    port: int,
    log: Path,
    ready_path: str = "/",
    timeout: float = 20.0,
    name: str = "server",
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
) -> ServerProcess:
    """Start ``argv`` (already bound to ``port``) and wait until it answers HTTP."""
    full_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(ASGI_TESTS)]),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=full_env,
            start_new_session=True,
        )
    server = ServerProcess(proc, port, log, name)
    server.wait_ready(ready_path, timeout)
    return server


def start_app(server: str, app: str, log: Path, ready_path: str = "/") -> ServerProcess:
    """``app`` ("module:attr") served by ``server`` ("hypercorn" or "uvicorn") on a free port."""
    port = free_port()
    argv = hypercorn_argv(app, port) if server == "hypercorn" else uvicorn_argv(app, port)
    return start_server(argv, port=port, log=log, ready_path=ready_path, name=server)


def hypercorn_argv(app: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "hypercorn",
        "--worker-class",
        "trio",
        "--bind",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "3",
        app,
    ]


def uvicorn_argv(app: str, port: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--timeout-graceful-shutdown",
        "3",
        *extra,
        app,
    ]


NGINX_CONF = """\
worker_processes 1;
error_log {root}/error.log warn;
pid {root}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp; fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
    {gzip}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_max_temp_file_size 0;
        }}
    }}
}}
"""
GZIP = "gzip on; gzip_min_length 1; gzip_proxied any; gzip_types text/html text/plain;"


def start_nginx(root: Path, upstream: int, *, gzip: bool = False) -> ServerProcess:
    """nginx in the foreground on loopback, reverse-proxying to ``upstream``."""
    nginx = require_executable("nginx")
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(root=root, port=port, upstream=upstream, gzip=GZIP if gzip else "")
    )
    argv = [nginx, "-p", str(root), "-c", str(conf), "-g", "daemon off;"]
    return start_server(argv, port=port, log=root / "stderr.log", name="nginx")


def actions_server(log_dir: Path, **env: str) -> ServerProcess:
    """tests/asgi/actions_site.py on Hypercorn (each test module starts its own: the lists
    it fills live in the server process)."""
    port = free_port()
    return start_server(
        hypercorn_argv("actions_site:app", port),
        port=port,
        log=log_dir / "hypercorn.log",
        ready_path="/plain",
        name="hypercorn",
        env=env,
    )
