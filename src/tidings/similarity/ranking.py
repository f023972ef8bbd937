"""What a reader sees under an article: Similar News from other outlets, copies of one text collapsed."""

from __future__ import annotations

from typing import Any

from tidings.analysis.wire import credited_agency

Row = dict[str, Any]

RELATION_ORDER = {"same_story": 0, "duplicate": 0, "related": 1}
OUTLET_REPEAT_PENALTY = 0.05  # each item already shown from an outlet lowers its next one: a spread of outlets
CREDIT_EDGE = 400  # credit lines sit in the dateline, the byline or the last lines of a text


def own_credit(row: Row) -> str | None:
    """The wire agency this article's own words credit (title, summary, or the head or tail of its text).

    A row may carry ``text_head``/``text_tail`` (the edges of the whole text); otherwise only the start of
    ``text`` is read, since a text cut short has no real tail and its middle may merely mention an agency.
    """
    head = row.get("text_head")
    if head is None:
        head = (row.get("text") or "")[:CREDIT_EDGE]
    parts = (row.get("title") or "", row.get("summary") or "", head or "", row.get("text_tail") or "")
    return next((a for a in (credited_agency(p) for p in parts if p) if a), None)


def copy_key(row: Row) -> object:
    """Rows that carry one text share a key: one copy group, copies of this article's text not yet grouped,
    or the row alone."""
    if row.get("copy_group") is not None:
        return ("group", row["copy_group"])
    return ("this",) if row.get("relation") == "duplicate" else ("row", row["id"])


def _collapse(rows: list[Row]) -> list[Row]:
    """One item per copy group: the earliest publication carries it, the others are listed as its copies.

    The item ranks as its best member (tier first, then score), so a folded same-event group never falls
    behind a weaker item because its earliest copy happened to score lower."""
    groups: dict[object, list[Row]] = {}
    for row in rows:
        groups.setdefault(copy_key(row), []).append(row)
    items = []
    for members in groups.values():
        members = sorted(members, key=lambda r: (r.get("published_at") or "9999", -float(r["score"]), r["id"]))
        lead, copies = members[0], members[1:]
        best = max(members, key=lambda r: (-RELATION_ORDER.get(r["relation"], 2), float(r["score"])))
        items.append({**lead, "score": best["score"], "relation": best["relation"], "copies": copies,
                      "also_carried_by": [c["source"] for c in copies], "credited": own_credit(lead)})
    return items


def rank_similar(rows: list[Row], *, limit: int = 8) -> list[Row]:
    """Order stored neighbours for display: same-event reports first, copies of one text folded into one item.

    Each row has at least ``id, outlet, source, score, relation`` and may have ``copy_group`` and
    ``published_at``. Within a tier, higher score first, with a small penalty for every item already shown
    from the same outlet. Each returned item gains ``copies`` (the folded rows), ``also_carried_by`` (their
    source names) and ``credited`` (the wire agency the lead's own text credits, never a copy's).
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
