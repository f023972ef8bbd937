"""Similar News at scale: build archives of N articles through the real store, linker and index, then measure.

    python -m benchmarks.scale [--sizes 10000,100000] [--queries 500] [--keep DIR]

Articles beyond what can be embedded in reasonable time carry synthetic vectors drawn from a clustered
distribution (one centre per event, several outlets per event, noise around it), produced by an embedder
stand-in; everything else is the real code: ``import_jsonl`` into SQLite, ``analyse_backlog`` (fingerprints,
links both ways, copy groups, stories) and the usearch index saved beside the database. For each size it prints:
build rate, index memory per article, recall@10 of the index against exact search over the same vectors,
the exact search's own latency, and `/api/similar` latency p50/p99 over HTTP against `tidings serve`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from tidings.ingest.pipeline import import_jsonl  # noqa: E402
from tidings.jobs import Analyser, analyse_backlog  # noqa: E402
from tidings.storage.store import Store  # noqa: E402

DIM = 384
WORDS = ("minister council vote budget storm flood court ruling election senate rally protest market shares "
         "bank rates trade talks summit treaty strike union police inquiry hospital vaccine study climate fire "
         "earthquake rescue airline crash launch satellite match final league coach transfer festival film").split()
OUTLETS = [f"Outlet {i}" for i in range(40)]


class ClusteredEmbedder:
    """Stand-in for the sentence model: each event is a centre, each article a noisy copy of its centre."""

    name = "synthetic-clustered-384"
    dim = DIM

    def __init__(self, seed: int = 7) -> None:
        self.seed = seed

    def _centre(self, event: int) -> np.ndarray:
        rng = np.random.default_rng(self.seed * 1_000_003 + event)
        return rng.normal(size=DIM)

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            event = int(text.split("event-", 1)[1].split()[0])
            noise = np.random.default_rng(int(hashlib.blake2b(text.encode(), digest_size=8).hexdigest(), 16))
            v = self._centre(event) + 0.45 * noise.normal(size=DIM)
            out[i] = v / np.linalg.norm(v)
        return out


def synthetic_lines(n: int, seed: int = 11) -> list[str]:
    """n articles: events of 1-6 reports by different outlets, spread over 60 days."""
    rng = random.Random(seed)
    lines, event = [], 0
    start = 1_700_000_000
    while len(lines) < n:
        event += 1
        words = rng.sample(WORDS, 6)
        when = start + rng.randint(0, 60 * 86400)
        for outlet in rng.sample(OUTLETS, rng.randint(1, 6)):
            if len(lines) == n:
                break
            body = " ".join(rng.choice(words) if rng.random() < 0.3 else rng.choice(WORDS) for _ in range(120))
            published = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when + rng.randint(0, 86400)))
            lines.append(json.dumps({
                "url": f"https://{outlet.replace(' ', '').lower()}.example/{len(lines)}",
                "title": f"{' '.join(words[:4]).title()} event-{event} report", "source": outlet,
                "text": f"event-{event} {body}", "published": published}))
    return lines


def build(db: Path, n: int, embedder: ClusteredEmbedder) -> dict[str, float]:
    store = Store(db)
    lines = synthetic_lines(n)
    t0 = time.perf_counter()
    import_jsonl(store, lines)
    t1 = time.perf_counter()
    analyser = Analyser.open(store, embedder)
    analyse_backlog(store, analyser, batch=256)
    t2 = time.perf_counter()
    graph = analyser.index._graph  # the usearch graph: its own measure of the memory it holds
    return {"import_per_s": n / (t1 - t0), "analyse_per_s": n / (t2 - t1),
            "index_bytes_per_article": graph.memory_usage / n}  # type: ignore[attr-defined]


def recall_vs_exact(db: Path, embedder: ClusteredEmbedder, queries: int) -> dict[str, float]:
    """recall@10 of the index's search against exact search over the same vectors, and exact search's latency."""
    store = Store(db)
    analyser = Analyser.open(store, embedder)
    ids, vecs = [], []
    for r in store.db.execute("SELECT article_id, vector FROM embeddings WHERE model = ?", (embedder.name,)):
        ids.append(r[0])
        vecs.append(np.frombuffer(r[1], dtype=np.float32))
    matrix = np.stack(vecs)
    id_arr = np.array(ids)
    rng = np.random.default_rng(5)
    picks = rng.choice(len(ids), size=min(queries, len(ids)), replace=False)
    hits, exact_ms, index_ms = 0, [], []
    for p in picks:
        t = time.perf_counter()
        truth = set(id_arr[np.argsort(-(matrix @ matrix[p]))[:10]].tolist())
        exact_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        found = {item.id for item, _ in analyser.index.nearest(matrix[p], 10)}
        index_ms.append((time.perf_counter() - t) * 1000)
        hits += len(truth & found)
    return {"recall_at_10": hits / (10 * len(picks)), "exact_p50_ms": statistics.median(exact_ms),
            "index_p50_ms": statistics.median(index_ms)}


def serve_latency(db: Path, queries: int) -> dict[str, float]:
    """p50/p99 of GET /api/similar over HTTP, one client, against `tidings serve` as a user runs it."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, TIDINGS_ADMIN_SECRET="benchmark-secret-0123456789")
    proc = subprocess.Popen([sys.executable, "-m", "tidings", "--db", str(db), "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        t0 = time.perf_counter()
        while True:
            try:
                urllib.request.urlopen(base + "/api/stories?limit=1", timeout=5).read()
                break
            except OSError:
                if time.perf_counter() - t0 > 60:
                    raise
                time.sleep(0.05)
        ready = time.perf_counter() - t0
        store = Store(db)
        urls = [r["url"] for r in store.db.execute("SELECT url FROM articles ORDER BY random() LIMIT ?", (queries,))]
        times = []
        for url in urls:
            q = urllib.parse.quote(url, safe="")
            t = time.perf_counter()
            urllib.request.urlopen(f"{base}/api/similar?url={q}&limit=10", timeout=10).read()
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        return {"serve_ready_s": ready, "similar_p50_ms": times[len(times) // 2],
                "similar_p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))]}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10000", help="comma-separated archive sizes")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--keep", help="build the databases in this folder and keep them")
    args = parser.parse_args(argv)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="tidings-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    embedder = ClusteredEmbedder()
    print("| articles | import/s | analyse/s | index B/article | recall@10 | exact p50 ms | index p50 ms "
          "| serve ready s | /api/similar p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in (int(x) for x in args.sizes.split(",")):
        db = folder / f"scale-{n}.db"
        b = build(db, n, embedder) if not db.exists() else {"import_per_s": 0, "analyse_per_s": 0,
                                                             "index_bytes_per_article": 0}
        r = recall_vs_exact(db, embedder, args.queries)
        s = serve_latency(db, args.queries)
        print(f"| {n} | {b['import_per_s']:.0f} | {b['analyse_per_s']:.0f} | {b['index_bytes_per_article']:.0f} "
              f"| {r['recall_at_10']:.3f} | {r['exact_p50_ms']:.2f} | {r['index_p50_ms']:.2f} "
              f"| {s['serve_ready_s']:.2f} | {s['similar_p50_ms']:.2f} | {s['similar_p99_ms']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
