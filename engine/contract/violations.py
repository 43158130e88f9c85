"""The eight rules of the ordering contract by number, and one way a render broke one."""

from __future__ import annotations

import attrs

__all__ = ["RULES", "Violation"]

RULES = {
    1: "exposed data before or with its first fragment, never twice",
    2: "ready chunks by priority, then declaration order",
    3: "work-conserving: nothing ready is held back",
    4: "a nested fragment never before its parent",
    5: "every slot filled once, in order, or marked failed",
    6: "each stylesheet once, no later than its first fragment",
    7: "shell first, closing HTML last",
    8: "a reveal group in one chunk",
}


@attrs.frozen
class Violation:
    rule: int
    message: str

    def __str__(self) -> str:
        return f"rule {self.rule} ({RULES[self.rule]}): {self.message}"
