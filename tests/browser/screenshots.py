"""Regenerate docs/img/shop-first-paint.png and docs/img/shop-complete.png.

Run from the repository root: ``python tests/browser/screenshots.py``. It serves the example
site on Hypercorn's trio worker (what ``engine serve`` runs) and photographs a product page in
Debian's Chromium as soon as the shell is in the DOM, then once the last fragment has landed.
"""

from __future__ import annotations

import base64
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "asgi"))

from playwright.sync_api import sync_playwright
from servers import (
    CHROMIUM_FLAGS,
    REPO,
    free_port,
    hypercorn_argv,
    require_executable,
    start_server,
)

OUT = REPO / "docs" / "img"


def main() -> None:
    chromium = require_executable("chromium")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(
            hypercorn_argv("examples.site.app:app", port),
            port=port,
            log=Path(tmp) / "server.log",
            ready_path="/product/1",
        )
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
                page = browser.new_page(viewport={"width": 1000, "height": 1240})
                page.goto(f"{server.url}/product/3", wait_until="commit")
                page.wait_for_selector("#product-name", state="attached")
                # The DevTools call captures at once; page.screenshot() waits for stability.
                shot = page.context.new_cdp_session(page).send("Page.captureScreenshot")
                (OUT / "shop-first-paint.png").write_bytes(base64.b64decode(shot["data"]))
                page.wait_for_load_state("load")
                page.screenshot(path=OUT / "shop-complete.png")
                browser.close()
        finally:
            server.stop()
    print(f"wrote {OUT / 'shop-first-paint.png'} and {OUT / 'shop-complete.png'}")


if __name__ == "__main__":
    main()
