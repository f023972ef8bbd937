"""Readers during a poll pass, and how soon fresh news is served, under `tidings run`.

    python -m benchmarks --only readers [--quick] [--clients 32]
    python -m benchmarks --only fresh [--quick]

Both start from one database: the articles of a few feeds polled and analysed (what readers read), and more
feeds added as sources but not yet polled, all on the fixture news web (127.0.0.2 and up), pages extracted and
embedded with the real model.

readers: `tidings run --tick 3600` on a copy of that database: its first pass polls the new feeds (fetch,
extract, embed, link, stories). The pass is timed from the first request the fixture web sees to the poller's
"polled N sources" line. With readers, ``clients`` clients (benchmarks.load.run_load: home, sections, articles,
/api/similar) read the site from that first request until that line; their p50 and p99 are those of the pass.
Each arrangement runs alone and with readers, in turn, ``rounds`` times: the poller in a process of its own
beside the site (`tidings run` today), and the poller as a thread in the site's process (as `tidings run` was:
``python -m benchmarks.readers --thread-run DB PORT``).

fresh: `tidings run --tick 1` on a copy, once its first pass is done. Then, one at a time, a feed gets a new item
(another outlet's report of a stored article, reworded, so it has Similar News) and its source is made due;
the fixture web notes when it serves that feed, and a reader asks the site every 20 ms for /api/similar?url=…
until it lists Similar News, then for the article's page. The time is from the feed being served to that page's
200.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx

from benchmarks.common import REPO, Row, log, median, tidings_cmd, tidings_env
from benchmarks.corpus import Article, load_docs, plan_articles
from benchmarks.ingest import NO_DELAY, _add_sources, build_web
from benchmarks.load import READY_PATH, Stats, _wait_ready, free_port, paths_from_db, run_load, stop_process
from benchmarks.newsweb import FixtureWeb, PageTemplate, Route, addresses, outlet_name, page_route, rss

if TYPE_CHECKING:
    from tidings.storage.sqlite import SQLiteStore

DB = "readers.db"
ARRANGEMENTS = {"processes": "tidings run (poller in its own process, nice 10)",
                "thread": "old arrangement (poller thread in the site's process)"}


@dataclass
class Corpus:
    web: FixtureWeb
    articles: list[Article]
    template: Path  # a folder holding DB (and its index), base feeds polled, the new ones added
    new_feeds: list[tuple[str, str]]
    base_articles: int


def prepare(data: Path, work: Path, web: FixtureWeb, *, base_feeds: int, new_feeds: int, per_feed: int) -> Corpus:
    feeds = base_feeds + new_feeds
    articles = plan_articles(load_docs(data), feeds, per_feed, len(web.hosts), seed=11)
    urls = build_web(web, articles, feeds)
    template = work / "readers-template"
    template.mkdir(parents=True, exist_ok=True)
    db = template / DB
    env = tidings_env(TIDINGS_EMBEDDER=None, **NO_DELAY)
    log(f"readers: the database: {base_feeds} feeds x {per_feed} polled, then {new_feeds} more feeds added")
    _add_sources(db, urls[:base_feeds])
    done = subprocess.run(tidings_cmd("--db", str(db), "poll", "--all"), env=env, capture_output=True, text=True,
                          timeout=3600, check=False)
    if done.returncode:
        raise RuntimeError(f"tidings poll --all: {done.stderr[-600:]}")
    _add_sources(db, urls[base_feeds:])
    return Corpus(web, articles, template, urls[base_feeds:], base_feeds * per_feed)


def _copy(corpus: Corpus, work: Path, name: str) -> Path:
    folder = work / name
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(corpus.template, folder)
    return folder / DB


def _start(db: Path, arrangement: str, port: int, tick: float, log_path: Path, *,
           polite: bool = False) -> subprocess.Popen[bytes]:
    """`run` (or the old arrangement) on ``db``; with ``polite``, the fetcher's default delay between requests to
    one host, else none."""
    env = tidings_env(TIDINGS_EMBEDDER=None, **({} if polite else NO_DELAY))
    if arrangement == "processes":
        cmd = tidings_cmd("--db", str(db), "run", "--host", "127.0.0.1", "--port", str(port), "--tick", f"{tick:g}")
    else:
        cmd = [sys.executable, "-m", "benchmarks.readers", "--thread-run", str(db), str(port), f"{tick:g}"]
    with open(log_path, "wb") as out:
        return subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


def _wait(condition: Callable[[], bool], what: str, proc: subprocess.Popen[bytes], log_path: Path,
          timeout: float = 1800.0, every: float = 0.005) -> float:
    """Wait for ``condition``; returns time.monotonic() when it was first seen true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise RuntimeError(f"{what}: the process ended ({proc.returncode}): {log_path.read_text()[-600:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:g} s")
        time.sleep(every)
    return time.monotonic()


def _passes(log_path: Path) -> int:
    return log_path.read_text(errors="replace").count(" polled ")


THINK = 1.0  # paced readers: about a page a second each


@dataclass
class Trial:
    arrangement: str
    readers: int
    think: float
    poll_seconds: float
    stats: Stats | None


