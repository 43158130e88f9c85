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
