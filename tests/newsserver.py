"""What tests share: a small news web (a threaded HTTP server on 127.0.0.1 that serves whatever routes a test
sets), feed builders, a fetcher and refresh set for tests, a store filled with numbered articles, reading
rendered pages, and a PostgreSQL server of the session's own."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
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
    delay: float = 0.0  # seconds the server takes before answering (a slow host)


class NewsServer:
    """Routes map a path to a Response; every request is logged as (method, path, headers), and the span of
    each GET (monotonic start and end) in ``spans``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Response] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.spans: list[tuple[float, float]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                start = time.monotonic()
                try:
                    self._answer()
                finally:
                    server.spans.append((start, time.monotonic()))

            def _answer(self) -> None:
                server.requests.append(("GET", self.path, dict(self.headers.items())))
                r = server.routes.get(self.path.split("#")[0]) or Response(b"not found", "text/plain", 404)
                if r.delay:
                    time.sleep(r.delay)
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


# -- a PostgreSQL server of the test session's own -------------------------------------------------------------

POSTGRES_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def postgres_program(name: str) -> str | None:
    """A PostgreSQL server program (initdb, pg_ctl): on PATH, else in Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which(name)
    if found:
        return found
    for folder in POSTGRES_BIN_DIRS:
        if (folder / name).exists():
            return str(folder / name)
    return None


class PostgresServer:
    """A throwaway PostgreSQL cluster in a temporary folder, listening on 127.0.0.1 at a free port, trusting local
    connections. As root it runs as the ``postgres`` user (the server refuses to run as root). Each test gets a
    database of its own from ``new_database``, copied from a template with Tidings' schema already in place."""

    def __init__(self) -> None:
        initdb, pg_ctl = postgres_program("initdb"), postgres_program("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("PostgreSQL's server programs (initdb, pg_ctl) are not installed: install Debian's"
                               " postgresql package (.ci/run does), or set TIDINGS_TEST_POSTGRES=skip to skip"
                               " the PostgreSQL half of the tests")
        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.folder = Path(tempfile.mkdtemp(prefix="tidings-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self._count = 0
        self._lock = threading.Lock()

    def _as_owner(self, *cmd: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        subprocess.run(self._as_owner(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust",
                                      "--encoding=UTF8", "--locale=C.UTF-8"),
                       check=True, capture_output=True)
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off -c full_page_writes=off"
        subprocess.run(self._as_owner(self.pg_ctl, "-D", str(self.data), "-o", opts, "-l",
                                      str(self.folder / "log"), "-w", "start"), check=True, capture_output=True)
        self.sql("postgres", "CREATE DATABASE tidings_template")
        from tidings.storage.postgres import PostgresStore

        PostgresStore(self.url("tidings_template")).close()  # the schema, once: each test's database copies it
        return self

    def stop(self) -> None:
        subprocess.run(self._as_owner(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"),
                       capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    def restart(self, *, down_for: float = 0.0) -> None:
        """Stop the server, wait ``down_for`` seconds, start it again (for tests of a database going away)."""
        subprocess.run(self._as_owner(self.pg_ctl, "-D", str(self.data), "-m", "fast", "stop"),
                       check=True, capture_output=True)
        time.sleep(down_for)
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off -c full_page_writes=off"
        subprocess.run(self._as_owner(self.pg_ctl, "-D", str(self.data), "-o", opts, "-l",
                                      str(self.folder / "log"), "-w", "start"), check=True, capture_output=True)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, database: str, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def new_database(self, *, empty: bool = False) -> str:
        """The URL of a new database: with Tidings' schema, or ``empty`` (nothing in it, as an operator makes it)."""
        with self._lock:
            self._count += 1
            name = f"t{self._count}"
        self.sql("postgres", f"CREATE DATABASE {name} TEMPLATE {'template0' if empty else 'tidings_template'}")
        return self.url(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the site in a real server, for a browser ---------------------------------------------------------------


@contextmanager
def site(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        sock.close()
