"""What a reader sees under an article: Similar News from other outlets, copies of one text collapsed."""

from __future__ import annotations

from typing import Any

from tidings.analysis.wire import credited_agency

Row = dict[str, Any]

RELATION_ORDER = {"same_story": 0, "duplicate": 0, "related": 1}
OUTLET_REPEAT_PENALTY = 0.05  # each item already shown from an outlet lowers its next one: a spread of outlets


def _copy_key(row: Row) -> object:
    """Rows that carry one text share a key: copies of this article's text, one copy group, or the row alone."""
    if row["relation"] == "duplicate":
        return ("this",)
    return ("group", row["copy_group"]) if row.get("copy_group") is not None else ("row", row["id"])


def _collapse(rows: list[Row]) -> list[Row]:
    """One item per copy group: the earliest publication carries it, the others are listed as its copies."""
    groups: dict[object, list[Row]] = {}
    for row in rows:
        groups.setdefault(_copy_key(row), []).append(row)
    items = []
    for members in groups.values():
        members = sorted(members, key=lambda r: (r.get("published_at") or "9999", -float(r["score"])))
        lead, copies = members[0], members[1:]
        best = max(members, key=lambda r: (-RELATION_ORDER.get(r["relation"], 2), float(r["score"])))
        credited = None
        if copies:  # only a collapsed group names its wire agency
            credited = next((a for a in (credited_agency(m.get("text") or "") for m in members) if a), None)
        items.append({**lead, "score": best["score"], "relation": best["relation"], "copies": copies,
                      "also_carried_by": [c["source"] for c in copies], "credited": credited})
    return items


def rank_similar(rows: list[Row], *, limit: int = 8) -> list[Row]:
    """Order stored neighbours for display: same-event reports first, copies of one text folded into one item.

    Each row has at least ``id, outlet, source, score, relation`` and may have ``copy_group`` and
    ``published_at``. Within a tier, higher score first, with a small penalty for every item already shown
    from the same outlet. Each returned item gains ``copies`` (the folded rows), ``also_carried_by`` (their
    source names) and ``credited`` (the wire agency the text credits, if any).
    """
    pool = _collapse(rows)
    shown: list[Row] = []
    per_outlet: dict[str, int] = {}
    while pool and len(shown) < limit:
        best = min(pool, key=lambda r: (RELATION_ORDER.get(r["relation"], 2),
                                        -(float(r["score"]) - OUTLET_REPEAT_PENALTY * per_outlet.get(r["outlet"], 0))))
        pool.remove(best)
        shown.append(best)
        per_outlet[best["outlet"]] = per_outlet.get(best["outlet"], 0) + 1
    return shown


def flatten(items: list[Row]) -> list[Row]:
    """Every neighbour: the displayed items first, then the copies folded into them (least new to a reader)."""
    return [*items, *(c for item in items for c in item.get("copies", []))]
