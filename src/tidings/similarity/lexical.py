"""Lexical overlap of headline and lead: catches shared names and numbers that embeddings blur."""

from __future__ import annotations

import re

from tidings.analysis.terms import STOPWORDS

LEAD_WORDS = 80



def content_words(title: str, lead: str) -> frozenset[str]:
    """Distinct content words of the headline and the first words of the lead, lower-cased, stopwords out."""
    words = re.findall(r"\w+", f"{title} {' '.join(lead.split()[:LEAD_WORDS])}".lower())
    return frozenset(w for w in words if w not in STOPWORDS and (len(w) > 2 or w.isdigit()))


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Dice coefficient of two word sets (0..1)."""
    if not a or not b:
        return 0.0
    return 2.0 * len(a & b) / (len(a) + len(b))
