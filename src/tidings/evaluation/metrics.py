"""Quality measures for clusterings, rankings, scores and predicted pairs; pure functions over plain data."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np


@dataclass(frozen=True)
class _Unassigned:
    """Cluster label of an item the prediction left out: it counts as a cluster of its own."""

    key: str


def bcubed(pred: Mapping[str, Hashable], gold: Mapping[str, Hashable]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 over the items of ``gold`` (Amigó et al. 2009).

    Per item: precision is the share of its predicted cluster that shares its gold label, recall the share
    of its gold class found in its predicted cluster; both are averaged over items. Items absent from
    ``pred`` count as singletons; items only in ``pred`` are ignored. Empty ``gold`` gives zeros.
    """
    if not gold:
        return 0.0, 0.0, 0.0
    labels = {key: pred.get(key, _Unassigned(key)) for key in gold}
    both = Counter((labels[key], gold[key]) for key in gold)
    pred_size = Counter(labels.values())
    gold_size = Counter(gold.values())
    precision = sum(both[labels[k], gold[k]] / pred_size[labels[k]] for k in gold) / len(gold)
    recall = sum(both[labels[k], gold[k]] / gold_size[gold[k]] for k in gold) / len(gold)
    return precision, recall, f1(precision, recall)


def purity(pred: Mapping[str, Hashable], gold: Mapping[str, Hashable]) -> float:
    """Share of the items of ``gold`` that sit in the majority gold class of their predicted cluster."""
    if not gold:
        return 0.0
    labels = {key: pred.get(key, _Unassigned(key)) for key in gold}
    clusters: dict[Hashable, Counter[Hashable]] = {}
    for key, label in labels.items():
        clusters.setdefault(label, Counter())[gold[key]] += 1
    return sum(max(counts.values()) for counts in clusters.values()) / len(gold)


def recall_at_k(ranked: Mapping[str, list[str]], relevant: Mapping[str, set[str]], k: int) -> float:
    """Mean over queries of |top-k ∩ relevant| / min(k, |relevant|).

    Queries are the keys of ``relevant`` with at least one relevant item; a query missing from ``ranked``
    scores 0. The min() keeps a perfect ranking at 1 when fewer than k items are relevant.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    scores = [
        len(set(ranked.get(query, [])[:k]) & rel) / min(k, len(rel)) for query, rel in relevant.items() if rel
    ]
    return sum(scores) / len(scores) if scores else 0.0


def mrr(ranked: Mapping[str, list[str]], relevant: Mapping[str, set[str]]) -> float:
    """Mean reciprocal rank of the first relevant item, over queries with at least one relevant item."""
    scores = [_reciprocal_rank(ranked.get(query, []), rel) for query, rel in relevant.items() if rel]
    return sum(scores) / len(scores) if scores else 0.0


def _reciprocal_rank(ranking: list[str], rel: set[str]) -> float:
    for position, item in enumerate(ranking, start=1):
        if item in rel:
            return 1.0 / position
    return 0.0


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation; NaN when it is undefined (fewer than two points or a constant sequence)."""
    a, b = _paired(x, y)
    if len(a) < 2:
        return math.nan
    a = a - a.mean()
    b = b - b.mean()
    denominator = math.sqrt(float(a @ a) * float(b @ b))
    if denominator == 0.0:
        return math.nan
    return max(-1.0, min(1.0, float(a @ b) / denominator))


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (ties get their average rank); NaN when undefined."""
    a, b = _paired(x, y)
    return pearson(_ranks(a).tolist(), _ranks(b).tolist())


def _paired(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    if len(x) != len(y):
        raise ValueError(f"sequences differ in length: {len(x)} != {len(y)}")
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of the ranks they span."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=float)
    sorted_values = values[order]
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def precision_recall(predicted: set[frozenset[str]], gold: set[frozenset[str]]) -> tuple[float, float]:
    """Precision and recall of predicted unordered pairs against gold pairs.

    Only two-item sets count as pairs. With nothing predicted precision is 1 (no wrong claim was made);
    with no gold pairs recall is 1 (nothing was missed).
    """
    pred_pairs = {pair for pair in predicted if len(pair) == 2}
    gold_pairs = {pair for pair in gold if len(pair) == 2}
    hits = len(pred_pairs & gold_pairs)
    precision = hits / len(pred_pairs) if pred_pairs else 1.0
    recall = hits / len(gold_pairs) if gold_pairs else 1.0
    return precision, recall


def f1(precision: float, recall: float) -> float:
    """Harmonic mean of precision and recall (0 when both are 0)."""
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def cluster_pairs(labels: Mapping[str, Hashable]) -> set[frozenset[str]]:
    """Every unordered pair of keys that share a label: turns a clustering into pairs for precision_recall."""
    groups: dict[Hashable, list[str]] = {}
    for key, label in labels.items():
        groups.setdefault(label, []).append(key)
    return {frozenset(pair) for members in groups.values() for pair in combinations(sorted(members), 2)}
