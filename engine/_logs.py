"""Text from outside (a request's path, a query's exception message) made safe for a log line.

Every layer that logs what a client or a data source wrote goes through :func:`printable`, so
a client cannot forge or split log lines, whichever logger the line goes to.
"""

from __future__ import annotations


def printable(text: str, *, field: bool = True) -> str:
    """``text`` with every control, format or separator character (CR, LF, ESC, NUL, the
    bidi overrides, U+2028) and the backslash written as a backslash escape; spaces too when
    it is a ``field`` of a line.

    A field cannot be faked ("/a 200 first-byte=..."), lines cannot be split, terminals cannot
    be recoloured.
    """
    special = " \\" if field else "\\"
    if text.isprintable() and not any(c in text for c in special):
        return text
    return "".join(
        _escape(c) if (not c.isprintable() and c != " ") or c in special else c for c in text
    )


def _escape(char: str) -> str:
    code = ord(char)
    if char == "\\":
        return "\\\\"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
