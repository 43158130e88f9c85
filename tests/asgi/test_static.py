"""Static files: types, validators, 304s, HEAD, caching by name, no way out of the folder.

In process through ``App.__call__`` (under trio), then behind real Hypercorn and uvicorn
processes with raw request targets, since a server is what decodes ``%2e%2e``."""

from __future__ import annotations

import email.utils
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import static_site
import trio
from servers import ServerProcess, fetch, free_port, hypercorn_argv, start_server, uvicorn_argv

from engine.asgi import App
from engine.asgi._static import content_type

IMMUTABLE = "public, max-age=31536000, immutable"


class Answer:
    def __init__(self, messages: list[dict]) -> None:
        start = messages[0]
        self.status: int = start["status"]
        self.headers = {k.decode(): v.decode() for k, v in start["headers"]}
        self.body = b"".join(m.get("body", b"") for m in messages[1:])
        self.more = [m.get("more_body", False) for m in messages[1:]]


@pytest.fixture
def static(tmp_path: Path) -> Path:
    return static_site.make_static(tmp_path)


async def get(app: App, path: str, method: str = "GET", **headers: str) -> Answer:
    sent: list[dict] = []
    requests = iter([{"type": "http.request", "body": b"", "more_body": False}])

    async def receive() -> dict:
        for message in requests:
            return message
        await trio.sleep_forever()  # the client stays until the response is complete

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }
    await app(scope, receive, send)
    return Answer(sent)


async def test_types_lengths_and_cache_policy_by_name(static: Path) -> None:
    app = App({"/": static_site.page}, static=static)
    css = await get(app, "/static/app.3f2a9c1b.css")
    assert css.status == 200 and css.body == static_site.CSS
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert css.headers["content-length"] == str(len(static_site.CSS))
    assert css.headers["cache-control"] == IMMUTABLE
    assert css.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in css.headers
    plain = await get(app, "/static/plain.css")
    assert plain.headers["cache-control"] == "no-cache"  # may change in place: revalidate
    js = await get(app, "/static/js/main.js")
    assert js.headers["content-type"] == "text/javascript; charset=utf-8"
    svg = await get(app, "/static/logo.svg")
    assert svg.headers["content-type"] == "image/svg+xml; charset=utf-8"
    assert "sandbox" in svg.headers["content-security-policy"]  # opened alone, it runs nothing
    big = await get(app, "/static/big.bin")
    assert big.body == (static / "big.bin").read_bytes()
    assert big.headers["content-type"] == "application/octet-stream"
    assert len(big.more) == 4 and big.more[-1] is False  # 64 KiB per send, never all at once


def test_content_types_of_the_web() -> None:
    assert content_type("a.woff2") == b"font/woff2"
    assert content_type("a.wasm") == b"application/wasm"
    assert content_type("a.json") == b"application/json; charset=utf-8"
    assert content_type("a.unknown-ext") == b"application/octet-stream"


async def test_conditional_requests_and_head(static: Path) -> None:
    app = App({"/": static_site.page}, static=static)
    first = await get(app, "/static/app.3f2a9c1b.css")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert email.utils.parsedate_to_datetime(modified).timestamp() == int(
        (static / "app.3f2a9c1b.css").stat().st_mtime
    )
    again = await get(app, "/static/app.3f2a9c1b.css", if_none_match=etag)
    assert again.status == 304 and again.body == b"" and again.headers["etag"] == etag
    assert "content-length" not in again.headers
    weak = await get(app, "/static/app.3f2a9c1b.css", if_none_match=f'"x", W/{etag}')
    assert weak.status == 304
    other = await get(app, "/static/app.3f2a9c1b.css", if_none_match='"other"')
    assert other.status == 200 and other.body == static_site.CSS
    since = await get(app, "/static/app.3f2a9c1b.css", if_modified_since=modified)
    assert since.status == 304
    earlier = email.utils.formatdate(
        (static / "app.3f2a9c1b.css").stat().st_mtime - 10, usegmt=True
    )
    assert (await get(app, "/static/app.3f2a9c1b.css", if_modified_since=earlier)).status == 200
    # If-None-Match decides when both are present (RFC 9110 §13.2.2)
    both = await get(
        app, "/static/app.3f2a9c1b.css", if_none_match='"other"', if_modified_since=modified
    )
    assert both.status == 200
    assert (await get(app, "/static/plain.css", if_modified_since="garbage")).status == 200
    head = await get(app, "/static/app.3f2a9c1b.css", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == str(len(static_site.CSS))
    post = await get(app, "/static/app.3f2a9c1b.css", method="POST")
    assert post.status == 405 and post.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "path",
    [
        "/static/../outside.txt",
        "/static/js/../../outside.txt",
        "/static//etc/passwd",
        "/static/" + str(Path("/etc/passwd")),
        "/static/link-out.txt",
        "/static/.env",
        "/static/js",
        "/static/",
        "/static/missing.css",
        "/static/js\\..\\..\\outside.txt",
        "/static/a\0b",
    ],
)
async def test_nothing_outside_the_folder_is_served(static: Path, path: str) -> None:
    app = App({"/": static_site.page}, static=static)
    answer = await get(app, path)
    assert answer.status == 404, path
    assert static_site.SECRET not in answer.body and b"SECRET" not in answer.body


