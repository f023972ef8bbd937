"""Sections by what the article is about: regions and topics, each against a plain baseline in the same run.

    python -m benchmarks.sections [--data DIR] [--no-model]

Regions (BASIL, US-politics articles with full text; allsides-dev, headline + lead of multi-outlet stories):
how many articles are filed under the United States, and the share whose FIRST region is another country.
Baseline: ``mentioned_regions`` (every region the headline names or the body repeats, headline first).
Topics (agnews-sample, 4 labels): macro-F1 and per-class F1 of the lexicon, the MiniLM prototypes, both
combined, and the baseline "nearest bare label name". Our topics map to its labels as Technology, Science,
Health -> Sci/Tech; Politics, World -> World; Business; Sports. Entertainment has no label there: "strict"
counts it as wrong, "in-set" picks the best topic that has a label. Nothing here is fitted to these sets.
Exit status 2 when the data folder is absent.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.common import DEFAULT_DATA, REPO

if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from tidings.analysis import topics
from tidings.analysis.regions import detect_regions, mentioned_regions

US = "United States"
AG_LABELS = ("World", "Sports", "Business", "Sci/Tech")
AG_MAP = {"Technology": "Sci/Tech", "Science": "Sci/Tech", "Health": "Sci/Tech", "Politics": "World",
          "World": "World", "Business": "Business", "Sports": "Sports"}
Article = tuple[str, str]


def basil(data: Path) -> list[Article]:
    out = []
    for path in sorted(glob.glob(str(data / "basil" / "articles" / "*" / "*.json"))):
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        out.append((record["title"], "\n".join(" ".join(p) for p in record["body-paragraphs"])))
    return out


def allsides(data: Path) -> list[Article]:
    lines = (data / "allsides-dev" / "allsides-dev.jsonl").read_text(encoding="utf-8").splitlines()
    return [(r["title"], r["summary"]) for r in map(json.loads, lines)]


def agnews(data: Path) -> list[tuple[str, str, str]]:
    lines = (data / "agnews-sample" / "agnews-sample.jsonl").read_text(encoding="utf-8").splitlines()
    return [(r["title"], r["summary"], r["topic"]) for r in map(json.loads, lines)]


def region_figures(articles: Sequence[Article], detect: Callable[[str, str], list[str]]) -> tuple[int, int]:
    """(articles filed under the United States, articles whose first region is another country)."""
    us = foreign = 0
    for title, text in articles:
        regions = detect(title, text)
        us += US in regions
        foreign += bool(regions) and regions[0] != US
    return us, foreign


def ag_label(scores: dict[str, float], strict: bool) -> str:
    """The set's label for our best topic; strict: Entertainment (no label there) is a miss."""
    if not strict:
        scores = {t: s for t, s in scores.items() if t in AG_MAP}
    best = max(scores, key=lambda t: scores[t])
    return AG_MAP.get(best, "(none)") if scores[best] > 0 else "(none)"


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> tuple[float, dict[str, float]]:
    per: dict[str, float] = {}
    for label in AG_LABELS:
        tp = sum(g == label and p == label for g, p in zip(gold, pred, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, pred, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, pred, strict=True))
        per[label] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return sum(per.values()) / len(per), per


def lexical_predictions(rows: Sequence[tuple[str, str, str]], strict: bool) -> list[str]:
    return [ag_label(topics.lexical_scores(title, text), strict) for title, text, _ in rows]


def _model_predictions(rows: Sequence[tuple[str, str, str]]) -> dict[str, list[str]]:
    import numpy as np

    from tidings.analysis.embeddings import embedding_text, get_embedder

    embedder = get_embedder("minilm")
    vectors = embedder.embed([embedding_text(topics.clean_text(t), "", topics.clean_text(x)) for t, x, _ in rows])
    protos = topics.prototype_matrix(embedder)
    names = embedder.embed(list(topics.TOPICS))  # baseline: the bare label names as prototypes
    out: dict[str, list[str]] = {}
    for strict in (True, False):
        tag = "strict" if strict else "in-set"
        out[f"baseline: nearest label name ({tag})"] = [
            ag_label(dict(zip(topics.TOPICS, (float(x) for x in names @ v), strict=True)), strict) for v in vectors]
        out[f"prototypes (MiniLM) ({tag})"] = [
            ag_label(topics.embedding_scores(v, protos), strict) for v in vectors]
        out[f"lexicon + prototypes ({tag})"] = [
            ag_label(topics.combined_scores(v, t, x, protos), strict) for v, (t, x, _) in zip(vectors, rows,
                                                                                             strict=True)]
    del np
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--no-model", action="store_true", help="skip the rows that need MiniLM")
    args = parser.parse_args(argv)
    if not (args.data / "basil").is_dir():
        print(f"real data not available: {args.data} (it sits beside the project checkout)", file=sys.stderr)
        return 2
    print(f"{'set':<14} {'what':<44} {'baseline':>12} {'Tidings':>12}")
    for name, articles in (("BASIL", basil(args.data)), ("allsides-dev", allsides(args.data))):
        n = len(articles)
        b_us, b_foreign = region_figures(articles, mentioned_regions)
        t_us, t_foreign = region_figures(articles, detect_regions)
        print(f"{name:<14} {'filed under United States':<44} {f'{b_us}/{n}':>12} {f'{t_us}/{n}':>12}")
        print(f"{name:<14} {'first region another country':<44} {f'{b_foreign} ({b_foreign / n:.1%})':>12} "
              f"{f'{t_foreign} ({t_foreign / n:.1%})':>12}")
    rows = agnews(args.data)
    gold = [g for _, _, g in rows]
    variants = {f"lexicon ({tag})": lexical_predictions(rows, tag == "strict") for tag in ("strict", "in-set")}
    if not args.no_model:
        variants.update(_model_predictions(rows))
    print(f"\nagnews-sample ({len(rows)} items): macro-F1 and per-class F1")
    print(f"{'method':<44} {'macro':>6} " + " ".join(f"{label:>8}" for label in AG_LABELS))
    for method, pred in variants.items():
        macro, per = macro_f1(gold, pred)
        print(f"{method:<44} {macro:>6.3f} " + " ".join(f"{per[label]:>8.3f}" for label in AG_LABELS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
