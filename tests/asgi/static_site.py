"""An app serving a static folder next to a page whose fragment lists a stylesheet from it.

The folder comes from ``ENGINE_TEST_STATIC`` (made by :func:`make_static`), so a server
subprocess serves what the test laid out.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine import Fragment, Page, Shell
from engine.asgi import App

CSS = b"#styled { color: rgb(1, 2, 3); }\n"
SECRET = b"outside the static folder\n"


def make_static(root: Path) -> Path:
    """``root/static`` with fingerprinted and plain files, and traps around it."""
    static = root / "static"
    (static / "js").mkdir(parents=True)
    (static / "app.3f2a9c1b.css").write_bytes(CSS)
    (static / "plain.css").write_bytes(b"p { margin: 0 }\n")
    (static / "logo.svg").write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"/>')
    (static / "js" / "main.js").write_text("console.log('é');\n", encoding="utf-8")
    (static / "big.bin").write_bytes(bytes(range(256)) * 1024)  # 256 KiB: several chunks
    (static / ".env").write_bytes(b"SECRET=1\n")
    (root / "outside.txt").write_bytes(SECRET)
    (static / "link-out.txt").symlink_to(root / "outside.txt")
    (static / "link-in.css").symlink_to(static / "plain.css")
    return static


page = Page(
    name="styled",
    shell=Shell(
        html='<!doctype html><html><head><meta charset="utf-8"><title>styled</title></head>'
        '<body><div id="box"><?marker name="box"></div></body></html>'
    ),
    fragments=(
        Fragment(
            target="box",
            template='<p id="styled">styled text</p>',
            stylesheets=("/static/app.3f2a9c1b.css",),
        ),
    ),
)


def app() -> App:
    return App({"/": page}, static=os.environ["ENGINE_TEST_STATIC"])
