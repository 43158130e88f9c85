"""A fragment's stylesheet served from the app's static folder applies in Chromium, and a
revisit revalidates nothing: the fingerprinted file is cached as immutable."""

from __future__ import annotations

import pytest
import static_site
from servers import free_port, hypercorn_argv, start_server

pytestmark = pytest.mark.browser


def test_a_fragment_stylesheet_from_the_static_folder_applies(tmp_path, new_page) -> None:
    static = static_site.make_static(tmp_path)
    port = free_port()
    server = start_server(
        hypercorn_argv("static_site:app()", port),
        port=port,
        log=tmp_path / "hypercorn.log",
        name="hypercorn",
        env={"ENGINE_TEST_STATIC": str(static)},
    )
    try:
        page = new_page()
        statuses: dict[str, int] = {}
        page.on("response", lambda r: statuses.setdefault(r.url.rsplit("/", 1)[-1], r.status))
        page.goto(f"{server.url}/", wait_until="load", timeout=10_000)
        colour = "() => getComputedStyle(document.getElementById('styled')).color"
        assert page.evaluate(colour) == "rgb(1, 2, 3)"
        assert statuses["app.3f2a9c1b.css"] == 200
        fetched = page.evaluate(
            "async () => (await fetch('/static/app.3f2a9c1b.css')).headers.get('cache-control')"
        )
        assert fetched == "public, max-age=31536000, immutable"
    finally:
        server.stop()
