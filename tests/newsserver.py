"""What tests share: a small news web (a threaded HTTP server on 127.0.0.1 that serves whatever routes a test
sets), feed builders, a fetcher and refresh set for tests, a store filled with numbered articles, reading
rendered pages, a small newsroom of every kind of page, Tidings served by uvicorn on 127.0.0.1 and a browser to
read it, the check that every JSON answer of the API is what its route documents, and a PostgreSQL server of the
session's own."""

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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tidings.clock import iso
from tidings.config import PollSettings
from tidings.ingest.fetch import Fetcher, FetchSettings
from tidings.ingest.pipeline import RefreshResult, import_jsonl, refresh_feed
from tidings.models import ArticleIn, Neighbour
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


STORY_WORDS = ("harbour", "bridge", "council", "storm", "election", "vaccine", "budget", "strike", "flood",
               "summit")


def story_feed(server: NewsServer, feed: int, items: int, *, first: int = 0) -> str:
    """A feed of ``items`` headline-only items (numbered from ``first``), each about one of a few events that
    the other feeds report too; returns its URL (the same feed made again with more items replaces it)."""
    entries = []
    for n in range(first, first + items):
        event = STORY_WORDS[(feed + n) % len(STORY_WORDS)]
        link = server.add(f"/f{feed}/{n}", "<html><body>gone</body></html>")
        entries.append((f"g{feed}-{n}", link, f"Officials speak about the {event} in the city, report {feed}-{n}"))
    return server.add(f"/feed{feed}.xml", rss(entries), FEED_TYPE)


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


# --- pictures for tests -----------------------------------------------------------------------------------


def picture(width: int, height: int, kind: str = "PNG", *, noise: int | None = None, **save: Any) -> bytes:
    """A picture made with Pillow in ``kind`` (PNG, JPEG, GIF, WEBP, ICO...), ``save`` passed to Pillow
    (exif=..., sizes=[...]): a gradient, or with ``noise`` (a seed) grey noise, which no encoder makes small."""
    import io
    import random

    from PIL import Image

    if noise is None:
        im = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    else:
        im = Image.frombytes("L", (width, height), random.Random(noise).randbytes(width * height)).convert("RGB")
    out = io.BytesIO()
    im.save(out, kind, **save)
    return out.getvalue()


def blank_png(width: int, height: int) -> bytes:
    """A real, decodable one-bit PNG of ``width`` x ``height``: a few kilobytes however many pixels (a
    decompression bomb when they are many)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (width, height)).save(out, "PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's first bytes)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b""))


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


def wait_for(condition: Callable[[], object], what: str, timeout: float = 180.0) -> None:
    """Wait until ``condition`` holds; ``timeout`` bounds a hung process, not its speed."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.1)


def answers(url: str) -> bool:
    """Whether ``url`` answers 200 now."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- a small newsroom: every kind of page with something on it ---------------------------------------------------

NEWSROOM_T0 = datetime(2024, 3, 4, 9, 30, tzinfo=UTC)
WIRE_TEXT = ("LONDON (Reuters) — The central bank held interest rates on Thursday and said inflation was falling "
             "faster than it had expected.\nMarkets had priced in a cut by the summer; the bank gave no date.")
OWN_TEXT = ("The city council approved a plan on Monday to turn the old harbour warehouses into housing, ending a "
            "decade of argument over the waterfront.\nThe vote, 9 to 4, clears the way for about 1,200 flats, a third "
            "of them at rents capped below the market rate.\nOpponents promised to take the decision to court.")


def png(width: int = 64, height: int = 36, rgb: tuple[int, int, int] = (38, 96, 140)) -> bytes:
    """A plain one-colour PNG picture."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@dataclass
class Newsroom:
    """What ``newsroom`` built: article, story and source ids by name, a query that finds something."""

    articles: dict[str, int] = field(default_factory=dict)
    stories: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    query: str = "harbour"


