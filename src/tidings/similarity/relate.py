"""The decision at the heart of Tidings: how two articles from different outlets are related.

- "duplicate": the same text, republished (wire copy, syndication): most of the shorter text's word 5-grams
  are found in the other.
- "same_story": another report of the same event: close in meaning and wording, and close in time. Decided here
  for a fresh pair; the periodic re-clustering (``tidings.linking.recluster``) then settles it by the stories.
- "related": about the same subject, worth a link, but not the same event.
Below the related floor nothing is shown: two right items beat five with three wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tidings.analysis.terms import shared_terms
from tidings.similarity.lexical import weighted_overlap
from tidings.similarity.neardup import COPY_CONTAINMENT, Fingerprint


@dataclass(frozen=True)
class Thresholds:
    copy: float = COPY_CONTAINMENT  # share of the shorter text's 5-grams found in the other
    same_story: float = 0.45        # combined score; about 19 in 20 pairs this close are one event (docs/quality.md)
    related: float = 0.30           # about the top half-percent of unrelated pairs reach this
    same_story_days: float = 4.0    # reports of one event further apart than this are "related" at most
    lexical_weight: float = 0.5     # meaning and rarity-weighted wording count alike
    time_weight: float = 0.1        # close in time raises the score by up to half this, far apart lowers it
    time_scale_days: float = 3.0


DEFAULT = Thresholds()


@dataclass(frozen=True)
class Evidence:
    """What the linker knows of one article."""

    words: frozenset[str]           # content words of headline and lead
    terms: list[str]                # names and figures, most salient first
    fingerprint: Fingerprint = field(default_factory=Fingerprint)
    published: float | None = None  # epoch seconds; None when undated


@dataclass(frozen=True)
class Link:
    score: float
    relation: str | None  # None: not similar enough to show
    cosine: float
    lexical: float
    containment: float
    gap_days: float | None
    shared: list[str]

    def why(self) -> dict[str, object]:
        """The evidence, as shown to readers: similarity, shared names and terms, time apart."""
        return {"similarity": round(self.cosine, 3), "wording": round(self.lexical, 3),
                "copied_text": round(self.containment, 3),
                "hours_apart": None if self.gap_days is None else round(self.gap_days * 24, 1),
                "shared": self.shared}


def combined_score(cosine: float, lexical: float, gap_days: float | None = None, t: Thresholds = DEFAULT) -> float:
    """Meaning and wording, nudged by time: reports of one event come close together. Undated: no nudge."""
    score = (1.0 - t.lexical_weight) * cosine + t.lexical_weight * lexical
    if gap_days is not None:
        score += t.time_weight * (math.exp(-gap_days / t.time_scale_days) - 0.5)
    return score


def combined_scores(cosine: np.ndarray, lexical: np.ndarray, gap_days: np.ndarray, t: Thresholds = DEFAULT
                    ) -> np.ndarray:
    """``combined_score`` over arrays of pairs; a NaN gap is an undated pair (no nudge)."""
    score = (1.0 - t.lexical_weight) * cosine + t.lexical_weight * lexical
    nudge = t.time_weight * (np.exp(-np.nan_to_num(gap_days, nan=0.0) / t.time_scale_days) - 0.5)
    return np.where(np.isnan(gap_days), score, score + nudge)


def relate(cosine: float, a: Evidence, b: Evidence, *, containment: float = 0.0,
           t: Thresholds = DEFAULT) -> Link:
    """Relate two articles given their embedding cosine and (confirmed) text containment."""
    lex = weighted_overlap(a.words, b.words)
    gap = None
    if a.published is not None and b.published is not None:
        gap = abs(a.published - b.published) / 86400.0
    score = combined_score(cosine, lex, gap, t)
    shared = shared_terms(a.terms, b.terms)
    # One event has one cast: reports that name no name or figure in common are not called the same story.
    names_agree = bool(shared) or not a.terms or not b.terms
    relation: str | None = None
    if containment >= t.copy:
        relation = "duplicate"
    elif score >= t.same_story and names_agree and (gap is None or gap <= t.same_story_days):
        relation = "same_story"
    elif score >= t.related:
        relation = "related"
    return Link(score=round(score, 4), relation=relation, cosine=cosine, lexical=lex, containment=containment,
                gap_days=gap, shared=shared)
