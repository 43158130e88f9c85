"""The bytes of the wire format, in one place (``docs/wire.md`` specifies them).

The vocabulary is the platform's Declarative Partial Updates: a slot is a range
``<?start name="x">…<?end>``, a point ``<?marker name="x">``, and content arriving
later is ``<template for="x">…</template>``. Browsers that implement it apply
templates natively; elsewhere the inline runtime (``runtime.js``) does, prompted by
a constant script once per write, so one CSP hash covers every such script.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from importlib import resources
from typing import Any

from markupsafe import escape

from ..markup.templates import embed_json

__all__ = [
    "ACTIONS_JS",
    "DATA_ISLAND",
    "END",
    "FAILED",
    "NAVIGATE_JS",
    "RUNTIME_JS",
    "SCRIPT_HASHES",
    "SWAP_JS",
    "Wire",
    "marker",
    "slot_template",
    "start",
    "template_close",
    "template_open",
]

FAILED = "<!--engine:failed-->"
"""Marks a slot whose fragment failed; the error HTML (or the fallback) follows it."""


def _minify(source: str) -> str:
    lines = (line.strip() for line in source.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//"))


def _script(name: str) -> str:
    return _minify(resources.files("engine.wire").joinpath(name).read_text("utf-8"))


RUNTIME_JS = _script("runtime.js")
SWAP_JS = "$E()"
NAVIGATE_JS = _script("navigate.js")
"""Streamed navigation (docs/navigation.md), after the runtime on pages that opt in."""
ACTIONS_JS = _script("actions.js")
"""Submits a page's action forms by fetch and streams the answer in: on pages with actions."""


def _hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()


SCRIPT_HASHES = (_hash(RUNTIME_JS), _hash(SWAP_JS), _hash(NAVIGATE_JS), _hash(ACTIONS_JS))
"""CSP sources (``'sha256-…'``) of every inline script the engine emits."""

NONCE_PLACEHOLDER = "csp_nonce"
"""``{{ csp_nonce }}`` in the shell: the response's CSP nonce, for the page's own scripts."""

_NONCE = re.compile(r"[A-Za-z0-9+/_=-]{8,256}")  # the whole nonce (fullmatch: no "\n" at the end)


@functools.lru_cache(maxsize=4096)
def start(name: str) -> str:
    """The start marker of slot ``name`` (cached: one per placed fragment of every render)."""
    return f'<?start name="{name}">'


DATA_ISLAND = '<script type="application/json" data-query="'
"""How every data island starts (``Wire.data``)."""


END = "<?end>"
"""The end marker of every slot."""


def marker(name: str) -> str:
    return f'<?marker name="{name}">'


def template_open(name: str, context: str = "flow") -> str:
    # Template contents parse as HTML: SVG (or MathML) content keeps its namespace only
    # inside its own root element, which therefore comes along.
    root = _FOREIGN_ROOTS.get(context, "")
    return f'<template for="{name}">{root}'


def template_close(context: str = "flow") -> str:
    root = _FOREIGN_ROOTS.get(context)
    return f"</{root[1:]}</template>" if root else "</template>"


_FOREIGN_ROOTS = {"svg": "<svg>", "math": "<math>"}


@functools.lru_cache(maxsize=4096)
def slot_template(name: str, context: str = "flow") -> tuple[str, str]:
    """The opening and closing of the template that fills slot ``name`` (cached: per chunk).

    The template carries the slot's own markers: native application removes the old ones,
    and a later refresh needs to find the slot again.
    """
    return template_open(name, context) + start(name), END + template_close(context)


class Wire:
    """Per-response formatting: scripts carry the CSP nonce when one is given."""

    def __init__(self, nonce: str | None = None, *, actions: bool = False) -> None:
        if nonce is not None and not _NONCE.fullmatch(nonce):
            raise ValueError("a CSP nonce is 8-256 characters of base64 or base64url")
        self.nonce = nonce
        self.script_open = f'<script nonce="{nonce}">' if nonce else "<script>"
        self.actions = actions
        """The page declares actions: its forms' script follows the runtime."""

    def runtime(self, navigation: str | None = None) -> str:
        """The runtime; with ``navigation`` (``"all"`` or ``"marked"``), navigate.js after it;
        on a page with actions, actions.js last."""
        runtime = f"{self.script_open}{RUNTIME_JS}</script>"
        if navigation is not None:
            opening = self.script_open.replace("<script", f'<script data-navigation="{navigation}"')
            runtime += f"{opening}{NAVIGATE_JS}</script>"
        if self.actions:
            runtime += f"{self.script_open}{ACTIONS_JS}</script>"
        return runtime

    def swap(self) -> str:
        return f"{self.script_open}{SWAP_JS}</script>"

    def data(self, name: str, value: Any, batch: int | None = None) -> str:
        batch_attr = f' data-batch="{batch}"' if batch is not None else ""
        json = embed_json(value).decode()
        return f'{DATA_ISLAND}{name}"{batch_attr}>{json}</script>'

    def stylesheet(self, href: str) -> str:
        return f'<link rel="stylesheet" href="{escape(href)}">'
