"""The polite fetcher against real HTTP servers started on loopback addresses."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tidings.ingest.fetch import (
    USER_AGENT,
    Fetcher,
    FetchResult,
    FetchSettings,
    HostLimiter,
    allow_private_from_env,
    parse_max_age,
    parse_retry_after,
)

ETAG = '"v1"'
LAST_MODIFIED = "Wed, 01 Jan 2025 00:00:00 GMT"
NEW_LAST_MODIFIED = "Thu, 02 Jan 2025 00:00:00 GMT"
ROBOTS = "User-agent: *\nDisallow: /private/\n"
GZIP_TEXT = b"<rss>compressed feed body</rss>" * 50


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    start: float
    end: float = 0.0


@dataclass
class State:
    """What a test server saw, shared between its handler threads."""

    hits: list[Hit] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    robots: tuple[int, str] = (200, ROBOTS)
    work_delay: float = 0.15

    def paths(self) -> list[str]:
        return [h.path for h in self.hits]

    def for_path(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        state = self.server.state
        hit = Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic())
        with state.lock:
            state.hits.append(hit)
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            self.route(state)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeouts, size cap)
        finally:
            with state.lock:
                state.in_flight -= 1
                hit.end = time.monotonic()

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route(self, state: State) -> None:
        path = self.path
        if path.startswith("/r/"):
            return self.redirect_chain(int(path[3:]))
        routes: dict[str, Callable[[], None]] = {
            "/robots.txt": lambda: self.reply(state.robots[0], state.robots[1].encode()),
            "/etag": lambda: self.conditional(new_validators=True),
            "/etag-bare": lambda: self.conditional(new_validators=False),
            "/retry-delta": lambda: self.reply(429, headers={"Retry-After": "120"}),
            "/retry-date": lambda: self.reply(
                503, headers={"Retry-After": formatdate(time.time() + 120, usegmt=True)}
            ),
            "/cached": lambda: self.reply(200, b"fresh", {"Cache-Control": "public, max-age=300"}),
            "/error": lambda: self.reply(500, b"boom"),
            "/loop": lambda: self.reply(301, headers={"Location": "/loop"}),
            "/to-ftp": lambda: self.reply(302, headers={"Location": "ftp://127.0.0.1/file"}),
            "/to-private": lambda: self.reply(302, headers={"Location": "/private/page"}),
            "/big": lambda: self.reply(200, b"x" * 5000),
            "/big-stream": self.big_stream,
            "/gzip": lambda: self.reply(200, gzip.compress(GZIP_TEXT), {"Content-Encoding": "gzip"}),
            "/gzip-bomb": lambda: self.reply(
                200, gzip.compress(b"\0" * 1_000_000), {"Content-Encoding": "gzip"}
            ),
            "/bad-gzip": lambda: self.reply(200, b"this is not gzip at all", {"Content-Encoding": "gzip"}),
            "/slow-headers": self.slow_headers,
            "/trickle": self.trickle,
            "/work": self.work,
        }
        routes.get(path, lambda: self.reply(200, f"page {path}".encode(), {"Content-Type": "text/html"}))()

    def conditional(self, *, new_validators: bool) -> None:
        if self.headers.get("If-None-Match") == ETAG:
            fresh = {"ETag": '"v2"', "Last-Modified": NEW_LAST_MODIFIED}
            return self.reply(304, headers=fresh if new_validators else {})
        validators = {"ETag": ETAG, "Last-Modified": LAST_MODIFIED}
        self.reply(200, b"<rss/>", {**validators, "Content-Type": "application/rss+xml"})

    def redirect_chain(self, n: int) -> None:
        if n == 0:
            return self.reply(200, b"arrived")
        host = self.headers["Host"]
        # alternate absolute and relative Location headers
        location = f"http://{host}/r/{n - 1}" if n % 2 else f"/r/{n - 1}"
        self.reply(302, headers={"Location": location})

    def big_stream(self) -> None:
        # no Content-Length: the body runs until the connection closes
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for _ in range(50):
            self.wfile.write(b"y" * 100)

    def slow_headers(self) -> None:
        time.sleep(1.2)
        self.reply(200, b"late")

    def trickle(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "40")
        self.end_headers()
        for _ in range(40):
            self.wfile.write(b"z")
            self.wfile.flush()
            time.sleep(0.05)

    def work(self) -> None:
        time.sleep(self.server.state.work_delay)
        self.reply(200, b"done")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str) -> None:
        super().__init__((host, 0), Handler)
        self.host = host
        self.state = State()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.server_port}{path}"


def _serve(host: str) -> Iterator[Server]:
    server = Server(host)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[Server]:
    yield from _serve("127.0.0.1")


@pytest.fixture
def server2() -> Iterator[Server]:
    """A second host: 127.0.0.2 is loopback on Linux, elsewhere the test is skipped."""
    try:
        probe = socket.socket()
        probe.bind(("127.0.0.2", 0))
        probe.close()
    except OSError as exc:
        pytest.skip(f"cannot bind 127.0.0.2 on this system: {exc}")
    yield from _serve("127.0.0.2")


def fast(**overrides: Any) -> FetchSettings:
    """Settings without politeness delays, so tests that are not about pacing run quickly."""
    return FetchSettings(**{"min_delay": 0.0, "jitter": 0.0, **overrides})


def fetch_all(settings: FetchSettings, *urls: str, **kwargs: Any) -> list[FetchResult]:
    async def main() -> list[FetchResult]:
        async with Fetcher(settings) as fetcher:
            return list(await asyncio.gather(*(fetcher.fetch(u, **kwargs) for u in urls)))

    return asyncio.run(main())


def fetch_one(settings: FetchSettings, url: str, **kwargs: Any) -> FetchResult:
    return fetch_all(settings, url, **kwargs)[0]


# --- conditional GET -------------------------------------------------------------------------------------


def test_etag_and_last_modified_then_304_with_new_validators(server: Server) -> None:
    first = fetch_one(fast(), server.url("/etag"))
    assert first.ok and first.status == 200 and first.content == b"<rss/>"
    assert (first.etag, first.last_modified) == (ETAG, LAST_MODIFIED)
    assert first.content_type == "application/rss+xml"
    assert not first.not_modified

    again = fetch_one(fast(), server.url("/etag"), etag=first.etag, last_modified=first.last_modified)
    sent = server.state.for_path("/etag")[1].headers
    assert sent["if-none-match"] == ETAG and sent["if-modified-since"] == LAST_MODIFIED
    assert again.status == 304 and again.not_modified and again.error is None
    assert (again.etag, again.last_modified) == ('"v2"', NEW_LAST_MODIFIED)
    assert again.content == b""


def test_304_without_validators_keeps_the_ones_passed_in(server: Server) -> None:
    res = fetch_one(fast(), server.url("/etag-bare"), etag=ETAG, last_modified=LAST_MODIFIED)
    assert res.not_modified and res.status == 304
    assert (res.etag, res.last_modified) == (ETAG, LAST_MODIFIED)


def test_no_conditional_headers_unless_given(server: Server) -> None:
    fetch_one(fast(), server.url("/etag"))
    sent = server.state.hits[0].headers
    assert "if-none-match" not in sent and "if-modified-since" not in sent


# --- status handling ---------------------------------------------------------------------------------------


def test_retry_after_delta_seconds(server: Server) -> None:
    res = fetch_one(fast(), server.url("/retry-delta"))
    assert res.status == 429 and res.retry_after == 120.0
    assert res.error == "HTTP 429" and not res.ok


def test_retry_after_http_date(server: Server) -> None:
    res = fetch_one(fast(), server.url("/retry-date"))
    assert res.status == 503 and res.error == "HTTP 503"
    assert res.retry_after is not None and 117 <= res.retry_after <= 121


def test_cache_control_max_age(server: Server) -> None:
    res = fetch_one(fast(), server.url("/cached"))
    assert res.ok and res.max_age == 300.0 and res.content == b"fresh"


def test_server_error(server: Server) -> None:
    res = fetch_one(fast(), server.url("/error"))
    assert res.status == 500 and res.error == "HTTP 500" and not res.ok
    assert res.retry_after is None and res.max_age is None


def test_user_agent_names_tidings(server: Server) -> None:
    fetch_one(fast(), server.url("/page"))
    user_agent = server.state.hits[0].headers["user-agent"]
    assert user_agent == USER_AGENT and user_agent.startswith("Tidings/")


# --- redirects ----------------------------------------------------------------------------------------------


def test_redirect_chain_reports_final_url(server: Server) -> None:
    res = fetch_one(fast(), server.url("/r/4"))
    assert res.ok and res.content == b"arrived"
    assert res.url == server.url("/r/4") and res.final_url == server.url("/r/0")
    assert server.state.paths() == ["/r/4", "/r/3", "/r/2", "/r/1", "/r/0"]


def test_redirect_chain_longer_than_limit(server: Server) -> None:
    res = fetch_one(fast(max_redirects=2), server.url("/r/4"))
    assert res.error == "too many redirects" and not res.ok
    assert server.state.paths() == ["/r/4", "/r/3", "/r/2"]


def test_redirect_loop(server: Server) -> None:
    res = fetch_one(fast(max_redirects=3), server.url("/loop"))
    assert res.error == "too many redirects" and not res.ok
    assert server.state.paths() == ["/loop"] * 4


def test_redirect_to_other_scheme_is_refused(server: Server) -> None:
    res = fetch_one(fast(), server.url("/to-ftp"))
    assert not res.ok and res.error == "bad redirect location"


# --- size cap and decoding -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/big", "/big-stream"])
def test_body_over_cap(server: Server, path: str) -> None:
    res = fetch_one(fast(max_bytes=1000), server.url(path))
    assert res.status == 0 and res.error == "response larger than 1000 bytes" and res.content == b""
    body = fetch_one(fast(max_bytes=5000), server.url(path)).content
    assert body == (b"x" if path == "/big" else b"y") * 5000  # exactly at the cap is fine


def test_gzip_body_is_decoded(server: Server) -> None:
    res = fetch_one(fast(), server.url("/gzip"))
    assert res.ok and res.content == GZIP_TEXT


def test_cap_counts_decoded_bytes(server: Server) -> None:
    # about 1 KB on the wire, 1 MB once inflated
    res = fetch_one(fast(max_bytes=512 * 1024), server.url("/gzip-bomb"))
    assert res.status == 0 and res.error == "response larger than 512 KB"


def test_broken_gzip_is_an_error(server: Server) -> None:
    res = fetch_one(fast(), server.url("/bad-gzip"))
    assert res.status == 0 and not res.ok and res.error and "decode" in res.error


# --- timeouts and network errors -------------------------------------------------------------------------


def test_read_timeout(server: Server) -> None:
    res = fetch_one(fast(read_timeout=0.3), server.url("/slow-headers"))
    assert res.status == 0 and res.error == "timeout"  # the server answers after 1.2 s, past the 0.3 s limit


def test_total_timeout_while_body_trickles(server: Server) -> None:
    # each byte arrives well within the read timeout; only the total deadline can stop it
    res = fetch_one(fast(read_timeout=1.0, total_timeout=0.5), server.url("/trickle"))
    assert res.status == 0 and res.error == "timeout"  # the body takes 2 s, past the 0.5 s total


def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    res = fetch_one(fast(), f"http://127.0.0.1:{port}/feed")
    assert res.status == 0 and res.error and res.error.startswith("connection failed")


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://example.com/feed.xml", "unsupported URL scheme"),
        ("file:///etc/passwd", "unsupported URL scheme"),
        ("example.com/feed", "unsupported URL scheme"),
        ("", "unsupported URL scheme"),
        ("http://", "invalid URL"),
        ("http://[zz]/feed", "invalid URL"),
        ("http://127.0.0.1:99999/feed", "invalid URL"),
    ],
)
def test_bad_urls_never_raise(url: str, error: str) -> None:
    res = fetch_one(fast(), url)
    assert (res.status, res.error, res.url) == (0, error, url)


def test_non_ascii_validator_is_sent_as_utf8(server: Server) -> None:
    res = fetch_one(fast(), server.url("/etag"), etag='"café"')
    assert res.ok
    # http.server decodes header bytes as Latin-1
    assert server.state.hits[0].headers["if-none-match"] == '"café"'.encode().decode("latin-1")


def test_validator_with_line_break_is_dropped_not_fatal(server: Server) -> None:
    res = fetch_one(fast(), server.url("/etag"), etag='"v1"\r\nX-Injected: 1', last_modified=LAST_MODIFIED)
    assert res.ok
    sent = server.state.hits[0].headers
    assert "if-none-match" not in sent and "x-injected" not in sent
    assert sent["if-modified-since"] == LAST_MODIFIED


# --- robots.txt ------------------------------------------------------------------------------------------


def test_robots_disallow_and_allow_fetched_once(server: Server) -> None:
    private, public = server.url("/private/page"), server.url("/public")
    refused, allowed, allowed_too = fetch_all(fast(), private, public, public, check_robots=True)
    assert refused.status == 0 and refused.error == "disallowed by robots.txt"
    assert allowed.ok and allowed_too.ok and allowed.content == b"page /public"
    assert server.state.paths().count("/robots.txt") == 1
    assert "/private/page" not in server.state.paths()


def test_a_robots_cache_handed_to_each_pass_reads_robots_once_and_a_fetcher_alone_reads_it_again(
        server: Server) -> None:
    from tidings.ingest.fetch import RobotsCache

    page = server.url("/public")

    async def one_pass(robots: RobotsCache | None) -> FetchResult:
        async with Fetcher(fast(), robots=robots) as fetcher:
            return await fetcher.fetch(page, check_robots=True)

    kept: RobotsCache = {}
    assert all(asyncio.run(one_pass(kept)).ok for _ in range(3))
    assert server.state.paths().count("/robots.txt") == 1, "three passes, one robots.txt"
    assert asyncio.run(one_pass(None)).ok
    assert server.state.paths().count("/robots.txt") == 2, "a Fetcher of its own reads it again"


def test_robots_checked_on_each_redirect_hop(server: Server) -> None:
    res = fetch_one(fast(), server.url("/to-private"), check_robots=True)
    assert res.error == "disallowed by robots.txt" and res.final_url == server.url("/private/page")
    assert "/private/page" not in server.state.paths()


def test_robots_not_fetched_unless_asked(server: Server) -> None:
    assert fetch_one(fast(), server.url("/private/page")).ok
    assert "/robots.txt" not in server.state.paths()


@pytest.mark.parametrize(
    ("robots", "expected"),
    [
        # "news" occurs in the User-Agent comment; it must not select the group meant for another robot
        ("User-agent: news\nDisallow: /\n\nUser-agent: *\nDisallow: /feeds/\n", (True, False)),
        ("User-agent: tidings\nDisallow: /page\n\nUser-agent: *\nDisallow: /\n", (False, True)),
    ],
)
def test_robots_group_chosen_by_product_token(
    server: Server, robots: str, expected: tuple[bool, bool]
) -> None:
    server.state.robots = (200, robots)

    async def main() -> tuple[bool, bool]:
        async with Fetcher(fast()) as fetcher:
            page, feed = server.url("/page"), server.url("/feeds/x")
            return await fetcher.robots_allows(page), await fetcher.robots_allows(feed)

    assert asyncio.run(main()) == expected


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_unreadable_robots_allows(server: Server, status: int) -> None:
    server.state.robots = (status, "User-agent: *\nDisallow: /\n")
    res = fetch_one(fast(), server.url("/private/page"), check_robots=True)
    assert res.ok
    assert server.state.paths() == ["/robots.txt", "/private/page"]


def test_robots_host_unreachable_allows() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def main() -> bool:
        async with Fetcher(fast()) as fetcher:
            return await fetcher.robots_allows(f"http://127.0.0.1:{port}/private/x")

    assert asyncio.run(main()) is True


# --- politeness ------------------------------------------------------------------------------------------


def test_per_host_spacing_while_hosts_run_in_parallel(server: Server, server2: Server) -> None:
    # requests finish in 0.05 s, so only the limiter's 0.2 s delay can space their starts that far apart
    for srv in (server, server2):
        srv.state.work_delay = 0.05
    settings = FetchSettings(per_host=1, min_delay=0.2, jitter=0.0)
    results = fetch_all(settings, *[server.url("/work")] * 4, *[server2.url("/work")] * 4)
    assert all(r.ok for r in results)
    for srv in (server, server2):
        starts = sorted(h.start for h in srv.state.hits)
        assert len(starts) == 4
        # without the limiter starts would be 0.05 s apart; the margin absorbs thread scheduling on a busy machine
        assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.12
        assert srv.state.max_in_flight == 1
    # the second host did not queue behind the first: its first request came before the first host's last
    assert min(h.start for h in server2.state.hits) < max(h.start for h in server.state.hits)
    assert min(h.start for h in server.state.hits) < max(h.start for h in server2.state.hits)


@pytest.mark.parametrize("per_host", [1, 2])
def test_per_host_concurrency_cap(server: Server, per_host: int) -> None:
    server.state.work_delay = 0.2
    results = fetch_all(fast(per_host=per_host), *[server.url("/work")] * 4)
    assert all(r.ok for r in results)
    assert server.state.max_in_flight == per_host


def test_limiter_adds_jitter_to_the_delay() -> None:
    calls: list[tuple[float, float]] = []

    def most(low: float, high: float) -> float:
        calls.append((low, high))
        return high

    async def main() -> list[float]:
        limiter = HostLimiter(per_host=3, min_delay=0.05, jitter=0.1, rand=most)
        starts: list[float] = []

        async def one(key: str) -> None:
            async with limiter.slot(key):
                starts.append(time.monotonic())

        await asyncio.gather(one("a:80"), one("a:80"), one("a:80"))
        return sorted(starts)

    starts = asyncio.run(main())
    assert calls and all(c == (0.0, 0.1) for c in calls)
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.14


def test_a_request_ahead_goes_before_the_hosts_other_waiting_requests() -> None:
    """The page of an item a feed has just named is fetched before the host's next feeds, which waited longer."""

    async def main() -> list[str]:
        limiter = HostLimiter(per_host=1, min_delay=0.0, jitter=0.0)
        order: list[str] = []
        first_done = asyncio.Event()

        async def one(name: str, ahead: bool = False) -> None:
            async with limiter.slot("a:80", ahead=ahead):
                order.append(name)
                if name == "feed 1":
                    await first_done.wait()

        tasks = [asyncio.create_task(one("feed 1"))]
        while not order:
            await asyncio.sleep(0)
        tasks += [asyncio.create_task(one(name)) for name in ("feed 2", "feed 3")]
        tasks += [asyncio.create_task(one("page of feed 1", ahead=True))]
        for _ in range(3):
            await asyncio.sleep(0)  # every task is queued (the limiter has only one request in flight)
        first_done.set()
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(main()) == ["feed 1", "page of feed 1", "feed 2", "feed 3"]


