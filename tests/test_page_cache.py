"""The page cache: anonymous reads are answered from memory until the database changes, and never stale."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from tidings.models import ArticleIn
from tidings.storage import open_store
from tidings.storage.store import Store
from tidings.web.app import create_app
from tidings.web.cache import PageCache

SECRET = "correct-horse-battery-staple-0123456789"


def add(store: Store, n: int, title: str) -> int:
    source = store.import_source("Daily Planet")
    aid = store.insert_article(ArticleIn(url=f"https://planet.example/{n}", title=title, source_id=source,
                                         text="Some text of the article."), content_hash=str(n))
    store.set_sections(aid, ["World"])
    return aid


@pytest.fixture
def store(database: str) -> Store:
    s = open_store(database)
    add(s, 1, "First headline")
    return s


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store, SECRET)) as c:
        yield c


def test_second_read_is_served_from_the_cache(client: TestClient) -> None:
    first, second = client.get("/"), client.get("/")
    assert first.headers["x-tidings-cache"] == "miss" and second.headers["x-tidings-cache"] == "hit"
    assert first.text == second.text and "First headline" in second.text
    assert second.headers["content-security-policy"] == first.headers["content-security-policy"]
    api = [client.get("/api/home") for _ in range(2)]
    assert [r.headers["x-tidings-cache"] for r in api] == ["miss", "hit"] and api[0].json() == api[1].json()


def test_a_commit_from_another_connection_is_seen_at_once(client: TestClient, store: Store) -> None:
    client.get("/")
    assert client.get("/").headers["x-tidings-cache"] == "hit"
    add(store, 2, "Second headline")  # this thread's connection, not the server's: like the poller
    fresh = client.get("/")
    assert fresh.headers["x-tidings-cache"] == "miss" and "Second headline" in fresh.text
    other = open_store(store.target)  # another process would look the same to the database
    add(other, 3, "Third headline")
    assert "Third headline" in client.get("/").text


def test_admins_errors_and_writes_bypass_or_empty_it(client: TestClient) -> None:
    auth = {"Authorization": f"Bearer {SECRET}"}
    assert "x-tidings-cache" not in client.get("/", headers=auth).headers
    assert [client.get("/article/999").status_code for _ in range(2)] == [404, 404]
    assert client.get("/article/999").headers["x-tidings-cache"] == "miss"
    client.get("/sections")
    client.head("/sections")  # a safe method leaves it alone
    assert client.get("/sections").headers["x-tidings-cache"] == "hit"
    line = b'{"url": "https://planet.example/9", "title": "Ninth", "source": "Daily Planet"}'
    assert client.post("/api/import/jsonl", headers=auth, content=line).status_code == 200  # a write empties it
    assert client.get("/sections").headers["x-tidings-cache"] == "miss"
    login = client.get("/login")  # sets a session cookie: never shared
    assert "set-cookie" in login.headers
    client.cookies.clear()
    assert client.get("/login").headers["x-tidings-cache"] == "miss"


def test_it_can_be_turned_off(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDINGS_PAGE_CACHE_MB", "0")
    with TestClient(create_app(store, SECRET)) as c:
        assert [("x-tidings-cache" in c.get("/").headers) for _ in range(2)] == [False, False]


def run_cache(cache: PageCache, path: str) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": []}
    asyncio.run(cache(scope, receive, send))
    return sent


def app_counting(calls: list[str], body: bytes = b"page") -> object:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": body})
    return app


def test_entries_expire_and_the_size_is_bounded() -> None:
    calls: list[str] = []
    expired = PageCache(app_counting(calls), version=lambda: 1, max_age=0.0)  # type: ignore[arg-type]
    run_cache(expired, "/a")
    run_cache(expired, "/a")
    assert calls == ["/a", "/a"]
    calls.clear()
    small = PageCache(app_counting(calls, b"x" * 100), version=lambda: 1, max_bytes=16 * 250)  # type: ignore[arg-type]
    for path in ("/a", "/b", "/c", "/a"):
        run_cache(small, path)
    assert calls == ["/a", "/b", "/c"]  # /a still held
    for path in [f"/p{i}" for i in range(60)]:
        run_cache(small, path)
    assert small._size <= 16 * 250 and len(small._entries) <= 40
    run_cache(small, "/a")
    assert calls[-1] == "/a"  # pushed out by the newer pages


def test_a_refused_change_does_not_empty_the_cache(client: TestClient) -> None:
    client.get("/")
    for method, path in (("PUT", "/"), ("POST", "/api/sources"), ("DELETE", "/api/sources/1")):
        assert client.request(method, path).status_code in (401, 405)  # anyone may send these; none may flush
    assert client.get("/").headers["x-tidings-cache"] == "hit"


# -- served a bounded time after a change, while it is rendered again -------------------------------------


class World:
    """A database version and a clock the test moves, and an app that says which version it rendered."""

    def __init__(self, hold_render: int | None = None) -> None:
        self.version, self.now = 1, 100.0
        self.rendered: list[int] = []
        self.gate = asyncio.Event()  # render number ``hold_render`` (from 0) waits for it
        self.hold_render = hold_render

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if len(self.rendered) == self.hold_render:
            await self.gate.wait()
        self.rendered.append(self.version)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": f"{scope['path']} at version {self.version}".encode()})

    def cache(self, **kw: float) -> PageCache:
        return PageCache(self.app, version=lambda: self.version, clock=lambda: self.now, **kw)


async def request(cache: PageCache, path: str = "/", headers: list[tuple[bytes, bytes]] | None = None
                  ) -> list[Message]:
    """One GET through ``cache``, its answer's messages; a background re-render it starts may still run."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": headers or []}
    await cache(scope, receive, send)
    return sent


