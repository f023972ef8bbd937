"""Tidings on PostgreSQL with several workers: the set-up the README gives, done step by step; every item stored
once and analysed once whatever happens to the workers (killed with -9 mid-job, the database gone for a while);
politeness per host across all workers together."""

from __future__ import annotations

import itertools
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from newsserver import STORY_WORDS as WORDS
from newsserver import NewsServer, PostgresServer, Response, answers, rss, story_feed, wait_for
from tidings import queue
from tidings.storage import open_store
from tidings.storage.postgres import PostgresStore

FEED_TYPE = "application/rss+xml"


def tidings(db: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tidings", "--db", db, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300, check=False)


WORKER_ENV = {"TIDINGS_EMBEDDER": "hashing", "TIDINGS_HOST_DELAY": "0.05", "TIDINGS_HOST_JITTER": "0"}


class Workers:
    """Worker processes on one database, started, killed with -9 and replaced at will; all stopped (by their
    process ids) at the end."""

    def __init__(self, db: str, folder: Path, env: dict[str, str] | None = None) -> None:
        self.db, self.folder, self.env = db, folder, {**os.environ, **WORKER_ENV, **(env or {})}
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, n: int = 1) -> None:
        for _ in range(n):
            with open(self.folder / f"worker{len(self.procs)}.log", "wb") as log:
                self.procs.append(subprocess.Popen([sys.executable, "-m", "tidings", "-v", "--db", self.db, "worker"],
                                                   env=self.env, stdout=log, stderr=subprocess.STDOUT))

    def running(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def kill_all(self) -> int:
        """kill -9 every running worker, as a machine losing power would; returns how many."""
        gone = self.running()
        for p in gone:
            os.kill(p.pid, signal.SIGKILL)
        for p in gone:
            p.wait()
        return len(gone)

    def stop(self) -> None:
        for p in self.running():
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()




def everything_done(store: PostgresStore, expected: int) -> Callable[[], bool]:
    def done() -> bool:
        c = store.counts()
        return int(c["articles"]) == expected and int(c["waiting"]) == 0
    return done


def check_consistent(store: PostgresStore, expected_urls: set[str]) -> None:
    """Every item stored once and analysed once; every story's record agrees with its members, and no article
    points at a story that is gone."""
    rows = store.latest_articles(limit=100_000)
    assert sorted(r["url"] for r in rows) == sorted(expected_urls), "every item stored, none twice"
    seqs = [r["analysed_seq"] for r in store.analysed_after(0, "hashing-512", limit=100_000)]
    assert len(seqs) == len(expected_urls) == len(set(seqs)), "each article analysed exactly once"
    stories = {s["id"]: s for s in store.recent_stories(limit=100_000)}
    members = store.members_of_stories(list(stories))
    assert all(stories[i]["size"] == len(m) > 0 for i, m in members.items()), "story sizes match their members"
    assert {r["story_id"] for r in rows if r["story_id"] is not None} <= set(stories), "no member of a lost story"


def doing(db: str) -> set[str]:
    """The kinds of job that workers are in the middle of now (Procrastinate's own table)."""
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn:
        return {r[0] for r in conn.execute("SELECT task_name FROM procrastinate_jobs WHERE status = 'doing'")}


def queue_rows(db: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn:
        return dict(conn.execute("SELECT status::text, COUNT(*) FROM procrastinate_jobs GROUP BY status").fetchall())


@pytest.fixture
def pg(postgres: PostgresServer) -> str:
    return postgres.new_database(empty=True)


def test_the_readme_set_up_with_two_workers_stores_and_analyses_everything_once(pg: str, tmp_path: Path) -> None:
    with NewsServer() as server:
        feeds = [story_feed(server, f, 15) for f in range(6)]
        for url in feeds:  # the README: create the database, add sources through Tidings, start workers
            added = tidings(pg, "sources", "add", url, "--fulltext", "never")
            assert added.returncode == 0, added.stderr
        store = PostgresStore(pg)
        expected = {server.url(f"/f{f}/{n}") for f in range(6) for n in range(15)}
        with Workers(pg, tmp_path) as w:
            w.start(2)
            wait_for(everything_done(store, len(expected)), "two workers poll and analyse every feed")
        check_consistent(store, expected)
        assert store.stories(limit=10), "stories were formed"
        listing = tidings(pg, "sources", "list")
        assert listing.returncode == 0 and listing.stdout.count("HTTP 200") == len(feeds)
        store.close()


def test_a_database_server_that_cannot_be_reached_is_one_clear_line() -> None:
    from newsserver import _free_port

    done = tidings(f"postgresql://postgres:secret@127.0.0.1:{_free_port()}/tidings", "sources", "list")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "Connection refused" in done.stderr, done.stderr
    assert "secret" not in done.stderr, "the password is not shown"


def test_a_worker_needs_postgresql(tmp_path: Path) -> None:
    done = tidings(str(tmp_path / "t.db"), "worker")
    assert done.returncode != 0 and "PostgreSQL" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "t.db").exists()


def test_the_web_loads_no_model_and_hands_analysis_to_the_workers(postgres: PostgresServer) -> None:
    from fastapi.testclient import TestClient

    from tidings.web.app import create_app

    store = open_store(postgres.new_database())
    app = create_app(store, "a-secret-of-enough-length-0123456789")
    assert app.state.analysis.request() == "queued"
    assert app.state.analysis._thread is None, "no analysis thread (and no model) in the web process"
    with TestClient(app) as client:
        assert client.get("/").status_code == 200
    store.close()


KILLS = 20
KINDS = ("poll", "analyse", "settle")


class Hunt:
    """Which kind of job to kill next: each kind in turn, waiting up to a few seconds for one to be running."""

    def __init__(self, patience: float = 4.0) -> None:
        self.turn, self.patience, self.since = 0, patience, time.monotonic()

    def running(self, now: set[str]) -> str | None:
        wanted = KINDS[self.turn % len(KINDS)]
        if wanted in now or time.monotonic() - self.since > self.patience:
            self.turn += 1
            self.since = time.monotonic()
            return wanted if wanted in now else None
        return None


def test_workers_killed_mid_job_lose_nothing_and_do_nothing_twice(pg: str, tmp_path: Path) -> None:
    """Three workers on 1,000 feeds; again and again, the moment a job of one kind is running, every worker is
    killed with -9 and three new ones start. At the end every item is stored once and analysed once, and the
    stories agree with their members."""
    servers = [NewsServer().__enter__() for _ in range(4)]  # four hosts
    try:
        feeds = [story_feed(servers[f % 4], f, 2) for f in range(1000)]
        expected = {servers[f % 4].url(f"/f{f}/{n}") for f in range(1000) for n in range(2)}
        store = PostgresStore(pg)
        for url in feeds:
            store.add_source(url, f"Outlet {url.rsplit('/', 1)[1]}", fulltext="never")
        killed: dict[str, int] = {}
        env = {"TIDINGS_WORKER_STALLED": "3", "TIDINGS_HOST_TURN_LEASE": "3", "TIDINGS_HOST_DELAY": "0",
               "TIDINGS_POLL_CLAIM": "5"}
        with Workers(pg, tmp_path, env) as w:
            w.start(3)
            hunt = Hunt()
            while sum(killed.values()) < KILLS and not everything_done(store, len(expected))():
                kind = hunt.running(doing(pg))
                if kind is None:
                    time.sleep(0.01)
                    continue
                w.kill_all()
                killed[kind] = killed.get(kind, 0) + 1
                w.start(3)
                time.sleep(0.5)  # let the new workers get going before the next kill
            wait_for(everything_done(store, len(expected)), "the workers finish after the kills", timeout=300)
            # Settling is too quick to meet by chance; settling the whole archive is long enough to be killed in
            # (and makes up the 20 kills if the work ran out before).
            while killed.get("settle", 0) < 2 or sum(killed.values()) < KILLS:
                while not queue.defer(pg, "settle", since=None):  # one already waits: once it has run
                    time.sleep(0.05)
                deadline = time.monotonic() + 60
                while "settle" not in doing(pg):
                    assert time.monotonic() < deadline, "the settling job never ran"
                    time.sleep(0.005)
                w.kill_all()
                killed["settle"] = killed.get("settle", 0) + 1
                w.start(3)
            wait_for(lambda: not doing(pg) and "todo" not in queue_rows(pg), "the queue drains", timeout=120)
        print(f"kill -9 of every worker, by the kind of job running: {killed}; queue at the end: {queue_rows(pg)}")
        check_consistent(store, expected)
        assert "failed" not in queue_rows(pg), "no job failed for good"
        assert sum(killed.values()) >= KILLS, killed
        assert all(killed.get(k) for k in KINDS), f"workers were killed in the middle of each kind: {killed}"
        store.close()
    finally:
        for s in servers:
            s.__exit__()


OUTAGE = float(os.environ.get("TIDINGS_TEST_OUTAGE", "30"))


def test_a_worker_waits_out_the_database_going_away_and_goes_on(tmp_path: Path) -> None:
    """PostgreSQL stops for 30 s under a running worker: the worker waits, then takes up the work again."""
    own = PostgresServer().start()  # a server of this test's own: the session's stays up for the others
    try:
        db = own.new_database(empty=True)
        with NewsServer() as server:
            feed = story_feed(server, 0, 5)
            assert tidings(db, "sources", "add", feed, "--fulltext", "never", "--every", "5").returncode == 0
            store = PostgresStore(db)
            with Workers(db, tmp_path) as w:
                w.start(1)
                wait_for(everything_done(store, 5), "the worker polls and analyses the feed")
                own.restart(down_for=OUTAGE)
                server.add("/feed0.xml", rss([(f"g0-{n}", server.add(f"/f0/{n}", "x"),
                                                f"Officials speak about the harbour in the city, report 0-{n}")
                                               for n in range(8)]), FEED_TYPE)
                store.refresh_now(store.sources()[0]["id"])  # due at once (as "refresh now" on the site does)
                wait_for(everything_done(store, 8), "the same worker polls and analyses the new items")
                assert [p.poll() for p in w.procs] == [None], "the worker lived through it"
            check_consistent(store, {server.url(f"/f0/{n}") for n in range(8)})
            store.close()
    finally:
        own.stop()


def test_politeness_per_host_holds_across_all_workers_together(pg: str, tmp_path: Path) -> None:
    """Three workers polling 45 feeds of one slow host (three poll jobs at once): never more than two requests
    to it in flight, and their starts apart by the host delay, counted at the host itself."""
    gap = 0.3
    with NewsServer() as server:
        feeds = [story_feed(server, f, 2) for f in range(45)]
        for f in range(45):
            route = server.routes[f"/feed{f}.xml"]
            server.routes[f"/feed{f}.xml"] = Response(route.body, route.content_type, delay=0.5)
        store = PostgresStore(pg)
        for url in feeds:
            store.add_source(url, f"Outlet {url.rsplit('/', 1)[1]}", fulltext="never")
        with Workers(pg, tmp_path, {"TIDINGS_HOST_DELAY": str(gap)}) as w:
            w.start(3)
            wait_for(everything_done(store, 90), "three workers poll the 45 feeds")
        spans = sorted(server.spans)
        starts = [a for a, _ in spans]
        in_flight = max(sum(1 for a, b in spans if a <= t < b) for t in starts)
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        print(f"{len(spans)} requests: at most {in_flight} in flight, starts at least {min(gaps):.3f} s apart"
              f" (median {statistics.median(gaps):.3f} s)")
        assert len(spans) >= 45 and in_flight <= 2
        # Turns are granted the host delay apart; what the host sees adds each request's own way there.
        assert statistics.median(gaps) >= gap - 0.05 and min(gaps) >= gap / 2
        store.close()


def test_migrate_copies_an_sqlite_archive_into_postgresql_losing_no_link_or_story(
        postgres: PostgresServer, tmp_path: Path) -> None:
    import json

    from tidings.analysis.embeddings import HashingEmbedder
    from tidings.ingest.pipeline import import_jsonl
    from tidings.jobs import Analyser, analyse_backlog
    from tidings.storage.sqlite import SQLiteStore

    archive = tmp_path / "archive.db"
    old = SQLiteStore(archive)
    import_jsonl(old, [json.dumps({"url": f"https://o{n % 5}.example/{n}", "source": f"Outlet {n % 5}",
                                   "title": f"Officials speak about the {WORDS[n % 4]} in the city, report {n}",
                                   "summary": f"The {WORDS[n % 4]} was discussed on Monday by the council. " * 2,
                                   "published": "2025-03-03T10:00:00Z"}) for n in range(60)])
    analyse_backlog(old, Analyser.open(old, HashingEmbedder()))
    stories = [s["id"] for s in old.recent_stories(limit=100)]
    merged = old.create_story("merged since")
    old.move_story(merged, stories[0])  # a merged story: its old address redirects
    outlet = old.import_source("Outlet 1")
    old.save_source_icon(outlet, "https://o1.example/", "https://o1.example/icon.png", "2025-03-03T10:00:00Z")
    target = postgres.new_database(empty=True)

    done = tidings(str(archive), "migrate", target)
    assert done.returncode == 0, done.stderr
    assert "60 articles" in done.stdout
    new = PostgresStore(target)
    ids = [r["id"] for r in old.latest_articles(limit=1000)]
    assert [r["id"] for r in new.latest_articles(limit=1000)] == ids
    for i in ids:
        before, after = old.article(i), new.article(i)
        assert after and before and (after["story_id"], after["copy_group"], after["sections"]) == (
            before["story_id"], before["copy_group"], before["sections"])
        assert [(s["id"], s["relation"], round(s["score"], 6)) for s in new.similar_to(i, limit=50)] == [
            (s["id"], s["relation"], round(s["score"], 6)) for s in old.similar_to(i, limit=50)]
    assert new.story_redirect(merged) == old.story_redirect(merged) == stories[0]
    assert new.source_icon(outlet) == old.source_icon(outlet) is not None
    assert new.search_count("council") == old.search_count("council") == 60
    fresh = new.create_story("after the copy")  # new ids follow on from the copied ones
    assert fresh > merged
    again = tidings(str(archive), "migrate", target)
    assert again.returncode != 0 and "not empty" in again.stderr
    new.close()


def test_run_on_postgresql_serves_the_site_with_a_worker_beside_it(pg: str, tmp_path: Path) -> None:
    """`tidings --db postgresql://… run` and one more `tidings worker` (as on another machine): the README's
    PostgreSQL set-up. The site answers with Similar News that the workers worked out."""
    import httpx

    from newsserver import _free_port

    port = _free_port()
    env = {**os.environ, **WORKER_ENV, "TIDINGS_DATA_DIR": str(tmp_path / "data")}
    with NewsServer() as server, open(tmp_path / "run.log", "wb") as log:
        feeds = [story_feed(server, f, 4) for f in range(3)]
        for n, url in enumerate(feeds):
            assert tidings(pg, "sources", "add", url, "--fulltext", "never", "--name", f"Outlet {n}").returncode == 0
        run = subprocess.Popen([sys.executable, "-m", "tidings", "--db", pg, "run", "--port", str(port)], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
        try:
            with Workers(pg, tmp_path, {"TIDINGS_DATA_DIR": str(tmp_path / "data")}) as w:
                w.start(1)
                store = PostgresStore(pg)
                wait_for(everything_done(store, 12), "the run's worker and the other one analyse every item")
                url = server.url("/f0/0")
                wait_for(lambda: answers(f"http://127.0.0.1:{port}/healthz"), "the site answers")
                similar = httpx.get(f"http://127.0.0.1:{port}/api/similar", params={"url": url}).json()
                assert similar["article"]["url"] == url and similar["similar"], similar
                store.close()
        finally:
            run.send_signal(signal.SIGTERM)
            run.wait(timeout=60)
    wait_for(lambda: not workers_of(pg), "the worker beside `run` ends with it", timeout=60)


def workers_of(db: str) -> list[int]:
    """Process ids of `tidings worker` processes on ``db`` still running (from /proc)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if db.encode() in args and b"worker" in args:
            found.append(int(cmdline.parent.name))
    return found