def newsroom(store: Store, picture_url: str = "") -> Newsroom:
    """Sources with feeds (one failing, one whose section has no article yet) and imported ones; sections with
    spaces, '&' and accents; a story of independent reports with one text carried by three outlets (a copy group)
    and a related report; a second, smaller story; an article with a picture at ``picture_url``; enough articles
    to page the latest news and a section. Built through Store methods only."""
    room = Newsroom()

    def feed(key: str, name: str, section: str) -> None:
        room.sources[key] = store.add_source(f"https://{key}.example/feed.xml", name, site_url=f"https://{key}.example/",
                                             section=section)[0]

    def article(key: str, source: str, title: str, minutes: int, *, text: str = "", section: str = "",
                **extra: str) -> int:
        sid = room.sources.get(source) or store.import_source(source)
        aid = store.insert_article(ArticleIn(
            url=f"https://{source.lower().replace(' ', '-')}.example/{key}", title=title, source_id=sid, text=text,
            summary=extra.pop("summary", text.split("\n")[0]), published=NEWSROOM_T0 + timedelta(minutes=minutes),
            **extra), content_hash=key)
        if section:
            store.set_sections(aid, [section])
        room.articles[key] = aid
        return aid

    feed("gazette", "The Harbour Gazette", "Local News")
    feed("courier", "Northern Courier", "Local News")
    feed("ledger", "The Money Ledger", "Économie")
    feed("weather", "Weather Desk", "Weather")  # a section before any article
    store.update_source(room.sources["gazette"], last_polled_at=iso(NEWSROOM_T0), last_success_at=iso(NEWSROOM_T0),
                        last_status=200)
    store.update_source(room.sources["courier"], last_polled_at=iso(NEWSROOM_T0), last_status=503, error_count=2,
                        last_error="HTTP 503 Service Unavailable")

    article("lead", "gazette", "Council votes to turn harbour warehouses into homes", 0, text=OWN_TEXT,
            section="Local News", author="Mira Jensen", image_url=picture_url)
    article("courier", "courier", "Harbour housing plan passes after long fight", 20, section="Local News",
            text="Councillors voted 9-4 for the warehouse conversion.\nThe first homes could be ready in 2027.")
    article("fleet", "Metro Evening", "Fishing fleet vows court fight over harbour vote", 45, section="Local News",
            text="Fishermen who use the eastern quay say the plan leaves them no room to land their catch.")
    article("rents", "Regional Business Review", "What the harbour plan means for rents", 70,
            section="Science & Technology", text="Capped rents on a third of the flats could cool the market.")
    for n, outlet in enumerate(("The Money Ledger", "Coastal Times", "Bay Radio News")):
        article(f"wire{n}", "ledger" if n == 0 else outlet, "Central bank holds rates as inflation eases",
                90 + 10 * n, text=WIRE_TEXT, section="Économie")
    article("bank", "Northern Courier", "Borrowers wait longer for a rate cut", 130, section="Économie",
            text="Mortgage holders hoping for relief this spring will have to wait, economists said.")

    a = room.articles
    store.join_copy_group([a["wire0"], a["wire1"], a["wire2"]], 1)
    links = [("lead", "courier", 0.93, "same_story"), ("lead", "fleet", 0.84, "same_story"),
             ("lead", "rents", 0.61, "related"), ("courier", "lead", 0.93, "same_story"),
             ("wire0", "wire1", 0.99, "duplicate"), ("wire0", "wire2", 0.99, "duplicate"),
             ("wire0", "bank", 0.82, "same_story"), ("bank", "wire0", 0.82, "same_story"),
             ("bank", "wire1", 0.81, "same_story")]
    store.save_neighbours(Neighbour(a[x], a[y], score, relation) for x, y, score, relation in links)
    for name, keys, title in (("harbour", ("lead", "courier", "fleet"), "Harbour warehouses to become homes"),
                              ("rates", ("wire0", "wire1", "wire2", "bank"), "Central bank holds rates")):
        story = room.stories[name] = store.create_story(title)
        for key in keys:
            store.set_story(a[key], story)
        times = [str((store.article(a[k], with_text=False) or {})["published_at"]) for k in keys]
        store.update_story(story, title=title, lead_article_id=a[keys[0]], first=min(times), last=max(times),
                           size=len(keys), outlets=len(keys))
    for n in range(35):  # more than a page of the latest news and of one section
        article(f"brief{n}", f"Outlet {n % 3}", f"World brief number {n}", 200 + 30 * n, section="World",
                text=f"A short world news item, number {n}.")
    return room


