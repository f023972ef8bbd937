"""Tidings on PostgreSQL with workers: how ingest scales with the number of workers, what the queue costs per job,
and how soon a new item's Similar News is there.

    python -m benchmarks.workers [--quick] [--workers 1,2,4] [--data DIR]

A PostgreSQL server of the benchmark's own (as the tests start one), the fixture news web on loopback (real
article texts from the shared data folder: feeds carry a one-sentence summary, so every page is fetched and
extracted), and ``tidings worker`` processes with the real sentence model. For each number of workers: a new
database, every feed added, the workers started; articles per second from the workers' start until every
article is analysed (model loading included, as it is for a worker that joins), and the ratio to one worker.
Then, with one worker running and idle: the queue's cost per job (a job that does nothing, from deferral to its
end, median of 40), and freshness: from the poll reaching a feed with a new item (the host answering) until the
item's Similar News is stored (median and worst of 10). The host delay is off
(TIDINGS_HOST_DELAY=0) so the network does not set the pace; the per-host limit of 2 requests stays.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

from benchmarks.common import REPO, Row, log, machine_line, tidings_env
from benchmarks.corpus import load_docs, plan_articles
from benchmarks.ingest import build_web
from benchmarks.newsweb import FixtureWeb, Route, addresses

if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))
from newsserver import PostgresServer
from tidings.storage.postgres import PostgresStore

COMMAND = "python -m benchmarks.workers"
ENV = {"TIDINGS_HOST_DELAY": "0", "TIDINGS_HOST_JITTER": "0", "TIDINGS_ALLOW_PRIVATE_NETWORKS": "1"}


def start_workers(db: str, n: int, folder: Path) -> list[subprocess.Popen[bytes]]:
    env = tidings_env(TIDINGS_EMBEDDER=None, **ENV)
    procs = []
    for k in range(n):
        with open(folder / f"worker{k}.log", "wb") as log_file:
            procs.append(subprocess.Popen([sys.executable, "-m", "tidings", "--db", db, "worker"], env=env,
                                          stdout=log_file, stderr=subprocess.STDOUT, cwd=REPO))
    return procs


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_until(done: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.2)


def ingest_with(server: PostgresServer, feeds: list[tuple[str, str]], n: int, workers: int, folder: Path) -> float:
    """Seconds from starting ``workers`` workers on a new database with every feed until all ``n`` are analysed."""
    db = server.new_database(empty=True)
    store = PostgresStore(db)
    for k, (url, section) in enumerate(feeds):
        store.add_source(url, f"Outlet {k}", section=section)
    started = time.monotonic()
    procs = start_workers(db, workers, folder)
    try:
        def finished() -> bool:
            c = store.counts()
            return int(c["articles"]) == n and int(c["waiting"]) == 0
        wait_until(finished, 3600, f"{workers} workers ingest {n} articles")
        return time.monotonic() - started
    finally:
        stop(procs)
        store.close()


def queue_overhead(db: str, jobs: int = 40) -> list[float]:
    """Seconds from deferring a job that does nothing (a settling of an empty window) to its end, one by one."""
    import procrastinate
    from procrastinate.exceptions import NoResult

    app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=db))

    def ended(job_id: int) -> bool:
        try:
            return app.job_manager.get_job_status(job_id).value not in ("todo", "doing")
        except NoResult:  # workers delete a job that succeeded
            return True

    out = []
    with app.open():
        for _ in range(jobs):
            t = time.monotonic()
            job_id = app.configure_task("settle", queueing_lock=None).defer(since="2999-01-01T00:00:00Z")
            while not ended(job_id):
                time.sleep(0.002)
            out.append(time.monotonic() - t)
    return out


def freshness(db: str, web: FixtureWeb, rounds: int = 10) -> list[float]:
    """Seconds from the poll reaching a feed with a new item (the fixture host answers its request) until the
    item's Similar News is stored."""
    store = PostgresStore(db)
    out = []
    try:
        for r in range(rounds):
            addr = web.hosts[0]
            # The headline another outlet carries: the new item has Similar News as soon as it is analysed.
            other = store.latest_articles(limit=1, offset=r)[0]
            link = web.base[addr] + f"/fresh/{r}.html"
            body = (f"<?xml version='1.0'?><rss version='2.0'><channel><title>Fresh {r}</title><item><guid>fresh-{r}"
                    f"</guid><link>{link}</link><title>{escape(other['title'])}</title><description>{escape(other['title'])}"
                    "</description></item></channel></rss>").encode()
            fetched: list[float] = []

            def answer(body: bytes = body, fetched: list[float] = fetched) -> bytes:
                fetched.append(time.monotonic())
                return body
            feed = web.add(addr, f"/fresh/{r}.xml", Route(answer, "application/rss+xml"))
            source_id, _ = store.add_source(feed, f"Fresh Outlet {r}", fulltext="never")
            store.refresh_now(source_id)

            def served(link: str = link) -> bool:
                art = store.article_by_url(link)
                return art is not None and bool(store.similar_to(art["id"], limit=1))
            wait_until(served, 120, "a new item's Similar News")
            t = fetched[0]
            out.append(time.monotonic() - t)
    finally:
        store.close()
    return out


