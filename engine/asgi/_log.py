"""What the app writes to its logs: one access line per request, errors naming the page.

Request data (the path, the query string, a parameter value quoted in an error) reaches the
log only through :func:`printable`, so a client cannot forge or split log lines.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .._logs import printable

if TYPE_CHECKING:
    from ._response import Response

access_log = logging.getLogger("engine.access")
log = logging.getLogger("engine.asgi")


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