# -- Tidings itself on 127.0.0.1, and a browser ----------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@contextmanager
def serve(app: Any, *, lifespan: str = "auto") -> Iterator[str]:
    """uvicorn serving ``app`` on a free loopback port, in a thread of this process; yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, or the test skips saying what is missing."""
    import pytest

    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def form_token(page: str) -> str:
    """The CSRF token every form of a page carries (one per session)."""
    tokens = doc(page).xpath("//input[@name='csrf_token']/@value")
    assert tokens and len(set(tokens)) == 1, "every form of a page carries the session's token"
    return str(tokens[0])


def log_in(client: Any, secret: str) -> str:
    """Log a TestClient in through the form; returns the CSRF token of the logged-in session."""
    token = form_token(client.get("/login").text)
    r = client.post("/login", data={"secret": secret, "csrf_token": token, "next": "/admin"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    return form_token(client.get("/admin").text)

@dataclass
class ApiCheck:
    """Validates every JSON answer of the API against the model its route documents for that status, with
    ``extra="forbid"`` and strict types: a key no model names, a missing key or a wrong type fails the request.
    ``checked`` collects the (method, path template, status) of each answer checked."""

    app: Any
    checked: set[tuple[str, str, int]] = field(default_factory=set)

    def __call__(self, response: httpx.Response) -> httpx.Response:
        """Check ``response`` (an event hook of an httpx client, or called on a response); returns it."""
        path = response.request.url.path
        if not (path.startswith("/api/") or path == "/healthz"):
            return response
        response.read()
        if not response.headers.get("content-type", "").startswith("application/json"):
            return response
        method, status = response.request.method, response.status_code
        route = self.route(method, path)
        model = self.model(route, status) if route is not None else None
        if model is None:
            from tidings.web.schemas import ErrorBody

            assert status >= 400 and (route is None or status == 500), f"{method} {path}: {status} is not documented"
            model = ErrorBody
        model.model_validate_json(response.content, extra="forbid", strict=True)
        if route is not None:
            self.checked.add((method, route.path, status))
        return response

    def route(self, method: str, path: str) -> Any:
        from starlette.routing import Match

        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        for route in api_routes(self.app):
            if route.matches(scope)[0] == Match.FULL:
                return route
        return None

    @staticmethod
    def model(route: Any, status: int) -> Any:
        if status == 200:
            return route.response_model
        return (route.responses.get(status) or {}).get("model")

    def routes(self) -> set[tuple[str, str]]:
        """Every (method, path template) of the API in /openapi.json."""
        return {(method, route.path) for route in api_routes(self.app) for method in route.methods}


def api_routes(app: Any) -> list[Any]:
    """The routes /openapi.json documents, those of included routers too (FastAPI may nest them)."""
    from fastapi import routing

    contexts = routing.iter_route_contexts(app.routes) if hasattr(routing, "iter_route_contexts") else app.routes
    return [r for r in contexts if getattr(r, "include_in_schema", False) and hasattr(r, "response_model")]


def check_api(client: httpx.Client, app: Any) -> ApiCheck:
    """Every answer ``client`` gets from the API is checked against its documented model (see ApiCheck)."""
    check = ApiCheck(app)
    client.event_hooks = {**client.event_hooks, "response": [*client.event_hooks["response"], check]}
    return check
