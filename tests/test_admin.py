"""Who may change things: the admin secret, bearer tokens for the API, login and CSRF for the web forms."""

from __future__ import annotations

import html
import json
import os
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from fastapi.testclient import TestClient

from newsserver import ApiCheck, NewsServer, check_api, form_token, log_in, refresh
from tidings.errors import UserError
from tidings.storage.sqlite import SQLiteStore
from tidings.storage.store import Store
from tidings.usecases import analyse_pending
from tidings.web.actions import describe_refresh
from tidings.web.app import SESSION_COOKIE, create_app
from tidings.web.auth import ADMIN_SECRET_ENV, FailureLimiter, load_admin_secret, safe_next

pytestmark = pytest.mark.usefixtures("quick_polling")

SECRET = "correct-horse-battery-staple-0123456789"
AUTH = {"Authorization": f"Bearer {SECRET}"}
WRONG = {"Authorization": "Bearer not-the-secret-at-all-0000"}
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def rss(title: str, base: str, items: list[tuple[str, str, str]], site: str = "") -> str:
    """An RSS 2.0 feed of (slug, title, description) items, one hour apart, newest first."""
    body = "".join(
        f"<item><title>{html.escape(t)}</title><link>{base}/news/{slug}.html</link><guid>{base}/news/{slug}</guid>"
        f"<pubDate>{format_datetime(T0 - timedelta(hours=n))}</pubDate>"
        f"<description>{html.escape(d)}</description></item>"
        for n, (slug, t, d) in enumerate(items))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{html.escape(title)}</title>'
            f"<link>{html.escape(site or base + '/')}</link><description>news</description>{body}</channel></rss>")


ITEMS = [(f"story-{n}", f"Harbour bridge reopens after repairs, part {n}",
          f"The harbour bridge reopened on Monday after {n + 2} weeks of repairs. " * 3) for n in range(4)]




def worker_polls(store: Store, sid: int, answer: dict[str, Any]) -> dict[str, Any]:
    """What a refresh through the site did: the site's own poll on SQLite. On PostgreSQL the site only makes the
    source due (checked here) and a worker polls it: done here as a worker does it."""
    if store.dialect != "postgresql":
        return answer
    assert answer["queued"] and (store.source(sid) or {})["next_poll_at"] is None
    return describe_refresh(refresh(store, sid))


def analysed(client: TestClient, store: Store) -> None:
    """Wait for the analysis the site asked for: its own thread's on SQLite. On PostgreSQL the site only queues
    an ``analyse`` job for the workers; it is checked to be there, then done here as a worker does it."""
    if store.dialect != "postgresql":
        assert client.app.state.analysis.wait(30)  # type: ignore[attr-defined]
        return
    import psycopg

    with psycopg.connect(store.target) as conn:
        waiting = conn.execute("SELECT COUNT(*) FROM procrastinate_jobs WHERE task_name = 'analyse'"
                               " AND status = 'todo'").fetchone()
    assert waiting and waiting[0] == 1, "the site queued one analysis for the workers"
    analysed_by_a_worker(store)


def analysed_by_a_worker(store: Store) -> None:
    analyse_pending(store)


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    """The site; every API answer it gets is checked against its documented model."""
    with TestClient(create_app(store, SECRET)) as c:
        c.api_check = check_api(c, c.app)  # type: ignore[attr-defined]
        yield c


@pytest.fixture
def feed_site(news_server: NewsServer) -> NewsServer:
    """A news site whose home page links to its RSS feed."""
    news_server.add("/feed.xml", rss("Harbour Times", news_server.base, ITEMS), "application/rss+xml")
    news_server.add("/", '<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
                         "</head><body>Harbour Times</body></html>")
    return news_server


def login(client: TestClient) -> str:
    """Log in through the form; returns the CSRF token of the logged-in session."""
    return log_in(client, SECRET)


def flashes(page: str) -> list[str]:
    found = lxml.html.fromstring(page).xpath("//p[contains(@class,'flash')]")
    return [" ".join(p.text_content().split()) for p in found]


def add_plain_source(store: Store, name: str = "Plain Wire") -> int:
    source_id, _ = store.add_source(f"https://{name.lower().replace(' ', '-')}.example/feed.xml", name,
                                    section="World")
    return source_id


