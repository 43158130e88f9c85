"""The eight rules of the ordering contract, each checked on a recorded render."""

from __future__ import annotations

import html as _html
import itertools
import re

from ..definition.graph import FragmentNode
from .actions import action_ends, action_work_conserving
from .facts import Facts
from .violations import RULES, Violation

__all__ = ["CHECKS", "RULES", "Violation"]


def _exposed(x: Facts, slack: float) -> list[Violation]:
    out = []
    for q in x.g.queries:
        sent = [i for i, e in enumerate(x.events) if e.kind == "query" and e.name == q.name]
        if not q.expose:
            if sent or f'data-query="{q.name}"' in x.t.html:
                out.append(Violation(1, f"query {q.name!r} is not exposed but its data was sent"))
            continue
        if x.changes is not None and q.index not in x.changes.queries:
            # (An append fragment sent again carries its batches again, data included.)
            carried = q.batched and any(x.sent(x.g.fragments[f]) for f in q.consumers)
            if not carried and (sent or f'data-query="{q.name}"' in x.t.html):
                out.append(Violation(1, f"query {q.name!r} did not change but its data was sent"))
            continue
        span = x.t.queries.get(q.name)
        if q.batched or span is None or span.outcome != "done":
            continue
        if len(sent) != 1:
            out.append(Violation(1, f"data of query {q.name!r} was sent {len(sent)} times"))
        # Byte by byte, not only write by write: a script in the fragment may read the data.
        data_at = x.t.html.find(f'<script type="application/json" data-query="{q.name}">')
        if data_at >= 0 and _inert(x.t.html, data_at):
            out.append(Violation(1, f"data of query {q.name!r} is in a <template> never placed"))
        for f in q.consumers:
            target = x.g.fragments[f].target
            rendered = target in x.first and x.events[x.first[target]].kind == "fragment"
            if rendered and (
                not sent
                or sent[0] > x.first[target]
                or not 0 <= data_at < _content_offset(x.t.html, target)
            ):
                out.append(
                    Violation(1, f"fragment {target!r} went out before the data of {q.name!r}")
                )
    return out


def _dropped_positions(x: Facts) -> set[int]:
    """Failed events of fragments whose parent failed (their slot never existed)."""
    return {x.first[t] for t in x.dropped if t in x.first}


def _unit_key(f: FragmentNode) -> tuple[int, int]:
    return (-f.priority, f.index)


def _priority(x: Facts, slack: float) -> list[Violation]:
    if x.t.mode not in ("out-of-order", "action"):
        return _document_order(x)
    out = []
    for w, write in enumerate(x.t.writes):
        if w == 0 and x.changes is None:
            continue
        for a, b in _unit_pairs(x, w):
            out.append(
                Violation(
                    2,
                    f"write #{w} at t={write.time:g}: {a.target!r} (priority {a.priority})"
                    f" went before {b.target!r} (priority {b.priority}, declared earlier or"
                    " more urgent)",
                )
            )
    return out


def _unit_pairs(x: Facts, w: int) -> list[tuple[FragmentNode, FragmentNode]]:
    """Roots of write ``w`` out of order: units (roots tied by reveal groups) by their
    most urgent root, and roots inside a unit by priority, then declaration order."""
    index, frags = x.g.fragment_index, x.g.fragments
    roots: list[FragmentNode] = []
    root_of: dict[str, str] = {}
    for kind, name in x.t.writes[w].chunks:
        if name not in index or kind not in ("fragment", "failed", "batch", "end"):
            continue
        f = frags[index[name]]
        placed_here = x.write_of(name) == w
        if kind in ("batch", "end") and placed_here:
            continue  # part of the fragment's own placement
        parent = frags[f.parent] if f.parent is not None else None
        if (
            kind in ("fragment", "failed")
            and placed_here
            and parent is not None
            and (parent.target in root_of)
        ):
            root_of[name] = root_of[parent.target]  # placed inside its parent
            continue
        if kind == "fragment" and not placed_here:
            continue  # a second fill of its slot: rule 5 says so
        if not roots or roots[-1].target != name:
            roots.append(f)
        root_of[name] = name
    # Tie roots whose placed subtrees share a reveal group into one unit (union-find).
    leader = {root.target: root.target for root in roots}

    def find(name: str) -> str:
        while leader[name] != name:
            name = leader[name]
        return name

    by_group: dict[str, str] = {}
    for name, root_name in root_of.items():
        reveal = frags[index[name]].reveal
        if reveal is None or root_name not in leader or name in x.dropped:
            continue  # a dropped fragment is not placed: it ties nothing together
        if reveal in by_group:
            leader[find(root_name)] = find(by_group[reveal])
        else:
            by_group[reveal] = root_name
    unit = {root.target: find(root.target) for root in roots}
    pairs: list[tuple[FragmentNode, FragmentNode]] = []
    units: list[list[FragmentNode]] = []
    for root in roots:
        if units and unit[units[-1][0].target] == unit[root.target]:
            units[-1].append(root)
        else:
            units.append([root])
    for members in units:
        pairs.extend((a, b) for a, b in itertools.pairwise(members) if _unit_key(b) < _unit_key(a))
    for first, second in itertools.pairwise(units):
        if _unit_key(second[0]) < _unit_key(first[0]):
            pairs.append((first[0], second[0]))
    return pairs


