"""Similar News at scale: archives of 10k to 1M articles built through the real store, linker and index.

    python -m benchmarks --only scale [--quick] [--scale-sizes 10000,100000,1000000] [--workdir DIR]
    python -m benchmarks.scale --sizes 10000 [--keep DIR]          # this section alone
    python -m benchmarks.scale --measure-index DIR/scale-1000000.db [--expansion 512]   # the index alone (JSON)

Articles beyond what can be embedded in reasonable time carry synthetic vectors from a clustered distribution
shaped like news: sections hold topics, topics hold events, an event is reported by one to six outlets. An
article's vector is the sum of its section's, topic's and event's directions and its own noise, so its exact
nearest neighbours are its event's other reports (cosine about 0.7), then its topic (about 0.35), then its
section (0.1); unrelated articles are near 0. Everything else is Tidings' own code: ``import_jsonl`` into
SQLite, ``analyse_backlog`` (fingerprints, links both ways, copy groups, stories) and the usearch index saved
beside the database. A database left in ``--workdir`` by an earlier run is measured again without rebuilding.

For each size: build rates; index memory per article; recall@10 of the index against exact search over the
same vectors and both searches' latency; `GET /api/similar` p50/p99 over HTTP (one client, requests one after
another) against `tidings serve`, and its cold start; database bytes and the analyser's memory per article.
On the largest size: article, section and home pages under load (32 clients).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from benchmarks.common import MIB, PER, REPO, Row, db_bytes, log, proc_status, query, rss_of

if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

DIM = 384
SECTION_NAMES = ("World", "Politics", "Business", "Technology", "Science", "Health", "Sport", "Culture",
                 "Climate", "Europe", "Asia", "Americas")
SECTIONS = len(SECTION_NAMES)
WORDS = 200               # words in a synthetic article's text
TOPIC_SIZE = 200          # articles per topic, on average
# Shares of an article vector's squared length: section, topic, event, the article's own noise.
SHARES = (0.10, 0.25, 0.35, 0.30)
BUILD_BATCH = 1024
QUERIES = 500
CLOSE = 0.5               # cosine of two reports of one event in this distribution is about 0.7; of a topic, 0.35
GOALS = {"similar_p99_ms": 20.0, "recall": 0.98, "index_bytes": 2048, "ready_s": 5.0, "page_p99_ms": 50.0}


def _direction(kind: int, key: int) -> np.ndarray:
    v = np.random.default_rng((kind, key)).normal(size=DIM)
    return v / np.linalg.norm(v)


class ClusteredEmbedder:
    """Stand-in for the sentence model: reads the "t<topic> e<event>" tag a synthetic text starts with."""

    name = "synthetic-news-384"
    dim = DIM

    def __init__(self) -> None:
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        self._weights = [float(np.sqrt(s)) for s in SHARES]

    def _cached(self, kind: int, key: int) -> np.ndarray:
        found = self._cache.get((kind, key))
        if found is None:
            found = self._cache[(kind, key)] = _direction(kind, key)
        return found

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), DIM), dtype=np.float32)
        ws, wt, we, wn = self._weights
        for i, text in enumerate(texts):
            tag = text.split("tag-", 1)[1].split(None, 1)[0]  # "t12e345"
            topic, event = (int(x) for x in tag[1:].split("e"))
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            noise = np.random.default_rng(seed).normal(size=DIM)
            v = (ws * self._cached(0, topic % SECTIONS) + wt * self._cached(1, topic) + we * _direction(2, event)
                 + wn * noise / np.linalg.norm(noise))
            out[i] = v / np.linalg.norm(v)
        return out


def _vocabulary(size: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnoprstuvwy"))
    return ["".join(rng.choice(letters, size=int(rng.integers(4, 10)))) for _ in range(size)]


def synthetic_lines(n: int, seed: int = 11) -> Iterator[str]:
    """n articles as `tidings import` lines: events of 1-6 reports by different outlets, in time order."""
    rng = np.random.default_rng(seed)
    words = _vocabulary(6000, seed)
    outlets = [f"Outlet {i}" for i in range(60)]
    topics = max(1, n // TOPIC_SIZE)
    days = max(60, n // 3000)
    start = 1_700_000_000
    written, event = 0, 0
    while written < n:
        event += 1
        topic = int(rng.integers(topics))
        topic_words = [words[(topic * 37 + k) % len(words)] for k in range(25)]
        event_words = [words[int(i)] for i in rng.integers(len(words), size=8)]
        names = [w.title() for w in event_words[:3]]
        when = start + int(written / n * days * 86400)
        for outlet in rng.choice(outlets, size=min(n - written, int(rng.integers(1, 7))), replace=False):
            pool = rng.choice(3, size=WORDS, p=[0.2, 0.2, 0.6])
            body = [names[int(rng.integers(3))] if p == 0 and rng.random() < 0.3 else
                    event_words[int(rng.integers(8))] if p == 0 else
                    topic_words[int(rng.integers(25))] if p == 1 else words[int(rng.integers(len(words)))]
                    for p in pool]
            published = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when + int(rng.integers(0, 86400))))
            yield json.dumps({
                "url": f"https://{outlet.replace(' ', '').lower()}.example/{event}/{written}",
                "title": " ".join([*names[:2], *event_words[3:7]]), "source": str(outlet),
                "section": SECTION_NAMES[topic % SECTIONS],
                "text": f"tag-t{topic}e{event} " + " ".join(body), "published": published})
            written += 1


def build(db: Path, n: int, *, imported: bool = False) -> dict[str, float]:
    """Import n synthetic articles (unless ``imported``: an interrupted build goes on with its backlog) and
    analyse them with the real linker; rates in articles per second (0 for a step not timed whole)."""
    from tidings.ingest.pipeline import import_jsonl
    from tidings.jobs import Analyser, analyse_backlog
    from tidings.storage.sqlite import SQLiteStore

    store = SQLiteStore(db)
    t0 = time.perf_counter()
    if not imported:
        import_jsonl(store, synthetic_lines(n))
    t1 = time.perf_counter()
    waiting = int(store.db.execute("SELECT COUNT(*) FROM articles WHERE analysed = 0").fetchone()[0])
    log(f"scale {n:,}: imported in {t1 - t0:.0f} s; analysing {waiting:,}")
    analyser = Analyser.open(store, ClusteredEmbedder())
    analyse_backlog(store, analyser, batch=BUILD_BATCH)
    t2 = time.perf_counter()
    log(f"scale {n:,}: analysed in {t2 - t1:.0f} s")
    store.close()
    return {"import_per_s": 0.0 if imported else n / (t1 - t0), "analyse_per_s": waiting / (t2 - t1)}


def measure_index(db: Path, queries: int, expansion: int | None = None) -> dict[str, float]:
    """In a fresh process: the analyser's memory, recall@10 of the index against exact search, both latencies,
    and how many of the exact top 10 close enough to be the same event (cosine >= CLOSE) are among the
    CANDIDATES the linker asks the index for. ``expansion`` overrides the index's search expansion."""
    from tidings.jobs import CANDIDATES, Analyser
    from tidings.storage.sqlite import SQLiteStore

    store = SQLiteStore(db)
    before = proc_status("self", "VmRSS")
    t0 = time.perf_counter()
    analyser = Analyser.open(store, ClusteredEmbedder())
    open_s = time.perf_counter() - t0
    after = proc_status("self", "VmRSS")
    if expansion:
        analyser.index._graph.expansion_search = expansion
    n = len(analyser.index)
    graph_bytes = analyser.index._graph.memory_usage  # usearch's own count
    ids = np.empty(n, dtype=np.int64)
    matrix = np.empty((n, DIM), dtype=np.float32)
    rows = store.db.execute("SELECT article_id, vector FROM embeddings WHERE model = ?", (ClusteredEmbedder.name,))
    for i, (article_id, blob) in enumerate(rows):
        ids[i] = article_id
        matrix[i] = np.frombuffer(blob, dtype=np.float32)
    picks = np.random.default_rng(5).choice(n, size=min(queries, n), replace=False)
    hits, close, close_found, exact_ms, index_ms = 0, 0, 0, [], []
    for p in picks:
        t = time.perf_counter()
        scores = matrix @ matrix[p]
        top = np.argpartition(-scores, 10)[:10]
        truth = set(ids[top].tolist())
        exact_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        found = {item.id for item, _ in analyser.index.nearest(matrix[p], 10)}
        index_ms.append((time.perf_counter() - t) * 1000)
        hits += len(truth & found)
        near = {int(ids[j]) for j in top if scores[j] >= CLOSE and j != p}
        close += len(near)
        close_found += len(near & {item.id for item, _ in analyser.index.nearest(matrix[p], CANDIDATES)})
    index_ms.sort()
    return {"articles": n, "recall": hits / (10 * len(picks)), "close": close, "close_found": close_found,
            "exact_p50_ms": statistics.median(exact_ms),
            "index_p50_ms": statistics.median(index_ms), "index_p99_ms": index_ms[int(len(index_ms) * 0.99)],
            "graph_bytes": graph_bytes, "analyser_rss": after - before, "open_s": open_s}