def trial(corpus: Corpus, work: Path, arrangement: str, readers: int, think: float, paths: dict[str, list[str]],
          n: int) -> Trial:
    """One first pass of `run` over the new feeds, with ``readers`` readers during it (0: alone), each pausing
    about ``think`` seconds between pages (0: none)."""
    name = f"{arrangement}-{readers}-{think:g}-{n}"
    db = _copy(corpus, work, name)
    log_path = work / f"{name}.log"
    port = free_port()
    corpus.web.reset_stats()
    proc = _start(db, arrangement, port, 3600, log_path)
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Stats] = {}
    ended = threading.Event()
    try:
        with open(log_path, "rb") as err:
            _wait_ready(proc, base + READY_PATH, time.perf_counter(), 300, err)
        started = _wait(lambda: sum(s.requests for s in corpus.web.stats.values()) > 0, "the pass starts", proc,
                        log_path)
        reading = threading.Thread(target=lambda: results.update(asyncio.run(run_load(
            base, paths, readers, 3600, until=ended.is_set, think=think)))) if readers else None
        if reading:
            reading.start()
        finished = _wait(lambda: _passes(log_path) > 0, "the pass ends", proc, log_path, every=0.01)
        ended.set()
        if reading:
            reading.join()
    finally:
        ended.set()
        stop_process(proc)
    return Trial(arrangement, readers, think, finished - started, results.get("all"))


def run_readers(data: Path, work: Path, *, clients: int, rounds: int, base_feeds: int, new_feeds: int,
                per_feed: int, rerun: str) -> list[Row]:
    with FixtureWeb(addresses(5, "127.0.0.2")) as web:
        corpus = prepare(data, work, web, base_feeds=base_feeds, new_feeds=new_feeds, per_feed=per_feed)
        paths = paths_from_db(corpus.template / DB, sample=300)
        trials: list[Trial] = []
        for n in range(rounds):
            for arrangement in ARRANGEMENTS:
                for readers, think in ((0, 0.0), (clients, 0.0), (clients, THINK)):
                    log(f"readers: round {n + 1} of {rounds}: {arrangement}, {readers} readers, think {think:g} s")
                    trials.append(trial(corpus, work, arrangement, readers, think, paths, n))
                    t = trials[-1]
                    log(f"readers: pass {t.poll_seconds:.1f} s" + (f"; readers {t.stats.summary()}" if t.stats else ""))
    rows = []
    for arrangement, label in ARRANGEMENTS.items():
        mine = [t for t in trials if t.arrangement == arrangement]
        alone = [t.poll_seconds for t in mine if not t.readers]
        for think in (0.0, THINK):
            rows += _rows(label, [t for t in mine if t.readers and t.think == think], alone, clients, think,
                          new_feeds * per_feed, goal=arrangement == "processes", rerun=rerun)
    return rows


def _rows(label: str, busy: list[Trial], alone: list[float], clients: int, think: float, polled: int, *,
          goal: bool, rerun: str) -> list[Row]:
    read = [t.stats for t in busy if t.stats is not None]
    who = f"{clients} readers " + (f"pausing ~{think:g} s between pages" if think else "asking back to back")
    p50s = ", ".join(f"{s.p50 * 1000:.0f}" for s in read)
    p99s = ", ".join(f"{s.p99 * 1000:.0f}" for s in read)
    worst = max(read, key=lambda s: s.p99)
    errors = sum(s.errors for s in read)
    p50, p99 = median([s.p50 for s in read]) * 1000, median([s.p99 for s in read]) * 1000
    ratio = median([t.poll_seconds for t in busy]) / median(alone)
    return [
        Row(f"readers during a poll pass of {polled} new articles, {who}: {label}",
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms (median of {len(read)} runs; p50s {p50s} ms, p99s {p99s} ms); "
            f"{median([s.rate for s in read]):.0f} req/s; {errors} errors", "",
            "p99 < 100 ms, 0 errors" if goal else "", rerun, met=(worst.p99 < 0.1 and errors == 0) if goal else None,
            error="; ".join(worst.error_samples) if errors else ""),
        Row(f"poll pass of {polled} new articles (fetch, extract, embed, link), {who} / alone: {label} (runs: alone "
            f"{', '.join(f'{s:.1f}' for s in alone)} s; with readers "
            f"{', '.join(f'{t.poll_seconds:.1f}' for t in busy)} s)", ratio, "x", "<= 1.10" if goal else "", rerun,
            met=ratio <= 1.10 if goal else None),
    ]


# -- fresh news ----------------------------------------------------------------------------------------


def _reworded(a: Article, feed: int, hosts: int, k: int) -> Article:
    """Another outlet's report of ``a``: a new headline and a new first line, published now."""
    paragraphs = [f"Updated {k}: {a.paragraphs[0]}", *a.paragraphs[1:]]
    return replace(a, host=feed % hosts, feed=feed, path=f"/news/{feed}/fresh-{k}.html", title=f"Latest: {a.title}",
                   paragraphs=paragraphs, published=datetime.now(UTC).replace(microsecond=0), raw_html=None)


