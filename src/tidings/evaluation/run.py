"""`tidings eval`: measure what Tidings calls the same, on real labelled news, through the real code paths.

Each labelled corpus is imported into a fresh store with ``import_jsonl`` and analysed with ``analyse_backlog``,
exactly as the CLI does; Similar News is read back through the same function that serves ``/api/similar``, and
stories through the Store. Figures below their pinned floor fail the run (``--check``).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tidings.analysis.embeddings import Embedder, embedding_text, get_embedder
from tidings.evaluation import metrics
from tidings.evaluation.datasets import EvalArticle, EvalPair, load_basil, load_semeval_en, load_wikiref
from tidings.evaluation.syndication import build_syndication_set
from tidings.ingest.pipeline import import_jsonl
from tidings.jobs import Analyser, analyse_backlog, evidence
from tidings.similarity.neardup import exact_containment
from tidings.similarity.relate import relate
from tidings.storage.store import Store
from tidings.web.pages import api_similar


@dataclass(frozen=True)
class Figure:
    set: str
    name: str
    value: float
    floor: float | None = None  # CI fails below this
    goal: float | None = None
    higher_is_better: bool = True

    @property
    def ok(self) -> bool:
        if self.floor is None:
            return True
        return self.value >= self.floor if self.higher_is_better else self.value <= self.floor


def corpus_store(articles: list[EvalArticle], embedder: Embedder, folder: Path, name: str) -> Store:
    """A fresh store holding ``articles``, imported and analysed the way `tidings import` does it."""
    store = Store(folder / f"{name}.db")
    lines = [json.dumps({"url": a.url, "title": a.title, "source": a.source, "text": a.text,
                         "published": a.published}) for a in articles]
    report = import_jsonl(store, lines)
    if report.errors:
        raise RuntimeError(f"{name}: {len(report.errors)} lines were refused: {report.errors[:3]}")
    analyse_backlog(store, Analyser.open(store, embedder))
    return store


def eval_basil(articles: list[EvalArticle], embedder: Embedder, folder: Path) -> list[Figure]:
    return _basil_figures("BASIL", articles, embedder, folder, FLOORS_BASIL)


def eval_basil_same_day(articles: list[EvalArticle], embedder: Embedder, folder: Path) -> list[Figure]:
    """BASIL with every article dated the same day: 100 events at once, so time cannot tell them apart."""
    same_day = [replace(a, published="2024-01-15T12:00:00Z") for a in articles]
    return _basil_figures("BASIL same day", same_day, embedder, folder, FLOORS_SAME_DAY)


# (floor, goal) per figure; floors sit just under what was measured (docs/quality.md).
FLOORS_BASIL = {"recall@2": (0.98, 0.99), "mrr": (0.99, None), "p": (0.97, None), "r": (0.92, None),
                "f1": (0.95, 0.95)}
FLOORS_SAME_DAY = {"recall@2": (0.96, None), "mrr": (0.98, None), "p": (0.94, None), "r": (0.92, None),
                   "f1": (0.93, None)}


def _basil_figures(label: str, articles: list[EvalArticle], embedder: Embedder, folder: Path,
                   floors: Mapping[str, tuple[float, float | None]]) -> list[Figure]:
    store = corpus_store(articles, embedder, folder, label.replace(" ", "-").lower())
    by_url = {a.url: a for a in articles}
    ranked: dict[str, list[str]] = {}
    relevant: dict[str, set[str]] = {}
    wrong_copies = 0
    for a in articles:
        similar = api_similar(store, a.url, limit=10)["similar"]
        ranked[a.key] = [by_url[s["url"]].key for s in similar]
        relevant[a.key] = {b.key for b in articles if b.gold == a.gold and b.source != a.source}
        wrong_copies += sum(1 for s in similar if s["relation"] == "duplicate")
    stories = {a.key: (store.article_by_url(a.url) or {}).get("story_id") for a in articles}
    p, r, f = metrics.bcubed(stories, {a.key: a.gold for a in articles})
    return [
        Figure(label, "Similar News recall@2", metrics.recall_at_k(ranked, relevant, 2), *floors["recall@2"]),
        Figure(label, "Similar News MRR", metrics.mrr(ranked, relevant), *floors["mrr"]),
        Figure(label, "story B-cubed precision", p, *floors["p"]),
        Figure(label, "story B-cubed recall", r, *floors["r"]),
        Figure(label, "story B-cubed F1", f, *floors["f1"]),
        Figure(label, "reports wrongly called duplicate", float(wrong_copies), 0.0, 0.0, higher_is_better=False),
    ]


def pair_scores(pairs: list[EvalPair], embedder: Embedder) -> list[float]:
    """Tidings' similarity score for each pair: the same evidence and combination the linker uses (no dates)."""
    vecs = embedder.embed([embedding_text(p.title1, "", p.text1) for p in pairs] +
                          [embedding_text(p.title2, "", p.text2) for p in pairs])
    half = len(pairs)
    scores = []
    for i, p in enumerate(pairs):
        a, b = evidence(p.title1, p.text1), evidence(p.title2, p.text2)
        link = relate(float(np.dot(vecs[i], vecs[half + i])), a, b,
                      containment=exact_containment(p.text1, p.text2) if a.fingerprint and b.fingerprint else 0.0)
        scores.append(link.score)
    return scores


