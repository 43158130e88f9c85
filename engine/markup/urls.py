"""URLs from data: escaping keeps a value inside its attribute, not out of ``javascript:``.

``href="{{ link }}"`` with a query value ``javascript:alert(1)`` is perfectly escaped and
still runs on click (where no CSP forbids it). :func:`safe_url` (``{{ link | url }}`` in
templates) lets through only the schemes that cannot run code, and the definition
checks warn about a placeholder that decides the scheme of a URL attribute without it.
"""

from __future__ import annotations

import re

import attrs
from markupsafe import Markup, escape

__all__ = ["BLOCKED_URL", "UnsafeUrl", "safe_url", "unsafe_url_placeholders"]

BLOCKED_URL = "about:blank#blocked"
"""What :func:`safe_url` puts in place of a URL whose scheme could run code."""
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href", "data")

_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_TAB_OR_NEWLINE = dict.fromkeys(map(ord, "\t\n\r"))

_SKIPPED = re.compile(r"<!--.*?-->|<(script|style)\b.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<[A-Za-z][^<>]*>")
_ATTRIBUTE = re.compile(
    r"""[\s/](?P<name>[^\s"'<>/=]+)\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'"""
    r"""|(?P<bare>(?:\{\{.*?\}\}|[^\s"'>])+))""",
    re.DOTALL,
)
_PLACEHOLDER = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_URL_FILTER = re.compile(r"\|\s*url\s*\}\}$")
_FIXES_SCHEME = re.compile(r"[:/?#]")


def safe_url(url: object) -> Markup:
    """``url`` escaped for an HTML attribute, if it is http(s), mailto or relative.

    Any other scheme (``javascript:``, ``data:``, ``vbscript:``, ...) becomes
    ``about:blank#blocked``. The scheme is read the way browsers read it: surrounding
    control characters and spaces are ignored, and tabs and newlines anywhere. In
    templates: ``{{ link | url }}``; in a render function: ``engine.safe_url(link)``.
    """
    text = str.__str__(str(url))  # a Markup URL is text here too: it gets escaped
    scheme = _SCHEME.match(text.strip(_C0_AND_SPACE).translate(_TAB_OR_NEWLINE))
    if scheme is not None and scheme[1].lower() not in _SAFE_SCHEMES:
        return Markup(BLOCKED_URL)
    return escape(text)


@attrs.frozen
class UnsafeUrl:
    """A placeholder that decides the scheme of a URL attribute, without ``| url``."""

    attribute: str
    placeholder: str

    def __str__(self) -> str:
        inner = self.placeholder[2:-2].strip()
        return (
            f"{self.placeholder} starts the URL in {self.attribute}=: escaping does not stop"
            f" a javascript: URL from running; write {{{{ {inner} | url }}}} (http(s), mailto"
            f" and relative URLs pass, anything else becomes {BLOCKED_URL})"
        )


def unsafe_url_placeholders(html: str) -> list[UnsafeUrl]:
    """Placeholders that could make a URL attribute ``javascript:...``.

    A placeholder after a fixed ``/``, ``?``, ``#`` or ``scheme:`` cannot change the
    scheme (``href="/p/{{ id }}"`` is safe); one at the start of the value can.
    """
    found: list[UnsafeUrl] = []
    for tag in _TAG.finditer(_SKIPPED.sub("", html)):
        for attribute in _ATTRIBUTE.finditer(tag[0]):
            name = attribute["name"].lower()
            if name not in URL_ATTRIBUTES:
                continue
            value = attribute["dq"] or attribute["sq"] or attribute["bare"] or ""
            for placeholder in _PLACEHOLDER.finditer(value):
                if _FIXES_SCHEME.search(value[: placeholder.start()]):
                    break
                if not _URL_FILTER.search(placeholder[0]):
                    found.append(UnsafeUrl(name, placeholder[0]))
    return found
