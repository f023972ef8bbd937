"""Readers' privacy and what the site gives away: links never built from a request's Host, a page cache keyed on
everything that changes the bytes, feed secrets kept from readers, a Secure session cookie behind https, and
pictures served by Tidings itself instead of by whatever address a feed chose."""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from newsserver import NewsServer
from tidings.config import public_base_url
from tidings.errors import UserError
from tidings.models import ArticleIn
from tidings.storage.sqlite import SQLiteStore
from tidings.storage.store import Store
from tidings.web.app import SESSION_COOKIE, create_app
from tidings.web.cache import PageCache
from tidings.web.images import MAX_IMAGE_BYTES, ImageProxy, sniff_image
from tidings.web.redact import looks_like_token, public_url, redacted_url

SECRET = "correct-horse-battery-staple-0123456789"
BASE = "https://news.example.org"
EVIL = "evil.example"


def add_article(store: Store, n: int, *, image_url: str = "", section: str = "World") -> int:
    source = store.import_source("Daily Planet")
    aid = store.insert_article(ArticleIn(url=f"https://planet.example/{n}", title=f"Headline {n}", source_id=source,
                                         text="Some text of the article.", image_url=image_url),
                               content_hash=str(n))
    store.set_sections(aid, [section])
    return aid


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = SQLiteStore(tmp_path / "t.db")
    add_article(s, 1)
    yield s
    s.close()


# -- 4: absolute links come from the configured address, and the cache keys on what changes the bytes --------


def test_atom_links_never_come_from_the_host_header(store: Store) -> None:
    with TestClient(create_app(store, SECRET, base_url=BASE + "/")) as c:
        spoofed = c.get("/feeds/section/World.atom", headers={"Host": EVIL})
        plain = c.get("/feeds/section/World.atom")
    for r in (spoofed, plain):
        assert r.status_code == 200
        assert EVIL not in r.text
        assert f'href="{BASE}/section/World"' in r.text and f"<id>{BASE}/article/" in r.text
        assert "testserver" not in r.text


def test_the_base_url_comes_from_the_environment(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDINGS_BASE_URL", "https://example.net/news/")
    with TestClient(create_app(store, SECRET)) as c:
        text = c.get("/feeds/section/World.atom", headers={"Host": EVIL}).text
    assert "https://example.net/news/section/World" in text and EVIL not in text
    monkeypatch.delenv("TIDINGS_BASE_URL")
    app = create_app(store, SECRET)
    assert app.state.base_url == "http://127.0.0.1:8080"
    with pytest.raises(UserError):
        create_app(store, SECRET, base_url="javascript:alert(1)")


def test_public_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIDINGS_BASE_URL", raising=False)
    assert public_base_url("127.0.0.1", 8080) == "http://127.0.0.1:8080"
    assert public_base_url("0.0.0.0", 8080) == "http://127.0.0.1:8080"  # a wildcard names no reachable host
    assert public_base_url("::", 9000) == "http://localhost:9000"
    assert public_base_url("::1", 80) == "http://[::1]"
    assert public_base_url("news.lan", 8080) == "http://news.lan:8080"
    monkeypatch.setenv("TIDINGS_BASE_URL", " https://news.example.org/ ")
    assert public_base_url("0.0.0.0", 8080) == "https://news.example.org"
    for bad in ("news.example.org", "ftp://x.example", "https://user:pw@x.example", "https://x.example/?a=1"):
        monkeypatch.setenv("TIDINGS_BASE_URL", bad)
        with pytest.raises(UserError, match="TIDINGS_BASE_URL"):
            public_base_url()


def run_cache(cache: PageCache, path: str, headers: list[tuple[bytes, bytes]]) -> bytes:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "GET", "scheme": "http", "path": path, "query_string": b"",
                    "headers": headers}
    asyncio.run(cache(scope, receive, send))
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def echoing(header: bytes, vary: bytes | None = None) -> object:
    """An app whose answer quotes one request header (and says so in Vary when ``vary`` is given)."""
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        value = dict(scope["headers"]).get(header, b"-")
        headers = [(b"content-type", b"text/plain")] + ([(b"vary", vary)] if vary else [])
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"for " + value})
    return app


