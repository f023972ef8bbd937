"""Lexical overlap of headline and lead: catches shared names and numbers that embeddings blur."""

from __future__ import annotations

import re

LEAD_WORDS = 80

STOPWORDS = frozenset(
    """a an and are as at be been but by for from has have he her his i in is it its of on or our she that the
    their them they this to was were will with would who what when where which while not no said says say after
    before over into than then there about up out new more most also just can could may might one two us we you
    your all any been being do does did had if so some such these those very him how why year years""".split()  # noqa: SIM905
)


def content_words(title: str, lead: str) -> frozenset[str]:
    """Distinct content words of the headline and the first words of the lead, lower-cased, stopwords out."""
    words = re.findall(r"\w+", f"{title} {' '.join(lead.split()[:LEAD_WORDS])}".lower())
    return frozenset(w for w in words if w not in STOPWORDS and (len(w) > 2 or w.isdigit()))


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Dice coefficient of two word sets (0..1)."""
    if not a or not b:
        return 0.0
    return 2.0 * len(a & b) / (len(a) + len(b))
