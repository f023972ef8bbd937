"""`tidings eval`: measure what Tidings calls the same, on real labelled news, through the real code paths.

Each labelled corpus is imported into a fresh store with ``import_jsonl`` and analysed with ``analyse_backlog``,
exactly as the CLI does; Similar News is read back through the same function that serves ``/api/similar``, and
stories through the Store. Figures below their pinned floor fail the run (``--check``).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import numpy as np

from tidings.analysis.embeddings import Embedder, embedding_text, get_embedder
from tidings.errors import UserError
from tidings.evaluation import baselines, metrics
from tidings.evaluation.datasets import (
    EvalArticle,
    EvalPair,
    headlines_only,
    load_allsides,
    load_basil,
    load_semeval_en,
    load_wikiref,
)
from tidings.evaluation.syndication import (
    ALLSIDES_SAME_TEXT,
    build_fulltext_copy_set,
    build_summary_copy_set,
    build_syndication_set,
)
from tidings.ingest.pipeline import import_jsonl
from tidings.jobs import Analyser, analyse_backlog, evidence
from tidings.progress import Progress, quiet
from tidings.similarity.neardup import exact_containment
from tidings.similarity.relate import relate
from tidings.storage.sqlite import SQLiteStore
from tidings.storage.store import Store
from tidings.web.pages import api_similar

log = logging.getLogger(__name__)
T = TypeVar("T")


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


def corpus_store(articles: list[EvalArticle], embedder: Embedder, folder: Path, name: str, *,
                 leads_as_summary: bool = False, progress: Progress = quiet) -> Store:
    """A fresh store holding ``articles``, imported and analysed the way `tidings import` does it. With
    ``leads_as_summary`` the text goes in as the feed's summary (headline + lead sets: no page text).
    ``progress`` hears the articles analysed, as ``analyse_backlog`` tells them."""
    store = SQLiteStore(folder / f"{name}.db")
    field = "summary" if leads_as_summary else "text"
    lines = [json.dumps({"url": a.url, "title": a.title, "source": a.source, field: a.text,
                         "published": a.published}) for a in articles]
    report = import_jsonl(store, lines)
    if report.errors:
        raise RuntimeError(f"{name}: {len(report.errors)} lines were refused: {report.errors[:3]}")
    analyse_backlog(store, Analyser.open(store, embedder), progress=progress)
    return store


@dataclass(frozen=True)
class Floors:
    """(floor, goal) per figure of a news set; floors sit just under what was measured (docs/quality.md)."""

    recall_at_2: tuple[float, float | None]
    precision_at_1: tuple[float, float | None]
    label_precision: tuple[float | None, float | None]
    story_precision: tuple[float | None, float | None]
    story_f1: tuple[float | None, float | None]
    lone: tuple[float | None, float | None] = (None, 0.05)
    no_duplicates: bool = True  # the set holds no republished copies: any "duplicate" is wrong


FLOORS: dict[str, Floors] = {
    "BASIL": Floors((0.99, 0.988), (0.99, None), (0.98, None), (0.98, None), (0.98, 0.97), (0.03, 0.05)),
    "BASIL same day": Floors((0.975, None), (0.98, None), (0.94, None), (0.95, None), (0.96, None), (0.03, 0.05)),
    "BASIL undated": Floors((0.975, None), (0.98, None), (0.96, None), (0.96, None), (0.965, 0.98), (0.03, 0.05)),
    "BASIL headlines": Floors((0.92, None), (0.97, None), (0.98, None), (0.98, None), (0.97, None), (0.05, 0.05)),
    "AllSides": Floors((0.82, 0.83), (0.88, 0.89), (0.85, 0.90), (0.93, 0.93), (0.87, 0.87), (0.16, 0.05),
                       no_duplicates=False),
    "AllSides headlines": Floors((0.64, None), (0.73, None), (0.76, None), (0.87, None), (0.78, None), (0.21, 0.05),
                                 no_duplicates=False),
}


def eval_news_set(label: str, articles: list[EvalArticle], embedder: Embedder, folder: Path, *,
                  leads_as_summary: bool = False, progress: Progress = quiet) -> list[Figure]:
    """Similar News and stories of one labelled set through the real code paths, with the plain baselines
    measured on the same items beside them."""
    floors = FLOORS[label]
    store = corpus_store(articles, embedder, folder, label.replace(" ", "-").lower(),
                         leads_as_summary=leads_as_summary, progress=progress)
    by_url = {a.url: a for a in articles}
    ranked: dict[str, list[str]] = {}
    relevant = {a.key: {b.key for b in articles if b.gold == a.gold and b.source != a.source} for a in articles}
    labelled = labelled_right = wrong_copies = 0
    for a in articles:
        similar = api_similar(store, a.url, limit=10)["similar"]
        ranked[a.key] = [by_url[s["url"]].key for s in similar]
        for s in similar:
            if s["relation"] in ("same_story", "duplicate"):
                labelled += 1
                labelled_right += by_url[s["url"]].gold == a.gold
            wrong_copies += s["relation"] == "duplicate"
    stories = {a.key: (store.article_by_url(a.url) or {}).get("story_id") for a in articles}
    gold = {a.key: a.gold for a in articles}
    p, r, f = metrics.bcubed(stories, gold)
    r2 = metrics.recall_at_k(ranked, relevant, 2)
    p1 = metrics.recall_at_k(ranked, relevant, 1)
    figures = [
        Figure(label, "Similar News recall@2", r2, *floors.recall_at_2),
        Figure(label, "Similar News P@1", p1, *floors.precision_at_1),
        Figure(label, "Similar News MRR", metrics.mrr(ranked, relevant)),
        Figure(label, "precision of same_story/duplicate labels", labelled_right / labelled if labelled else 1.0,
               *floors.label_precision),
        Figure(label, "story B-cubed precision", p, *floors.story_precision),
        Figure(label, "story B-cubed recall", r),
        Figure(label, "story B-cubed F1", f, *floors.story_f1),
        Figure(label, "multi-outlet events' articles left alone", lone_share(stories, gold, articles),
               *floors.lone, higher_is_better=False),
    ]
    if floors.no_duplicates:
        figures.append(Figure(label, "reports wrongly called duplicate", float(wrong_copies), 0.0, 0.0,
                              higher_is_better=False))
    return figures + _baseline_figures(label, articles, embedder, relevant, r2, p1, f)


def lone_share(stories: dict[str, object], gold: dict[str, str], articles: list[EvalArticle]) -> float:
    """Share of the articles of multi-outlet events that sit in a story of their own."""
    outlets: dict[str, set[str]] = {}
    for a in articles:
        outlets.setdefault(a.gold, set()).add(a.source)
    size: dict[object, int] = {}
    for s in stories.values():
        size[s] = size.get(s, 0) + 1
    multi = [a for a in articles if len(outlets[a.gold]) > 1]
    alone = [a for a in multi if stories[a.key] is None or size[stories[a.key]] == 1]
    return len(alone) / len(multi) if multi else 0.0


def _baseline_figures(label: str, articles: list[EvalArticle], embedder: Embedder, relevant: dict[str, set[str]],
                      recall2: float, p1: float, story_f1: float) -> list[Figure]:
    """The plain baselines on the same items, and Tidings' margin over the best of them (CI fails below 0)."""
    texts = [embedding_text(a.title, "", a.text) for a in articles]
    vectors = embedder.embed(texts)
    keys = [a.key for a in articles]
    plain = baselines.retrieval_baselines(texts, vectors, [a.source for a in articles], keys, relevant)
    cl = baselines.average_linkage_hindsight(vectors, keys, {a.key: a.gold for a in articles})
    figures = [Figure(label, f"baseline {b.name} recall@2", b.recall_at_2) for b in plain]
    figures += [Figure(label, f"baseline {b.name} P@1", b.precision_at_1) for b in plain]
    figures.append(Figure(label, f"baseline average-linkage MiniLM F1 (hindsight cut {cl.cut:.3f})", cl.f1))
    figures += [
        Figure(label, "recall@2 over best baseline", recall2 - max(b.recall_at_2 for b in plain), 0.0, 0.04),
        Figure(label, "P@1 over best baseline", p1 - max(b.precision_at_1 for b in plain), 0.0),
        Figure(label, "story F1 over hindsight average linkage", story_f1 - cl.f1),
    ]
    return figures


