"""engine.asgi.App behind real servers: Hypercorn's trio worker and uvicorn (guest mode), a
Starlette mount with gzip, and the ``engine serve`` / ``engine diagnose`` commands."""

from __future__ import annotations

import argparse
import re
import signal
import socket
import sys
import time

import pytest
from servers import REPO, fetch, free_port, start_server, uvicorn_argv

from engine.cli import diagnose, serve


def running_queries(port: int) -> int:
    return int(re.search(rb'<p id="running">(\d+)</p>', fetch(port, "/stats").body)[1])


def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_shell_first_then_each_fragment_as_it_resolves(site) -> None:
    response = fetch(site.port, "/item/x?delay=1")
    assert response.status == 200 and response.eof
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "content-length" not in response.headers
    assert response.headers["x-accel-buffering"] == "no"
    assert response.arrival_of(b'<h1 id="shell">Item x</h1>') < 0.3
    assert response.arrival_of(b'<p id="fast">') < 0.5
    assert 1.0 <= response.arrival_of(b'<p id="slow">') < 1.5
    assert response.body.rstrip().endswith(b"</html>")


def test_statuses_and_head_over_the_wire(site) -> None:
    assert fetch(site.port, "/item/missing?delay=1").status == 404
    assert fetch(site.port, "/item/boom?delay=1").status == 500
    assert fetch(site.port, "/item/x?delay=x").status == 400
    assert fetch(site.port, "/item/x?delay=1", method="POST").status == 405
    head = fetch(site.port, "/item/x?delay=30", method="HEAD", timeout=5)
    assert head.status == 200 and head.body == b"" and head.eof


def test_aborted_requests_leave_no_query_running(site) -> None:
    before = running_queries(site.port)
    clients = []
    for i in range(30):
        sock = socket.create_connection(("127.0.0.1", site.port), timeout=5)
        sock.sendall(f"GET /item/{i}?delay=60 HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        clients.append(sock)
    for sock in clients:
        seen = b""
        while b'id="shell"' not in seen:
            seen += sock.recv(65536)
    assert wait_until(lambda: running_queries(site.port) == before + 30)
    for sock in clients:
        sock.close()
    assert wait_until(lambda: running_queries(site.port) == before), (
        f"{running_queries(site.port) - before} queries still running after the clients left"
    )


def test_mounted_in_starlette_with_gzip_still_streams(tmp_path) -> None:
    port = free_port()
    server = start_server(
        uvicorn_argv("mounted_site:app", port),
        port=port,
        log=tmp_path / "uvicorn.log",
        ready_path="/health",
    )
    try:
        report = diagnose.fetch(f"{server.url}/shop/item/x?delay=1", [], gzip=True, timeout=10)
    finally:
        server.stop()
    assert report.status == 200 and report.headers["content-encoding"] == "gzip"
    assert len(report.arrivals) >= 3
    assert report.arrivals[-1].flushed >= 1.0
    assert max(report.delays()) < 0.2, "Starlette >= 1.5 flushes gzip per chunk"


def run_cli(module, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    module.add_parser(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    return args.run(args)


def test_diagnose_reports_a_streamed_page(site, capsys) -> None:
    # Writes are 0.5 s apart; a 0.2 s tolerance still tells streaming from buffering, and
    # absorbs a busy machine's scheduling delays.
    url = f"{site.url}/item/x?delay=0.5"
    assert run_cli(diagnose, "diagnose", url, "--tolerance", "0.2") == 0
    out = capsys.readouterr().out
    assert "HTTP 200" in out and "x-accel-buffering: no" in out
    assert re.search(r"streamed: every write arrived within \d+\.\d ms", out)
    assert len(re.findall(r"^\s+\d+\s+\d+\.\dms\s+\d+\.\dms", out, re.MULTILINE)) >= 3


def test_diagnose_without_stamps_says_so(tmp_path, capsys) -> None:
    port = free_port()
    server = start_server(
        uvicorn_argv("mounted_site:app", port),
        port=port,
        log=tmp_path / "uvicorn.log",
        ready_path="/health",
    )
    try:
        assert run_cli(diagnose, "diagnose", f"{server.url}/health") == 1
    finally:
        server.stop()
    assert "no flush stamps" in capsys.readouterr().err


PAGE_TOML = """\
name = "toml-form"
[shell]
html = '''<!doctype html><html><head><meta charset="utf-8"><title>t</title></head>
<body><main><?marker name="form"></main></body></html>'''
[[queries]]
name = "refresh_count"
call = "demo_site:refresh_count"
result = "int"
[[fragments]]
target = "form"
uses = ["refresh_count"]
render = "demo_site:form_html"
fallback = "<p>loading form</p>"
"""


# What `engine serve` runs: the subcommand's add_parser and run, as engine.cli.main calls them.
SERVE = """import argparse, sys
from engine.cli import serve
parser = argparse.ArgumentParser()
serve.add_parser(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.run(args))
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_engine_serve_a_page_file(tmp_path, workers: int) -> None:
    page = tmp_path / "form.toml"
    page.write_text(PAGE_TOML)
    port = free_port()
    argv = [
        sys.executable,
        "-c",
        SERVE,
        "serve",
        str(page),
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--route",
        "/form/{slot}",
    ]
    server = start_server(
        argv, port=port, log=tmp_path / "serve.log", ready_path="/form/a", cwd=REPO
    )
    try:
        response = fetch(port, "/form/a")
        assert response.status == 200 and b'<form id="form">' in response.body
        assert fetch(port, "/").status == 404
        # The server percent-decodes the path: CR, LF and ESC reach the app, not the log.
        assert fetch(port, "/form/x%0D%0A00:00:00%20GET%20admin%20200%1B[2J").status == 200
    finally:
        code = server.stop(signal.SIGINT, timeout=10)
    log = server.output()
    assert code == 0, log
    assert re.search(
        r"GET /form/a 200 first-byte=\d+\.\dms total=\d+\.\dms bytes=\d+ "
        r"mode=out-of-order",
        log,
    ), log
    assert "Traceback" not in log
    assert r"GET /form/x\x0d\x0a00:00:00\x20GET\x20admin\x20200\x1b[2J 200 first-byte=" in log
    assert "\n00:00:00 GET admin" not in log and "\x1b" not in log


def test_engine_serve_rejects_a_bad_app(capsys) -> None:
    assert run_cli(serve, "serve", "no_such_module:app") == 1
    assert "no_such_module" in capsys.readouterr().err
