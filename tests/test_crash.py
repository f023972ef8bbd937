"""Nothing is lost on a crash: the poller and the importer are killed with SIGKILL at random moments.

Each round starts ``python -m tidings ... --progress`` (which prints ``stored <url>`` after each commit), kills
it, then checks the database: PRAGMA integrity_check is ok, every article the process reported is there, no
article is there twice, and every stored article has its sections (the row and its sections commit together).
A rerun must then complete and leave everything of the input stored, once, and analysed.

Half the kills land after a random number of reported commits (in the middle of the writing), half at a random
time since the start (start-up, fetching, analysis). TIDINGS_CRASH_SEED replays a run; the seed is in every
failure message.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from newsserver import NewsServer
from tidings.storage.sqlite import SQLiteStore

KILLS = 20  # kills that must land while the command runs, per command
FEEDS = 20
ITEMS = 20
NEW_PER_ROUND = 2  # each feed moves on by two items a round
POLL_WINDOW = 1.0  # seconds after the start within which a timed kill lands
IMPORT_WINDOW = 0.8
SEED = int(os.environ.get("TIDINGS_CRASH_SEED") or time.time_ns() % 1_000_000)
SRC = Path(__file__).resolve().parents[1] / "src"
TALLY: dict[str, int] = {}


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.update({"TIDINGS_EMBEDDER": "hashing", "TIDINGS_ALLOW_PRIVATE_NETWORKS": "1", "TIDINGS_HOST_DELAY": "0",
              "TIDINGS_HOST_JITTER": "0", "PYTHONPATH": os.pathsep.join([str(SRC), e.get("PYTHONPATH", "")])})
    return e


def tidings(db: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tidings", "--db", str(db), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env())


@dataclass
class Run:
    reported: set[str] = field(default_factory=set)
    killed_after: str = ""
    landed: bool = False  # False when the command had finished before the kill
    seconds: float = 0.0


def run_and_kill(db: Path, args: list[str], rng: random.Random, expected_writes: int, window: float) -> Run:
    """Start a command and SIGKILL it after a random number of reported commits or a random time."""
    proc = tidings(db, *args)
    assert proc.stdout is not None
    run = Run()
    started = time.monotonic()
    if rng.random() < 0.5 and expected_writes > 0:
        stop_at = rng.randrange(expected_writes)
        run.killed_after = f"{stop_at} reported commits"
        for line in proc.stdout:
            if line.startswith("stored "):
                run.reported.add(line[len("stored "):].strip())
            if len(run.reported) >= stop_at:
                break
        time.sleep(rng.uniform(0, 0.01))  # land anywhere in the next write, not only just after a report
    else:
        delay = rng.uniform(0.15, window)
        run.killed_after = f"{delay:.2f} s"
        time.sleep(max(0.0, delay - (time.monotonic() - started)))
    run.landed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    run.reported |= {line[len("stored "):] for line in rest.splitlines() if line.startswith("stored ")}
    run.seconds = time.monotonic() - started
    return run


def run_to_end(db: Path, args: list[str]) -> tuple[set[str], float]:
    """Run a command to its end; returns what it reported stored and how long it took."""
    started = time.monotonic()
    proc = tidings(db, *args)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"rerun failed with {proc.returncode}: {out[-500:]}"
    reported = {line[len("stored "):] for line in out.splitlines() if line.startswith("stored ")}
    return reported, time.monotonic() - started


def check_after_crash(db: Path, run: Run, context: str) -> None:
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok", context
        urls = [r[0] for r in con.execute("SELECT url FROM articles")]
        assert len(urls) == len(set(urls)), context
        missing = run.reported - set(urls)
        assert not missing, f"{context}: reported as stored but not there: {sorted(missing)[:5]}"
        twice = con.execute("SELECT COUNT(*) FROM (SELECT source_id, title, published_at FROM articles"
                            " GROUP BY 1, 2, 3 HAVING COUNT(*) > 1)").fetchone()[0]
        assert twice == 0, f"{context}: {twice} articles stored twice under other URLs"
        bare = con.execute("SELECT COUNT(*) FROM articles a WHERE a.section != '' AND NOT EXISTS"
                           " (SELECT 1 FROM article_sections x WHERE x.article_id = a.id)").fetchone()[0]
        assert bare == 0, f"{context}: {bare} articles stored without their sections"
    finally:
        con.close()


def check_complete(db: Path, expected: set[str], context: str) -> None:
    con = sqlite3.connect(db)
    try:
        total, distinct = con.execute("SELECT COUNT(*), COUNT(DISTINCT url) FROM articles").fetchone()
        urls = {r[0] for r in con.execute("SELECT url FROM articles")}
        waiting = con.execute("SELECT COUNT(*) FROM articles WHERE analysed = 0").fetchone()[0]
    finally:
        con.close()
    assert total == distinct == len(expected), f"{context}: {total} rows, {distinct} URLs, {len(expected)} expected"
    assert urls == expected, f"{context}: gaps {sorted(expected - urls)[:5]}"
    assert waiting == 0, f"{context}: {waiting} articles left unanalysed"


def count(kind: str, n: int = 1) -> None:
    TALLY[kind] = TALLY.get(kind, 0) + n


@pytest.fixture(scope="module", autouse=True)
def tally(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None and TALLY:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"crash test (seed {SEED}): " + ", ".join(f"{k} {v}" for k, v in TALLY.items()))


# --- the poller --------------------------------------------------------------------------------------------

EPOCH = datetime(2025, 3, 1, tzinfo=UTC)


def feed_xml(server: NewsServer, feed: int, first: int) -> str:
    items = []
    for j in range(first, first + ITEMS):
        url = server.url(f"/f{feed}/a{j}.html")
        when = format_datetime(EPOCH + timedelta(hours=j, minutes=feed), usegmt=True)
        items.append(f"<item><guid>{url}</guid><link>{url}</link><title>Feed {feed} story {j}</title>"
                     f"<pubDate>{when}</pubDate><description>Story {j} of feed {feed}, in brief.</description></item>")
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Feed {feed}</title>"
            f"<link>{server.base}/</link>{''.join(items)}</channel></rss>")


def publish_round(server: NewsServer, r: int) -> set[str]:
    """Every feed moves on by NEW_PER_ROUND items; returns the article URLs the feeds now list."""
    listed = set()
    for f in range(FEEDS):
        first = r * NEW_PER_ROUND
        server.add(f"/f{f}.xml", feed_xml(server, f, first), "application/rss+xml")
        listed |= {server.url(f"/f{f}/a{j}.html") for j in range(first, first + ITEMS)}
    return listed


def test_poller_survives_kill_9(tmp_path: Path, news_server: NewsServer) -> None:
    rng = random.Random(SEED)
    db = tmp_path / "poll.db"
    store = SQLiteStore(db)
    for f in range(FEEDS):
        store.add_source(news_server.url(f"/f{f}.xml"), f"Feed {f}", section="World", fulltext="never")
    store.close()
    expected: set[str] = set()
    landed = 0
    for r in range(KILLS + 10):
        listed = publish_round(news_server, r)
        new = listed - expected
        expected |= listed
        run = run_and_kill(db, ["poll", "--all", "--progress"], rng, len(new), POLL_WINDOW)
        context = f"seed {SEED}, poller round {r}, killed after {run.killed_after}"
        check_after_crash(db, run, context)
        landed += run.landed
        count("poller kills" if run.landed else "poller runs done before the kill")
        count("poller commits reported before the kill", len(run.reported))
        run_to_end(db, ["poll", "--all", "--progress"])
        check_complete(db, expected, context)
        if landed >= KILLS:
            break
    assert landed >= KILLS, f"seed {SEED}: only {landed} kills landed while the poller ran"
    count("poller articles at the end", len(expected))


# --- the importer ------------------------------------------------------------------------------------------

LINES = 90
NEW_LINES = 60


def jsonl(r: int) -> tuple[str, set[str]]:
    """One import file: LINES articles (a third of them from the round before again) and a few broken lines."""
    lines, urls = [], set()
    for i in range(r * NEW_LINES, r * NEW_LINES + LINES):
        url = f"https://import.test/{i}"
        urls.add(url)
        lines.append(json.dumps({"url": url, "title": f"Imported story {i}", "source": f"Outlet {i % 7}",
                                 "text": f"Story {i} in a few words. " * 5, "section": "World",
                                 "published": (EPOCH + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")}))
        if i % 37 == 0:
            lines.append('{"url": "https://import.test/broken", "title": ')
    return "\n".join(lines) + "\n", urls


def test_importer_survives_kill_9(tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    db = tmp_path / "import.db"
    SQLiteStore(db).close()
    expected: set[str] = set()
    landed = 0
    for r in range(KILLS + 10):
        text, urls = jsonl(r)
        path = tmp_path / f"round{r}.jsonl"
        path.write_text(text, encoding="utf-8")
        new = urls - expected
        expected |= urls
        run = run_and_kill(db, ["import", str(path), "--progress"], rng, len(new), IMPORT_WINDOW)
        context = f"seed {SEED}, importer round {r}, killed after {run.killed_after}"
        check_after_crash(db, run, context)
        landed += run.landed
        count("importer kills" if run.landed else "importer runs done before the kill")
        count("importer commits reported before the kill", len(run.reported))
        again, _ = run_to_end(db, ["import", str(path), "--progress"])
        assert not again & run.reported, f"{context}: rerun stored again what was reported before the kill"
        check_complete(db, expected, context)
        if landed >= KILLS:
            break
    assert landed >= KILLS, f"seed {SEED}: only {landed} kills landed while the importer ran"
    count("importer articles at the end", len(expected))