def _measure_in_child(db: Path, queries: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--measure-index", str(db),
                          "--queries", str(queries)], cwd=REPO, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"index measurement failed: {out.stderr.strip()[-600:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def similar_latency(base_url: str, urls: list[str]) -> tuple[float, float]:
    """p50 and p99 (ms) of GET /api/similar, one request at a time, after a warm-up pass."""
    import urllib.parse

    import httpx

    times = []
    with httpx.Client(base_url=base_url, timeout=30.0, trust_env=False) as client:
        for url in urls[:20]:
            client.get(f"/api/similar?url={urllib.parse.quote(url, safe='')}&limit=10").raise_for_status()
        for url in urls:
            t = time.perf_counter()
            client.get(f"/api/similar?url={urllib.parse.quote(url, safe='')}&limit=10").raise_for_status()
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]


def measure_size(db: Path, n: int, built: dict[str, float] | None, queries: int, rerun: str) -> list[Row]:
    from benchmarks.load import serving

    log(f"scale {n:,}: index recall and latency, analyser memory (fresh process)")
    ix = _measure_in_child(db, queries)
    urls = [str(r[0]) for r in query(db, "SELECT url FROM articles ORDER BY random() LIMIT ?", (queries,))]
    log(f"scale {n:,}: /api/similar over HTTP, {len(urls)} requests")
    with serving(db) as served:
        ready = served.cold_start
        p50, p99 = similar_latency(served.base_url, urls)
        serve_rss = rss_of(served.proc.pid)
    main, wal = db_bytes(db)
    big = n >= 1_000_000
    label = f"scale {n:,}"
    rows = []
    if built and built["import_per_s"]:
        rows.append(Row(f"{label}: build, tidings import (in process)", built["import_per_s"], "articles/s", "",
                        rerun))
    if built:
        rows.append(Row(f"{label}: build, analyse backlog (synthetic vectors: linker, copies, stories, index)",
                        built["analyse_per_s"], "articles/s", "", rerun))
    per_article = ix["graph_bytes"] / max(ix["articles"], 1)
    rows += [
        Row(f"{label}: vector index memory per article (usearch graph, f16)", per_article, "bytes",
            f"< {GOALS['index_bytes']}" if n >= PER else "", rerun,  # small graphs are mostly fixed overhead
            met=per_article < GOALS["index_bytes"] if n >= PER else None),
        Row(f"{label}: analyser resident memory per article (index, facts; measured RSS growth on open)",
            ix["analyser_rss"] / max(ix["articles"], 1), "bytes", "", rerun),
        Row(f"{label}: analyser open (load the saved index, catch up with the store)", ix["open_s"], "s", "", rerun),
        Row(f"{label}: recall@10 of the index vs exact search ({queries} queries)", ix["recall"], "",
            f">= {GOALS['recall']}", rerun, met=ix["recall"] >= GOALS["recall"]),
        Row(f"{label}: same-event neighbours (exact top 10, cosine >= {CLOSE}) among the linker's candidates",
            f"{ix['close_found']:,} of {ix['close']:,}", "", "", rerun),
        Row(f"{label}: exact brute-force search p50 (numpy, float32)", ix["exact_p50_ms"], "ms", "", rerun),
        Row(f"{label}: index search p50 / p99", f"{ix['index_p50_ms']:.2f} / {ix['index_p99_ms']:.2f}", "ms", "",
            rerun),
        Row(f"{label}: GET /api/similar over HTTP p50", p50, "ms", "", rerun),
        Row(f"{label}: GET /api/similar over HTTP p99", p99, "ms",
            f"< {GOALS['similar_p99_ms']:g} at 1M" if big else "", rerun,
            met=p99 < GOALS["similar_p99_ms"] if big else None),
        Row(f"{label}: tidings serve cold start to first 200", ready, "s", f"< {GOALS['ready_s']:g} at 1M" if big
            else "", rerun, met=ready < GOALS["ready_s"] if big else None),
        Row(f"{label}: tidings serve RSS after the requests", serve_rss / MIB, "MiB", "", rerun),
        Row(f"{label}: database main file + WAL per 100k articles", (main + wal) * PER / n / MIB, "MiB", "", rerun),
    ]
    return rows


