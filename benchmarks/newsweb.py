"""A fixture news web on loopback: one ThreadingHTTPServer per address (127.0.0.2, 127.0.0.3, ...), so the
fetcher's per-host limits apply as they do between real outlets.

Each host serves feeds and article pages from routes the benchmark sets, honours If-None-Match and
If-Modified-Since with 304, keeps connections alive (HTTP/1.1), and records per host how many requests were in
flight at once and the shortest gap between two request starts: the table shows the limits were kept.
Article pages are built on request from a template of real size and shape (about 100 kB and 630 elements:
inline styles, scripts and app state, navigation, the article, related stories, a long footer; the median page
of the article-extraction benchmark has 115 kB and 785 elements); pages that come with real HTML are served
as they are.
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
import json
import random
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from benchmarks.corpus import Article

SECTIONS = ("World", "Politics", "Business", "Technology", "Science", "Health", "Sport", "Culture")
OUTLETS = ("Harbour Times", "Valley Courier", "Northern Star", "Coast Herald", "City Ledger", "River Post",
           "Plains Gazette", "Island Chronicle", "Mountain Echo", "Metro Dispatch", "Lakeside Record",
           "Capital Observer")
ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def addresses(count: int, first: str = "127.0.0.2") -> list[str]:
    """``count`` consecutive loopback addresses from ``first`` (Linux routes all of 127/8 to loopback)."""
    start = ipaddress.IPv4Address(first)
    return [str(start + i) for i in range(count)]


def outlet_name(host: int) -> str:
    base = OUTLETS[host % len(OUTLETS)]
    return base if host < len(OUTLETS) else f"{base} {host // len(OUTLETS) + 1}"


@dataclass
class Route:
    """What one path answers. ``body`` may be a function, called per request (pages are built on demand)."""

    body: bytes | Callable[[], bytes]
    content_type: str = "text/html; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None  # an HTTP-date


@dataclass
class HostStats:
    """Per-host request log kept by the server: counts by status, peak concurrency, shortest start gap."""

    requests: int = 0
    connections: int = 0  # TCP connections accepted (fewer than requests when clients keep them alive)
    statuses: Counter[int] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    min_gap: float = float("inf")
    max_answer: float = 0.0  # longest time from a request's start until its response was written
    max_first_wait: float = 0.0  # longest time from accepting a connection until its first request arrived
    short_gaps: int = 0  # request starts closer than FixtureWeb.gap_floor to the previous one on this host
    starts: list[float] = field(default_factory=list)  # time.monotonic() of every request start
    gap_floor: float = 0.0
    timeouts: int = 0  # connections closed because no request came within the handler's timeout
    last_start: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def begin(self) -> float:
        now = time.monotonic()
        with self.lock:
            self.requests += 1
            self.starts.append(now)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.last_start is not None:
                self.min_gap = min(self.min_gap, now - self.last_start)
                self.short_gaps += now - self.last_start < self.gap_floor
            self.last_start = now
        return now

    def end(self, status: int, started: float) -> None:
        """``status`` 0: the client went away before the response was written."""
        took = time.monotonic() - started
        with self.lock:
            self.in_flight -= 1
            self.statuses[status] += 1
            self.max_answer = max(self.max_answer, took)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: str, web: FixtureWeb) -> None:
        super().__init__((address, 0), _Handler)
        self.web = web
        self.address = address

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that drops a kept-alive connection is normal; anything else is still reported."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds a socket read or write may stall, as nginx's send_timeout
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def log_error(self, format: str, *args: object) -> None:
        if format.startswith("Request timed out"):
            stats = self.server.web.stats[self.server.address]
            with stats.lock:
                stats.timeouts += 1

    def setup(self) -> None:
        super().setup()
        self._accepted: float | None = time.monotonic()
        stats = self.server.web.stats[self.server.address]
        with stats.lock:
            stats.connections += 1

    def do_GET(self) -> None:
        stats = self.server.web.stats[self.server.address]
        started = stats.begin()
        if self._accepted is not None:  # a client that opens a connection and then stalls is busy elsewhere
            with stats.lock:
                stats.max_first_wait = max(stats.max_first_wait, started - self._accepted)
            self._accepted = None
        status = 0
        try:
            status = self._answer(self.server.web.routes[self.server.address].get(self.path.split("#")[0]))
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        finally:
            stats.end(status, started)

    def _answer(self, route: Route | None) -> int:
        if route is None:
            return self._send(404, b"not found", "text/plain")
        if _not_modified(route, self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")):
            return self._send(304, b"", None, route)
        body = route.body() if callable(route.body) else route.body
        return self._send(200, body, route.content_type, route)

    def _send(self, status: int, body: bytes, content_type: str | None, route: Route | None = None) -> int:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if route is not None and route.etag:
            self.send_header("ETag", route.etag)
        if route is not None and route.last_modified:
            self.send_header("Last-Modified", route.last_modified)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)
        return status


def _not_modified(route: Route, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """RFC 9110: If-None-Match wins when present; else If-Modified-Since against Last-Modified."""
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return route.etag is not None and ("*" in tags or route.etag.removeprefix("W/") in tags)
    if if_modified_since and route.last_modified:
        try:
            return parsedate_to_datetime(route.last_modified) <= parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
    return False


class FixtureWeb:
    """Servers on the given loopback addresses; ``routes[address][path]`` is what each one answers."""

    def __init__(self, hosts: list[str]) -> None:
        self.hosts = hosts
        self.routes: dict[str, dict[str, Route]] = {h: {"/robots.txt": Route(ROBOTS, "text/plain")} for h in hosts}
        self.stats: dict[str, HostStats] = {h: HostStats() for h in hosts}
        self._servers = [_Server(h, self) for h in hosts]
        self._threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True)
                         for s in self._servers]
        self.base = {s.address: f"http://{s.address}:{s.server_address[1]}" for s in self._servers}

    def __enter__(self) -> FixtureWeb:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        # shutdown() waits for the serve loop's next wake-up: stop them all at once, not one after another
        stoppers = [threading.Thread(target=s.shutdown) for s in self._servers]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join()
        for s in self._servers:
            s.server_close()

    def add(self, host: str, path: str, route: Route) -> str:
        self.routes[host][path] = route
        return self.base[host] + path

    def reset_stats(self, gap_floor: float = 0.0) -> None:
        """Forget what was seen; from now on count request starts closer than ``gap_floor`` on one host."""
        self.stats = {h: HostStats(gap_floor=gap_floor) for h in self.hosts}

    def totals(self) -> tuple[Counter[int], int, float]:
        """Statuses over all hosts, the highest per-host concurrency seen and the shortest per-host gap."""
        statuses: Counter[int] = Counter()
        for s in self.stats.values():
            statuses.update(s.statuses)
        return (statuses, max((s.max_in_flight for s in self.stats.values()), default=0),
                min((s.min_gap for s in self.stats.values()), default=float("inf")))


def http_date(when: datetime) -> str:
    return format_datetime(when, usegmt=True)


def etag_of(*parts: object) -> str:
    return '"' + hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:16] + '"'


# -- feeds ---------------------------------------------------------------------------------------------------


def rss(title: str, site: str, items: list[Article], *, full_text: bool = False) -> bytes:
    """An RSS 2.0 feed; items carry a one-sentence description, and the whole text only with ``full_text``."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
           'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
           f"<channel><title>{escape(title)}</title><link>{escape(site)}/</link>"
           f"<description>Latest news from {escape(title)}</description><language>en</language>"]
    if items:
        out.append(f"<lastBuildDate>{http_date(max(a.published for a in items))}</lastBuildDate>")
    for a in items:
        url = escape(site + a.path)
        out.append(f"<item><title>{escape(a.title)}</title><link>{url}</link>"
                   f'<guid isPermaLink="true">{url}</guid><pubDate>{http_date(a.published)}</pubDate>'
                   f"<description>{escape(a.summary)}</description>")
        if full_text:
            body = "".join(f"<p>{html.escape(p)}</p>" for p in a.paragraphs)
            out.append(f"<content:encoded><![CDATA[{body}]]></content:encoded>")
        out.append("</item>")
    out.append("</channel></rss>")
    return "".join(out).encode("utf-8")