# -- the admin secret -------------------------------------------------------------------------------------


def test_secret_file_is_made_once_beside_the_database_and_private(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data" / "news.db")
    TestClient(create_app(store))  # read-only callers need not know about the secret
    path = tmp_path / "data" / "admin-secret"
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    first = load_admin_secret(store.target)
    assert first.where == str(path) and len(first.value) >= 40 and first.value == path.read_text().strip()
    assert load_admin_secret(store.target).value == first.value, "a second start keeps the secret"
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".admin-secret")] == []
    with TestClient(create_app(store)) as c:
        assert c.post("/api/import/opml", content=b"<opml/>",
                      headers={"Authorization": f"Bearer {first.value}"}).status_code == 400  # authorised


def test_environment_overrides_the_file_and_short_secrets_are_refused(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ADMIN_SECRET_ENV, "from-the-environment-1234")
    got = load_admin_secret(tmp_path / "t.db")
    assert (got.value, got.where) == ("from-the-environment-1234", ADMIN_SECRET_ENV)
    assert not (tmp_path / "admin-secret").exists()
    monkeypatch.setenv(ADMIN_SECRET_ENV, "short")
    with pytest.raises(UserError, match="too short"):
        load_admin_secret(tmp_path / "t.db")


def test_cli_prints_the_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tidings.cli import main

    db = tmp_path / "t.db"
    assert main(["--db", str(db), "admin-token"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == (tmp_path / "admin-secret").read_text().strip() and len(printed) >= 40


# -- the API ----------------------------------------------------------------------------------------------

WRITE_ROUTES = [
    ("POST", "/api/sources", {"json": {"url": "https://example.org/feed.xml"}}),
    ("PATCH", "/api/sources/{id}", {"json": {"name": "Renamed"}}),
    ("DELETE", "/api/sources/{id}", {}),
    ("POST", "/api/sources/{id}/refresh", {}),
    ("POST", "/api/import/opml", {"content": b'<opml version="2.0"><body><outline type="rss" text="X" '
                                             b'xmlUrl="https://x.example/rss"/></body></opml>'}),
    ("POST", "/api/import/jsonl", {"content": json.dumps({"url": "https://a.example/1", "title": "T",
                                                          "source": "A"}).encode()}),
]


def snapshot(store: Store) -> Any:
    return [(s["id"], s["name"], s["section"], s["last_polled_at"]) for s in store.sources()], store.article_count()


@pytest.mark.parametrize(("method", "path", "kwargs"), WRITE_ROUTES)
def test_api_writes_refuse_without_the_secret(client: TestClient, store: Store, method: str, path: str,
                                              kwargs: dict[str, Any]) -> None:
    path = path.format(id=add_plain_source(store))
    before = snapshot(store)
    r = client.request(method, path, **kwargs)
    assert r.status_code == 401 and set(r.json()) == {"error"} and r.headers["www-authenticate"] == "Bearer"
    basic = {"Authorization": "Basic YWRtaW46YWRtaW4="}
    assert client.request(method, path, headers=basic, **kwargs).status_code == 401
    r = client.request(method, path, headers=WRONG, **kwargs)
    assert r.status_code == 403 and r.json() == {"error": "Wrong admin secret."}
    assert snapshot(store) == before, "a refused request changes nothing"


def test_api_write_flow_with_the_secret(client: TestClient, store: Store, feed_site: NewsServer) -> None:
    r = client.post("/api/sources", json={"url": feed_site.url("/"), "section": "Local"}, headers=AUTH)
    assert r.status_code == 200, r.text
    source = r.json()["source"]
    assert (source["name"], source["feed_url"], source["section"]) == ("Harbour Times", feed_site.url("/feed.xml"),
                                                                      "Local")
    sid = source["id"]
    r = client.patch(f"/api/sources/{sid}", json={"name": "The Harbour Times", "fulltext": "never"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["source"]["name"] == "The Harbour Times"
    row = store.source(sid)
    assert row and (row["name"], row["section"], row["fulltext"]) == ("The Harbour Times", "Local", "never")
    r = client.patch(f"/api/sources/{sid}", json={"every_minutes": 30}, headers=AUTH)
    assert r.status_code == 200 and r.json()["source"]["poll_every_minutes"] == 30
    for wrong in (True, 3, 2000, "30"):
        assert client.patch(f"/api/sources/{sid}", json={"every_minutes": wrong}, headers=AUTH).status_code == 400
    r = client.post(f"/api/sources/{sid}/refresh", headers=AUTH)
    assert r.status_code == 200 and r.json()["analysis"] == "queued"
    assert worker_polls(store, sid, r.json()["refresh"])["new"] == len(ITEMS)
    analysed(client, store)
    assert store.article_count() == len(ITEMS) and store.backlog(1) == []
    r = client.post(f"/api/sources/{sid}/refresh", headers=AUTH)
    again = worker_polls(store, sid, r.json()["refresh"])
    assert again["unchanged"] == len(ITEMS) and again["new"] == 0
    r = client.delete(f"/api/sources/{sid}", headers=AUTH)
    assert r.status_code == 200 and r.json()["removed"]["id"] == sid
    assert store.source(sid) is None and store.article_count() == 0
    assert client.delete(f"/api/sources/{sid}", headers=AUTH).status_code == 404


def test_api_imports_with_the_secret(client: TestClient, store: Store) -> None:
    opml = (b'<?xml version="1.0"?><opml version="2.0"><body><outline text="Tech">'
            b'<outline type="rss" text="Gadget Blog" xmlUrl="https://gadgets.example/rss"/></outline></body></opml>')
    r = client.post("/api/import/opml", content=opml, headers=AUTH)
    assert r.status_code == 200 and (r.json()["added"], r.json()["existing"]) == (1, 0)
    assert [(s["name"], s["section"]) for s in store.sources()] == [("Gadget Blog", "Tech")]
    lines = [json.dumps({"url": f"https://wire.example/{n}", "title": f"Harbour news {n}", "source": "Wire",
                         "text": "The harbour reopened. " * 20}) for n in range(3)] + ["{broken"]
    r = client.post("/api/import/jsonl", content="\n".join(lines).encode(), headers=AUTH)
    body = r.json()
    assert r.status_code == 200 and (body["imported"], body["skipped"]) == (3, 1)
    assert body["errors"][0]["line"] == 4 and body["analysis"] == "queued"
    analysed(client, store)
    assert store.article_count() == 3 and store.backlog(1) == []


def test_api_user_errors_are_400_with_a_message(client: TestClient, store: Store) -> None:
    imported = store.import_source("Imported Wire")
    cases = [
        ("POST", "/api/sources", {"json": {"url": "javascript:alert(1)"}}, "not an http(s) URL"),
        ("POST", "/api/sources", {"json": {"url": "https://x.example/", "fulltext": "sometimes"}}, "fulltext"),
        ("POST", "/api/sources", {"json": {"url": "https://x.example/", "admin": True}}, "admin"),
        ("PATCH", f"/api/sources/{imported}", {"json": {}}, "nothing to change"),
        ("PATCH", f"/api/sources/{imported}", {"json": {"name": "   "}}, "needs a name"),
        ("POST", f"/api/sources/{imported}/refresh", {}, "no feed to poll"),
        ("POST", "/api/import/opml", {"content": b"\x00\xff not xml"}, "no feeds found"),
    ]
    for method, path, kwargs, expected in cases:
        r = client.request(method, path, headers=AUTH, **kwargs)
        assert r.status_code == 400, (path, r.text)
        assert set(r.json()) == {"error"} and expected in r.json()["error"] and "Traceback" not in r.text
    assert client.patch("/api/sources/999999", json={"name": "x"}, headers=AUTH).status_code == 404
    assert client.post("/api/sources/0/refresh", headers=AUTH).status_code == 404


def test_every_admin_answer_is_what_its_model_documents(client: TestClient, store: Store,
                                                        feed_site: NewsServer) -> None:
    """Each write route answers as the model of its status in /openapi.json says: every key named
    (extra="forbid"), of its type; refusals too."""
    check = ApiCheck(client.app)
    added = check(client.post("/api/sources", json={"url": feed_site.url("/"), "section": "Local"}, headers=AUTH))
    sid = added.json()["source"]["id"]
    check(client.patch(f"/api/sources/{sid}", json={"every_minutes": 30}, headers=AUTH))
    check(client.post(f"/api/sources/{sid}/refresh", headers=AUTH))
    check(client.patch(f"/api/sources/{sid}", json={"keep_rules": ["harbour"], "block_rules": ["^Sponsored"]},
                       headers=AUTH))
    check(client.post("/api/refresh", headers=AUTH))
    check(client.post("/api/import/opml", content=WRITE_ROUTES[4][2]["content"], headers=AUTH))
    lines = [json.dumps({"url": "https://wire.example/1", "title": "Harbour news", "source": "Wire",
                         "text": "x" * 30, "published": "2999-01-01T00:00:00Z"}), "{broken"]
    check(client.post("/api/import/jsonl", content="\n".join(lines).encode(), headers=AUTH))
    check(client.delete(f"/api/sources/{sid}", headers=AUTH))
    writes = {(method, path) for method, path in check.routes() if method != "GET"}
    assert writes and writes == {(m, p) for m, p, status in check.checked if status == 200}, "every write route"
    check(client.post("/api/sources", json={"url": "javascript:alert(1)"}, headers=AUTH))
    check(client.delete(f"/api/sources/{sid}", headers=AUTH))
    check(client.delete(f"/api/sources/{sid}"))
    check(client.delete(f"/api/sources/{sid}", headers=WRONG))
    assert {status for _, _, status in check.checked} == {200, 400, 401, 403, 404}


def test_wrong_tokens_are_limited_per_client(client: TestClient) -> None:
    limiter: FailureLimiter = client.app.state.login_limiter  # type: ignore[attr-defined]
    now = [1000.0]
    limiter.clock = lambda: now[0]
    for _ in range(10):
        assert client.post("/api/import/opml", content=b"x", headers=WRONG).status_code == 403
    r = client.post("/api/import/opml", content=b"x", headers=AUTH)
    assert r.status_code == 429 and int(r.headers["retry-after"]) == 60, "the right secret is not even checked"
    now[0] += 61
    assert client.post("/api/import/opml", content=b"x", headers=AUTH).status_code == 400


def test_limiter_forgets_old_clients() -> None:
    now = [0.0]
    limiter = FailureLimiter(limit=2, window=10, max_clients=3, clock=lambda: now[0])
    for n in range(5):
        limiter.fail(f"10.0.0.{n}")
        now[0] += 1
    assert len(limiter._fails) <= 3
    limiter.fail("10.0.0.4")
    assert limiter.wait("10.0.0.4") == pytest.approx(9.0) and limiter.wait("10.0.0.9") == 0


def test_bodies_are_capped(client: TestClient) -> None:
    big = b"x" * (2 * 1024 * 1024)
    r = client.post("/api/sources", content=big, headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 413 and "too much data" in r.json()["error"]

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"y" * 65536

    r = client.post("/api/sources", content=chunks(), headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 413


# -- the web: login -------------------------------------------------------------------------------------


def test_admin_pages_send_strangers_to_login(client: TestClient, store: Store) -> None:
    sid = add_plain_source(store)
    for path in ("/admin", "/admin/import", f"/admin/sources/{sid}/remove"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=" + path
    assert client.get("/").status_code == 200 and client.get("/sources").status_code == 200


def test_login_wrong_then_right(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    token = form_token(page.text)
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(SESSION_COOKIE + "=") and "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    r = client.post("/login", data={"secret": "guess-guess-guess-guess", "csrf_token": token})
    assert r.status_code == 401 and flashes(r.text) == ["That is not the admin secret."]
    assert client.get("/admin", follow_redirects=False).status_code == 303
    r = client.post("/login", data={"secret": SECRET, "csrf_token": form_token(r.text), "next": "/admin/import"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/import"
    admin = client.get("/admin")
    assert admin.status_code == 200 and flashes(admin.text) == ["Logged in."]
    assert form_token(admin.text) != token, "a login starts a new session with a new token"
    assert lxml.html.fromstring(admin.text).xpath("//form[@action='/admin/sources']//input[@name='url']")
    r = client.post("/logout", data={"csrf_token": form_token(admin.text)}, follow_redirects=False)
    assert r.status_code == 303 and client.get("/admin", follow_redirects=False).status_code == 303


def test_login_needs_its_csrf_token(client: TestClient) -> None:
    client.get("/login")
    for data in ({"secret": SECRET}, {"secret": SECRET, "csrf_token": "forged-token-forged-token-forged-token"}):
        r = client.post("/login", data=data, follow_redirects=False)
        assert r.status_code == 403
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_login_failures_are_limited(client: TestClient) -> None:
    token = form_token(client.get("/login").text)
    for _ in range(10):
        assert client.post("/login", data={"secret": "nope-nope-nope-nope", "csrf_token": token}).status_code == 401
    r = client.post("/login", data={"secret": SECRET, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 429 and "Too many wrong secrets" in r.text and int(r.headers["retry-after"]) > 0
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_after_login_only_local_places(client: TestClient) -> None:
    assert safe_next("/admin/import") == "/admin/import"
    for bad in ("//evil.example/", "https://evil.example/", "/\\evil.example", "/ad\nmin", "", None):
        assert safe_next(bad) == "/admin"
    token = form_token(client.get("/login").text)
    r = client.post("/login", data={"secret": SECRET, "csrf_token": token, "next": "//evil.example/x"},
                    follow_redirects=False)
    assert r.headers["location"] == "/admin"


def test_a_forged_or_foreign_session_cookie_is_no_login(client: TestClient, store: Store, tmp_path: Path) -> None:
    login(client)
    good = client.cookies[SESSION_COOKIE]
    payload, _, _ = good.partition(".")
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, payload + ".forged.signature")
    assert client.get("/admin", follow_redirects=False).status_code == 303
    other = TestClient(create_app(SQLiteStore(tmp_path / "other.db"), "another-secret-another-secret"))
    other.cookies.set(SESSION_COOKIE, good)
    assert other.get("/admin", follow_redirects=False).status_code == 303
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, good)
    assert client.get("/admin", follow_redirects=False).status_code == 200, "the genuine cookie still works"


# -- the web: forms need login, a matching CSRF token and a same-site origin ------------------------------


def form_routes(store: Store) -> list[tuple[str, dict[str, Any]]]:
    sid = add_plain_source(store, "Form Target")
    return [
        ("/admin/sources", {"data": {"url": "https://example.org/feed.xml"}}),
        (f"/admin/sources/{sid}", {"data": {"name": "Renamed", "section": "Elsewhere", "fulltext": "never"}}),
        (f"/admin/sources/{sid}/refresh", {"data": {}}),
        (f"/admin/sources/{sid}/remove", {"data": {}}),
        ("/admin/import", {"data": {"kind": "opml"},
                           "files": {"file": ("f.opml", b'<opml version="2.0"><body><outline type="rss" text="X" '
                                                       b'xmlUrl="https://x.example/rss"/></body></opml>')}}),
        ("/logout", {"data": {}}),
    ]


def test_forms_refuse_strangers(client: TestClient, store: Store) -> None:
    routes = form_routes(store)
    token = form_token(client.get("/login").text)
    before = snapshot(store)
    for path, kwargs in routes:
        kwargs["data"] = {**kwargs["data"], "csrf_token": token}
        r = client.post(path, follow_redirects=False, **kwargs)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
    assert snapshot(store) == before


@pytest.mark.parametrize("token", [None, "", "wrong-token-wrong-token-wrong-token-wrong"])
def test_forms_refuse_a_missing_or_wrong_csrf_token(client: TestClient, store: Store, token: str | None) -> None:
    routes = form_routes(store)
    login(client)
    before = snapshot(store)
    for path, kwargs in routes:
        if token is not None:
            kwargs["data"] = {**kwargs["data"], "csrf_token": token}
        r = client.post(path, follow_redirects=False, **kwargs)
        assert r.status_code == 403 and "did not come from this Tidings page" in r.text, path
    assert snapshot(store) == before
    assert client.get("/admin", follow_redirects=False).status_code == 200, "still logged in: logout was refused"


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://testserver.evil.example"},
    {"Referer": "https://evil.example/page"},
    {"Origin": "https://evil.example", "Referer": "http://testserver/admin"},
])
def test_forms_refuse_other_origins(client: TestClient, store: Store, headers: dict[str, str]) -> None:
    routes = form_routes(store)
    token = login(client)
    before = snapshot(store)
    for path, kwargs in routes:
        kwargs["data"] = {**kwargs["data"], "csrf_token": token}
        r = client.post(path, headers=headers, follow_redirects=False, **kwargs)
        assert r.status_code == 403 and "another site" in r.text, path
    r = client.post("/login", headers=headers, data={"secret": SECRET, "csrf_token": token})
    assert r.status_code == 403
    assert snapshot(store) == before


def test_same_origin_forms_work_and_allowed_origins(client: TestClient, store: Store,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    sid = add_plain_source(store)
    token = login(client)
    r = client.post(f"/admin/sources/{sid}", headers={"Origin": "http://testserver", "Referer": "http://testserver/"},
                    data={"csrf_token": token, "name": "Same Site", "section": "World", "fulltext": "auto"})
    assert r.status_code == 200 and store.source(sid)["name"] == "Same Site"  # type: ignore[index]
    monkeypatch.setenv("TIDINGS_ALLOWED_ORIGINS", "https://news.example.org")
    r = client.post(f"/admin/sources/{sid}", headers={"Origin": "https://news.example.org"},
                    data={"csrf_token": token, "name": "Via Proxy", "section": "World", "fulltext": "auto"})
    assert r.status_code == 200 and store.source(sid)["name"] == "Via Proxy"  # type: ignore[index]


# -- the web: the whole flow ------------------------------------------------------------------------------


def test_add_edit_poll_remove_through_the_web(client: TestClient, store: Store, feed_site: NewsServer) -> None:
    token = login(client)
    r = client.post("/admin/sources", data={"csrf_token": token, "url": feed_site.url("/"), "section": "Local",
                                            "name": "", "fulltext": "auto"})
    assert r.status_code == 200 and flashes(r.text) == [f"Added “Harbour Times” ({feed_site.url('/feed.xml')})."]
    (source,) = store.sources()
    sid = source["id"]
    assert (source["section"], source["fulltext"]) == ("Local", "auto")
    assert lxml.html.fromstring(r.text).xpath(f"//input[@id='name-{sid}']/@value") == ["Harbour Times"]

    r = client.post(f"/admin/sources/{sid}", data={"csrf_token": token, "name": "Harbour Times Online",
                                                    "section": "City", "fulltext": "never"})
    assert flashes(r.text) == ["Saved “Harbour Times Online”."]
    row = store.source(sid)
    assert row and (row["name"], row["section"], row["fulltext"]) == ("Harbour Times Online", "City", "never")

    r = client.post(f"/admin/sources/{sid}/refresh", data={"csrf_token": token})
    if store.dialect == "postgresql":  # the workers poll
        assert flashes(r.text) == [f"Source {sid} goes to a worker to be polled within seconds."]
        assert worker_polls(store, sid, {"queued": True})["new"] == len(ITEMS)
        analysed_by_a_worker(store)
    else:
        assert flashes(r.text) == [f"Polled source {sid}: {len(ITEMS)} new, 0 updated, 0 unchanged. "
                                   "Similar News follows shortly."]
        analysed(client, store)
    assert store.article_count() == len(ITEMS) and store.backlog(1) == []
    assert feed_site.hits("/news/story-0.html") == 0, "full text set to never: no page fetched"
    section = lxml.html.fromstring(client.get("/section/City").text)
    assert len(section.xpath("//li[@class='article-item']")) == len(ITEMS)

    confirm = client.get(f"/admin/sources/{sid}/remove")
    assert "Remove “Harbour Times Online”?" in confirm.text and f"{len(ITEMS)} articles" in confirm.text
    assert store.source(sid) is not None, "asking is not removing"
    r = client.post(f"/admin/sources/{sid}/remove", data={"csrf_token": form_token(confirm.text)})
    assert flashes(r.text) == ["Removed “Harbour Times Online” and its articles."]
    assert store.sources() == [] and store.article_count() == 0


def test_an_imported_source_is_renamed_without_a_full_text_setting(client: TestClient, store: Store) -> None:
    sid = store.import_source("Imported Wire")
    token = login(client)
    page = lxml.html.fromstring(client.get("/admin").text)
    assert not page.xpath(f"//select[@id='fulltext-{sid}']"), "no feed, so nothing to fetch in full"
    r = client.post(f"/admin/sources/{sid}", data={"csrf_token": token, "name": "Wire Archive", "section": "World"})
    assert flashes(r.text) == ["Saved “Wire Archive”."]
    row = store.source(sid)
    assert row and (row["name"], row["section"]) == ("Wire Archive", "World")


def test_web_errors_are_messages_not_tracebacks(client: TestClient, store: Store, news_server: NewsServer) -> None:
    news_server.add("/plain.html", "<html><body>No feed here</body></html>")
    token = login(client)
    for url, expected in ((news_server.url("/plain.html"), "Could not add that source: no feed found at"),
                          ("ftp://files.example/feed", "Could not add that source: not an http(s) URL"),
                          (news_server.url("/missing"), "Could not add that source: could not fetch")):
        r = client.post("/admin/sources", data={"csrf_token": token, "url": url})
        assert r.status_code == 200 and flashes(r.text)[0].startswith(expected), flashes(r.text)
        assert "Traceback" not in r.text
    sid = add_plain_source(store)
    r = client.post(f"/admin/sources/{sid}", data={"csrf_token": token, "name": " ", "section": "", "fulltext": "auto"})
    assert flashes(r.text) == ["Not saved: a source needs a name"]
    r = client.post(f"/admin/sources/{sid}/refresh", data={"csrf_token": token})
    if store.dialect == "postgresql":
        assert flashes(r.text) == [f"Source {sid} goes to a worker to be polled within seconds."]
        assert worker_polls(store, sid, {"queued": True})["error"]  # the fetch failed: recorded, not raised
    else:
        assert flashes(r.text)[0].startswith(f"Polled source {sid}: ")  # the fetch failed: recorded, not raised
    assert store.sources()[0]["error_count"] == 1


def test_import_page(client: TestClient, store: Store) -> None:
    token = login(client)
    opml = (b'<?xml version="1.0"?><opml version="2.0"><body><outline text="Science">'
            b'<outline type="rss" text="Lab Notes" xmlUrl="https://lab.example/rss"/></outline></body></opml>')
    r = client.post("/admin/import", data={"csrf_token": token, "kind": "auto"},
                    files={"file": ("feeds.opml", opml, "text/x-opml")})
    assert flashes(r.text) == ["Added 1 source(s); 0 were already there."]
    lines = "\n".join([json.dumps({"url": "https://wire.example/1", "title": "Harbour reopens", "source": "Wire"}),
                       "not json"]).encode()
    r = client.post("/admin/import", data={"csrf_token": token, "kind": "auto"},
                    files={"file": ("articles.jsonl", lines, "application/x-ndjson")})
    assert flashes(r.text) == ["Imported 1 article(s), updated 0, 0 unchanged, skipped 1 bad line(s). "
                               "Similar News follows shortly."]
    r = client.post("/admin/import", data={"csrf_token": token, "kind": "jsonl"},
                    files={"file": ("x.jsonl", b"{bad\n[1]", "application/x-ndjson")})
    assert flashes(r.text) == ["Nothing imported: no article could be read from that file (line 1: not valid JSON "
                               "(Expecting property name enclosed in double quotes))"]
    analysed(client, store)
    assert store.article_count() == 1 and len(store.sources()) == 2


def test_without_analysis_the_backlog_waits_for_the_scheduler(store: Store, feed_site: NewsServer) -> None:
    with TestClient(create_app(store, SECRET, analyse=False)) as client:
        sid = client.post("/api/sources", json={"url": feed_site.url("/feed.xml"), "fulltext": "never"},
                          headers=AUTH).json()["source"]["id"]
        r = client.post(f"/api/sources/{sid}/refresh", headers=AUTH)
        expected = "queued" if store.dialect == "postgresql" else "deferred"  # workers analyse on PostgreSQL
        assert r.json()["analysis"] == expected
        assert worker_polls(store, sid, r.json()["refresh"])["new"] == len(ITEMS)
        time.sleep(0.2)
        assert len(store.backlog(100)) == len(ITEMS)


def test_secret_file_survives_a_race(tmp_path: Path) -> None:
    """Two starts at once: both end with the same secret."""
    from concurrent.futures import ThreadPoolExecutor

    db = tmp_path / "race" / "t.db"
    with ThreadPoolExecutor(8) as pool:
        values = {s.value for s in pool.map(lambda _: load_admin_secret(db), range(16))}
    assert len(values) == 1 and os.stat(tmp_path / "race" / "admin-secret").st_mode & 0o077 == 0