def run_fresh(data: Path, work: Path, *, rounds: int, base_feeds: int, new_feeds: int, per_feed: int,
              rerun: str) -> list[Row]:
    from tidings.storage.sqlite import SQLiteStore

    with FixtureWeb(addresses(5, "127.0.0.2")) as web:
        corpus = prepare(data, work, web, base_feeds=base_feeds, new_feeds=new_feeds, per_feed=per_feed)
        db = _copy(corpus, work, "fresh")
        log_path = work / "fresh.log"
        port = free_port()
        proc = _start(db, "processes", port, 1, log_path, polite=True)
        base = f"http://127.0.0.1:{port}"
        latencies: list[float] = []
        failures: list[str] = []
        try:
            log("fresh: the first pass")
            _wait(lambda: _passes(log_path) > 0, "the first pass", proc, log_path)
            store = SQLiteStore(db)
            feeds = {f: [a for a in corpus.articles if a.feed == f] for f in range(base_feeds + new_feeds)}
            fresh = Fresh(web, store, feeds, {s["feed_url"]: s["id"] for s in store.sources()})
            with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
                for k in range(rounds):
                    took, missed = fresh.round(client, k, range(base_feeds, base_feeds + new_feeds))
                    latencies += took
                    failures += missed
                    log(f"fresh: round {k + 1} of {rounds}: " + ", ".join(f"{t:.2f}" for t in sorted(took)) + " s")
            store.close()
        finally:
            stop_process(proc)
    s = Stats("fresh", 0.0, latencies=latencies)
    met = bool(latencies) and not failures and s.p50 < 2 and s.p99 < 10
    return [Row(f"fresh news: feed served to the poller -> article page with Similar News served ({len(latencies)} "
                f"items: {rounds} passes, each over all {base_feeds + new_feeds} sources with a new item in "
                f"{new_feeds}; default host politeness; tidings run --tick 1)",
                f"p50 {s.p50:.2f} s, p99 {s.p99:.2f} s, max {max(latencies, default=0):.2f} s; "
                f"{len(failures)} not served", "", "p50 < 2 s, p99 < 10 s", rerun, met=met,
                error="; ".join(failures[:3]))]


@dataclass
class Fresh:
    """New items in the fixture feeds, and a reader waiting for each on the site."""

    web: FixtureWeb
    store: SQLiteStore
    feeds: dict[int, list[Article]]
    source_of: dict[str, int]  # feed URL -> source id

    def round(self, client: httpx.Client, k: int, into: range) -> tuple[list[float], list[str]]:
        """A new item in each feed of ``into``, every source made due; the seconds from each feed being served to
        its item's page with Similar News, and the items never served so."""
        hosts = len(self.web.hosts)
        waiting: dict[str, list[float]] = {}
        for feed in into:
            other = self.feeds[(feed + 1) % len(self.feeds)][k % len(self.feeds[feed])]  # stored, another outlet
            url, served = self._publish(feed, _reworded(other, feed, hosts, k))
            waiting[url] = served
        for source_id in self.source_of.values():
            self.store.refresh_now(source_id)
        took: list[float] = []
        deadline = time.monotonic() + 120
        while waiting and time.monotonic() < deadline:
            for url in list(waiting):
                r = client.get(f"/api/similar?url={quote(url, safe='')}")
                if r.status_code == 200 and r.json().get("similar"):
                    page = client.get(f"/article/{r.json()['article']['id']}")
                    if page.status_code == 200:
                        took.append(time.monotonic() - waiting.pop(url)[0])
            time.sleep(0.02)
        return took, [f"{url}: no page with Similar News within 120 s" for url in waiting]

    def _publish(self, feed: int, item: Article) -> tuple[str, list[float]]:
        """Put ``item`` at the top of ``feed``; returns its URL and the list of times the feed is served from now
        on."""
        addr = self.web.hosts[feed % len(self.web.hosts)]
        site = self.web.base[addr]
        template = PageTemplate(outlet_name(feed % len(self.web.hosts)), site, seed=feed % len(self.web.hosts))
        self.web.add(addr, item.path, page_route(template, item, self.feeds[feed][:10], edition=0))
        self.feeds[feed].insert(0, item)
        body = rss(f"{outlet_name(feed % len(self.web.hosts))} {feed}", site, self.feeds[feed])
        served: list[float] = []

        def serve() -> bytes:
            served.append(time.monotonic())
            return body

        self.web.add(addr, f"/rss/{feed}.xml", Route(serve, "application/rss+xml"))
        return site + item.path, served


# -- the old arrangement, for comparison -----------------------------------------------------------------


def thread_run(db: str, port: int, tick: float) -> None:
    """`tidings run` as it was: the poller a thread in the site's process."""
    from tidings.cli import serve_app
    from tidings.jobs import run_scheduler
    from tidings.storage import open_store

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tidings.passes").setLevel(logging.INFO)
    store = open_store(db)
    stop = threading.Event()
    threading.Thread(target=run_scheduler, args=(store, stop), kwargs={"tick": tick}, daemon=True).start()
    serve_app(store, "127.0.0.1", port, analyse=False)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--thread-run"]:
        thread_run(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
