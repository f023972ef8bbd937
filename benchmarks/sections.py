"""Sections by what the article is about: regions and topics, each against a plain baseline in the same run.

    python -m benchmarks.sections [--data DIR] [--no-model]

Regions (BASIL, US-politics articles with full text; allsides-dev, headline + lead of multi-outlet stories):
how many articles are filed under the United States, and the share whose FIRST region is another country.
Baseline: ``mentioned_regions`` (every region the headline names or the body repeats, headline first).
Stories (same two sets, both US-politics news): the same shares, and articles with no region at all, per article
(today's ``detect_regions``, the baseline) against each article's regions once its story's are shared
(``shared_regions``) and a plain rule (every member takes its story's most common main region first). The stories
are the GOLD ones (BASIL triplets, AllSides story names): an upper bound of what sharing over found stories gives.
A few allsides-dev stories are about another country, where a foreign first region is right.
Topics (agnews-sample, 4 labels): macro-F1 and per-class F1 of the lexicon, the MiniLM prototypes, both
combined, and the baseline "nearest bare label name". Our topics map to its labels as Technology, Science,
Health -> Sci/Tech; Politics, World -> World; Business; Sports. Entertainment has no label there: "strict"
counts it as wrong, "in-set" picks the best topic that has a label. Two shapes: the headline alone, and the
headline with its lead. "as filed" is what an article gets at save time (``topic_section``: the lexicon, no
section when unclear, which counts as a miss); "as filed after analysis" is its section once the analysis step
has run (imported into a temporary store and analysed with MiniLM: ``jobs.file_topics``). Full texts have no
topic labels here: BASIL's 300 US-politics articles show how many each method files under Politics or World.
Nothing here is fitted to these sets.
Exit status 2 when the data folder is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import DEFAULT_DATA, REPO

if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from tidings.analysis import topics
from tidings.analysis.regions import detect_regions, mentioned_regions, shared_regions
from tidings.evaluation.datasets import EvalArticle, load_allsides, load_basil

US = "United States"
AG_LABELS = ("World", "Sports", "Business", "Sci/Tech")
AG_MAP = {"Technology": "Sci/Tech", "Science": "Sci/Tech", "Health": "Sci/Tech", "Politics": "World",
          "World": "World", "Business": "Business", "Sports": "Sports"}
Article = tuple[str, str]
Sharing = Callable[[list[list[str]]], list[list[str]]]


def basil(data: Path) -> list[Article]:
    return [(a.title, a.text) for a in load_basil(data)]


def allsides(data: Path) -> list[Article]:
    return [(a.title, a.text) for a in load_allsides(data)]


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


def plurality(members: list[list[str]]) -> list[list[str]]:
    """Plain sharing: every member puts its story's most common main region first (the first named on a tie)."""
    mains = Counter(m[0] for m in members if m)
    if not mains:
        return members
    top = mains.most_common(1)[0][0]
    return [[top] + [r for r in m if r != top] for m in members]


def story_figures(articles: Sequence[EvalArticle], share: Sharing) -> tuple[int, int, int]:
    """After ``share`` on each gold story: (articles whose first region is another country, articles with no
    region, stories whose members' first regions differ)."""
    stories: dict[str, list[list[str]]] = {}
    for a in articles:
        stories.setdefault(a.gold, []).append(detect_regions(a.title, a.text))
    foreign = none = split = 0
    for members in stories.values():
        after = share(members)
        foreign += sum(bool(m) and m[0] != US for m in after)
        none += sum(not m for m in after)
        split += len({m[0] if m else "" for m in after}) > 1
    return foreign, none, split


def print_story_rows(name: str, articles: Sequence[EvalArticle]) -> None:
    n, stories = len(articles), len({a.gold for a in articles})
    figures = [story_figures(articles, share) for share in (lambda ms: ms, plurality, shared_regions)]
    for k, what in enumerate(("first region another country", "no region at all")):
        cells = " ".join(f"{f'{f[k]} ({f[k] / n:.1%})':>14}" for f in figures)
        print(f"{name:<14} {what:<34} {cells}")
    cells = " ".join(f"{f'{f[2]}/{stories}':>14}" for f in figures)
    print(f"{name:<14} {'stories split on the first region':<34} {cells}")


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


Rows = Sequence[tuple[str, str, str]]
SHAPES = (("headline", False), ("headline + lead", True))


def _shaped(rows: Rows, lead: bool) -> list[tuple[str, str, str]]:
    return [(title, text if lead else "", gold) for title, text, gold in rows]


def lexical_predictions(rows: Rows, strict: bool) -> list[str]:
    return [ag_label(topics.lexical_scores(title, text), strict) for title, text, _ in rows]


def filed_predictions(rows: Rows) -> list[str]:
    """The section an article gets at save time, as the set's label ("(none)" when Tidings abstains)."""
    return [AG_MAP.get(topics.topic_section(title, text) or "", "(none)") for title, text, _ in rows]


def _vectors(texts: Sequence[tuple[str, str]]) -> Any:
    from tidings.analysis.embeddings import embedding_text, get_embedder

    embedder = get_embedder("minilm")
    return embedder, embedder.embed([embedding_text(topics.clean_text(t), "", topics.clean_text(x))
                                     for t, x in texts])