def test_a_request_cancelled_while_waiting_gives_its_place_up() -> None:
    async def main() -> list[str]:
        limiter = HostLimiter(per_host=1, min_delay=0.0, jitter=0.0)
        order: list[str] = []
        first_done = asyncio.Event()

        async def one(name: str) -> None:
            async with limiter.slot("a:80"):
                order.append(name)
                if name == "first":
                    await first_done.wait()

        first = asyncio.create_task(one("first"))
        while not order:
            await asyncio.sleep(0)
        gone, last = asyncio.create_task(one("cancelled")), asyncio.create_task(one("last"))
        await asyncio.sleep(0)
        gone.cancel()
        first_done.set()
        await asyncio.gather(first, last)
        return order

    assert asyncio.run(main()) == ["first", "last"]


# --- parsing helpers and settings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", 120.0), ("0", 0.0), ("", None), (None, None), ("soon", None), ("-5", None), ("1.5", None)],
)
def test_parse_retry_after_values(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_past_date_is_zero() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=300", 300.0),
        ("public, MAX-AGE=60, must-revalidate", 60.0),
        ('max-age="90"', 90.0),
        ("no-cache", None),
        ("max-age=abc", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_max_age_values(value: str | None, expected: float | None) -> None:
    assert parse_max_age(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("TRUE", True), ("yes", True), ("0", False), ("", False)]
)
def test_allow_private_from_env(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("TIDINGS_ALLOW_PRIVATE_NETWORKS", value)
    assert allow_private_from_env() is expected


def test_allow_private_from_env_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIDINGS_ALLOW_PRIVATE_NETWORKS", raising=False)
    assert allow_private_from_env() is False


def test_the_delay_counts_from_when_the_request_went_out() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        limiter = HostLimiter(per_host=2, min_delay=0.2, jitter=0.0)
        went: dict[str, float] = {}

        async def late() -> None:
            async with limiter.slot("a:80"):
                await asyncio.sleep(0.3)  # a busy event loop: the request goes out well after its turn came
                limiter.sent("a:80")
                went["first"] = loop.time()
                await asyncio.sleep(0.3)

        async def following() -> None:
            await asyncio.sleep(0.01)
            async with limiter.slot("a:80"):
                went["second"] = loop.time()

        await asyncio.gather(late(), following())
        return went["first"], went["second"]

    first, second = asyncio.run(main())
    assert second - first >= 0.2  # counted from the grant, the second would have gone 0.1 s before the first
    assert second - first < 0.3  # and not held until the first was answered