# -- article pages -------------------------------------------------------------------------------------------


class PageTemplate:
    """The chrome of one outlet's article pages, built once; ``render`` fills in an article."""

    def __init__(self, outlet: str, site: str, seed: int) -> None:
        rnd = random.Random(seed)
        self.outlet, self.site = outlet, site
        self.head = self._head(rnd)
        self.nav = self._nav(rnd)
        self.footer = self._footer(rnd)

    def _head(self, rnd: random.Random) -> str:
        props = ("margin", "padding", "color", "font-size", "line-height", "display", "border", "width")
        css = "".join(
            f".c-{i:03d}{{{';'.join(f'{rnd.choice(props)}:{rnd.randint(0, 64)}px' for _ in range(4))}}}"
            for i in range(320))
        state = {"ads": [{"slot": f"ad-{i}", "sizes": [[300, 250], [728, 90]], "targeting": {
            "kw": [f"k{rnd.getrandbits(32):x}" for _ in range(6)], "pos": i}} for i in range(120)],
            "experiments": {f"exp_{i}": rnd.random() for i in range(300)},
            "i18n": {f"label_{i}": f"{self.outlet} text {rnd.getrandbits(40):x}" for i in range(600)}}
        metas = "".join(f'<meta name="x-meta-{i}" content="{rnd.getrandbits(64):x}">' for i in range(30))
        scripts = "".join(f'<script async src="/static/js/chunk-{rnd.getrandbits(48):x}.js"></script>'
                          for _ in range(12))
        return (f'<meta charset="utf-8"><meta name="viewport" content="width=device-width">{metas}'
                f'<link rel="stylesheet" href="/static/main.css"><style>{css}</style>{scripts}'
                f"<script>window.__APP_STATE__={json.dumps(state)};</script>")

    def _nav(self, rnd: random.Random) -> str:
        links = "".join(f'<li><a href="/section/{s.lower()}/{i}">{s} {i}</a></li>'
                        for i in range(10) for s in SECTIONS)
        return (f'<header class="site-header"><a class="logo" href="/">{html.escape(self.outlet)}</a>'
                f'<nav aria-label="Sections"><ul>{links}</ul></nav>'
                '<form role="search" action="/search"><input name="q"><button>Search</button></form></header>')

    def _footer(self, rnd: random.Random) -> str:
        links = "".join(f'<li><a href="/about/{i}">About us {i}</a></li>' for i in range(60))
        return (f'<footer><ul class="footer-links">{links}</ul><p class="legal">© {html.escape(self.outlet)}. '
                "All rights reserved. Terms of use. Privacy policy. Cookie settings.</p>"
                '<form class="newsletter"><label>Sign up for our newsletter<input type="email"></label>'
                "<button>Subscribe</button></form></footer>")

    def render(self, a: Article, related: list[Article]) -> bytes:
        title = html.escape(a.title)
        ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": a.title,
                         "datePublished": a.published.isoformat(), "author": {"@type": "Person",
                         "name": f"{self.outlet} staff"}, "publisher": {"@type": "Organization",
                         "name": self.outlet}})
        body = "".join(f"<p>{html.escape(p)}</p>" for p in a.paragraphs)
        rel = "".join(f'<li><a href="{r.path}">{html.escape(r.title)}</a></li>' for r in related)
        cards = "".join(
            f'<div class="card c-{i:03d}"><a href="{r.path}"><div class="thumb"><img src="/img/{i}.jpg" alt="">'
            f'</div><h3>{html.escape(r.title)}</h3></a><p class="kicker"><span>{SECTIONS[i % len(SECTIONS)]}'
            f"</span> <time>{r.published:%H:%M}</time></p></div>"
            for i, r in enumerate(related * 3))
        return (f'<!DOCTYPE html><html lang="en"><head><title>{title} | {html.escape(self.outlet)}</title>'
                f'<meta property="og:title" content="{title}"><meta property="og:type" content="article">'
                f'<link rel="canonical" href="{self.site}{a.path}">{self.head}'
                f'<script type="application/ld+json">{ld}</script></head><body>{self.nav}'
                f'<main><article><h1>{title}</h1><p class="byline">By {html.escape(self.outlet)} staff · '
                f'<time datetime="{a.published.isoformat()}">{a.published:%d %B %Y}</time></p>'
                f'<div class="article-body">{body}</div>'
                '<div class="share"><button>Share</button><button>Tweet</button><button>Email</button></div>'
                f'</article><aside><h2>Most read</h2><ol>{rel}</ol></aside>'
                f'<section class="more"><h2>More stories</h2>{cards}</section></main>{self.footer}</body></html>'
                ).encode()


