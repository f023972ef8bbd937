"""Lexical overlap of headline and lead: catches shared names and numbers that embeddings blur.

Words are weighted by how rare they are in English at large (wordfreq's Zipf scale), not in the store: a name
like "Blinken" says much, "officials" little, and the weight of a word is the same on the first day as after a
million articles, so a score never drifts as the store grows.
"""

from __future__ import annotations

import functools
import math
import re

from tidings.analysis.terms import STOPWORDS

LEAD_WORDS = 80
RARE_ZIPF = 8.0  # weight = RARE_ZIPF - Zipf frequency: "the" (7.7) weighs ~0, a rare name ~7


def content_words(title: str, lead: str) -> frozenset[str]:
    """Distinct content words of the headline and the first words of the lead, lower-cased, stopwords out."""
    words = re.findall(r"\w+", f"{title} {' '.join(lead.split()[:LEAD_WORDS])}".lower())
    return frozenset(w for w in words if w not in STOPWORDS and (len(w) > 2 or w.isdigit()))


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Dice coefficient of two word sets (0..1)."""
    if not a or not b:
        return 0.0
    return 2.0 * len(a & b) / (len(a) + len(b))


@functools.lru_cache(maxsize=200_000)
def word_weight(word: str) -> float:
    """How much sharing this word says: rarer words weigh more (0 for the commonest)."""
    from wordfreq import zipf_frequency

    return max(0.0, RARE_ZIPF - zipf_frequency(word, "en", wordlist="best"))


NORMS_KEPT = 8_192  # each kept norm holds its word set alive (~5 KB with its words)


@functools.lru_cache(maxsize=NORMS_KEPT)
def norm(words: frozenset[str]) -> float:
    """Length of a word set's rarity-weighted vector (kept: an article meets many candidates, mostly recent)."""
    return math.sqrt(sum(word_weight(w) ** 2 for w in words))


def weighted_overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Cosine of the two word sets, each word weighted by its rarity (0..1)."""
    common = a & b
    if not common:
        return 0.0
    na, nb = norm(a), norm(b)
    if na == 0.0 or nb == 0.0:
        return 0.0
    return sum(word_weight(w) ** 2 for w in common) / (na * nb)