def undated(articles: list[EvalArticle]) -> list[EvalArticle]:
    return [replace(a, published=None) for a in articles]


def same_day(articles: list[EvalArticle]) -> list[EvalArticle]:
    """Every article dated the same day: 100 events at once, so time cannot tell them apart."""
    return [replace(a, published="2024-01-15T12:00:00Z") for a in articles]


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
        Figure("SemEval-2022 en", "Pearson vs human Overall", metrics.pearson(scores, human), 0.83, 0.85),
        Figure("SemEval-2022 en", "Spearman vs human Overall", metrics.spearman(scores, human), 0.82),
    ]


def eval_syndication(basil: list[EvalArticle], embedder: Embedder, folder: Path,
                     progress: Progress = quiet) -> list[Figure]:
    articles, gold_pairs = build_syndication_set(basil)
    return eval_copies("Syndication", articles, gold_pairs, embedder, folder, progress=progress)


def eval_copies(label: str, articles: list[EvalArticle], gold_pairs: set[frozenset[str]], embedder: Embedder,
                folder: Path, *, leads_as_summary: bool = False, progress: Progress = quiet) -> list[Figure]:
    """Copies found through the real code paths: every pair Tidings calls ``duplicate`` against the gold copy
    pairs, and how many of its duplicates are two outlets' own reports of one story."""
    store = corpus_store(articles, embedder, folder, label.replace(" ", "-").lower(),
                         leads_as_summary=leads_as_summary, progress=progress)
    by_url = {a.url: a for a in articles}
    predicted: set[frozenset[str]] = set()
    for a in articles:
        row = store.article_by_url(a.url)
        assert row is not None
        for s in store.similar_to(int(row["id"]), limit=50):
            if s["relation"] == "duplicate":
                predicted.add(frozenset((a.key, by_url[s["url"]].key)))
    p, r = metrics.precision_recall(predicted, gold_pairs)
    gold = {a.key: a.gold for a in articles}
    reports = sum(1 for pair in predicted - gold_pairs if len({gold[k] for k in pair}) == 1)
    return [
        Figure(label, "duplicate precision", p, *COPY_FLOORS[label][0]),
        Figure(label, "duplicate recall", r, *COPY_FLOORS[label][1]),
        Figure(label, "reports of one story called copies", float(reports), 0.0, 0.0, higher_is_better=False),
    ]


