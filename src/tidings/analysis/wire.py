"""Which wire agency, if any, a text credits: the original of a syndicated copy, even when published later."""

from __future__ import annotations

import re

AGENCIES = {
    "Associated Press": r"\(AP\)|\bAssociated Press\b|\bAP Photo\b",
    "Reuters": r"\(Reuters\)|\bReuters\b",
    "Agence France-Presse": r"\(AFP\)|\bAFP\b|Agence France[- ]Presse",
    "United Press International": r"\(UPI\)|United Press International",
    "PA Media": r"\bPA Media\b|\(PA\)|Press Association",
    "dpa": r"\(dpa\)|Deutsche Presse-Agentur",
    "Bloomberg": r"\bBloomberg News\b|\(Bloomberg\)",
    "Kyodo": r"\bKyodo\b",
    "Xinhua": r"\bXinhua\b",
    "ANI": r"\(ANI\)",
    "Canadian Press": r"\bThe Canadian Press\b",
}
_PATTERNS = [(name, re.compile(rx)) for name, rx in AGENCIES.items()]
EDGE_CHARS = 400  # credits sit in the dateline, the byline or the last lines


def credited_agency(text: str) -> str | None:
    """The agency credited at the top or the bottom of a text (dateline, byline, credit line), if any."""
    edges = f"{text[:EDGE_CHARS]}\n{text[-EDGE_CHARS:]}"
    hits = [(m.start(), name) for name, rx in _PATTERNS if (m := rx.search(edges))]
    return min(hits)[1] if hits else None