async def read(cache: PageCache, path: str = "/", headers: list[tuple[bytes, bytes]] | None = None
               ) -> tuple[str, str]:
    """One GET through ``cache``: (x-tidings-cache, body); a background re-render it starts runs to its end."""
    sent = await request(cache, path, headers)
    await cache.settled()
    state = dict(sent[0]["headers"]).get(b"x-tidings-cache", b"").decode()
    return state, b"".join(m.get("body", b"") for m in sent[1:]).decode()


def test_a_page_is_served_within_the_bound_after_a_change_and_rendered_again_behind_it() -> None:
    async def scenario() -> None:
        world = World()
        cache = world.cache(stale_for=1.0, refresh_every=0.25)
        assert await read(cache) == ("miss", "/ at version 1")
        world.now += 0.5
        world.version = 2  # the poller commits
        world.now += 0.3
        # 0.3 s after the last read that saw version 1: the old page, and one render of the new one behind it
        assert await read(cache) == ("stale", "/ at version 1")
        assert world.rendered == [1, 2]
        assert await read(cache) == ("hit", "/ at version 2")
        assert world.rendered == [1, 2]

    asyncio.run(scenario())


def test_past_the_bound_the_reader_waits_for_a_fresh_page() -> None:
    async def scenario() -> None:
        world = World()
        cache = world.cache(stale_for=1.0)
        await read(cache)
        world.now += 0.2
        assert await read(cache) == ("hit", "/ at version 1")  # the last read that sees version 1
        world.version = 2
        world.now += 1.01
        assert await read(cache) == ("miss", "/ at version 2")
        # a change is dated at the last read before it, however late it is noticed
        world.version, world.now = 3, world.now + 30
        assert await read(cache) == ("miss", "/ at version 3")

    asyncio.run(scenario())


def test_a_young_stale_page_is_not_rendered_again_yet() -> None:
    async def scenario() -> None:
        world = World()
        cache = world.cache(stale_for=1.0, refresh_every=0.25)
        await read(cache)
        world.version, world.now = 2, world.now + 0.1
        assert await read(cache) == ("stale", "/ at version 1")
        world.version, world.now = 3, world.now + 0.1
        assert await read(cache) == ("stale", "/ at version 1")
        assert world.rendered == [1]  # rendered 0.2 s ago: served as it is
        world.now += 0.1
        assert await read(cache) == ("stale", "/ at version 1")
        assert world.rendered == [1, 3]
        assert await read(cache) == ("hit", "/ at version 3")

    asyncio.run(scenario())


def test_one_rerender_at_a_time_per_page() -> None:
    async def scenario() -> None:
        world = World(hold_render=1)
        cache = world.cache(stale_for=1.0, refresh_every=0.0)
        await request(cache)
        world.version, world.now = 2, world.now + 0.1
        for _ in range(5):  # five readers while the page is being rendered again
            await request(cache)
        await asyncio.sleep(0)
        assert len(cache._tasks) == 1 and cache.stale == 5
        world.gate.set()
        await cache.settled()
        assert world.rendered == [1, 2]
        assert await read(cache) == ("hit", "/ at version 2")

    asyncio.run(scenario())


def test_an_emptying_is_never_undone_by_a_render_begun_before_it() -> None:
    async def scenario() -> None:
        world = World(hold_render=1)
        cache = world.cache(refresh_every=0.0)
        await read(cache)
        world.version, world.now = 2, world.now + 0.1
        await request(cache)  # stale, and a re-render held at the gate
        cache.clear()  # a change made through the site
        world.gate.set()
        await cache.settled()
        assert await read(cache) == ("miss", "/ at version 2")  # the held render was not kept

    asyncio.run(scenario())


def test_with_no_bound_a_change_empties_the_cache() -> None:
    async def scenario() -> None:
        world = World()
        cache = world.cache(stale_for=0.0)
        await read(cache)
        world.version = 2
        assert await read(cache) == ("miss", "/ at version 2")

    asyncio.run(scenario())


def test_the_site_serves_readers_a_bounded_stale_page_and_admins_a_fresh_one(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDINGS_PAGE_STALE_S", "3600")  # a bound no test run reaches
    monkeypatch.setenv("TIDINGS_EMBEDDER", "hashing")  # the import below is analysed: no model needed
    with TestClient(create_app(store, SECRET)) as c:
        assert c.get("/").headers["x-tidings-cache"] == "miss"
        add(store, 2, "Second headline")  # the poller commits
        served = c.get("/")
        assert served.headers["x-tidings-cache"] == "stale" and "Second headline" not in served.text
        admin = c.get("/", headers={"Authorization": f"Bearer {SECRET}"})
        assert "Second headline" in admin.text and "x-tidings-cache" not in admin.headers
        line = b'{"url": "https://planet.example/9", "title": "Ninth", "source": "Daily Planet"}'
        assert c.post("/api/import/jsonl", headers={"Authorization": f"Bearer {SECRET}"},
                      content=line).status_code == 200
        after = c.get("/")  # a change through the site shows at once
        assert after.headers["x-tidings-cache"] == "miss" and "Ninth" in after.text