# (floor, goal) of duplicate precision and recall per copy set (docs/quality.md).
COPY_FLOORS = {
    "Syndication": ((0.99, 0.99), (0.97, 0.95)),
    "Copies of summaries": ((0.99, 0.99), (0.95, 0.95)),
    "Copies of full texts": ((0.99, 0.99), (0.95, 0.95)),
}


def eval_wikiref(articles: list[EvalArticle], embedder: Embedder, folder: Path,
                 progress: Progress = quiet) -> list[Figure]:
    store = corpus_store(articles, embedder, folder, "wikiref", progress=progress)
    pred = {a.key: (store.article_by_url(a.url) or {}).get("story_id") for a in articles}
    gold = {a.key: a.gold for a in articles}
    p, r, f = metrics.bcubed(pred, gold)
    return [
        Figure("WikiRef220", "cluster purity", metrics.purity(pred, gold), 0.95),
        Figure("WikiRef220", "B-cubed precision", p, 0.95),
        Figure("WikiRef220", "B-cubed recall", r),
        Figure("WikiRef220", "B-cubed F1", f),
    ]


SETS = ("basil", "basil-same-day", "basil-undated", "basil-headlines", "allsides", "allsides-headlines", "semeval",
        "syndication", "copies-summaries", "copies-fulltext", "wikiref")


