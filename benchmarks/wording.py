"""How much the wording counts in a pair's score: SemEval correlation against Similar News ranking, side by side.

    python -m benchmarks.wording [--data DIR]

The pair score is (1 - w) x MiniLM cosine + w x the rarity-weighted overlap of headline-and-lead words
(``similarity.lexical.weighted_overlap``); Tidings uses w = ``Thresholds.lexical_weight``. For each w, and for
the square root of the overlap at w = 0.3 (it spreads the overlap's low values the way cosines are spread):

* SemEval-2022 en pairs: Pearson and Spearman of the score with the negated human Overall score;
* AllSides, AllSides headlines, BASIL and BASIL headlines: recall@2 and P@1 of the other outlets' reports when
  every other-outlet article is ranked by its lift (score less the mean of both articles' ten best scores with
  other outlets, as ``linking.recluster`` does), the plain ½ TF-IDF + ½ MiniLM list beside it.

Pure similarity over all pairs, no store: it isolates the weight from stories and links. Exit status 2 when the
data folder is absent.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from benchmarks.common import DEFAULT_DATA, REPO

if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from tidings.analysis.embeddings import embedding_text, get_embedder
from tidings.evaluation import baselines, metrics
from tidings.evaluation.datasets import (
    EvalArticle,
    headlines_only,
    load_allsides,
    load_basil,
    load_semeval_en,
)
from tidings.similarity.lexical import content_words, word_weight

Variant = tuple[str, float, Callable[[np.ndarray], np.ndarray]]
VARIANTS: list[Variant] = [(f"w={w}", w, lambda x: x) for w in (0.0, 0.2, 0.3, 0.5)]
VARIANTS.append(("w=0.3, sqrt(overlap)", 0.3, np.sqrt))


def overlap_matrix(words: Sequence[frozenset[str]]) -> np.ndarray:
    """Rarity-weighted overlap (cosine of weighted word sets) of every pair."""
    vocab: dict[str, int] = {}
    rows = [{vocab.setdefault(w, len(vocab)): word_weight(w) for w in ws} for ws in words]
    m = np.zeros((len(rows), max(1, len(vocab))), dtype=np.float64)
    for i, row in enumerate(rows):
        for j, v in row.items():
            m[i, j] = v
    m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
    return np.clip(m @ m.T, 0.0, 1.0)


def lift(score: np.ndarray, outlets: Sequence[str]) -> np.ndarray:
    out = np.asarray(outlets)
    others = np.where(out[:, None] != out[None, :], score, -np.inf)
    np.fill_diagonal(others, -np.inf)
    usual = np.sort(others, axis=1)[:, -10:]
    usual = np.where(np.isfinite(usual), usual, np.nan)
    density = np.nan_to_num(np.nanmean(usual, axis=1), nan=0.0)
    return score - (density[:, None] + density[None, :]) / 2.0


def news_rows(name: str, articles: list[EvalArticle], embedder: object) -> None:
    keys, outlets = [a.key for a in articles], [a.source for a in articles]
    texts = [embedding_text(a.title, "", a.text) for a in articles]
    vectors = np.asarray(embedder.embed(texts), dtype=np.float64)  # type: ignore[attr-defined]
    cosine = vectors @ vectors.T
    overlap = overlap_matrix([content_words(a.title, a.text) for a in articles])
    relevant = {a.key: {b.key for b in articles if b.gold == a.gold and b.source != a.source} for a in articles}

    def cell(similarity: np.ndarray) -> str:
        ranked = baselines.ranked_lists(similarity, outlets, keys)
        return f"{metrics.recall_at_k(ranked, relevant, 2):.3f} / {metrics.recall_at_k(ranked, relevant, 1):.3f}"

    mix = 0.5 * baselines.tfidf_similarity(texts) + 0.5 * cosine
    cells = [cell(lift((1 - w) * cosine + w * f(overlap), outlets)) for _, w, f in VARIANTS]
    print(f"{name:<20} {cell(mix):>15} " + " ".join(f"{c:>15}" for c in cells))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    data = args.data
    if not (data / "basil").is_dir():
        print(f"real data not available: {data} (it sits beside the project checkout)", file=sys.stderr)
        return 2
    embedder = get_embedder("minilm")
    pairs = load_semeval_en(data)
    vectors = embedder.embed([embedding_text(p.title1, "", p.text1) for p in pairs] +
                             [embedding_text(p.title2, "", p.text2) for p in pairs])
    half = len(pairs)
    cosine = np.einsum("ij,ij->i", vectors[:half], vectors[half:]).astype(np.float64)
    overlap = np.array([overlap_matrix([content_words(p.title1, p.text1), content_words(p.title2, p.text2)])[0, 1]
                        for p in pairs])
    human = [-p.overall for p in pairs]
    print(f"{'SemEval-2022 en':<20} {'':>15} " + " ".join(f"{name:>15}" for name, _, _ in VARIANTS))
    for label, measure in (("Pearson", metrics.pearson), ("Spearman", metrics.spearman)):
        values = [measure(list((1 - w) * cosine + w * f(overlap)), human) for _, w, f in VARIANTS]
        print(f"{'  ' + label:<20} {'':>15} " + " ".join(f"{v:>15.3f}" for v in values))
    print("\nrecall@2 / P@1 of other outlets' reports, ranked by lift (the mix: plain, beside them)")
    print(f"{'set':<20} {'½ TF-IDF+MiniLM':>15} " + " ".join(f"{name:>15}" for name, _, _ in VARIANTS))
    allsides, basil = load_allsides(data), load_basil(data)
    for name, articles in (("AllSides", allsides), ("AllSides headlines", headlines_only(allsides)),
                           ("BASIL", basil), ("BASIL headlines", headlines_only(basil))):
        news_rows(name, articles, embedder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