def _document_order(x: Facts) -> list[Violation]:
    placed = [f.target for f in x.document_order() if f.target in x.first]
    emitted = sorted(placed, key=lambda t: x.first[t])
    if placed != emitted:
        return [Violation(2, f"in-order fragments out of document order: {emitted} != {placed}")]
    return []


def _work_conserving(x: Facts, slack: float) -> list[Violation]:
    out: list[Violation] = []
    if x.t.mode == "buffered":
        return out
    if x.t.mode == "in-order":
        waiting = 0  # when all before f in the document was complete (or sure to go down)
        for f in x.document_order():
            if f.target not in x.first:
                continue
            # Never before its own inputs (what comes before it is rule 2, its group rule 8).
            earliest = x.first_write_at(x.ready_or_doomed(f))
            waiting = max(waiting, x.group_ready(f))
            expected = x.first_write_at(waiting)
            actual = x.write_of(f.target)
            if expected is not None and actual > expected:
                out.append(
                    Violation(
                        3,
                        f"{f.target!r} was ready (with all before it) for write #{expected}"
                        f" but went out in write #{actual}",
                    )
                )
            elif earliest is not None and actual < earliest:
                out.append(
                    Violation(
                        3,
                        f"{f.target!r} went out in write #{actual}, before it was ready"
                        f" for write #{earliest}",
                    )
                )
            waiting = max(waiting, x.complete_or_doomed(f))
        return out
    if x.changes is not None:
        return action_work_conserving(x)
    for f in x.g.fragments:
        if f.target not in x.first or f.target in x.dropped:
            continue
        # The earliest write each member of its reveal group could join: once it is
        # ready and its parent is on the page (a member dropped with its parent: then).
        candidates = []
        for m in (x.g.fragments[i] for i in f.group):
            if m.target in x.dropped:
                candidates.append(x.write_of(m.target) if m.target in x.first else None)
                continue
            parent = x.g.fragments[m.parent].target if m.parent is not None else None
            if parent is not None and parent not in x.first:
                candidates.append(None)  # its slot never reached the page: rule 4 says so
                continue
            parent_write = x.write_of(parent) if parent is not None else 0
            candidates.append(x.first_write_at(x.ready(m), parent_write))
        if None in candidates:
            continue
        expected = max(c for c in candidates if c is not None)
        actual = x.write_of(f.target)
        if actual != expected:
            out.append(
                Violation(
                    3,
                    f"{f.target!r} could go in write #{expected}"
                    f" (t={x.t.writes[expected].time:g}) but went in write #{actual}"
                    f" (t={x.t.writes[actual].time:g})",
                )
            )
    return out


def _nesting(x: Facts, slack: float) -> list[Violation]:
    out = []
    for f in x.g.fragments:
        if f.parent is None or f.target not in x.first:
            continue
        parent = x.g.fragments[f.parent].target
        if x.on_page(x.g.fragments[f.parent]):
            continue  # an action's response: the parent is on the page already
        if parent not in x.first or x.first[parent] > x.first[f.target]:
            out.append(Violation(4, f"{f.target!r} went out before its parent {parent!r}"))
    return out


