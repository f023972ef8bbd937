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
