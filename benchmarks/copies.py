"""Telling copies of one text from independent reports: the old measure and ``copy_share`` side by side.

    python -m benchmarks.copies [--data DIR]

Three copy sets, judged pair by pair (no database): summary-only copies (headline and lead) of allsides-dev
items, full-text copies of BASIL articles (syndication edits plus earlier/later-version edits), and the summary
set's headlines alone. The pairs are every gold copy pair, every pair of one story from different outlets that is
not a copy (independent reports), and each item's three nearest items of other stories by shared words.

For each set and measure: precision and recall over all those pairs, how many independent reports were called
copies, and microseconds per call. "old" is today's 5-gram containment of the texts alone, >= 0.6, with nothing
for texts under 40 words (they got no fingerprint); "new" is ``copy_share`` >= ``COPY_CONTAINMENT``. For the
full-text set it also gives the recall of the MinHash prefilter (``needs_exact_check``) on the copies and the
share of non-copy pairs it lets through. Exit status 2 when the data folder is missing.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from tidings.evaluation.datasets import EvalArticle, data_dir, headlines_only, load_allsides, load_basil  # noqa: E402
from tidings.evaluation.syndication import (  # noqa: E402
    ALLSIDES_SAME_TEXT,
    build_fulltext_copy_set,
    build_summary_copy_set,
    comparison_pairs,
)
from tidings.similarity.neardup import (  # noqa: E402
    COPY_CONTAINMENT,
    MIN_WORDS,
    copy_share,
    fingerprint,
    needs_exact_check,
    shingles,
)

OLD_BAR = 0.6  # the copy bar before copy_share
COMMAND = "python -m benchmarks.copies"

Measure = Callable[[EvalArticle, EvalArticle], float]


def old_measure(a: EvalArticle, b: EvalArticle) -> float:
    """Containment of word 5-gram sets of the texts, as confirmed before; texts under 40 words never compared."""
    if len(a.text.split()) < MIN_WORDS or len(b.text.split()) < MIN_WORDS:
        return 0.0
    sa, sb = shingles(a.text), shingles(b.text)
    return len(sa & sb) / min(len(sa), len(sb)) if sa and sb else 0.0


def new_measure(a: EvalArticle, b: EvalArticle) -> float:
    return copy_share(a.title, a.text, b.title, b.text)


@dataclass
class Result:
    precision: float
    recall: float
    independent_called: int
    independent: int
    copies: int
    others: int
    us_per_call: float


def judge(articles: list[EvalArticle], gold: set[frozenset[str]], measure: Measure, bar: float) -> Result:
    by_key = {a.key: a for a in articles}
    copies, independent, neighbours = comparison_pairs(articles, gold)
    scored: dict[tuple[str, str], float] = {}
    start = time.perf_counter()
    for pair in {*copies, *independent, *neighbours}:
        scored[pair] = measure(by_key[pair[0]], by_key[pair[1]])
    elapsed = time.perf_counter() - start
    called = {p for p, s in scored.items() if s >= bar}
    gold_pairs = set(copies)
    true = len(called & gold_pairs)
    return Result(
        precision=true / len(called) if called else 1.0,
        recall=true / len(gold_pairs) if gold_pairs else 1.0,
        independent_called=len(called & set(independent)),
        independent=len(independent),
        copies=len(gold_pairs),
        others=len(neighbours),
        us_per_call=elapsed / max(1, len(scored)) * 1e6,
    )


def prefilter(articles: list[EvalArticle], gold: set[frozenset[str]]) -> tuple[float, float]:
    """Recall of ``needs_exact_check`` on the copy pairs, and the share of the other pairs it passes."""
    by_key = {a.key: a for a in articles}
    fps = {a.key: fingerprint(a.text) for a in articles}
    words = {a.key: len(a.text.split()) for a in articles}
    copies, independent, neighbours = comparison_pairs(articles, gold)

    def passes(pair: tuple[str, str]) -> bool:
        a, b = by_key[pair[0]].key, by_key[pair[1]].key
        return needs_exact_check(fps[a], fps[b], words[a], words[b])

    others = [*independent, *neighbours]
    recall = sum(map(passes, copies)) / max(1, len(copies))
    return recall, sum(map(passes, others)) / max(1, len(others))


def timing(articles: list[EvalArticle], repeat: int = 3) -> float:
    """Microseconds per ``copy_share`` call on fresh strings (nothing cached), over consecutive items."""
    pairs = list(itertools.pairwise(articles))
    best = float("inf")
    for round_ in range(repeat):
        fresh = [(a.title + " " * (round_ + 1), a.text, b.title, b.text + " " * (round_ + 1)) for a, b in pairs]
        start = time.perf_counter()
        for item in fresh:
            copy_share(*item)
        best = min(best, (time.perf_counter() - start) / max(1, len(fresh)) * 1e6)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--data", help="the shared data folder")
    args = parser.parse_args(argv)
    root = data_dir(args.data)
    if root is None or not (root / "allsides-dev").is_dir() or not (root / "basil").is_dir():
        print("no data folder with allsides-dev and basil found", file=sys.stderr)
        return 2
    summary, summary_gold = build_summary_copy_set(load_allsides(root), same_text=ALLSIDES_SAME_TEXT)
    fulltext, fulltext_gold = build_fulltext_copy_set(load_basil(root))
    sets = [
        ("summary-only (allsides-dev)", summary, summary_gold),
        ("full text (BASIL)", fulltext, fulltext_gold),
        ("headline only (allsides-dev)", headlines_only(summary), summary_gold),
    ]
    print(f"{'set':30} {'measure':5} {'P':>6} {'R':>6} {'indep. called':>14} {'copies':>6} {'indep.':>6} "
          f"{'others':>6} {'us/call':>8}")
    for name, articles, gold in sets:
        for label, measure, bar in (("old", old_measure, OLD_BAR), ("new", new_measure, COPY_CONTAINMENT)):
            r = judge(articles, gold, measure, bar)
            print(f"{name:30} {label:5} {r.precision:6.3f} {r.recall:6.3f} {r.independent_called:14d} "
                  f"{r.copies:6d} {r.independent:6d} {r.others:6d} {r.us_per_call:8.1f}")
    recall, passed = prefilter(fulltext, fulltext_gold)
    print(f"\nfull text prefilter (needs_exact_check): recall {recall:.3f} on copies, passes {passed:.3f} of "
          "non-copy pairs")
    print(f"copy_share, fresh strings: {timing(summary):.1f} us/call for headline + lead, "
          f"{timing(fulltext):.1f} us/call for full texts")
    print(f"command: {COMMAND}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
