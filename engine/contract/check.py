"""The ordering contract (``docs/contract.md``), checked against a recorded timeline.

The scheduler keeps these rules by construction; this states them a second time,
independently (``_facts`` derives positions and readiness, ``_rules`` checks each
rule), so tests, ours and our users', can prove it on any page.
"""

from __future__ import annotations

from .facts import Facts
from .rules import CHECKS, RULES, Violation
from .trace import Timeline

__all__ = ["RULES", "Violation", "violations"]


def violations(timeline: Timeline, *, slack: float = 0.0) -> list[Violation]:
    """Every way ``timeline`` breaks the contract of its page (empty if none)."""
    facts = Facts(timeline)
    found: list[Violation] = []
    for check in CHECKS:
        found.extend(check(facts, slack))
    return sorted(found, key=lambda v: v.rule)
