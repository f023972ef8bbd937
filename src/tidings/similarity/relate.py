"""The decision at the heart of Tidings: how two articles from different outlets are related.

- "duplicate": the same text, republished (wire copy, syndication) — high shingle resemblance.
- "same_story": another report of the same event — close in meaning and wording, and close in time.
- "related": about the same subject, worth a link, but not the same event.
Below the related floor nothing is shown: two right items beat five with three wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidings.similarity.lexical import overlap
from tidings.similarity.neardup import resemblance


@dataclass(frozen=True)
class Thresholds:
    duplicate: float = 0.5        # estimated Jaccard of word 5-gram shingles
    same_story: float = 0.58      # combined score
    related: float = 0.42
    same_story_days: float = 4.0  # reports of one event further apart than this are "related" at most
    lexical_weight: float = 0.25


DEFAULT = Thresholds()


@dataclass(frozen=True)
class Link:
    score: float
    relation: str | None  # None: not similar enough to show
    cosine: float
    lexical: float
    resemblance: float
    gap_days: float | None


def combined_score(cosine: float, lexical: float, t: Thresholds = DEFAULT) -> float:
    return (1.0 - t.lexical_weight) * cosine + t.lexical_weight * lexical


def relate(cosine: float, words_a: frozenset[str], words_b: frozenset[str], fp_a: bytes, fp_b: bytes,
           published_a: float | None, published_b: float | None, t: Thresholds = DEFAULT) -> Link:
    lex = overlap(words_a, words_b)
    res = resemblance(fp_a, fp_b)
    score = combined_score(cosine, lex, t)
    gap = abs(published_a - published_b) / 86400.0 if published_a is not None and published_b is not None else None
    relation: str | None = None
    if res >= t.duplicate:
        relation = "duplicate"
    elif score >= t.same_story and (gap is None or gap <= t.same_story_days):
        relation = "same_story"
    elif score >= t.related:
        relation = "related"
    return Link(score=round(score, 4), relation=relation, cosine=cosine, lexical=lex, resemblance=res, gap_days=gap)
