"""Small statistics helpers (no numpy needed)."""

from __future__ import annotations

import math
from collections.abc import Iterable


def quantile(values: Iterable[float], q: float) -> float | None:
    """Linear-interpolated quantile (q in [0, 1]), None for no values."""
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return None
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def median(values: Iterable[float]) -> float | None:
    return quantile(values, 0.5)


def summary(values: Iterable[float | None], digits: int = 3) -> dict[str, float | int | None]:
    xs = [v for v in values if v is not None]
    r = lambda v: None if v is None else round(v, digits)  # noqa: E731
    return {
        "n": len(xs),
        "median": r(quantile(xs, 0.5)),
        "p10": r(quantile(xs, 0.1)),
        "p90": r(quantile(xs, 0.9)),
        "min": r(min(xs)) if xs else None,
        "max": r(max(xs)) if xs else None,
    }