def eval_semeval(pairs: list[EvalPair], embedder: Embedder) -> list[Figure]:
    scores = pair_scores(pairs, embedder)
    human = [-p.overall for p in pairs]  # 1 = most similar: negate so both grow together
    return [
        Figure("SemEval-2022 en", "Pearson vs human Overall", metrics.pearson(scores, human), 0.84, 0.87),
        Figure("SemEval-2022 en", "Spearman vs human Overall", metrics.spearman(scores, human), 0.82),
    ]


def eval_syndication(basil: list[EvalArticle], embedder: Embedder, folder: Path) -> list[Figure]:
    articles, gold_pairs = build_syndication_set(basil)
    store = corpus_store(articles, embedder, folder, "syndication")
    key_of = {a.url: a.key for a in articles}
    predicted: set[frozenset[str]] = set()
    for a in articles:
        row = store.article_by_url(a.url)
        assert row is not None
        for s in store.similar_to(int(row["id"]), limit=50):
            if s["relation"] == "duplicate":
                predicted.add(frozenset((a.key, key_of[s["url"]])))
    p, r = metrics.precision_recall(predicted, gold_pairs)
    return [
        Figure("Syndication", "duplicate precision", p, 0.99, 0.99),
        Figure("Syndication", "duplicate recall", r, 0.97, 0.95),
    ]


def eval_wikiref(articles: list[EvalArticle], embedder: Embedder, folder: Path) -> list[Figure]:
    store = corpus_store(articles, embedder, folder, "wikiref")
    pred = {a.key: (store.article_by_url(a.url) or {}).get("story_id") for a in articles}
    gold = {a.key: a.gold for a in articles}
    p, r, f = metrics.bcubed(pred, gold)
    return [
        Figure("WikiRef220", "cluster purity", metrics.purity(pred, gold), 0.95),
        Figure("WikiRef220", "B-cubed precision", p, 0.95),
        Figure("WikiRef220", "B-cubed recall", r),
        Figure("WikiRef220", "B-cubed F1", f),
    ]


SETS = ("basil", "basil-same-day", "semeval", "syndication", "wikiref")


def run_eval(root: Path, *, only: tuple[str, ...] = SETS, embedder: Embedder | None = None,
             progress: Callable[[str], None] = lambda _: None) -> list[Figure]:
    emb = embedder or get_embedder()
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="tidings-eval-") as tmp:
        folder = Path(tmp)
        basil = load_basil(root) if {"basil", "basil-same-day", "syndication"} & set(only) else []
        steps: dict[str, Callable[[], list[Figure]]] = {
            "basil": lambda: eval_basil(basil, emb, folder),
            "basil-same-day": lambda: eval_basil_same_day(basil, emb, folder),
            "semeval": lambda: eval_semeval(load_semeval_en(root), emb),
            "syndication": lambda: eval_syndication(basil, emb, folder),
            "wikiref": lambda: eval_wikiref(load_wikiref(root), emb, folder),
        }
        for name in only:
            start = time.perf_counter()
            figures += steps[name]()
            progress(f"{name}: {time.perf_counter() - start:.1f} s")
    return figures


def format_table(figures: list[Figure], *, markdown: bool = False) -> str:
    rows = [("set", "figure", "value", "floor", "goal", "")]
    for f in figures:
        rows.append((f.set, f.name, f"{f.value:.3f}", "" if f.floor is None else f"{f.floor:g}",
                     "" if f.goal is None else f"{f.goal:g}", "ok" if f.ok else "BELOW FLOOR"))
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows[1:]])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
