"""Plain baselines measured beside Tidings on every labelled set, so a figure is never read without its yardstick.

- Nearest neighbours by TF-IDF cosine, by MiniLM cosine, and by their half-and-half mix, other outlets only.
- Average-linkage clustering of the MiniLM vectors, cut at the threshold that scores best on the gold labels:
  a hindsight figure no online system can be tuned to, shown as the bar for stories.
Pure functions over plain data (texts, vectors, labels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tidings.evaluation import metrics

HINDSIGHT_CUTS = tuple(round(0.30 + 0.025 * i, 3) for i in range(21))  # cosine 0.30 .. 0.80


def tfidf_similarity(texts: Sequence[str]) -> np.ndarray:
    """Cosine of sublinear TF-IDF vectors fitted on the texts themselves (the textbook baseline)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    x = TfidfVectorizer(sublinear_tf=True).fit_transform(list(texts))
    return np.asarray((x @ x.T).toarray(), dtype=np.float64)


def ranked_lists(similarity: np.ndarray, outlets: Sequence[str], keys: Sequence[str], k: int = 10
                 ) -> dict[str, list[str]]:
    """For each item, the keys of its k most similar items from other outlets, best first."""
    s = np.array(similarity, dtype=np.float64, copy=True)
    out = np.asarray(outlets)
    s[out[:, None] == out[None, :]] = -np.inf  # itself and its own outlet
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return {keys[i]: [keys[j] for j in order[i] if np.isfinite(s[i, j])] for i in range(len(keys))}


@dataclass(frozen=True)
class Retrieval:
    name: str
    recall_at_2: float
    precision_at_1: float


def retrieval_baselines(texts: Sequence[str], vectors: np.ndarray, outlets: Sequence[str], keys: Sequence[str],
                        relevant: dict[str, set[str]]) -> list[Retrieval]:
    """recall@2 and P@1 of the three plain nearest-neighbour lists."""
    cosine = np.asarray(vectors, dtype=np.float64) @ np.asarray(vectors, dtype=np.float64).T
    tfidf = tfidf_similarity(texts)
    out = []
    for name, s in (("TF-IDF", tfidf), ("MiniLM", cosine), ("1/2 TF-IDF + 1/2 MiniLM", 0.5 * tfidf + 0.5 * cosine)):
        ranked = ranked_lists(s, outlets, keys)
        out.append(Retrieval(name, metrics.recall_at_k(ranked, relevant, 2), metrics.recall_at_k(ranked, relevant, 1)))
    return out


@dataclass(frozen=True)
class Clustering:
    cut: float  # cosine
    precision: float
    recall: float
    f1: float


def average_linkage_hindsight(vectors: np.ndarray, keys: Sequence[str], gold: dict[str, str],
                              cuts: Sequence[float] = HINDSIGHT_CUTS) -> Clustering:
    """Average-linkage clustering of the vectors at the cosine cut that scores best against ``gold``."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    v = np.asarray(vectors, dtype=np.float64)
    if len(v) < 2:
        return Clustering(1.0, 1.0, 1.0, 1.0)
    tree = linkage(np.clip(pdist(v, "cosine"), 0.0, 2.0), method="average")
    best = Clustering(0.0, 0.0, 0.0, -1.0)
    for cut in cuts:
        labels = fcluster(tree, t=1.0 - cut, criterion="distance")
        p, r, f = metrics.bcubed({k: int(c) for k, c in zip(keys, labels, strict=True)}, gold)
        if f > best.f1:
            best = Clustering(cut, p, r, f)
    return best
