"""Which wire agency, if any, a text credits: the original of a syndicated copy, even when published later."""

from __future__ import annotations

import re

# Each agency: how a text credits it, and the words every such credit contains (a plain substring test is far
# cheaper than the search, and most texts credit no agency: an article page reads the credit of each of its
# Similar News items).
AGENCIES = {
    "Associated Press": (r"\(AP\)|\bAssociated Press\b|\bAP Photo\b", ("AP", "Associated Press")),
    "Reuters": (r"\(Reuters\)|\bReuters\b", ("Reuters",)),
    "Agence France-Presse": (r"\(AFP\)|\bAFP\b|Agence France[- ]Presse", ("AFP", "Agence France")),
    "United Press International": (r"\(UPI\)|United Press International", ("UPI", "United Press International")),
    "PA Media": (r"\bPA Media\b|\(PA\)|Press Association", ("PA", "Press Association")),
    "dpa": (r"\(dpa\)|Deutsche Presse-Agentur", ("(dpa)", "Deutsche Presse-Agentur")),
    "Bloomberg": (r"\bBloomberg News\b|\(Bloomberg\)", ("Bloomberg",)),
    "Kyodo": (r"\bKyodo\b", ("Kyodo",)),
    "Xinhua": (r"\bXinhua\b", ("Xinhua",)),
    "ANI": (r"\(ANI\)", ("(ANI)",)),
    "Canadian Press": (r"\bThe Canadian Press\b", ("The Canadian Press",)),
}
_PATTERNS = [(name, words, re.compile(rx)) for name, (rx, words) in AGENCIES.items()]
EDGE_CHARS = 400  # credits sit in the dateline, the byline or the last lines


def credited_agency(text: str) -> str | None:
    """The agency credited at the top or the bottom of a text (dateline, byline, credit line), if any: the one
    credited first."""
    edges = f"{text[:EDGE_CHARS]}\n{text[-EDGE_CHARS:]}"
    hits = [(m.start(), name) for name, words, rx in _PATTERNS
            if any(w in edges for w in words) and (m := rx.search(edges))]
    return min(hits)[1] if hits else None
