"""``engine render`` takes the request context as flags and opens the page's resources."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import engine
from engine import Page, Params, Query, Request, Response, Shell
from engine.cli import main

OPENED: list[str] = []


@contextlib.asynccontextmanager
async def store() -> AsyncIterator[str]:
    OPENED.append("open")
    yield "store"
    OPENED.append("close")


def hello(request: Request, response: Response, x_name: str, sid: str, store: str) -> str:
    response.set_cookie("last", x_name)
    if sid == "old":
        raise engine.Redirect("/signin?next=/")
    return f"{x_name} {sid} {store} {request.headers['x-name']}"


PAGE = Page(
    name="cli",
    shell=Shell(html='<!doctype html><meta charset="utf-8"><p>{{ h }}</p>', queries=("h",)),
    queries=(
        Query(
            name="h",
            call=hello,
            result=str,
            params=Params(header=("x_name",), cookie=("sid",)),
            resources=("store",),
        ),
    ),
    resources=engine.Resources(store=store),
)
REF = f"{__name__}:PAGE"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_render_takes_headers_cookies_and_opens_resources(capsys) -> None:
    OPENED.clear()
    code, out, err = run(capsys, "render", REF, "-H", "X-Name: ann", "--cookie", "sid=s1")
    assert (code, err) == (0, "")
    assert "<p>ann s1 store ann</p>" in out
    assert OPENED == ["open", "close"]


def test_include_prints_the_head_shell_queries_set(capsys) -> None:
    code, out, err = run(capsys, "render", REF, "-i", "-H", "X-Name: ann", "--cookie", "sid=1")
    assert (code, err) == (0, "")
    head, _, body = out.partition("\r\n\r\n")
    assert head.splitlines()[0] == "HTTP/1.1 200 OK"
    assert "set-cookie: last=ann; HttpOnly; Path=/; SameSite=Lax" in head
    assert body.startswith("<!doctype html>")


def test_a_redirect_and_bad_flags(capsys) -> None:
    code, out, err = run(capsys, "render", REF, "-H", "X-Name: a", "--cookie", "sid=old")
    assert (code, out, err) == (0, "", "redirect: 303 to /signin?next=/\n")
    code, out, err = run(capsys, "render", REF, "--cookie", "sid=1")
    assert code == 1 and "missing request parameter 'x_name' (header 'x-name'" in err
    try:
        main(["render", REF, "-H", "X-Name ann"])
    except SystemExit as exit:
        assert exit.code == 2
    assert "expected 'Name: value'" in capsys.readouterr().err