def test_the_cache_never_serves_one_hosts_bytes_to_another() -> None:
    cache = PageCache(echoing(b"host"), version=lambda: 1)  # type: ignore[arg-type]
    assert run_cache(cache, "/", [(b"host", EVIL.encode())]) == b"for evil.example"
    assert run_cache(cache, "/", [(b"host", b"news.example.org")]) == b"for news.example.org"
    assert run_cache(cache, "/", [(b"host", EVIL.encode())]) == b"for evil.example"


def test_the_cache_keys_on_the_headers_an_answer_varies_on() -> None:
    calls: list[bytes] = []
    inner = echoing(b"accept-language", b"Accept-Language")

    async def counting(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(dict(scope["headers"]).get(b"accept-language", b""))
        await inner(scope, receive, send)  # type: ignore[operator]

    cache = PageCache(counting, version=lambda: 1)
    assert run_cache(cache, "/", [(b"accept-language", b"de")]) == b"for de"
    assert run_cache(cache, "/", [(b"accept-language", b"de")]) == b"for de"
    assert calls == [b"de"]  # the same variant is a hit
    assert run_cache(cache, "/", [(b"accept-language", b"fr")]) == b"for fr"
    star = PageCache(echoing(b"x-a", b"*"), version=lambda: 1)  # type: ignore[arg-type]
    run_cache(star, "/", [(b"x-a", b"1")])
    assert run_cache(star, "/", [(b"x-a", b"2")]) == b"for 2" and not star._entries


# -- 9: feed secrets -----------------------------------------------------------------------------------------

PRIVATE_FEED = "http://reader:hunter2pw@feeds.example/private/feed.xml?private_token=Zx9ab8Ccd7Ddee6FF&lang=en"


@pytest.mark.parametrize(("url", "public", "admin"), [
    (PRIVATE_FEED, "http://feeds.example/private/feed.xml",
     "http://feeds.example/private/feed.xml?private_token=***&lang=en"),
    ("https://x.example/rss?api_key=a1&Signature=s&pw=p&session=q&auth=z&format=rss",
     "https://x.example/rss", "https://x.example/rss?api_key=***&Signature=***&pw=***&session=***&auth=***&format=rss"),
    ("https://x.example/feeds/3f9a0c1b2d4e5f60718293a4b5c6d7e8/rss.xml?u=123e4567-e89b-12d3-a456-426614174000",
     "https://x.example/feeds/***/rss.xml", "https://x.example/feeds/***/rss.xml?u=***"),
    ("https://news.example/world-news-2024/rss.xml?format=xml#top", "https://news.example/world-news-2024/rss.xml",
     "https://news.example/world-news-2024/rss.xml?format=xml"),
    ("https://[2001:db8::1]:8443/feed", "https://[2001:db8::1]:8443/feed", "https://[2001:db8::1]:8443/feed"),
    ("", "", ""),
    ("not a url", "***", "***"),
])
def test_feed_urls_lose_their_secrets(url: str, public: str, admin: str) -> None:
    assert public_url(url) == public
    assert redacted_url(url) == admin


def test_what_looks_like_a_token() -> None:
    assert looks_like_token("Zx9ab8Ccd7Ddee6FF") and looks_like_token("3f9a0c1b2d4e5f60718293a4b5c6d7e8")
    assert looks_like_token("aGVsbG9Xb3JsZEhlbGxvV29ybGQ=")
    assert not any(looks_like_token(v) for v in ("world-news-2024", "2024-05-01", "technology", "rss.xml", "en"))


@pytest.fixture
def private_source(store: Store) -> int:
    sid, _ = store.add_source(PRIVATE_FEED, "Members Only", section="World", site_url="https://reader:hunter2pw@feeds.example/")
    store.update_source(sid, last_polled_at="2024-05-01T08:00:00Z", last_status=500, error_count=1,
                        last_error=f"HTTP 500 from {PRIVATE_FEED} (token Zx9ab8Ccd7Ddee6FF)")
    return sid


def form_token(page: str) -> str:
    return str(lxml.html.fromstring(page).xpath("//input[@name='csrf_token']/@value")[0])


def assert_no_secret(text: str, where: str) -> None:
    for secret in ("hunter2pw", "reader:", "Zx9ab8Ccd7Ddee6FF"):
        assert secret not in text, (where, secret)


def test_readers_never_see_feed_secrets_and_the_admin_sees_them_masked(store: Store, private_source: int) -> None:
    sid = private_source
    with TestClient(create_app(store, SECRET)) as c:
        for path in ("/sources", f"/source/{sid}", "/api/sources", f"/api/sources/{sid}"):
            r = c.get(path)
            assert r.status_code == 200, path
            assert_no_secret(r.text, path)
            assert "http://feeds.example/private/feed.xml" in r.text, path
        assert c.get(f"/api/sources/{sid}").json()["source"]["feed_url"] == "http://feeds.example/private/feed.xml"
        assert c.get(f"/api/sources/{sid}").json()["source"]["site_url"] == "https://feeds.example/"
        assert c.get("/sources").headers["x-tidings-cache"] == "hit"  # the anonymous view is cached...

        token = form_token(c.get("/login").text)
        c.post("/login", data={"secret": SECRET, "csrf_token": token}, follow_redirects=False)
        admin = c.get("/admin")
        assert admin.status_code == 200 and "x-tidings-cache" not in admin.headers
        assert_no_secret(admin.text, "/admin")
        assert "http://feeds.example/private/feed.xml?private_token=***&amp;lang=en" in admin.text
        assert "x-tidings-cache" not in c.get("/sources").headers  # ...and never answers a request with a cookie
        edit = c.post(f"/admin/sources/{sid}", data={"csrf_token": form_token(admin.text), "name": "Renamed",
                                                    "section": "World", "fulltext": "never"},
                      follow_redirects=False)
        assert edit.status_code == 303 and store.source(sid)["name"] == "Renamed"  # editing needs no real URL
        assert store.source(sid)["feed_url"] == PRIVATE_FEED

        api = c.patch(f"/api/sources/{sid}", json={"name": "Members"}, headers={"Authorization": f"Bearer {SECRET}"})
        assert api.status_code == 200
        assert api.json()["source"]["feed_url"] == "http://feeds.example/private/feed.xml?private_token=***&lang=en"
        assert_no_secret(api.text, "PATCH /api/sources")

        c.cookies.clear()  # an anonymous reader after the admin: the admin page is not served from any cache
        assert c.get("/admin", follow_redirects=False).status_code == 303


# -- 9: the session cookie behind https ----------------------------------------------------------------------


def session_cookie(r: object) -> str:
    cookies = [v for k, v in r.headers.multi_items() if k == "set-cookie"]  # type: ignore[attr-defined]
    found = [v for v in cookies if v.startswith(SESSION_COOKIE + "=")]
    assert found, cookies
    return found[0].lower()


def test_the_session_cookie_is_secure_when_the_site_is_https(store: Store) -> None:
    with TestClient(create_app(store, SECRET, base_url=BASE)) as c:  # https configured, the request plain http
        assert "; secure" in session_cookie(c.get("/login"))


def test_the_session_cookie_is_secure_for_a_request_that_came_over_https(store: Store) -> None:
    app = create_app(store, SECRET, base_url="http://127.0.0.1:8080")
    with TestClient(app, base_url="https://testserver") as c:
        login = c.get("/login")
        assert "; secure" in session_cookie(login)
        r = c.post("/login", data={"secret": SECRET, "csrf_token": form_token(login.text)}, follow_redirects=False)
        assert r.status_code == 303 and "; secure" in session_cookie(r)
        assert c.get("/admin").status_code == 200  # the browser sends it back over https
    with TestClient(app) as plain:
        cookie = session_cookie(plain.get("/login"))
        assert "secure" not in cookie.split("; ")  # plain http all the way: a Secure cookie would never return


# -- 9: pictures through Tidings ---------------------------------------------------------------------------


def png(width: int = 1, height: int = 1) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.fixture
def pictures(store: Store, news_server: NewsServer) -> dict[str, int]:
    news_server.add("/pic.png", png(), "image/png")
    news_server.add("/pic.svg", SVG, "image/svg+xml")
    news_server.add("/page.jpg", "<html><script>alert(1)</script></html>", "image/jpeg")
    news_server.add("/huge.png", png() + b"\x00" * (MAX_IMAGE_BYTES + 1), "image/png")
    return {name: add_article(store, 10 + n, image_url=news_server.url(path))
            for n, (name, path) in enumerate((("png", "/pic.png"), ("svg", "/pic.svg"), ("html", "/page.jpg"),
                                             ("huge", "/huge.png"), ("missing", "/gone.png")))}


def test_pictures_are_served_by_tidings_and_checked(store: Store, news_server: NewsServer,
                                                   pictures: dict[str, int]) -> None:
    app = create_app(store, SECRET)
    with TestClient(app) as c:
        page = c.get(f"/article/{pictures['png']}")
        assert page.headers["content-security-policy"].split("; ")[1] == "img-src 'self'"
        sources = lxml.html.fromstring(page.text).xpath("//img/@src")
        source_id = store.import_source("Daily Planet")
        assert sources == [f"/icon/{source_id}", f"/image/{pictures['png']}?w=960"]
        assert news_server.base not in page.text
        for width in ("320", "960", "320"):
            r = c.get(f"/image/{pictures['png']}", params={"w": width, "url": "http://169.254.169.254/"})  # no URL
            assert r.status_code == 200 and r.headers["content-type"] == sniff_image(r.content) == "image/webp"
            assert r.headers["x-content-type-options"] == "nosniff"
            assert "max-age" in r.headers["cache-control"]
        assert news_server.hits("/pic.png") == 1  # one fetch made every width, kept after it
        _, _, sent = next(req for req in news_server.requests if req[1] == "/pic.png")
        assert "Cookie" not in sent and "Referer" not in sent and sent["User-Agent"].startswith("Tidings/")
        for name in ("svg", "html", "huge", "missing"):
            for _ in range(2):
                r = c.get(f"/image/{pictures[name]}")
                assert r.status_code == 404 and not r.headers["content-type"].startswith("image/"), name
        assert [news_server.hits(p) for p in ("/pic.svg", "/page.jpg", "/huge.png", "/gone.png")] == [1, 1, 1, 1]
        assert c.get("/image/1").status_code == 404  # an article without a picture
        assert c.get("/image/999999").status_code == 404
    assert app.state.images._fetcher is None  # closed on shutdown


def test_pictures_on_private_addresses_are_refused(store: Store, news_server: NewsServer,
                                                   pictures: dict[str, int],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIDINGS_ALLOW_PRIVATE_NETWORKS")
    with TestClient(create_app(store, SECRET)) as c:
        assert c.get(f"/image/{pictures['png']}").status_code == 404
    assert news_server.hits("/pic.png") == 0
    monkeypatch.setenv("TIDINGS_ALLOW_PRIVATE_NETWORKS", "1")  # the same picture where loopback is allowed
    with TestClient(create_app(store, SECRET)) as c:
        assert c.get(f"/image/{pictures['png']}").status_code == 200
    assert news_server.hits("/pic.png") == 1


def test_readers_asking_at_once_share_one_fetch(store: Store, news_server: NewsServer,
                                                pictures: dict[str, int]) -> None:
    proxy = ImageProxy(store)

    async def main() -> list[object]:
        try:
            return list(await asyncio.gather(*(proxy.get(pictures["png"]) for _ in range(5))))
        finally:
            await proxy.aclose()

    found = asyncio.run(main())
    assert all(f is not None and f == found[0] for f in found)
    assert proxy.fetches == 1 and news_server.hits("/pic.png") == 1


@pytest.mark.parametrize(("data", "kind"), [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
    (png(), "image/png"),
    (b"GIF89a\x01\x00\x01\x00", "image/gif"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "image/avif"),
    (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf", "image/avif"),
    (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", None),
    (SVG, None),
    (b"<?xml version='1.0'?><svg/>", None),
    (b"<html>", None),
    (b"", None),
])
def test_sniffing(data: bytes, kind: str | None) -> None:
    assert sniff_image(data) == kind
