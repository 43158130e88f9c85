"""What the app writes to its logs: one access line per request, errors naming the page.

Request data (the path, the query string, a parameter value quoted in an error) reaches the
log only through :func:`printable`, so a client cannot forge or split log lines.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._response import Response

access_log = logging.getLogger("engine.access")
log = logging.getLogger("engine.asgi")


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


def log_access(
    method: str, target: str, response: Response, mode: str, outcome: str, total: float
) -> None:
    """One line per request: status, time to first byte, total time, body bytes, outcome."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    first = "-" if response.first_byte is None else f"{response.first_byte * 1000:.1f}ms"
    access_log.info(
        "%s %s %s first-byte=%s total=%.1fms bytes=%d mode=%s%s",
        printable(method),
        printable(target),
        response.status or "-",
        first,
        total * 1000,
        response.bytes,
        mode,
        "" if outcome == "ok" else f" ({outcome})",
    )


def log_error(page: str, reason: str, cause: BaseException | None) -> None:
    """One line naming the page; the traceback joins it only when the logger is at DEBUG."""
    trace = cause if cause is not None and log.isEnabledFor(logging.DEBUG) else None
    log.error("page %r: %s", page, printable(reason, field=False), exc_info=trace)
