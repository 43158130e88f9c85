"""A form's round trip on real servers (Hypercorn and uvicorn): GET sets the token cookie,
the POST redirects 303 with the action's cookie, the page renders what the action did, a
cross-site POST is refused, invalid input is a 422 page with the input kept."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import ServerProcess, start_app


@pytest.fixture(params=["hypercorn", "uvicorn"])
def server(request, tmp_path: Path) -> Iterator[ServerProcess]:
    process = start_app(
        request.param, "actions_site:app", tmp_path / "server.log", ready_path="/plain"
    )
    yield process
    process.stop(timeout=30)


def test_a_form_round_trip_on_a_real_server(server: ServerProcess) -> None:
    origin = f"http://127.0.0.1:{server.port}"
    with httpx.Client(base_url=origin, timeout=10) as client:
        page = client.get("/lists/served")
        token = client.cookies["engine_form_token"]
        assert f'name="_token" value="{token}"' in page.text

        def post(headers: dict[str, str], **fields: str) -> httpx.Response:
            return client.post("/lists/served", data={"_token": token, **fields}, headers=headers)

        done = post({"origin": origin}, _action="add", item="bread", qty="3")
        assert done.status_code == 303 and done.headers["location"] == "/lists/served"
        assert done.headers["set-cookie"].startswith("last_added=bread;")
        assert "<li>3 x bread</li>" in client.get("/lists/served").text

        refused = post({"origin": "http://evil.example"}, _action="add", item="x")
        assert refused.status_code == 403

        invalid = post({"origin": origin}, _action="add", item="jam", qty="many")
        assert invalid.status_code == 422
        assert '<input name="qty" value="many">' in invalid.text
        assert re.search(r'id="qty-error">Expected `int`, got `str`<', invalid.text)
        assert invalid.text.count("<li>") == 1, "the failed action changed nothing"
        assert invalid.text.rstrip().endswith("</html>"), "the 422 page streams to its end"


def test_an_action_submitted_by_the_runtime_on_a_real_server(server: ServerProcess) -> None:
    """The fetch path: only what changed streams back, a 422 streams the form alone, a redirect
    is told (204 + X-Engine-Location), a cross-site POST is refused as ever."""
    origin = f"http://127.0.0.1:{server.port}"
    with httpx.Client(base_url=origin, timeout=10) as client:
        client.get("/boards/served")
        token = client.cookies["engine_form_token"]
        runtime = {"origin": origin, "x-engine-request": "action", "x-engine-token": token}

        def post(headers: dict[str, str], **fields: str) -> httpx.Response:
            return client.post("/boards/served", data=fields, headers=headers)

        done = post(runtime, _action="add", item="bread", qty="3")
        assert done.status_code == 200
        assert "X-Engine-Request" in done.headers.get_list("vary", split_commas=True)
        assert done.headers["set-cookie"].startswith("last_added=bread;")
        found = re.findall(r'<template for="([^"]+)">', done.text)
        assert sorted(found) == ["badge", "form", "list"], "not the untouched note"
        assert "<li>3 x bread</li>" in done.text and "<!doctype" not in done.text
        assert done.text.endswith("<script>$E()</script>")

        invalid = post(runtime, _action="add", item="jam", qty="many")
        assert invalid.status_code == 422
        assert re.findall(r'<template for="([^"]+)">', invalid.text) == ["form"]
        assert '<input name="qty" value="many">' in invalid.text

        away = post(runtime, _action="clear")
        assert away.status_code == 204 and away.text == ""
        assert away.headers["x-engine-location"] == "/lists/served?cleared=1"

        refused = post({**runtime, "origin": "http://evil.example"}, _action="add", item="x")
        assert refused.status_code == 403 and "<template" not in refused.text