def run_eval(root: Path, *, only: tuple[str, ...] = SETS, embedder: Embedder | None = None,
             progress: Progress = quiet) -> list[Figure]:
    """The figures of the sets in ``only``. ``progress`` hears ``("sets", done, len(only))`` as each set ends
    and, within a set, its name with the articles analysed of those in it."""
    emb = embedder or get_embedder()
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="tidings-eval-") as tmp:
        folder = Path(tmp)
        basil = load_basil(root) if any(n.startswith("basil") or n in ("syndication", "copies-fulltext")
                                        for n in only) else []
        allsides = load_allsides(root) if any(n.startswith("allsides") or n == "copies-summaries"
                                              for n in only) else []
        progress("sets", 0, len(only))
        for done, name in enumerate(only, start=1):
            start = time.perf_counter()
            figures += _eval_set(name, root, basil, allsides, emb, folder, _as_step(progress, name))
            log.info("%s: %.1f s", name, time.perf_counter() - start)
            progress("sets", done, len(only))
    return figures


def _as_step(progress: Progress, name: str) -> Progress:
    """A set's analysis told under the set's own name (the settling of its stories left out)."""
    if progress is quiet:
        return quiet

    def told(step: str, done: int, total: int | None) -> None:
        if step == "analyse":
            progress(name, done, total)

    return told


def _eval_set(name: str, root: Path, basil: list[EvalArticle], allsides: list[EvalArticle], emb: Embedder,
              folder: Path, progress: Progress) -> list[Figure]:
    steps: dict[str, Callable[[], list[Figure]]] = {
        "basil": lambda: eval_news_set("BASIL", basil, emb, folder, progress=progress),
        "basil-same-day": lambda: eval_news_set("BASIL same day", same_day(basil), emb, folder, progress=progress),
        "basil-undated": lambda: eval_news_set("BASIL undated", undated(basil), emb, folder, progress=progress),
        "basil-headlines": lambda: eval_news_set("BASIL headlines", headlines_only(basil), emb, folder,
                                                 progress=progress),
        "allsides": lambda: eval_news_set("AllSides", allsides, emb, folder, leads_as_summary=True,
                                          progress=progress),
        "allsides-headlines": lambda: eval_news_set("AllSides headlines", headlines_only(allsides), emb, folder,
                                                    progress=progress),
        "semeval": lambda: eval_semeval(_needed(load_semeval_en(root), name, root), emb),
        "syndication": lambda: eval_syndication(basil, emb, folder, progress),
        "copies-summaries": lambda: eval_copies("Copies of summaries", *build_summary_copy_set(
            allsides, same_text=ALLSIDES_SAME_TEXT), emb, folder, leads_as_summary=True, progress=progress),
        "copies-fulltext": lambda: eval_copies("Copies of full texts", *build_fulltext_copy_set(basil), emb,
                                               folder, progress=progress),
        "wikiref": lambda: eval_wikiref(_needed(load_wikiref(root), name, root), emb, folder, progress),
    }
    if name.startswith("basil") or name in ("syndication", "copies-fulltext"):
        _needed(basil, name, root)
    if name.startswith("allsides") or name == "copies-summaries":
        _needed(allsides, name, root)
    return steps[name]()


def _needed(items: list[T], name: str, root: Path) -> list[T]:
    if not items:
        raise UserError(f"no data for the {name} set in {root} (see docs/quality.md for the folders it reads)")
    return items


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
