"""An app's lifespan startup tunes the collector for a server: it freezes the heap once per
process (``Options.freeze_heap``), so full collections stop walking the pages' graphs and
everything else alive by then, and collects the young generation less often
(``Options.gc_threshold``)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import pytest

# Run in a fresh process: freezing is once per process, and this suite's own process froze
# its heap (and set the collector's threshold) at the first lifespan any test ran.
PRELUDE = """
import gc, json, sys, trio
import engine
from engine.asgi import App

def page():
    return engine.Page(name="p", shell=engine.Shell(html="<p>hi</p>"))

async def lifespan(app):
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    async def receive():
        return next(incoming)
    async def send(message):
        assert not message["type"].endswith("failed"), message
    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
"""

SCRIPT = (
    PRELUDE
    + """
def walked(obj):
    return any(o is obj for o in gc.get_objects())

options = {} if sys.argv[1] == "default" else {"freeze_heap": False}
first = App({"/": page()}, **options)
graph = first.routes[0].graph
assert walked(graph) and gc.get_freeze_count() == 0
trio.run(lifespan, first)
second = App({"/": page()}, **options)
trio.run(lifespan, second)
print(walked(graph), walked(second.routes[0].graph), gc.get_freeze_count() > 0)
"""
)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # Frozen by the first startup; the second app, built after it, is walked as usual.
        ("default", "False True True"),
        ("off", "True True False"),
    ],
)
def test_the_first_lifespan_startup_freezes_the_heap_once(options: str, expected: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, options], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected.split()


def test_a_reload_gives_the_frozen_heap_back_to_the_collector(tmp_path) -> None:
    from engine.cli._reload import Reloading

    reloading = Reloading(object, [], [tmp_path])
    gc.freeze()  # what the first app's startup did
    assert gc.get_freeze_count() > 0
    reloading._rebuild()
    assert gc.get_freeze_count() == 0, "the replaced app would be kept for good"


THRESHOLD_SCRIPT = (
    PRELUDE
    + """
gc.set_threshold(int(sys.argv[1]), 7, 9)
options = json.loads(sys.argv[2])
app = App({"/": page()}, **options)
before = gc.get_threshold()
trio.run(lifespan, app)
print(*before, *gc.get_threshold())
"""
)


@pytest.mark.parametrize(
    ("young", "options", "after"),
    [
        (700, {}, "10000 7 9"),  # Python's own: raised; the older generations' kept
        (50_000, {}, "50000 7 9"),  # the process collects less often already: never lowered
        (700, {"gc_threshold": 3000}, "3000 7 9"),
        (700, {"gc_threshold": None}, "700 7 9"),
    ],
)
def test_a_lifespan_startup_collects_the_young_generation_less_often(young, options, after):
    """Set at startup, not when the app is built: importing an app changes nothing."""
    done = subprocess.run(
        [sys.executable, "-c", THRESHOLD_SCRIPT, str(young), json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == f"{young} 7 9 {after}".split()


def test_the_threshold_must_be_a_positive_count() -> None:
    from engine.asgi import App

    with pytest.raises(ValueError, match="gc_threshold must be a positive number"):
        App({}, gc_threshold=0)
