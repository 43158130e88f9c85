"""The peers' servers: how each is started, pinned, checked, measured and stopped."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
NODE_DIR = BENCH / ".node"
RESULTS = BENCH / "results"
SERVER_CPU = 0  # every server is pinned to this core
CLIENT_CPU = 1  # the clients and wrk to this one
BACKLOG = 4096  # listen backlog for every server (S3 opens hundreds of connections at once)
#: The scenarios a peer takes part in unless it says otherwise.
CLASSIC = ("S1", "S2", "S3")


@dataclass(frozen=True)
class Peer:
    name: str
    label: str
    server: str  # "uvicorn", "uvicorn-std", "hypercorn-trio" or "node"
    target: str  # "module:app" for Python servers, a script for node
    family: str  # "limit", "python", "react" or "engine"
    env: tuple[tuple[str, str], ...] = ()  # extra environment for the server process
    scenarios: tuple[str, ...] = CLASSIC  # the scenarios it serves ("S3" includes S3 at scale)
    needs: tuple[str, ...] = ()  # Python modules it imports beyond the suite's own

    def argv(self, port: int) -> list[str]:
        if self.server == "uvicorn":
            return [
                sys.executable, "-m", "uvicorn", self.target,
                "--host", "127.0.0.1", "--port", str(port),
                "--loop", "asyncio", "--http", "h11",
                "--no-access-log", "--log-level", "warning", "--backlog", str(BACKLOG),
            ]  # fmt: skip
        if self.server == "uvicorn-std":  # what `pip install uvicorn[standard]` runs in production
            return [
                sys.executable, "-m", "uvicorn", self.target,
                "--host", "127.0.0.1", "--port", str(port),
                "--loop", "uvloop", "--http", "httptools",
                "--no-access-log", "--log-level", "warning", "--backlog", str(BACKLOG),
            ]  # fmt: skip
        if self.server == "hypercorn-trio":
            return [
                sys.executable, "-m", "hypercorn", self.target,
                "--bind", f"127.0.0.1:{port}", "--worker-class", "trio", "--workers", "0",
                "--log-level", "warning", "--backlog", str(BACKLOG),
            ]  # fmt: skip
        if self.server == "node":
            return ["node", str(BENCH / self.target), str(port)]
        raise ValueError(f"unknown server kind {self.server!r}")

    def unavailable(self) -> str | None:
        """Why this peer cannot run here, or None."""
        import importlib.util

        needs = (*self.needs, *(("uvloop", "httptools") if self.server == "uvicorn-std" else ()))
        missing = [m for m in needs if importlib.util.find_spec(m) is None]
        if missing:
            return f"{', '.join(missing)} not installed (pip install -e '.[bench]')"
        if self.server == "node":
            if not shutil.which("node"):
                return "node is not installed"
            if not (NODE_DIR / "node_modules" / "react-dom").is_dir():
                return "React is not installed in bench/.node (needs npm)"
        if self.family == "engine":
            from bench.peers import engine_app

            return engine_app.unavailable(self.server)
        return None


def _and(*more: str) -> tuple[str, ...]:
    return (*CLASSIC, *more)


PEERS: list[Peer] = [
    Peer("bare", "bare ASGI app, precomputed bytes (uvicorn)", "uvicorn",
         "bench.peers.bare:app", "limit"),
    Peer("bare-trio", "bare ASGI app, precomputed bytes (Hypercorn trio)", "hypercorn-trio",
         "bench.peers.bare:app", "limit"),
    Peer("engine-hypercorn", "the engine (Hypercorn trio worker)", "hypercorn-trio",
         "bench.peers.engine_app:app", "engine", scenarios=_and("S4", "S5")),
    Peer("engine-uvicorn", "the engine inside uvicorn (trio guest mode)", "uvicorn",
         "bench.peers.engine_app:app", "engine", scenarios=_and("S4", "S5")),
    Peer("react", "React 19 renderToPipeableStream + Suspense (Node http)", "node",
         "peers/react_peer.js", "react", scenarios=_and("S4", "S5")),
    Peer("react-microtask", "React 19 as above, zero-latency data already resolved (best case)",
         "node", "peers/react_peer.js", "react", (("REACT_ZERO", "microtask"),)),
    Peer("starlette-ooo", "hand-written out-of-order, Starlette + asyncio tasks (uvicorn)",
         "uvicorn", "bench.peers.starlette_ooo:app", "python", scenarios=_and("S5")),
    Peer("trio-ooo", "hand-written out-of-order on trio (Hypercorn trio)", "hypercorn-trio",
         "bench.peers.trio_ooo:app", "python", scenarios=_and("S5")),
    # S5's floor: what an engine serving S5 on Hypercorn adds is measured against it.
    Peer("s5-whole-trio", "S5 rendered whole from a dict, one send, no engine (Hypercorn trio)",
         "hypercorn-trio", "bench.peers.s5_whole:app", "limit", scenarios=("S5",)),
    Peer("starlette-inorder", "in-order, sequential awaits, Starlette StreamingResponse (uvicorn)",
         "uvicorn", "bench.peers.starlette_inorder:app", "python"),
    Peer("jinja-async", "Jinja2 async template, awaits inside (Starlette, uvicorn)", "uvicorn",
         "bench.peers.jinja_async:app", "python"),
    # A page whose data calls are asyncio's (asyncpg, httpx): one asyncio task per call.
    Peer("engine-uvicorn-asyncio", "the engine in uvicorn, data calls on asyncio (loop='asyncio')",
         "uvicorn", "bench.peers.engine_app:app", "engine", (("BENCH_QUERY_LOOP", "asyncio"),),
         scenarios=("S2",)),
    # The production configuration: uvicorn[standard] (uvloop, httptools).
    Peer("engine-uvicorn-std", "the engine in uvicorn[standard] (uvloop, httptools; guest mode)",
         "uvicorn-std", "bench.peers.engine_app:app", "engine", scenarios=("S2", "S4", "S5")),
    Peer("engine-uvicorn-std-asyncio", "the engine in uvicorn[standard], data calls on asyncio",
         "uvicorn-std", "bench.peers.engine_app:app", "engine", (("BENCH_QUERY_LOOP", "asyncio"),),
         scenarios=("S2",)),
    Peer("starlette-ooo-std", "hand-written out-of-order, Starlette (uvicorn[standard])",
         "uvicorn-std", "bench.peers.starlette_ooo:app", "python", scenarios=("S2", "S5")),
    # S4, the large page.
    Peer("engine-html-hypercorn", "the engine, engine.html fragments (Hypercorn trio worker)",
         "hypercorn-trio", "bench.peers.engine_app:app", "engine",
         (("BENCH_S4_FRAGMENT", "html"),), scenarios=("S4",)),
    Peer("engine-html-uvicorn", "the engine, engine.html fragments (uvicorn, guest mode)",
         "uvicorn", "bench.peers.engine_app:app", "engine",
         (("BENCH_S4_FRAGMENT", "html"),), scenarios=("S4",)),
    Peer("jinja-page", "Jinja2 template rendered whole, Starlette HTMLResponse (uvicorn)",
         "uvicorn", "bench.peers.s4_jinja:page_app", "python", scenarios=("S4",)),
    Peer("jinja-page-hypercorn", "Jinja2 template rendered whole, Starlette (Hypercorn trio)",
         "hypercorn-trio", "bench.peers.s4_jinja:page_app", "python", scenarios=("S4",)),
    Peer("jinja-page-std", "Jinja2 template rendered whole, Starlette (uvicorn[standard])",
         "uvicorn-std", "bench.peers.s4_jinja:page_app", "python", scenarios=("S4",)),
    Peer("jinja-stream", "Jinja2 generate_async streamed, Starlette StreamingResponse (uvicorn)",
         "uvicorn", "bench.peers.s4_jinja:stream_app", "python", scenarios=("S4",)),
    Peer("htpy", "htpy elements rendered whole, Starlette HTMLResponse (uvicorn)", "uvicorn",
         "bench.peers.s4_htpy:app", "python", scenarios=("S4",), needs=("htpy",)),
    Peer("react-string", "React 19 renderToString after awaiting the data (Node http)", "node",
         "peers/react_peer.js", "react", (("REACT_RENDER", "string"),), scenarios=("S4",)),
    # S6, the shared-source page: each serves its variants (with and without the engine's help).
    Peer("engine-s6-hypercorn", "the engine, S6 variants (Hypercorn trio worker)",
         "hypercorn-trio", "bench.peers.engine_s6:app", "engine", scenarios=("S6",)),
    Peer("engine-s6-uvicorn", "the engine, S6 variants (uvicorn, guest mode)", "uvicorn",
         "bench.peers.engine_s6:app", "engine", scenarios=("S6",)),
]  # fmt: skip
PEERS_BY_NAME = {p.name: p for p in PEERS}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def loadavg() -> list[float]:
    with contextlib.suppress(OSError):
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    return []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile() -> int:
    """Raise this process's open-file limit to its hard limit (inherited by the servers)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pin_self(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {cpu})