def _model_predictions(rows: Rows) -> dict[str, list[str]]:
    embedder, vectors = _vectors([(t, x) for t, x, _ in rows])
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
    return out


def analysed_topics(articles: Sequence[Article]) -> list[str]:
    """The topic section each article has once analysed, through Tidings' own path: imported into a temporary
    store from a source without sections, analysed with MiniLM (``analyse_backlog``), sections read back;
    "" where it has none."""
    import tempfile

    from tidings.analysis.embeddings import get_embedder
    from tidings.ingest.pipeline import import_jsonl
    from tidings.jobs import Analyser, analyse_backlog
    from tidings.storage import open_store

    urls = [f"https://news.example/{n}" for n in range(len(articles))]
    lines = [json.dumps({"url": url, "source": "News", "title": topics.clean_text(title),
                         "summary": topics.clean_text(text),
                         "published": f"2024-01-01T{n // 60 % 24:02d}:{n % 60:02d}:00Z"})  # apart: one per minute
             for n, (url, (title, text)) in enumerate(zip(urls, articles, strict=True))]
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "sections.db"))
        try:
            import_jsonl(store, lines)
            analyse_backlog(store, Analyser.open(store, get_embedder("minilm")))
            filed = [(store.article_by_url(url) or {}).get("sections", []) for url in urls]
        finally:
            store.close()
    return [next((s for s in sections if s in topics.TOPICS), "") for sections in filed]


def topic_predictions(rows: Rows, model: bool) -> dict[str, list[str]]:
    """Every method's labels for ``rows``: the lexicon, as filed, and (with ``model``) the MiniLM views and the
    section as filed after the analysis step."""
    out = {f"lexicon ({tag})": lexical_predictions(rows, tag == "strict") for tag in ("strict", "in-set")}
    out["Tidings as filed (lexicon, abstains)"] = filed_predictions(rows)
    if model:
        out.update(_model_predictions(rows))
        out["Tidings as filed after analysis"] = [AG_MAP.get(t, "(none)")
                                                  for t in analysed_topics([(t, x) for t, x, _ in rows])]
    return out


def full_text_politics(articles: Sequence[Article], model: bool) -> dict[str, int]:
    """How many (US-politics) full texts each method puts under Politics or World."""
    politics = ("Politics", "World")

    def top(scores: dict[str, float]) -> str:
        return max(scores, key=lambda t: scores[t])

    out = {"lexicon": sum(top(topics.lexical_scores(t, x)) in politics for t, x in articles),
           "Tidings as filed": sum(topics.topic_section(t, x) in politics for t, x in articles)}
    if model:
        embedder, vectors = _vectors(articles)
        protos = topics.prototype_matrix(embedder)
        out["prototypes (MiniLM)"] = sum(top(topics.embedding_scores(v, protos)) in politics for v in vectors)
        out["lexicon + prototypes"] = sum(top(topics.combined_scores(v, t, x, protos)) in politics
                                          for v, (t, x) in zip(vectors, articles, strict=True))
        out["Tidings as filed after analysis"] = sum(t in politics for t in analysed_topics(articles))
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
    sets = (("BASIL", load_basil(args.data)), ("allsides-dev", load_allsides(args.data)))
    for name, labelled in sets:
        articles = [(a.title, a.text) for a in labelled]
        n = len(articles)
        b_us, b_foreign = region_figures(articles, mentioned_regions)
        t_us, t_foreign = region_figures(articles, detect_regions)
        print(f"{name:<14} {'filed under United States':<44} {f'{b_us}/{n}':>12} {f'{t_us}/{n}':>12}")
        print(f"{name:<14} {'first region another country':<44} {f'{b_foreign} ({b_foreign / n:.1%})':>12} "
              f"{f'{t_foreign} ({t_foreign / n:.1%})':>12}")
    print("\nregions shared by each GOLD story (an upper bound: Tidings shares over the stories it finds)")
    print(f"{'set':<14} {'what':<34} {'per article':>14} {'plurality':>14} {'shared':>14}")
    for name, labelled in sets:
        print_story_rows(name, labelled)
    rows = agnews(args.data)
    gold = [g for _, _, g in rows]
    print(f"\nagnews-sample ({len(rows)} items): macro-F1 and per-class F1")
    print(f"{'shape':<16} {'method':<40} {'macro':>6} " + " ".join(f"{label:>8}" for label in AG_LABELS))
    for shape, lead in SHAPES:
        for method, pred in topic_predictions(_shaped(rows, lead), not args.no_model).items():
            macro, per = macro_f1(gold, pred)
            print(f"{shape:<16} {method:<40} {macro:>6.3f} " + " ".join(f"{per[label]:>8.3f}" for label in AG_LABELS))
    articles = basil(args.data)
    print(f"\nfull texts (BASIL, {len(articles)} US-politics articles): filed under Politics or World")
    for method, n in full_text_politics(articles, not args.no_model).items():
        print(f"{method:<40} {n:>4}/{len(articles)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
