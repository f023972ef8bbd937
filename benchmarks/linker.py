"""Tidings' own analysis cost, without the sentence model: articles/s of ``analyse_backlog`` on real texts.

    python -m benchmarks.linker [--data DIR] [--copies 2]

BASIL and WikiRef articles (``--copies`` times, each copy a distinct URL) are imported into a fresh store and
analysed with the feature-hashing embedder, so the figure is what the linker, fingerprints, stories and storage
cost per article on top of whatever the model costs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from tidings.analysis.embeddings import HashingEmbedder  # noqa: E402
from tidings.evaluation.datasets import data_dir, load_basil, load_wikiref  # noqa: E402
from tidings.ingest.pipeline import import_jsonl  # noqa: E402
from tidings.jobs import Analyser, analyse_backlog  # noqa: E402
from tidings.storage.sqlite import SQLiteStore  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--data", help="the shared data folder")
    parser.add_argument("--copies", type=int, default=2)
    args = parser.parse_args(argv)
    root = data_dir(args.data)
    if root is None:
        print("no data folder found", file=sys.stderr)
        return 2
    articles = (load_basil(root) + load_wikiref(root)) * args.copies
    lines = [json.dumps({"url": f"{a.url}?copy={i}", "title": a.title, "source": a.source, "text": a.text,
                         "published": a.published}) for i, a in enumerate(articles)]
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "linker.db")
        t0 = time.perf_counter()
        import_jsonl(store, lines)
        t1 = time.perf_counter()
        analyse_backlog(store, Analyser.open(store, HashingEmbedder()))
        t2 = time.perf_counter()
    n = len(lines)
    print(f"{n} articles: import {n / (t1 - t0):.0f}/s, analyse without the model {n / (t2 - t1):.0f}/s "
          f"({1000 * (t2 - t1) / n:.1f} ms/article)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
