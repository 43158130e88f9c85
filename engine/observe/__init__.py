"""Watching renders from outside: OpenTelemetry spans (``otel``, imported only when enabled).

Sits beside the resolution layer: it reads a render's timeline through the
:class:`~engine.Tracer` hooks and knows nothing of the writer or of ASGI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

    from .otel import Tracing

__all__ = ["tracing_for"]


def tracing_for(option: object) -> Tracing | None:
    """An app's ``tracing`` option as a :class:`~engine.observe.otel.Tracing`, or None (off).

    OpenTelemetry is imported here, at app creation, and only when tracing is on.
    """
    if option is False or option is None:
        return None
    try:
        from .otel import Tracing
    except ImportError as exc:
        if not (exc.name or "").startswith("opentelemetry"):
            raise
        raise ImportError(
            "tracing needs OpenTelemetry's API, an optional dependency: "
            "pip install 'engine[otel]' (or opentelemetry-api)"
        ) from exc
    if option is True:
        return Tracing()
    if not callable(getattr(option, "get_tracer", None)):
        raise TypeError(
            f"tracing must be True, False or an OpenTelemetry TracerProvider, not {option!r}"
        )
    return Tracing(cast("TracerProvider", option))
