"""Load: many concurrent readers against `tidings serve` while `tidings poll --all` writes, again and again.

The bounded run (100 readers for 10 s) is part of the suite; `TIDINGS_LOAD_SECONDS=60` gives the full run and
`TIDINGS_LOAD_READERS` changes the number of readers. It fails on any 5xx, any request that got no answer and
any "database is locked" in the server's or the poller's output, and prints requests, errors, p50 and p99.
"""

from __future__ import annotations

import asyncio
import html
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from newsserver import NewsServer
from tidings.storage.sqlite import SQLiteStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.load import run_load

OUTLETS = ["Harbour Times", "Valley Courier", "Northern Star", "Coast Herald", "City Ledger", "River Post",
           "Plains Gazette", "Island Chronicle"]
PLACES = ["harbour bridge", "city council", "river dam", "airport runway", "central library", "north motorway",
          "water plant", "rail tunnel", "football stadium", "hospital wing", "school district", "port authority"]
VERBS = ["reopens after repairs", "approves new budget", "faces inquiry", "delays opening", "wins national award",
         "cuts staff", "announces expansion", "closes for safety checks"]
WORDS = ("officials residents meeting costs traffic timetable report council public questions week month year "
         "contract engineers budget review plan vote members police weather delays workers union minister mayor "
         "board funding tenders schedule survey study experts critics supporters petition hearing court ruling "
         "appeal inspection safety damage repairs shortfall surplus taxes fees prices tickets visitors drivers "
         "passengers pupils teachers nurses doctors patients families businesses shops owners farmers").split()


# -- a news web that changes between polls ---------------------------------------------------------------


def feed_xml(outlet: str, base: str, round_no: int, per_round: int = 6, keep: int = 30) -> str:
    """The outlet's feed after ``round_no`` rounds: each round adds ``per_round`` reports of shared events."""
    items = []
    newest = round_no * per_round + per_round
    t0 = datetime(2024, 6, 1, 6, 0, tzinfo=UTC)
    slug = outlet.lower().replace(" ", "-")
    for n in range(newest - 1, max(-1, newest - 1 - keep), -1):
        event = f"{PLACES[n % len(PLACES)]} {VERBS[n % len(VERBS)]}"
        title = f"{event.capitalize()} ({outlet} report {n})"
        body = report_text(outlet, event, n)
        items.append(f"<item><title>{html.escape(title)}</title><link>{base}/{slug}/{n}.html</link>"
                     f"<guid>{base}/{slug}/{n}</guid><pubDate>{format_datetime(t0 + timedelta(minutes=10 * n))}"
                     f"</pubDate><description>{html.escape(body)}</description></item>")
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{outlet}</title>"
            f"<link>{base}/</link><description>news</description>{''.join(items)}</channel></rss>")


def report_text(outlet: str, event: str, n: int) -> str:
    """An outlet's own wording of an event; every fifth event is a wire story that outlets carry word for word."""
    wire = n % 5 == 0
    rng = random.Random(f"wire-{n}" if wire else f"{outlet}-{n}")
    sentences = [f"The {event}, {'agencies' if wire else outlet} reported on day {n}."]
    for _ in range(rng.randint(6, 12)):
        sentences.append(" ".join(rng.sample(WORDS, rng.randint(8, 16))).capitalize() + ".")
    return " ".join(sentences)


def publish(server: NewsServer, round_no: int) -> None:
    for outlet in OUTLETS:
        slug = outlet.lower().replace(" ", "-")
        server.add(f"/{slug}/feed.xml", feed_xml(outlet, server.base, round_no), "application/rss+xml")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tidings(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "tidings", "--db", str(db), *args]


@dataclass
class Poller:
    """Runs `tidings poll --all` back to back in a thread, publishing new feed items before each run."""

    db: Path
    server: NewsServer
    env: dict[str, str]
    round_no: int = 1
    runs: list[tuple[float, float, int, str]] = field(default_factory=list)  # start, seconds, exit code, stderr
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._loop, name="load-poller", daemon=True)

    def _loop(self) -> None:
        while not self.stop.is_set():
            publish(self.server, self.round_no)
            self.round_no += 1
            began = time.monotonic()
            done = subprocess.run(tidings(self.db, "poll", "--all"), env=self.env, capture_output=True, text=True,
                                  timeout=600)
            self.runs.append((began, time.monotonic() - began, done.returncode, done.stderr))