def _slots(x: Facts, slack: float) -> list[Violation]:
    out = []
    for f in x.g.fragments:
        kinds = [e.kind for e in x.events if e.name == f.target and e.kind != "query"]
        if not x.sent(f):
            if kinds:
                out.append(Violation(5, f"slot {f.target!r} did not change but received {kinds}"))
            continue
        if not kinds or kinds[0] not in ("fragment", "failed"):
            out.append(Violation(5, f"slot {f.target!r} was never filled nor marked failed"))
            continue
        if not f.append:
            if len(kinds) != 1:
                out.append(Violation(5, f"slot {f.target!r} received {kinds}"))
            continue
        terminal = [k for k in kinds if k in ("end", "failed")]
        middle_ok = all(k == "batch" for k in kinds[1:-1])
        if len(terminal) != 1 or (kinds[-1] not in ("end", "failed")) or not middle_ok:
            out.append(Violation(5, f"append slot {f.target!r} received {kinds}"))
    return out


def _content_offset(text: str, target: str) -> int:
    at = text.find(f'<template for="{target}">')
    return at if at >= 0 else text.find(f'<?start name="{target}">')


_TEMPLATE_TAG = re.compile(r"<(/?)template\b([^>]*)>", re.IGNORECASE)
_PLACED = re.compile(r"\sfor\s*=", re.IGNORECASE)


def _inert(text: str, at: int) -> bool:
    """Whether ``at`` is inside a ``<template>`` that nothing places (no ``for``): what it
    holds never joins the document, so no script reads that data and no stylesheet applies.
    (A ``<template for>`` joins it when it closes: that is how fragments and a navigation's
    answer arrive, so what it holds is live by the time what follows it is.)"""
    placed: list[bool] = []
    for tag in _TEMPLATE_TAG.finditer(text, 0, at):
        if not tag[1]:
            placed.append(bool(_PLACED.search(tag[2])))
        elif placed:
            placed.pop()
    return not all(placed)


def _styles(x: Facts, slack: float) -> list[Violation]:
    out = []
    text = x.t.html
    needed: dict[str, list[str]] = {}
    for f in x.g.fragments:
        if f.target in x.first and x.first[f.target] not in _dropped_positions(x):
            for href in f.stylesheets:
                needed.setdefault(href, []).append(f.target)
    for href, targets in needed.items():
        link = f'<link rel="stylesheet" href="{_html.escape(href)}">'
        count = text.count(link)
        if count != 1:
            out.append(Violation(6, f"stylesheet {href!r} was linked {count} times"))
            continue
        at = text.find(link)
        if _inert(text, at):
            out.append(Violation(6, f"stylesheet {href!r} is in a <template> never placed"))
        late = [t for t in targets if _content_offset(text, t) < at]
        if late:
            out.append(Violation(6, f"stylesheet {href!r} came after fragment(s) {late}"))
    return out


def _ends(x: Facts, slack: float) -> list[Violation]:
    out = []
    if x.changes is not None:
        out.extend(action_ends(x))
    elif not x.events or (x.events[0].kind, x.events[0].write) != ("shell", 0):
        out.append(Violation(7, "the first write is not the shell"))
    elif x.t.mode != "buffered":
        shell_end = max(
            (x.t.queries[x.g.queries[q].name].end or 0.0 for q in x.g.shell_queries), default=0.0
        )
        if x.t.writes[0].time > shell_end + slack:
            out.append(
                Violation(
                    7,
                    f"the shell went out at t={x.t.writes[0].time:g}, after its queries were"
                    f" done at t={shell_end:g}",
                )
            )
    closes = [i for i, e in enumerate(x.events) if e.kind == "close"]
    if closes != [len(x.events) - 1]:
        out.append(Violation(7, "the closing HTML is not the last thing sent, exactly once"))
    return out


def _groups(x: Facts, slack: float) -> list[Violation]:
    out = []
    for f in x.g.fragments:
        if len(f.group) < 2 or f.group[0] != f.index:
            continue
        members = [x.g.fragments[m].target for m in f.group]
        placed = [m for m in members if m in x.first and x.first[m] not in _dropped_positions(x)]
        if x.t.mode in ("out-of-order", "action"):
            writes = {x.write_of(m) for m in placed}
            if len(writes) > 1:
                out.append(
                    Violation(8, f"reveal group {f.reveal!r} split across writes {sorted(writes)}")
                )
        else:
            ready = x.group_ready(f)
            early = [m for m in placed if x.t.writes[x.write_of(m)].seq < ready]
            if early:
                out.append(
                    Violation(8, f"reveal group {f.reveal!r}: {early} went out before the rest")
                )
    return out


CHECKS = (_exposed, _priority, _work_conserving, _nesting, _slots, _styles, _ends, _groups)