async def test_a_symlink_inside_the_folder_is_served(static: Path) -> None:
    app = App({"/": static_site.page}, static=static)
    answer = await get(app, "/static/link-in.css")
    assert answer.status == 200 and answer.body == b"p { margin: 0 }\n"


async def test_pages_are_served_beside_the_folder_and_link_into_it(static: Path) -> None:
    app = App({"/": static_site.page}, static=static, static_path="/assets")
    page = await get(app, "/")
    assert page.status == 200
    assert b'<link rel="stylesheet" href="/static/app.3f2a9c1b.css">' in page.body
    assert (await get(app, "/assets/app.3f2a9c1b.css")).status == 200
    assert (await get(app, "/static/app.3f2a9c1b.css")).status == 404  # not a page either


def test_a_missing_folder_or_bad_prefix_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a directory"):
        App({"/": static_site.page}, static=tmp_path / "nope")
    with pytest.raises(ValueError, match="static_path"):
        App({"/": static_site.page}, static=tmp_path, static_path="/static/")


# -- real servers ------------------------------------------------------------------------------


@pytest.fixture(params=["hypercorn", "uvicorn", "engine-serve"])
def server(request, tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    static = static_site.make_static(tmp_path)
    port = free_port()
    if request.param == "hypercorn":
        argv = hypercorn_argv("static_site:app()", port)
    elif request.param == "engine-serve":
        argv = [sys.executable, "-m", "engine", "serve", "static_site:page", "--port", str(port)]
        argv += ["--static", str(static)]
    else:
        argv = uvicorn_argv("static_site:app", port, "--factory")
    process = start_server(
        argv,
        port=port,
        log=tmp_path / f"{request.param}.log",
        name=request.param,
        env={"ENGINE_TEST_STATIC": str(static)},
    )
    yield process, static
    process.stop()


TRAVERSALS = [
    "/static/../outside.txt",
    "/static/%2e%2e/outside.txt",
    "/static/%2E%2E%2Foutside.txt",
    "/static/js/%2e%2e/%2e%2e/outside.txt",
    "/static/..%2foutside.txt",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/link-out.txt",
    "/static/.env",
    "/static/%2eenv",
]


def test_real_servers_serve_the_folder_and_nothing_outside(server) -> None:
    process, static = server
    port = process.port
    css = fetch(port, "/static/app.3f2a9c1b.css")
    assert css.status == 200 and css.body == static_site.CSS
    assert css.headers["cache-control"] == IMMUTABLE
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    again = fetch(
        port, "/static/app.3f2a9c1b.css", headers=[("If-None-Match", css.headers["etag"])]
    )
    assert again.status == 304 and again.body == b""
    since = fetch(
        port,
        "/static/plain.css",
        headers=[("If-Modified-Since", fetch(port, "/static/plain.css").headers["last-modified"])],
    )
    assert since.status == 304
    head = fetch(port, "/static/big.bin", method="HEAD")
    assert head.status == 200 and head.body == b"" and head.headers["content-length"] == "262144"
    assert fetch(port, "/static/big.bin").body == (static / "big.bin").read_bytes()
    page = fetch(port, "/")
    assert b'href="/static/app.3f2a9c1b.css"' in page.body
    for target in TRAVERSALS:
        answer = fetch(port, target)
        assert answer.status in (400, 404), (target, answer.status)
        assert static_site.SECRET not in answer.body and b"root:" not in answer.body, target


def test_engine_serve_static_refuses_an_app_it_did_not_build(tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "engine", "serve", "static_site:app", "--static", str(tmp_path)],
        capture_output=True,
        cwd=Path(static_site.__file__).parent,
        timeout=60,
    )
    assert done.returncode == 1
    assert b"--static serves a folder next to a page" in done.stderr