@pytest.fixture
def served(tmp_path: Path, news_server: NewsServer) -> Iterator[tuple[str, Path, Path, dict[str, str]]]:
    db = tmp_path / "load.db"
    env = {**os.environ, "TIDINGS_EMBEDDER": "hashing", "TIDINGS_HOST_DELAY": "0", "TIDINGS_HOST_JITTER": "0",
           "TIDINGS_ALLOW_PRIVATE_NETWORKS": "1", "PYTHONUNBUFFERED": "1",
           # every reader comes from 127.0.0.1 on its own connection: lift the per-client connection cap
           "TIDINGS_MAX_CONNECTIONS_PER_CLIENT": "1000"}
    store = SQLiteStore(db)
    for n, outlet in enumerate(OUTLETS):
        slug = outlet.lower().replace(" ", "-")
        store.add_source(news_server.url(f"/{slug}/feed.xml"), outlet, section=("Local", "World")[n % 2],
                         fulltext="never")
    store.close()
    publish(news_server, 0)
    first = subprocess.run(tidings(db, "poll", "--all"), env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(tidings(db, "serve", "--host", "127.0.0.1", "--port", str(port)), env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield base, db, log, env
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def reading_paths(db: Path) -> list[str]:
    """Home, sections, articles, Similar News and search: what readers ask for."""
    store = SQLiteStore(db)
    rows = store.latest_articles(limit=60)
    store.close()
    assert len(rows) >= 40
    paths = ["/", "/sections", "/section/Local", "/section/World", "/sources", "/search?q=harbour+bridge",
             "/search?q=council+budget", "/api/home"]
    paths += [f"/article/{r['id']}" for r in rows[:40]]
    paths += [f"/api/similar?url={quote(r['url'], safe='')}" for r in rows[:20]]
    paths += [f"/story/{r['story_id']}" for r in rows[:20] if r.get("story_id")]
    return paths


def test_readers_while_polls_write(served: tuple[str, Path, Path, dict[str, str]], news_server: NewsServer) -> None:
    base, db, log, env = served
    seconds = float(os.environ.get("TIDINGS_LOAD_SECONDS", "10"))
    readers = int(os.environ.get("TIDINGS_LOAD_READERS", "100"))
    paths = reading_paths(db)
    store = SQLiteStore(db)
    before = store.article_count()
    writes = [f"/api/sources/{s['id']}/refresh" for s in store.sources()]
    token = (db.parent / "admin-secret").read_text().strip()
    poller = Poller(db, news_server, env)
    poller.thread.start()
    try:
        started = time.monotonic()
        stats = asyncio.run(run_load(base, {"page": paths}, readers, seconds, writes=writes, token=token))
        ended = time.monotonic()
    finally:
        poller.stop.set()
        poller.thread.join(timeout=600)
    report, written = stats["all"], stats["write"]
    after = SQLiteStore(db).article_count()
    overlapping = [r for r in poller.runs if r[0] < ended and r[0] + r[1] > started]
    server_log = log.read_text()
    print(f"\nload: {readers} readers for {report.seconds:.1f} s while {len(poller.runs)} poll(s) ran "
          f"(durations {', '.join(f'{r[1]:.1f} s' for r in poller.runs)}); articles {before} -> {after}")
    print("load: readers: " + report.summary())
    print("load: 'poll now' through the API meanwhile: " + written.summary())
    assert report.unanswered_or_5xx == 0, report.error_samples
    assert written.errors == 0 and written.requests >= 1, written.error_samples
    assert report.requests > readers
    assert "database is locked" not in server_log, server_log[-3000:]
    assert "Traceback" not in server_log, server_log[-3000:]
    for _, _, code, stderr in poller.runs:
        assert code == 0 and "database is locked" not in stderr, stderr[-3000:]
    assert overlapping and after > before, "the polls wrote while the readers read"
