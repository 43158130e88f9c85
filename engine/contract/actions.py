"""The rules that read differently for an action's response: it has no shell, and only the
re-rendered fragments go out, over the page already in place (``scheduling.changes``)."""

from __future__ import annotations

import re

from .facts import Facts
from .violations import Violation

__all__ = ["action_ends", "action_work_conserving"]


def action_work_conserving(x: Facts) -> list[Violation]:
    """An action's response: a re-rendered fragment goes in the first write after it, the
    re-rendered fragments nested in it and its reveal group's re-rendered members are ready
    (nested ones come inline: no fallback replaces what the page shows)."""
    out: list[Violation] = []
    assert x.changes is not None
    frags, sent = x.g.fragments, x.changes.fragments

    def root_of(f: int) -> int:
        while frags[f].parent is not None and frags[f].parent in sent:
            f = frags[f].parent  # type: ignore[assignment]
        return f

    def subtree(root: int) -> list[int]:
        found, stack = [], [root]
        while stack:
            f = stack.pop()
            found.append(f)
            stack.extend(frags[f].children)
        return found

    for f in sorted(sent):
        node = frags[f]
        if node.target not in x.first or node.target in x.dropped:
            continue
        unit, roots = set(), [root_of(f)]
        while roots:
            root = roots.pop()
            if root in unit:
                continue
            for m in subtree(root):
                if frags[m].target in x.dropped:
                    continue  # down with its failed parent: it holds nothing back
                unit.add(m)
                roots.extend(root_of(g) for g in frags[m].group if g in sent)
        seqs = [x.ready(frags[m]) for m in unit]
        expected = x.first_write_at(max(seqs, default=0))
        actual = x.write_of(node.target)
        if expected is not None and actual != expected:
            out.append(
                Violation(
                    3,
                    f"{node.target!r} could go in write #{expected}"
                    f" (t={x.t.writes[expected].time:g}) but went in write #{actual}"
                    f" (t={x.t.writes[actual].time:g})",
                )
            )
    return out


def action_ends(x: Facts) -> list[Violation]:
    """An action's response has no shell, and each write ends with the swap script."""
    out = []
    if any(e.kind == "shell" for e in x.events) or "<!doctype" in x.t.html.lower():
        out.append(Violation(7, "an action's response carries a shell"))
    for i, write in enumerate(x.t.writes):
        text = write.data.decode()
        if text and not re.search(r"<script[^>]*>\$E\(\)</script>$", text):
            out.append(Violation(7, f"write #{i} does not end with the swap script"))
    return out
