"""``engine serve --reload`` as a user runs it: a real server process, files edited in place."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from servers import fetch, free_port, start_server
from test_serving import SERVE, wait_until

PAGE = """\
name = "reloaded"
[shell]
html = '''<!doctype html><html><head><meta charset="utf-8"><title>t</title></head>
<body><p id="v">{label}: {{{{ word }}}}</p></body></html>'''
queries = ["word"]
[[queries]]
name = "word"
call = "words:word"
result = "str"
"""


def module(word: str) -> str:
    return f"async def word() -> str:\n    return {word!r}\n"


def test_reload_follows_page_files_and_modules_and_survives_errors(tmp_path: Path) -> None:
    page, words = tmp_path / "page.toml", tmp_path / "words.py"
    page.write_text(PAGE.format(label="first"))
    words.write_text(module("one"))
    port = free_port()
    argv = [sys.executable, "-c", SERVE, "serve", str(page), "--reload", "--port", str(port)]
    server = start_server(argv, port=port, log=tmp_path / "serve.log", cwd=tmp_path)

    def shows(text: str, status: int = 200) -> bool:
        response = fetch(port, "/", timeout=5)
        return response.status == status and text.encode() in response.body

    try:
        assert shows("first: one")
        page.write_text(PAGE.format(label="second"))
        assert wait_until(lambda: shows("second: one")), "the page file was reloaded"
        words.write_text(module("two"))
        assert wait_until(lambda: shows("second: two")), "the page's module was reloaded"

        words.write_text("async def word() -> str\n    return 'x'\n")  # a syntax error
        assert wait_until(lambda: shows("SyntaxError", status=500)), "the error is in the page"
        assert shows("words.py, line 1", status=500)
        words.write_text(module("three"))
        assert wait_until(lambda: shows("second: three")), "fixing the module recovers"

        page.write_text(PAGE.format(label="third") + "[[[\n")  # broken TOML
        assert wait_until(lambda: shows("page.toml", status=500))
        assert shows("line 10", status=500), fetch(port, "/").body
        page.write_text(PAGE.format(label="fourth"))
        assert wait_until(lambda: shows("fourth: three")), "fixing the page file recovers"
    finally:
        code = server.stop()
    log = server.output()
    assert code == 0, log
    failures = re.findall(r"^reload failed.*$", log, re.MULTILINE)
    assert len(failures) == 2, log  # once per broken build, not once per request
    assert "words.py, line 1" in failures[0] and "page.toml" in failures[1]
    assert "Traceback" not in log, log
