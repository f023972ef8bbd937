"""What tests share: a small news web (a threaded HTTP server on 127.0.0.1 that serves whatever routes a test
sets), feed builders, a fetcher and refresh set for tests, a store filled with numbered articles, and reading
rendered pages."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tidings.config import PollSettings
from tidings.ingest.fetch import Fetcher, FetchSettings
from tidings.ingest.pipeline import RefreshResult, import_jsonl, refresh_feed
from tidings.storage.store import Store


@dataclass
class Response:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class NewsServer:
    """Routes map a path to a Response; every request is logged as (method, path, headers)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Response] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(("GET", self.path, dict(self.headers.items())))
                r = server.routes.get(self.path.split("#")[0]) or Response(b"not found", "text/plain", 404)
                etag = r.headers.get("ETag")
                if etag and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(r.status)
                self.send_header("Content-Type", r.content_type)
                self.send_header("Content-Length", str(len(r.body)))
                for k, v in r.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(r.body)

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://{host}:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> NewsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8",
            status: int = 200, **headers: str) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Response(data, content_type, status, {k.replace("_", "-"): v for k, v in headers.items()})
        return self.url(path)

    def hits(self, path: str) -> int:
        return sum(1 for _, p, _ in self.requests if p == path)


# --- feeds and polling for tests -------------------------------------------------------------------------

FEED_TYPE = "application/rss+xml"


def fast(**kw: Any) -> FetchSettings:
    base: dict[str, Any] = {"allow_private": True, "min_delay": 0.0, "jitter": 0.0, "connect_timeout": 2.0,
                            "read_timeout": 2.0, "total_timeout": 3.0, "max_bytes": 256 * 1024}
    return FetchSettings(**{**base, **kw})


def rss(items: list[tuple[str, str, str]], *, when: str = "Mon, 03 Mar 2025 10:00:00 GMT") -> str:
    """RSS 2.0 with items (guid, link, title), all published at ``when``."""
    body = "".join(f"<item><guid>{g}</guid><link>{u}</link><title>{t}</title><pubDate>{when}</pubDate>"
                   f"<description>{t}: a short report.</description></item>" for g, u, t in items)
    return f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>F</title>{body}</channel></rss>"


GOOD = rss([(f"g{i}", f"http://news.test/{i}", f"Story {i}") for i in range(3)])


def add(store: Store, url: str, name: str = "Feed") -> int:
    """A source whose article pages are never fetched (these tests are about the feed)."""
    return store.add_source(url, name, fulltext="never")[0]


def refresh(store: Store, source_id: int, settings: FetchSettings | None = None,
            poll: PollSettings | None = None) -> RefreshResult:
    async def run() -> RefreshResult:
        async with Fetcher(settings or fast()) as f:
            return await refresh_feed(store, f, store.source(source_id) or {}, poll)

    return asyncio.run(run())


# --- stores and pages for tests ---------------------------------------------------------------------------


def numbered_articles(store: Store, n: int, *, outlets: int = 3, word: str = "Item") -> None:
    """``n`` articles ("{word} 0" oldest, an hour apart), spread over ``outlets`` sources ("Outlet 0", ...)."""
    start = datetime(2025, 3, 1, 8, tzinfo=UTC)
    import_jsonl(store, [json.dumps({"url": f"https://o{i % outlets}.example/{i}", "source": f"Outlet {i % outlets}",
                                     "title": f"{word} {i}", "summary": f"{word} report number {i}, part {i}.",
                                     "published": (start + timedelta(hours=i)).isoformat()}) for i in range(n)])


def doc(html: str) -> Any:
    import lxml.html

    return lxml.html.fromstring(html)


def text_of(el: Any) -> str:
    return " ".join(el.text_content().split())


def texts(tree: Any, xpath: str) -> list[str]:
    return [text_of(e) for e in tree.xpath(xpath)]
