"""Tidings on PostgreSQL with several workers: the set-up the README gives, done step by step; every item stored
once and analysed once whatever happens to the workers (killed with -9 mid-job, the database gone for a while);
politeness per host across all workers together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from newsserver import NewsServer, PostgresServer, rss

from tidings.storage import open_store
from tidings.storage.postgres import PostgresStore

FEED_TYPE = "application/rss+xml"
WORDS = ("harbour", "bridge", "council", "storm", "election", "vaccine", "budget", "strike", "flood", "summit")


def story_feed(server: NewsServer, feed: int, items: int) -> str:
    """A feed of ``items`` headline-only items, each about one of a few events; returns its URL."""
    entries = []
    for n in range(items):
        event = WORDS[(feed + n) % len(WORDS)]
        link = server.add(f"/f{feed}/{n}", "<html><body>gone</body></html>")
        entries.append((f"g{feed}-{n}", link, f"Officials speak about the {event} in the city, report {feed}-{n}"))
    return server.add(f"/feed{feed}.xml", rss(entries), FEED_TYPE)


def tidings(db: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tidings", "--db", db, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300, check=False)


WORKER_ENV = {"TIDINGS_EMBEDDER": "hashing", "TIDINGS_HOST_DELAY": "0.05", "TIDINGS_HOST_JITTER": "0"}


@contextmanager
def workers(db: str, n: int, tmp: Path, *, env: dict[str, str] | None = None) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``n`` worker processes on ``db``, stopped (by their process ids) at the end."""
    procs = [subprocess.Popen([sys.executable, "-m", "tidings", "--db", db, "worker"],
                              env={**os.environ, **WORKER_ENV, **(env or {})},
                              stdout=open(tmp / f"worker{k}.log", "wb"), stderr=subprocess.STDOUT)
             for k in range(n)]
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.2)


def everything_done(store: PostgresStore, expected: int) -> Callable[[], bool]:
    def done() -> bool:
        c = store.counts()
        return int(c["articles"]) == expected and int(c["waiting"]) == 0
    return done


def check_consistent(store: PostgresStore, expected_urls: set[str]) -> None:
    """Every item stored once, analysed once, in one story at most, and every story's members its own."""
    rows = store.latest_articles(limit=100_000)
    assert sorted(r["url"] for r in rows) == sorted(expected_urls)
    seqs = [r["analysed_seq"] for r in store.analysed_after(0, "hashing-512", limit=100_000)]
    assert len(seqs) == len(expected_urls) == len(set(seqs)), "each article analysed exactly once"
    members = store.members_of_stories([s["id"] for s in store.recent_stories(limit=100_000)])
    seen = [r["id"] for rs in members.values() for r in rs]
    assert len(seen) == len(set(seen)), "no article in two stories"


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
        with workers(pg, 2, tmp_path):
            wait_for(everything_done(store, len(expected)), "two workers poll and analyse every feed")
        check_consistent(store, expected)
        assert store.stories(limit=10), "stories were formed"
        listing = tidings(pg, "sources", "list")
        assert listing.returncode == 0 and listing.stdout.count("HTTP 200") == len(feeds)
        store.close()


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
