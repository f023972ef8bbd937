"""What a reader sees under an article: Similar News from other outlets, copies of one text collapsed."""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]

RELATION_ORDER = {"same_story": 0, "duplicate": 0, "related": 1}


def rank_similar(rows: list[Row], *, limit: int = 8) -> list[Row]:
    """Order stored neighbours for display and fold copies of one text into the item that carries them.

    Each row has at least ``id, outlet, score, relation``. Same-event reports come before merely related ones;
    within a relation, higher score first. Rows from an outlet already shown are skipped (a spread of outlets
    beats five links to one site). A "duplicate" row is attached to the best earlier item it duplicates when one
    is shown, else it is shown itself and later copies attach to it. Each returned row gains ``also_carried_by``:
    the other outlets' names that ran the same text.
    """
    ordered = sorted(rows, key=lambda r: (RELATION_ORDER.get(r["relation"], 2), -float(r["score"])))
    shown: list[Row] = []
    seen_outlets: set[str] = set()
    for row in ordered:
        if row["outlet"] in seen_outlets:
            continue
        seen_outlets.add(row["outlet"])
        if row["relation"] == "duplicate":
            host = next((s for s in shown if s["relation"] == "duplicate"), None)
            if host is not None:
                host["also_carried_by"].append(row["source"])
                continue
        shown.append({**row, "also_carried_by": []})
        if len(shown) >= limit:
            break
    return shown
