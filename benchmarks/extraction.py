"""Article-body extraction benchmark: plain trafilatura against Tidings' extract_page.

    python -m benchmarks.extraction [--data DIR] [--min-f1 X] [--jobs N]

Scores the 181 pages of scrapinghub's article-extraction-benchmark (gold ``articleBody``) the way that
benchmark does at token level: lower-case word tokens, precision = |overlap| / |extracted|, recall =
|overlap| / |gold| over token multisets, F1 per page, then means over pages (an empty extraction scores 0).
The 32 readability test pages (expected.html as gold text) are scored too, for information only. "tidings,
feed-dated item" is extract_page as polling calls it for an item whose feed gave its headline and date (the
same text, less metadata searching), so its pages/s is the cost of a page in a poll of such feeds.
Exits 1 when Tidings' F1 on the main set falls below --min-f1 or below plain trafilatura's, 2 without data.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:  # run from a checkout without installing Tidings
    sys.path.insert(0, str(REPO / "src"))

from tidings.ingest.extract import extract_page  # noqa: E402
from tidings.ingest.normalize import html_to_text  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data"
_TOKEN = re.compile(r"\w+")

Page = tuple[str, bytes, str]  # (name, raw html, gold text)


def tokens(text: str) -> Counter[str]:
    return Counter(_TOKEN.findall((text or "").lower()))


def score(extracted: str, gold: str) -> tuple[float, float, float]:
    """Token precision, recall and F1 of one page."""
    got, want = tokens(extracted), tokens(gold)
    overlap = sum((got & want).values())
    if not overlap:
        return 0.0, 0.0, 0.0
    precision, recall = overlap / sum(got.values()), overlap / sum(want.values())
    return precision, recall, 2 * precision * recall / (precision + recall)


def plain_trafilatura(html: bytes) -> str:
    import trafilatura

    return trafilatura.extract(html) or ""


def tidings(html: bytes) -> str:
    return extract_page(html).text


def tidings_feed_dated(html: bytes) -> str:
    """As when polling a feed whose item gave the headline and the date: the page is not searched for them."""
    return extract_page(html, "", False).text


EXTRACTORS: dict[str, Callable[[bytes], str]] = {
    "trafilatura (defaults)": plain_trafilatura,
    "tidings": tidings,
    "tidings, feed-dated item": tidings_feed_dated,
}


def scrapinghub_pages(root: Path) -> list[Page]:
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    return [
        (key, gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes()), item["articleBody"])
        for key, item in sorted(truth.items())
    ]


def readability_pages(root: Path) -> list[Page]:
    return [
        (
            d.name,
            (d / "source.html").read_bytes(),
            html_to_text((d / "expected.html").read_text(encoding="utf-8")),
        )
        for d in sorted(root.iterdir())
        if (d / "source.html").is_file() and (d / "expected.html").is_file()
    ]


def _run_one(job: tuple[str, bytes, str]) -> tuple[tuple[float, float, float], float]:
    name, html, gold = job
    start = time.perf_counter()
    text = EXTRACTORS[name](html)
    return score(text, gold), time.perf_counter() - start


@dataclass
class Row:
    dataset: str
    extractor: str
    pages: int
    precision: float
    recall: float
    f1: float
    pages_per_s: float


def evaluate(dataset: str, pages: list[Page], jobs: int) -> list[Row]:
    rows = []
    for name in EXTRACTORS:
        work = [(name, html, gold) for _, html, gold in pages]
        if jobs > 1:
            with ProcessPoolExecutor(jobs) as pool:
                results = list(pool.map(_run_one, work, chunksize=4))
        else:
            results = [_run_one(w) for w in work]
        n = max(len(results), 1)
        seconds = sum(t for _, t in results) or 1e-9
        precision, recall, f1 = (sum(s[i] for s, _ in results) / n for i in range(3))
        rows.append(Row(dataset, name, len(results), precision, recall, f1, len(results) / seconds))
    return rows


def print_table(rows: Iterable[Row]) -> None:
    head = ("dataset", "extractor", "pages", "precision", "recall", "F1", "pages/s")
    print(f"{head[0]:<28} {head[1]:<24} {head[2]:>5} {head[3]:>9} {head[4]:>7} {head[5]:>7} {head[6]:>8}")
    for r in rows:
        scores = f"{r.precision:>9.4f} {r.recall:>7.4f} {r.f1:>7.4f}"
        print(f"{r.dataset:<28} {r.extractor:<24} {r.pages:>5} {scores} {r.pages_per_s:>8.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding the data sets")
    parser.add_argument("--min-f1", type=float, default=0.0, help="fail when Tidings' mean F1 is below this")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (pages/s is per process)")
    args = parser.parse_args(argv)

    main_set = args.data / "article-extraction-benchmark"
    if not (main_set / "ground-truth.json").is_file():
        print(f"no benchmark data at {main_set}", file=sys.stderr)
        return 2
    rows = evaluate("article-extraction-benchmark", scrapinghub_pages(main_set), args.jobs)
    readability = args.data / "readability-test-pages"
    info = (
        evaluate("readability-test-pages", readability_pages(readability), args.jobs)
        if readability.is_dir()
        else []
    )
    print_table(rows + info)

    baseline, ours = rows[0].f1, rows[1].f1
    if ours < args.min_f1 or ours < baseline:
        print(
            f"FAIL: Tidings F1 {ours:.4f} (minimum {args.min_f1:.4f}, trafilatura {baseline:.4f})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