_CANONICAL = re.compile(rb"<link\b[^>]*\brel\s*=\s*[\"']?canonical\b[^>]*>", re.IGNORECASE)
_OG_URL = re.compile(rb"<meta\b[^>]*\bproperty\s*=\s*[\"']?og:url\b[^>]*>", re.IGNORECASE)
_HEAD = re.compile(rb"<head\b[^>]*>", re.IGNORECASE)


def own_page(raw: bytes, url: str, edition: int) -> bytes:
    """Real page HTML as served from ``url``: its canonical link and og:url name ``url`` (else every edition
    of one page would claim the original's address, and Tidings rightly files them as one article)."""
    page = _OG_URL.sub(b"", _CANONICAL.sub(b"", raw))
    tag = f'<link rel="canonical" href="{html.escape(url)}">'.encode()
    head = _HEAD.search(page)
    page = page[: head.end()] + tag + page[head.end():] if head else tag + page
    return page + f"\n<!-- edition {edition} -->\n".encode()


def page_route(template: PageTemplate, article: Article, related: list[Article], edition: int) -> Route:
    """The page of ``article``: its real HTML when it has one (made its own), else the template."""
    if article.raw_html is not None:
        return Route(own_page(article.raw_html, template.site + article.path, edition), "text/html")
    return Route(lambda: template.render(article, related))