def run_scale(work: Path, sizes: list[int], *, queries: int = QUERIES, clients: int = 32, seconds: float = 30.0,
              rerun: str = "python -m benchmarks --only scale") -> list[Row]:
    """Every size built (or reused) and measured; pages under load on the largest when ``seconds`` > 0."""
    from benchmarks.load import pages_under_load

    rows: list[Row] = []
    for n in sizes:
        db = work / f"scale-{n}.db"
        state = _state(db, n)
        built = None if state == "analysed" else build(db, n, imported=True) if state == "imported" else \
            build(_fresh(db), n)
        rows += measure_size(db, n, built, queries, rerun)
    if sizes and seconds > 0:
        n = max(sizes)
        rows += pages_under_load(work / f"scale-{n}.db", clients=clients, seconds=seconds, label=f"scale {n:,}",
                                 rerun=rerun, p99_goal_ms=GOALS["page_p99_ms"] if n >= 1_000_000 else None)
    return rows


def _state(db: Path, n: int) -> str:
    """What an earlier run left: "analysed" (n articles, all analysed), "imported" (n articles), or ""."""
    if not db.exists():
        return ""
    found = query(db, "SELECT COUNT(*), COALESCE(SUM(analysed = 0), 0) FROM articles")
    if not found or int(found[0][0]) != n:
        return ""
    return "analysed" if int(found[0][1]) == 0 else "imported"


def _fresh(db: Path) -> Path:
    for p in db.parent.glob(db.name + "*"):
        p.unlink()
    return db


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="10000", help="comma-separated archive sizes")
    parser.add_argument("--queries", type=int, default=QUERIES)
    parser.add_argument("--keep", type=Path, help="build the databases in this folder and keep them")
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="seconds of load per kind of page on the largest archive (0: none)")
    parser.add_argument("--measure-index", type=Path, metavar="DB",
                        help="only measure the index of an archive built earlier; prints JSON")
    parser.add_argument("--expansion", type=int, help="with --measure-index: the index's search expansion")
    args = parser.parse_args(argv)
    if args.measure_index:
        print(json.dumps(measure_index(args.measure_index, args.queries, args.expansion)))
        return 0
    import tempfile

    from benchmarks.__main__ import format_table

    work = args.keep or Path(tempfile.mkdtemp(prefix="tidings-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = run_scale(work, [int(x) for x in args.sizes.split(",")], queries=args.queries, seconds=args.seconds,
                     rerun=f"python -m benchmarks.scale --sizes {args.sizes}")
    print(format_table(rows, markdown=False))
    return 1 if any(r.error for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