def store_costs(server: PostgresServer, data: Path, folder: Path, limit: int) -> list[Row]:
    """Each store's own cost, with the embedding taken out (``HashingEmbedder``): real texts of the shared data
    imported, then analysed (links, copies, stories) in one process; articles per second of that analysis, the
    statements it ran per article, and the database's size per article."""
    import json

    import psycopg

    from tidings.analysis.embeddings import HashingEmbedder
    from tidings.ingest.pipeline import import_jsonl
    from tidings.jobs import Analyser, analyse_backlog
    from tidings.storage.sqlite import SQLiteStore

    docs = load_docs(data)[:limit]
    lines = [json.dumps({"url": f"https://outlet{n % 9}.example/{n}", "source": f"Outlet {n % 9}", "title": d.title,
                         "text": "\n\n".join(d.paragraphs), "published": "2025-03-03T10:00:00Z"})
             for n, d in enumerate(docs)]
    pg = server.new_database()
    with psycopg.connect(pg, autocommit=True) as conn:
        empty = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]
    rows = []
    for store in (SQLiteStore(folder / "stores.db"), PostgresStore(pg)):
        import_jsonl(store, lines)
        statements: list[str] = []
        store.trace(statements.append)
        t = time.perf_counter()
        done = analyse_backlog(store, Analyser.open(store, HashingEmbedder()), settle=False)
        seconds = time.perf_counter() - t
        store.trace(None)
        if store.dialect == "postgresql":
            with psycopg.connect(pg, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
                size = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]) - empty  # type: ignore[index]
        else:
            size = (folder / "stores.db").stat().st_size
        store.close()
        name = "PostgreSQL" if store.dialect == "postgresql" else "SQLite"
        rows += [Row(f"stores: {name}, links, copies and stories of {done} real texts (no model)", done / seconds,
                     "articles/s", "", f"{COMMAND} --only stores"),
                 Row(f"stores: {name}, statements per article in that analysis", len(statements) / done,
                     "statements", "", f"{COMMAND} --only stores"),
                 Row(f"stores: {name}, database size per article (texts of the shared data)", size / done / 1000,
                     "kB", "", f"{COMMAND} --only stores")]
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="10 feeds x 20 articles instead of 20 x 50")
    p.add_argument("--workers", default="1,2,4", help="numbers of workers to measure (default 1,2,4)")
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--only", default="workers,stores", help="workers (ingest, queue, freshness), stores, or both")
    args = p.parse_args(argv)
    only = set(args.only.split(","))
    feeds_n, per_feed = (10, 20) if args.quick else (20, 50)
    counts = [int(x) for x in args.workers.split(",")]
    articles = plan_articles(load_docs(args.data), feeds_n, per_feed, 5)
    n = len(articles)
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"tidings-workers-bench-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    server = PostgresServer().start()
    rows: list[Row] = []
    try:
        if "stores" in only:
            log("stores: the same texts analysed on each store, no model")
            rows += store_costs(server, args.data, folder, 600 if args.quick else 1400)
        if "workers" not in only:
            return _print(rows)
        with FixtureWeb(addresses(5, "127.0.0.2")) as web:
            feeds = build_web(web, articles, feeds_n)
            seconds: dict[int, float] = {}
            for w in counts:
                log(f"workers: {w} worker(s) ingest {n} articles ({feeds_n} feeds, pages extracted)")
                seconds[w] = ingest_with(server, feeds, n, w, folder)
                rows.append(Row(f"workers: end to end with {w} worker(s), model load included", n / seconds[w],
                                "articles/s", "", COMMAND))
            base = counts[0]
            for w in counts[1:]:
                rows.append(Row(f"workers: {w} workers / {base} (2 cores: expect it to flatten at 2)",
                                seconds[base] / seconds[w], "x", "", COMMAND))
            db = server.new_database(empty=True)
            store = PostgresStore(db)
            for k, (url, section) in enumerate(feeds[:4]):
                store.add_source(url, f"Outlet {k}", section=section)
            store.close()
            procs = start_workers(db, 1, folder)
            try:
                check = PostgresStore(db)
                wait_until(lambda: int(check.counts()["articles"]) == 4 * per_feed
                           and int(check.counts()["waiting"]) == 0, 1800, "the idle worker's first articles")
                check.close()
                log("workers: the queue's cost per job, and freshness")
                over = queue_overhead(db)
                rows.append(Row("workers: a job that does nothing, deferral to end (median of 40)",
                                statistics.median(over) * 1000, "ms", "", COMMAND))
                fresh = freshness(db, web)
                rows.append(Row("workers: the poll reaching a new item to its Similar News stored, median of 10",
                                statistics.median(fresh), "s", "p50 < 2", COMMAND,
                                met=statistics.median(fresh) < 2))
                rows.append(Row("workers: the same, worst of 10", max(fresh), "s", "p99 < 10", COMMAND,
                                met=max(fresh) < 10))
            finally:
                stop(procs)
    finally:
        server.stop()
    return _print(rows)


def _print(rows: list[Row]) -> int:
    print(machine_line())
    for r in rows:
        print(f"{r.what}: {r.value:.3f} {r.unit}" + (f" (goal {r.goal})" if r.goal else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