def _tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    found, stack = [], [pid]
    while stack:
        p = stack.pop()
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                stack.extend(int(k) for k in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        found.append(p)
    return found


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` plus its descendants, in KiB (0 if gone)."""
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, PermissionError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
    return total


def cpu_s(pid: int) -> float:
    """CPU time (user + system) used so far by ``pid`` and its descendants, in seconds.

    Per request, this moves far less with other work on the machine than requests per
    second do: a server that is not scheduled uses no CPU.
    """
    ticks = 0
    for p in _tree(pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, PermissionError):
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


class Server:
    """One peer's server process, pinned to ``cpu``; a context manager."""

    def __init__(self, peer: Peer, cpu: int | None = 0, tag: str = "") -> None:
        self.peer = peer
        self.cpu = cpu
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        logs = RESULTS / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = logs / f"{peer.name}{tag}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def cpu_s(self) -> float:
        return cpu_s(self.pid)

    def start(self, timeout: float = 30.0) -> Server:
        argv = self.peer.argv(self.port)
        if self.cpu is not None and shutil.which("taskset"):
            argv = ["taskset", "-c", str(self.cpu), *argv]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["NODE_ENV"] = "production"
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.peer.env)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.peer.name} exited with {self.proc.returncode}; see {self.log_path}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.peer.name} did not listen within {timeout} s")

    def stop(self, timeout: float = 3.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)  # the group this server was started in
            try:
                proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
