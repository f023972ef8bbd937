"""Measuring Tidings on labelled news: data-set loaders, quality metrics and a synthetic syndication set."""

from tidings.evaluation.datasets import (
    EvalArticle,
    EvalPair,
    data_dir,
    load_basil,
    load_semeval_en,
    load_wikiref,
)
from tidings.evaluation.metrics import (
    bcubed,
    cluster_pairs,
    f1,
    mrr,
    pearson,
    precision_recall,
    purity,
    recall_at_k,
    spearman,
)
from tidings.evaluation.syndication import build_syndication_set

__all__ = [
    "EvalArticle",
    "EvalPair",
    "bcubed",
    "build_syndication_set",
    "cluster_pairs",
    "data_dir",
    "f1",
    "load_basil",
    "load_semeval_en",
    "load_wikiref",
    "mrr",
    "pearson",
    "precision_recall",
    "purity",
    "recall_at_k",
    "spearman",
]
