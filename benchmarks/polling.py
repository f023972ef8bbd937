"""Polling at scale: `tidings poll --all` over many sources on many hosts, most answering 304 Not Modified.

    python -m benchmarks --only polling [--quick]

The fixture web serves ``hosts`` x ``feeds_per_host`` feeds (one loopback address per host). Each feed carries
its articles' whole text, so no page is fetched, and answers conditional GETs (ETag and Last-Modified) with
304. The sources are added from OPML. A first pass primes the database (every feed answers 200 and its item is
stored); it is untimed, so it runs without the host delay and with the hashing embedder. Then a few percent of
the feeds get a new item and the second pass is timed with the default settings, whose per-host limits
(FetchSettings: per_host=2, min_delay=1.0 s plus 0-0.5 s jitter) set a lower bound on its wall time:
(feeds per host - 1) x min_delay. The server records per-host concurrency and the shortest gap between two
request starts on one host, so the table shows the limits held.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import quoteattr

from benchmarks.common import MIB, POLLED, Row, log, query, run_measured, shown, tidings_cmd, tidings_env
from benchmarks.corpus import Article, Doc, load_docs, shuffled, variant
from benchmarks.newsweb import SECTIONS, FixtureWeb, Route, addresses, etag_of, http_date, outlet_name, rss
from tidings.ingest.fetch import FetchSettings

GOAL_SECONDS = 120.0  # for 10,000 sources
GOAL_SOURCES = 10_000
GAP_SLACK = 0.02  # seconds: the server sees a request start a little after the fetcher grants its turn


class PollingWeb:
    """The feeds of the polling benchmark; ``bump`` gives a feed a new item (and a new ETag and date)."""

    def __init__(self, web: FixtureWeb, docs: list[Doc], feeds_per_host: int, seed: int) -> None:
        self.web, self.docs, self.per_host = web, docs, feeds_per_host
        self.epoch = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        self.version: dict[int, int] = {}
        self.urls: list[tuple[str, str, str]] = []  # (feed URL, title, section)
        self._rnd = random.Random(seed)
        for host in range(len(web.hosts)):
            for slot in range(feeds_per_host):
                feed = host * feeds_per_host + slot
                self.version[feed] = 0
                url = self._publish(feed)
                section = SECTIONS[feed % len(SECTIONS)]
                self.urls.append((url, f"{outlet_name(host)} - {section} {slot}", section))

    def _article(self, feed: int, k: int) -> Article:
        doc = self.docs[(feed * 7 + k * 3) % len(self.docs)]
        title, paragraphs = variant(doc, (feed * 7 + k * 3) // len(self.docs) + k)
        host = feed // self.per_host
        return Article(host=host, feed=feed, path=f"/story/{feed}/{k}.html", title=title,
                       paragraphs=_lead(paragraphs), published=self.epoch + timedelta(seconds=feed + 3600 * k))

    def _publish(self, feed: int) -> str:
        host = self.web.hosts[feed // self.per_host]
        v = self.version[feed]
        items = [self._article(feed, k) for k in range(v, -1, -1)]
        body = rss(f"{outlet_name(feed // self.per_host)} {feed}", self.web.base[host], items, full_text=True)
        route = Route(body, "application/rss+xml", etag=etag_of(feed, v),
                      last_modified=http_date(self.epoch + timedelta(minutes=v)))
        return self.web.add(host, f"/feeds/{feed}.xml", route)

    def bump(self, share: float) -> int:
        """Give ``share`` of the feeds (at least one) a new item; returns how many changed."""
        chosen = self._rnd.sample(sorted(self.version), max(1, round(share * len(self.version))))
        for feed in chosen:
            self.version[feed] += 1
            self._publish(feed)
        return len(chosen)

    def opml(self, path: Path) -> None:
        lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0"><head><title>Benchmark feeds'
                 "</title></head><body>"]
        lines += [f"<outline type=\"rss\" text={quoteattr(t)} title={quoteattr(t)} xmlUrl={quoteattr(u)} "
                  f"category={quoteattr(s)}/>" for u, t, s in self.urls]
        lines.append("</body></opml>")
        path.write_text("\n".join(lines), encoding="utf-8")


def _lead(paragraphs: list[str], words: int = 220) -> list[str]:
    """The first paragraphs up to about ``words`` words: enough for a full-text feed item (150 or more)."""
    out: list[str] = []
    for p in paragraphs:
        out.append(p)
        if sum(len(x.split()) for x in out) >= words:
            break
    return out


def _polled(stdout: str) -> tuple[int, int, int, int, int]:
    m = POLLED.search(stdout)
    if not m:
        raise RuntimeError(f"unexpected output of tidings poll: {stdout.strip()[-300:]}")
    sources, new, updated, failed, analysed = (int(g) for g in m.groups())
    return sources, new, updated, failed, analysed


def run_polling(data: Path, work: Path, *, hosts: int, feeds_per_host: int, changed: float = 0.02,
                seed: int = 11, rerun: str = "python -m benchmarks --only polling") -> list[Row]:
    """Rows: timed-pass wall time beside the lower bound, responses, limits kept, peak RSS; see module doc."""
    docs = shuffled([d for d in load_docs(data) if d.words >= 160], seed)
    n = hosts * feeds_per_host
    db = work / "polling.db"
    fetch = FetchSettings()
    bound = (feeds_per_host - 1) * fetch.min_delay
    expected = (feeds_per_host - 1) * (fetch.min_delay + fetch.jitter / 2)
    prime_env = tidings_env(TIDINGS_HOST_DELAY="0", TIDINGS_HOST_JITTER="0", TIDINGS_EMBEDDER="hashing")
    timed_env = tidings_env(TIDINGS_HOST_DELAY=None, TIDINGS_HOST_JITTER=None, TIDINGS_EMBEDDER=None)
    poll_cmd = tidings_cmd("--db", str(db), "poll", "--all")
    with FixtureWeb(addresses(hosts, "127.0.2.1")) as web:
        feeds = PollingWeb(web, docs, feeds_per_host, seed)
        opml = work / "polling.opml"
        feeds.opml(opml)
        run_measured(tidings_cmd("--db", str(db), "sources", "import", str(opml)), tidings_env()).check(
            "tidings sources import")
        log(f"polling: first pass over {n} sources on {hosts} hosts (untimed: no host delay, hashing embedder)")
        prime = run_measured(poll_cmd, prime_env)
        prime.check("the first poll pass")
        p_sources, p_new, _, p_failed, _ = _polled(prime.stdout)
        changed_feeds = feeds.bump(changed)
        web.reset_stats(gap_floor=fetch.min_delay)
        log(f"polling: timed pass, {changed_feeds} feeds changed, default per-host limits "
            f"(lower bound {bound:.0f} s)")
        timed = run_measured(poll_cmd, timed_env)
        timed.check("the timed poll pass")
        sources, new, _, failed, analysed = _polled(timed.stdout)
        statuses, max_in_flight, min_gap = web.totals()
        short = sum(s.short_gaps for s in web.stats.values())
        stall = max(s.max_first_wait for s in web.stats.values())
        connections = sum(s.connections for s in web.stats.values())
        gaps = sum(max(0, s.requests - 1) for s in web.stats.values())
    stored = int(query(db, "SELECT COUNT(*) FROM articles")[0][0] or 0)

    cmd = f"{rerun}  # {shown(['tidings', '--db', 'polling.db', 'poll', '--all'])}"
    goal = f"< {GOAL_SECONDS:.0f} s at {GOAL_SOURCES:,} sources"
    responses = ", ".join(f"{count} x {status}" for status, count in sorted(statuses.items()))
    full_size = n >= GOAL_SOURCES
    return [
        Row(f"polling: sources ({hosts} hosts x {feeds_per_host} feeds)", sources, "sources", f"= {n}", cmd,
            met=sources == n and p_sources == n),
        Row("polling: first pass, priming (untimed; host delay 0, hashing embedder)", prime.seconds, "s", "",
            f"{rerun}  # {shown(['tidings', '--db', 'polling.db', 'poll', '--all'], prime_env, _PRIME_KEYS)}",
            error="" if p_new == n and p_failed == 0 else f"first pass: {p_new} new, {p_failed} failed of {n}"),
        Row("polling: timed pass, mostly 304 (default per-host limits, real model)", timed.seconds, "s",
            goal if full_size else f"{goal} (this run: {n:,})", cmd,
            met=timed.seconds < GOAL_SECONDS if full_size else None,
            error="" if failed == 0 else f"{failed} source(s) failed"),
        Row(f"polling: lower bound from per-host limits ({feeds_per_host - 1} x {fetch.min_delay:g} s)", bound,
            "s", f"expected with 0-{fetch.jitter:g} s jitter: {expected:.0f} s", cmd),
        Row("polling: timed pass / lower bound", timed.seconds / bound if bound else 0.0, "x", ">= 1", cmd,
            met=timed.seconds >= bound),
        Row("polling: responses in the timed pass", responses, "", f"{changed_feeds} x 200, rest 304", cmd,
            met=statuses.get(200, 0) == changed_feeds and statuses.get(304, 0) == n - changed_feeds),
        Row("polling: new articles in the timed pass (stored and analysed)", f"{new} new, {analysed} analysed",
            "", f"= {changed_feeds}", cmd, met=new == changed_feeds and analysed == changed_feeds,
            error="" if stored == n + changed_feeds else f"{stored} articles stored, expected {n + changed_feeds}"),
        Row("polling: most requests in flight at once on one host", max_in_flight, "requests",
            f"<= {fetch.per_host}", cmd, met=max_in_flight <= fetch.per_host),
        Row("polling: shortest gap between request starts on one host", min_gap, "s",
            f">= {fetch.min_delay:g} s ({GAP_SLACK * 1000:.0f} ms allowed for request transit)", cmd,
            met=min_gap >= fetch.min_delay - GAP_SLACK),
        Row(f"polling: request starts under {fetch.min_delay:g} s after the previous on their host", short,
            f"of {gaps:,} gaps", "0", cmd, met=short == 0),
        Row("polling: longest stall between opening a connection and sending its request", stall, "s", "", cmd),
        Row("polling: TCP connections opened in the timed pass", connections, f"for {n:,} requests", "", cmd),
        Row("polling: peak RSS of the timed tidings poll", timed.max_rss / MIB, "MiB", "", cmd),
    ]


_PRIME_KEYS = ("TIDINGS_HOST_DELAY", "TIDINGS_HOST_JITTER", "TIDINGS_EMBEDDER")
