"""Sources misbehave in every way a web server can; each fault is handled, recorded on the source and backed off.

Faults are served by the fixture server (tests/newsserver.py) and, for the ones it cannot stage (a server that
hangs, a body cut short), by a raw socket server below. Everything goes through ``refresh_feed`` or ``poll``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from newsserver import FEED_TYPE, GOOD, NewsServer, add, fast, refresh, rss
from tidings.clock import parse_iso, utcnow
from tidings.config import PollSettings
from tidings.ingest import schedule
from tidings.ingest.fetch import Fetcher, FetchResult
from tidings.ingest.pipeline import RefreshResult, refresh_sources
from tidings.storage.store import Store


def waited(row: dict[str, Any]) -> float:
    """Seconds from the last poll to the next one scheduled."""
    nxt, last = parse_iso(row["next_poll_at"]), parse_iso(row["last_polled_at"])
    assert nxt and last
    return (nxt - last).total_seconds()


# --- a raw server for faults an HTTP library would not produce --------------------------------------------


class RawServer:
    """Answers each connection with what ``routes[path]`` writes to the socket; records the paths asked for."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[socket.socket], None]] = {}
        self.paths: list[str] = []
        self.closing = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._conns: list[socket.socket] = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            request = conn.recv(65536).decode("latin-1")
            path = request.split(" ")[1] if request.count(" ") >= 2 else "/"
            self.paths.append(path)
            self.routes.get(path, lambda c: c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def hang(self, conn: socket.socket) -> None:
        self.closing.wait(30)

    def __enter__(self) -> RawServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self.sock.close()
        for c in self._conns:
            c.close()


def truncated(body: bytes) -> Callable[[socket.socket], None]:
    def send(conn: socket.socket) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: {FEED_TYPE}\r\nContent-Length: {len(body)}\r\n\r\n"
        conn.sendall(head.encode() + body[: len(body) // 2])

    return send


def answer(body: bytes, content_type: str = FEED_TYPE) -> Callable[[socket.socket], None]:
    def send(conn: socket.socket) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        conn.sendall(head.encode() + body)

    return send


@pytest.fixture
def raw() -> Iterator[RawServer]:
    with RawServer() as server:
        yield server


# --- faults that fail a poll: recorded, backed off exponentially, reset by a success ---------------------


def bomb(size: int) -> bytes:
    """A gzip body of ``size`` zero bytes, compressed piecewise (a few hundred KB on the wire)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    return b"".join([*(z.compress(block) for _ in range(size >> 20)), z.flush()])


@dataclass
class Fault:
    name: str
    stage: Callable[[NewsServer, RawServer], str]  # sets the fault up, returns the feed URL
    error: str  # what last_error starts with
    status: int  # the last_status recorded


def _news(path: str, body: str | bytes, content_type: str = FEED_TYPE, status: int = 200,
          **headers: str) -> Callable[[NewsServer, RawServer], str]:
    return lambda news, _: news.add(path, body, content_type, status, **headers)


FAULTS = [
    Fault("server error 500", _news("/f", "oops", "text/plain", 500), "HTTP 500", 500),
    Fault("unavailable 503", _news("/f", "", "text/plain", 503), "HTTP 503", 503),
    Fault("not found 404", _news("/f", "gone", "text/plain", 404), "HTTP 404", 404),
    Fault("rate limited 429 + Retry-After", _news("/f", "", "text/plain", 429, Retry_After="7"), "HTTP 429", 429),
    Fault("HTML page served as a feed", _news("/f", "<html><body><p>Welcome</p></body></html>"),
          "unreadable feed: not a feed", 200),
    Fault("JSON that is no JSON Feed", _news("/f", '{"status": "ok"}', "application/json"),
          "unreadable feed: JSON document without a JSON Feed version", 200),
    Fault("binary junk as a feed", _news("/f", bytes(range(256)) * 40), "unreadable feed:", 200),
    Fault("empty 200", _news("/f", b""), "unreadable feed: empty document", 200),
    Fault("whitespace-only 200", _news("/f", b" \r\n\t " * 100), "unreadable feed: empty document", 200),
    Fault("huge body", _news("/f", b"<rss>" + b"x" * 300_000), "response larger than 256 KB", 0),
    Fault("gzip bomb", _news("/f", bomb(64 << 20), Content_Encoding="gzip"), "response larger than 256 KB", 0),
    Fault("corrupt gzip", _news("/f", b"\x1f\x8b\x08\x00garbage-not-gzip", Content_Encoding="gzip"),
          "could not decode body", 0),
    Fault("unasked-for encoding", _news("/f", b"\x0b\x02\x80hello\x03", Content_Encoding="br"),
          "could not decode body: unsupported content encoding: br", 0),
    Fault("redirect loop", _news("/f", "", "text/plain", 301, Location="/f"), "too many redirects", 301),
    Fault("redirect to nowhere", _news("/f", "", "text/plain", 302, Location="ftp://x.test/"),
          "bad redirect location", 302),
    Fault("server hangs", lambda _, r: (r.routes.__setitem__("/f", r.hang), r.url("/f"))[1], "timeout", 0),
    Fault("body cut short", lambda _, r: (r.routes.__setitem__("/f", truncated(GOOD.encode())), r.url("/f"))[1],
          "protocol error", 0),
    Fault("connection refused", lambda _, r: f"http://127.0.0.1:{_free_port()}/f", "connection failed", 0),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault_is_recorded_backed_off_and_cleared(
        fault: Fault, store: Store, news_server: NewsServer, raw: RawServer) -> None:
    url = fault.stage(news_server, raw)
    source_id = add(store, url, "Faulty")
    s = fast(total_timeout=1.0, read_timeout=1.0, max_redirects=3)
    waits = []
    for attempt in (1, 2, 3):
        result = refresh(store, source_id, s)
        row = store.source(source_id) or {}
        assert result.error.startswith(fault.error) and row["last_error"] == result.error
        assert (row["error_count"], row["last_status"], row["article_count"]) == (attempt, fault.status, 0)
        waits.append(waited(row))
    # retried within minutes at first, then longer with each consecutive failure
    assert waits == [schedule.backoff(n, schedule.DEFAULT_INTERVAL) for n in (1, 2, 3)]
    assert waits[0] <= 5 * 60 and waits[0] < waits[1] < waits[2]
    # the source heals: one good poll clears the record and the schedule
    if url.startswith(news_server.base):
        news_server.add(url[len(news_server.base):], GOOD, FEED_TYPE)
    else:
        raw.routes["/f"] = answer(GOOD.encode())
    if fault.name == "connection refused":
        return  # no server to heal; what was recorded above is the point
    result = refresh(store, source_id, s)
    row = store.source(source_id) or {}
    assert not result.error and result.new == 3
    assert (row["error_count"], row["last_error"], row["last_status"]) == (0, "", 200)
    assert waited(row) == row["poll_interval"]


def test_backoff_is_capped_at_a_day(store: Store, news_server: NewsServer) -> None:
    source_id = add(store, news_server.add("/f", "", "text/plain", 500), "Down")
    waits = []
    for _ in range(8):
        refresh(store, source_id)
        waits.append(waited(store.source(source_id) or {}))
    assert waits == [120, 480, 1920, 7680, 30720, 86400, 86400, 86400]


def test_retry_after_is_obeyed_by_the_next_poll(
        store: Store, news_server: NewsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from tidings.jobs import poll

    monkeypatch.setenv("TIDINGS_EMBEDDER", "hashing")
    day = 24 * 3600
    source_id = add(store, news_server.add("/f", "", "text/plain", 429, Retry_After=str(2 * day)), "RL")
    before = utcnow()
    poll(store, fetch_settings=fast())
    row = store.source(source_id) or {}
    due = parse_iso(row["next_poll_at"])
    assert due and due >= before + timedelta(seconds=2 * day)  # later than the backoff alone (2 min) would say
    news_server.add("/f", GOOD, FEED_TYPE)
    assert poll(store, fetch_settings=fast()).sources == 0  # not due: the server is not asked again
    assert news_server.hits("/f") == 1
    assert poll(store, include_all=True, fetch_settings=fast()).new == 3  # an explicit --all still polls


def test_retry_after_as_http_date(store: Store, news_server: NewsServer) -> None:
    later = format_datetime(utcnow() + timedelta(days=3), usegmt=True)
    source_id = add(store, news_server.add("/f", "", "text/plain", 503, Retry_After=later), "RL")
    refresh(store, source_id)
    assert waited(store.source(source_id) or {}) >= 3 * 24 * 3600 - 5


# --- faults a poll survives: the feed is read, nothing is stored twice -----------------------------------

ITEMS = [(f"g{i}", f"http://news.test/a/{i}", f"Story number {i}") for i in range(5)]


@pytest.mark.parametrize(
    ("name", "body", "content_type"),
    [
        ("feed served as text/html", rss(ITEMS).encode(), "text/html; charset=utf-8"),
        ("feed served as text/plain", rss(ITEMS).encode(), "text/plain"),
        ("feed without a content type", rss(ITEMS).encode(), ""),
        ("JSON Feed served as text/plain", json.dumps({
            "version": "https://jsonfeed.org/version/1.1", "title": "J",
            "items": [{"id": g, "url": u, "title": t, "date_published": "2025-03-03T10:00:00Z"}
                      for g, u, t in ITEMS]}).encode(), "text/plain"),
        ("Latin-1 bytes declared UTF-8", rss(ITEMS).replace("number", "numéro").encode("latin-1"),
         "application/rss+xml; charset=utf-8"),
        ("unknown charset", rss(ITEMS).replace("utf-8", "x-no-such-charset").encode(),
         "application/rss+xml; charset=x-no-such-charset"),
        ("UTF-16 with a BOM", rss(ITEMS).replace("utf-8", "utf-16").encode("utf-16"), FEED_TYPE),
        ("NUL and control bytes in text", rss(ITEMS).replace("Story", "St\x01o\x08ry").encode(), FEED_TYPE),
        ("gzip-compressed feed", gzip.compress(rss(ITEMS).encode()), FEED_TYPE),
    ],
)
def test_odd_but_readable_feeds_are_read(
        store: Store, news_server: NewsServer, name: str, body: bytes, content_type: str) -> None:
    headers = {"Content_Encoding": "gzip"} if name.startswith("gzip") else {}
    source_id = add(store, news_server.add("/f", body, content_type, **headers), "Odd")
    result = refresh(store, source_id)
    row = store.source(source_id) or {}
    assert (result.error, result.new, row["error_count"], row["last_status"]) == ("", 5, 0, 200)
    titles = sorted(a["title"] for a in store.latest_articles(source_id=source_id))
    assert len(titles) == 5 and all(t.startswith(("Story number", "Story numéro")) for t in titles)
    assert not any(ch < " " for t in titles for ch in t)


def test_truncated_document_keeps_what_was_read_and_says_so(store: Store, news_server: NewsServer) -> None:
    doc = rss(ITEMS)
    cut = doc[: doc.index("<item><guid>g3")]  # three whole items, then the document stops
    source_id = add(store, news_server.add("/f", cut, FEED_TYPE), "Cut")
    result = refresh(store, source_id)
    row = store.source(source_id) or {}
    assert result.new == 3 and row["error_count"] == 0 and "no element found" in row["last_error"]


def _count(store: Store, source_id: int) -> int:
    return len(store.latest_articles(source_id=source_id, limit=1000))


@pytest.mark.parametrize(
    "rotate",
    ["guid", "guid and tracking parameter", "guid and URL"],
)
def test_feed_that_changes_identities_every_poll_is_stored_once(
        store: Store, news_server: NewsServer, rotate: str) -> None:
    def feed(poll: int) -> str:
        items = []
        for i in range(5):
            url = f"http://news.test/s/{i}"
            if rotate == "guid and tracking parameter":
                url += f"?utm_source=feed&utm_campaign=p{poll}"
            elif rotate == "guid and URL":
                url += f"?session={poll}-{i}"
            items.append((f"urn:poll:{poll}:{i}", url, f"Story {i}"))
        return rss(items)

    source_id = add(store, news_server.add("/f", feed(0), FEED_TYPE), "Rotating")
    first = refresh(store, source_id)
    for poll in range(1, 6):
        news_server.add("/f", feed(poll), FEED_TYPE)
        again = refresh(store, source_id)
        assert (again.new, again.updated, again.unchanged) == (0, 0, 5)
    assert first.new == 5 and _count(store, source_id) == 5


def test_same_title_at_another_time_is_another_article(store: Store, news_server: NewsServer) -> None:
    items = [(f"urn:{i}", f"http://news.test/w?id={i}", "Weather update") for i in range(3)]
    source_id = add(store, news_server.add("/f", rss(items[:1]), FEED_TYPE), "Weather")
    refresh(store, source_id)
    news_server.add("/f", rss(items[1:2], when="Tue, 04 Mar 2025 10:00:00 GMT"), FEED_TYPE)
    refresh(store, source_id)
    assert _count(store, source_id) == 2  # the fallback identity needs the time to match too


def test_feed_repeating_one_item_forever_stores_one_article(store: Store, news_server: NewsServer) -> None:
    one = ("same-guid", "http://news.test/only", "The only story")
    source_id = add(store, news_server.add("/f", rss([one] * 400), FEED_TYPE), "Stuck")
    results = [refresh(store, source_id) for _ in range(3)]
    assert [r.new for r in results] == [1, 0, 0] and _count(store, source_id) == 1


def test_items_per_feed_are_capped(store: Store, news_server: NewsServer) -> None:
    items = [(f"g{i}", f"http://news.test/many/{i}", f"Item {i}") for i in range(120)]
    source_id = add(store, news_server.add("/f", rss(items), FEED_TYPE), "Many")
    result = refresh(store, source_id, poll=PollSettings(max_entries=25))
    assert result.new == 25 and _count(store, source_id) == 25


def test_article_pages_over_the_page_cap_are_not_read(store: Store, news_server: NewsServer) -> None:
    page = news_server.add("/big.html", "<html><body>" + "<p>word </p>" * 50_000 + "</body></html>")
    source_id, _ = store.add_source(news_server.add("/f", rss([("g", page, "Big page")]), FEED_TYPE), "Pages",
                                    fulltext="always")
    refresh(store, source_id, poll=PollSettings(max_page_bytes=100_000))
    [row] = store.latest_articles(source_id=source_id)
    assert row["extraction_error"].startswith("response larger than")


# --- bounded work: memory, time ----------------------------------------------------------------------------


def test_gzip_bomb_is_stopped_while_inflating(news_server: NewsServer) -> None:
    body = bomb(256 << 20)  # 256 MB of zeros in about 250 KB
    url = news_server.add("/bomb", body, FEED_TYPE, Content_Encoding="gzip")
    tracemalloc.start()
    try:
        async def run() -> FetchResult:
            async with Fetcher(fast(max_bytes=1 << 20)) as f:
                return await f.fetch(url)

        res = asyncio.run(run())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.error == "response larger than 1 MB" and res.content == b""
    assert peak < 8 << 20, f"peak {peak / 2**20:.1f} MB while reading a 256 MB bomb under a 1 MB cap"


def test_a_hanging_host_does_not_hold_up_the_others(
        store: Store, news_server: NewsServer, raw: RawServer) -> None:
    raw.routes["/f"] = raw.hang
    hung = add(store, raw.url("/f"), "Hangs")
    good = [add(store, news_server.add(f"/f{i}", rss([(f"g{i}", f"http://n.test/{i}", f"S{i}")]), FEED_TYPE))
            for i in range(4)]

    async def run() -> list[RefreshResult]:
        async with Fetcher(fast(read_timeout=30.0, total_timeout=1.5)) as f:
            return await refresh_sources(store, f, [store.source(i) or {} for i in [hung, *good]])

    results = asyncio.run(run())
    # the hang is cut by the whole-request limit (1.5 s), not the 30 s read limit, and the others are polled
    assert [r.error for r in results] == ["timeout", "", "", "", ""]
    assert all(_count(store, i) == 1 for i in good)


def test_a_pass_ends_on_time_however_many_feeds_one_slow_host_has(store: Store, raw: RawServer) -> None:
    raw.routes.update({f"/f{i}": raw.hang for i in range(6)})
    ids = [add(store, raw.url(f"/f{i}"), f"Slow {i}") for i in range(6)]

    async def run() -> list[RefreshResult]:
        async with Fetcher(fast(per_host=1, total_timeout=1.0, read_timeout=30.0)) as f:
            return await refresh_sources(store, f, [store.source(i) or {} for i in ids],
                                         PollSettings(pass_timeout=1.5))

    results = asyncio.run(run())
    errors = [r.error for r in results]
    # one feed used up its own time limit; the pass's limit stopped the five still queued behind it on the host
    assert errors.count("timeout") == 1 and sum("a poll pass allows" in e for e in errors) == 5, errors
    rows = [store.source(i) or {} for i in ids]
    assert all(r["error_count"] == 1 and waited(r) == schedule.backoff(1, schedule.DEFAULT_INTERVAL) for r in rows)
