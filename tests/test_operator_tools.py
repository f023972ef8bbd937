"""What an operator relies on: keep and block rules per source, polling every feed at once, gzip, and /metrics."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import lxml.html
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from newsserver import FEED_TYPE, NewsServer, add, fast, numbered_articles, refresh, rss
from tidings.cli import main
from tidings.errors import UserError
from tidings.ingest.pipeline import import_jsonl
from tidings.ingest.rules import BLOCKED, NOT_KEPT
from tidings.storage.store import Store
from tidings.usecases import edit_source
from tidings.web.app import create_app

pytestmark = pytest.mark.usefixtures("quick_polling")

SECRET = "operator-secret-0123456789-abcdefgh"
AUTH = {"Authorization": f"Bearer {SECRET}"}
PLAIN = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip, deflate"}
ITEMS = [("g1", "http://news.test/1", "Sponsored: the best mattress of the year"),
         ("g2", "http://news.test/2", "Election results are in for the north"),
         ("g3", "http://news.test/3", "Weather: rain moves east")]




@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store, SECRET, analyse=False)) as c:
        yield c


def titles(store: Store) -> set[str]:
    return {r["title"] for r in store.latest_articles(limit=50)}


def logged_in(client: TestClient) -> str:
    """Log in through the form; the CSRF token of the admin page."""
    def token(page: str) -> str:
        return str(lxml.html.fromstring(page).xpath("//input[@name='csrf_token']/@value")[0])

    client.post("/login", data={"secret": SECRET, "csrf_token": token(client.get("/login").text), "next": "/admin"})
    return token(client.get("/admin").text)


def flash(page: str) -> str:
    return " ".join(lxml.html.fromstring(page).xpath("string(//p[contains(@class,'flash')])").split())


# -- keep and block rules ----------------------------------------------------------------------------------


def test_block_and_keep_rules_decide_what_a_poll_stores(store: Store, news_server: NewsServer) -> None:
    sid = add(store, news_server.add("/feed.xml", rss(ITEMS), FEED_TYPE))
    edit_source(store, sid, block=["^sponsored:", "horoscope"])
    result = refresh(store, sid, fast())
    assert (result.new, result.skipped) == (2, {BLOCKED: 1})
    assert titles(store) == {ITEMS[1][2], ITEMS[2][2]}
    shown = json.loads((store.source(sid) or {})["last_skipped"])
    assert shown == {BLOCKED: 1}, "the source's skipped counts say why"

    other = add(store, news_server.add("/other.xml", rss([(f"o{g}", f"{u}?o", t) for g, u, t in ITEMS]), FEED_TYPE),
                "Other")
    edit_source(store, other, keep=["ELECTION", "referendum"])  # case does not matter
    result = refresh(store, other, fast())
    assert (result.new, result.skipped) == (1, {NOT_KEPT: 2})
    assert {r["title"] for r in store.latest_articles(source_id=other)} == {ITEMS[1][2]}

    edit_source(store, other, keep=[])  # no keep rules: every item again
    assert refresh(store, other, fast()).new == 2
    row = store.source(other) or {}
    assert row["keep_rules"] == "" and json.loads(row["last_skipped"]) == {}


def test_rules_show_on_the_source_page_and_its_json(store: Store, news_server: NewsServer) -> None:
    sid = add(store, news_server.add("/feed.xml", rss(ITEMS), FEED_TYPE))
    edit_source(store, sid, keep=["election|weather"], block=["rain"])
    refresh(store, sid, fast())
    with TestClient(create_app(store, SECRET)) as c:
        data = c.get(f"/api/sources/{sid}").json()["source"]
        page = lxml.html.fromstring(c.get(f"/source/{sid}").text)
    assert (data["keep_rules"], data["block_rules"]) == (["election|weather"], ["rain"])
    assert data["skipped"] == {BLOCKED: 1, NOT_KEPT: 1}
    fields = {" ".join(dt.text_content().split()): " ".join(dt.getnext().text_content().split())
              for dt in page.xpath("//dl[@class='fields']/dt")}
    assert fields["Kept only when matching"] == "election|weather" and fields["Blocked when matching"] == "rain"
    assert fields["Items skipped in the last poll"] == f"1 × {BLOCKED}; 1 × {NOT_KEPT}"


def test_imported_lines_follow_their_sources_rules(store: Store) -> None:
    sid = store.import_source("Wire")
    edit_source(store, sid, block=["mattress"])
    lines = [json.dumps({"url": u.replace("news.test", "wire.example"), "title": t, "source": "Wire"})
             for _, u, t in ITEMS]
    report = import_jsonl(store, lines)
    assert (report.imported, report.skipped, report.errors) == (2, {BLOCKED: 1}, [])
    assert json.loads((store.source(sid) or {})["last_skipped"]) == {BLOCKED: 1}
    assert ITEMS[0][2] not in titles(store)


@pytest.mark.parametrize(("pattern", "says"), [
    ("(unclosed", "missing )"),
    ("(a)\\1", "not a regular expression RE2 takes"),  # backreferences: RE2 has none
    ("x" * 301, "longer than 300 characters"),
    ("a{2000}", "invalid repetition size"),
])
def test_a_bad_pattern_is_refused_with_a_clear_message(store: Store, pattern: str, says: str) -> None:
    sid = store.import_source("Wire")
    with pytest.raises(UserError, match="block rule") as refused:
        edit_source(store, sid, block=["fine", pattern])
    assert says in str(refused.value)
    assert (store.source(sid) or {})["block_rules"] == "", "nothing stored"


def test_a_pattern_that_backtracks_elsewhere_is_linear_here(store: Store) -> None:
    sid = store.import_source("Wire")
    edit_source(store, sid, block=["(a+)+$"])  # exponential in a backtracking engine on "aaaa…!"
    line = json.dumps({"url": "https://wire.example/a", "title": "a" * 50_000 + "!", "source": "Wire"})
    assert import_jsonl(store, [line]).imported == 1  # no match; RE2 answers in one pass over the text


def test_the_api_and_the_cli_refuse_a_bad_pattern(client: TestClient, store: Store, tmp_path,  # type: ignore[no-untyped-def]
                                                  capsys) -> None:
    sid = store.import_source("Wire")
    r = client.patch(f"/api/sources/{sid}", headers=AUTH, json={"block_rules": ["(unclosed"]})
    assert r.status_code == 400 and "block rule '(unclosed'" in r.json()["error"], r.text
    r = client.post("/api/sources", headers=AUTH, json={"url": "http://127.0.0.1:9/feed.xml",
                                                        "keep_rules": ["[z-a]"]})
    assert r.status_code == 400 and "keep rule '[z-a]'" in r.json()["error"], r.text
    r = client.patch(f"/api/sources/{sid}", headers=AUTH, json={"keep_rules": ["x"] * 51})
    assert r.status_code == 400, "more patterns than a list takes"
    r = client.patch(f"/api/sources/{sid}", headers=AUTH, json={"keep_rules": ["(?i)wire"], "block_rules": []})
    assert r.status_code == 200 and r.json()["source"]["keep_rules"] == ["(?i)wire"]

    assert main(["--db", store.target, "sources", "edit", str(sid), "--block", "(unclosed"]) == 2
    err = capsys.readouterr().err
    assert "block rule '(unclosed'" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert main(["--db", store.target, "sources", "edit", str(sid), "--block", "sponsored", "--keep", ""]) == 0
    row = store.source(sid) or {}
    assert (row["block_rules"], row["keep_rules"]) == ("sponsored", "")


def test_rules_are_set_through_the_admin_forms(client: TestClient, store: Store) -> None:
    sid = store.import_source("Wire")
    token = logged_in(client)
    r = client.post(f"/admin/sources/{sid}", data={"csrf_token": token, "name": "Wire", "section": "",
                                                    "keep": "", "block": "sponsored\r\n\r\n^Advert"})
    assert flash(r.text) == "Saved “Wire”."
    assert (store.source(sid) or {})["block_rules"] == "sponsored\n^Advert"
    page = lxml.html.fromstring(r.text)
    assert page.xpath(f"string(//textarea[@id='rules-{sid}-block'])") == "sponsored\n^Advert"
    assert page.xpath(f"//label[@for='rules-{sid}-block']"), "the field has a label"
    r = client.post(f"/admin/sources/{sid}", data={"csrf_token": token, "name": "Wire", "block": "a)"})
    assert flash(r.text).startswith("Not saved: block rule 'a)': not a regular expression RE2 takes")


# -- polling every feed at once ----------------------------------------------------------------------------


def test_refresh_all_polls_every_feed(client: TestClient, store: Store, news_server: NewsServer) -> None:
    paths = [f"/feed{i}.xml" for i in range(3)]
    for i, path in enumerate(paths):
        add(store, news_server.add(path, rss([(f"f{i}", f"http://news.test/f{i}", f"Feed {i} news")]), FEED_TYPE),
            f"Feed {i}")
    store.import_source("Archive")  # no feed: nothing to poll
    r = client.post("/api/refresh", headers=AUTH)
    assert r.status_code == 200
    report = r.json()["refresh"]
    if store.dialect == "postgresql":  # the site makes every feed due; a worker's scheduling pass polls them
        assert report["queued"] and report["sources"] == 3
        assert [news_server.hits(p) for p in paths] == [0, 0, 0]
        assert len(store.due_sources("0000")) == 3, "due now, whatever their next poll was"
        assert main(["--db", store.target, "poll"]) == 0  # a pass over what is due, as a worker's
    else:
        assert (report["sources"], report["new"], report["failed"], report["queued"]) == (3, 3, [], False)
    assert [news_server.hits(p) for p in paths] == [1, 1, 1]

    assert main(["--db", store.target, "poll", "--all"]) == 0  # the same use case from the command line
    assert [news_server.hits(p) for p in paths] == [2, 2, 2]
    assert client.post("/api/refresh").status_code == 401, "admins only"


def test_refresh_all_from_the_admin_page(client: TestClient, store: Store, news_server: NewsServer) -> None:
    add(store, news_server.add("/feed.xml", rss(ITEMS), FEED_TYPE))
    token = logged_in(client)
    page = lxml.html.fromstring(client.get("/admin").text)
    assert page.xpath("//form[@action='/admin/refresh']//button")
    r = client.post("/admin/refresh", data={"csrf_token": token})
    if store.dialect == "postgresql":
        assert flash(r.text) == "All 1 feeds go to the workers to be polled within seconds."
        assert news_server.hits("/feed.xml") == 0
    else:
        assert flash(r.text).startswith("Polled 1 feeds: 3 new, 0 updated, 0 unchanged.")
        assert news_server.hits("/feed.xml") == 1
    assert client.post("/admin/refresh", data={"csrf_token": "forged"}).status_code == 403


# -- gzip -----------------------------------------------------------------------------------------------------


def raw(client: TestClient, path: str, headers: dict[str, str], method: str = "GET") -> tuple[dict[str, str], bytes]:
    """Headers and the bytes as sent (the test client would otherwise decompress them)."""
    with client.stream(method, path, headers=headers) as r:
        return dict(r.headers), b"".join(r.iter_raw())


def test_pages_json_and_feeds_are_compressed_for_clients_that_take_gzip(store: Store, client: TestClient) -> None:
    numbered_articles(store, 30)
    for path in ("/", "/api/latest", "/feeds/latest.atom"):
        plain_headers, plain = raw(client, path, PLAIN)
        zipped_headers, zipped = raw(client, path, GZIP)
        assert len(plain) > 1024 and "content-encoding" not in plain_headers, path
        assert zipped_headers["content-encoding"] == "gzip" and gzip.decompress(zipped) == plain, path
        assert int(zipped_headers["content-length"]) == len(zipped) < len(plain), path
        for h in (plain_headers, zipped_headers):
            assert "accept-encoding" in h["vary"].lower(), (path, h)
    tiny_headers, tiny = raw(client, "/healthz", GZIP)
    assert len(tiny) < 1024 and "content-encoding" not in tiny_headers


def test_a_cached_page_is_kept_compressed_and_decompresses_to_the_same_bytes(store: Store,
                                                                            client: TestClient) -> None:
    numbered_articles(store, 30)
    first_headers, first = raw(client, "/latest", GZIP)
    hit_headers, hit = raw(client, "/latest", GZIP)
    plain_headers, plain = raw(client, "/latest", PLAIN)
    assert [h["x-tidings-cache"] for h in (first_headers, hit_headers, plain_headers)] == ["miss", "hit", "hit"]
    assert hit_headers["content-encoding"] == "gzip" and hit == first, "compressed once, when it was kept"
    assert gzip.decompress(hit) == plain and "content-encoding" not in plain_headers
    assert hit_headers["vary"].lower().count("accept-encoding") == 1
    refused_headers, _ = raw(client, "/latest", {"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in refused_headers
    head_headers, head = raw(client, "/latest", GZIP, method="HEAD")
    assert head == b"" and head_headers["content-encoding"] == "gzip"
    assert head_headers["content-length"] == hit_headers["content-length"], "HEAD says what GET sends"


def test_uncached_answers_are_compressed_and_etags_still_answer_304(store: Store, client: TestClient) -> None:
    numbered_articles(store, 3)
    logged_in(client)
    admin_headers, admin = raw(client, "/admin", GZIP)  # a session: never cached
    assert "x-tidings-cache" not in admin_headers and admin_headers["content-encoding"] == "gzip"
    assert b"Manage sources" in gzip.decompress(admin)
    client.cookies.clear()
    css_headers, css = raw(client, "/static/style.css", GZIP)
    etag = css_headers["etag"]
    assert css_headers["content-encoding"] == "gzip" and etag.startswith('W/"'), "other bytes, a weak ETag"
    assert b".admin-form" in gzip.decompress(css)
    again = client.get("/static/style.css", headers={**GZIP, "If-None-Match": etag})
    assert again.status_code == 304
    plain_headers, _ = raw(client, "/static/style.css", PLAIN)
    assert "content-encoding" not in plain_headers and not plain_headers["etag"].startswith("W/")
    assert client.get("/static/style.css", headers={**PLAIN, "If-None-Match": plain_headers["etag"]}).status_code == 304


# -- /metrics --------------------------------------------------------------------------------------------------


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_polls_failures_articles_and_page_times(store: Store, client: TestClient,
                                                             news_server: NewsServer) -> None:
    good = add(store, news_server.add("/feed.xml", rss(ITEMS), FEED_TYPE))
    gone = add(store, news_server.url("/gone.xml"), "Gone")
    before = scrape(client)
    refresh(store, good, fast())
    refresh(store, gone, fast())
    client.get(f"/article/{store.latest_articles(limit=1)[0]['id']}")
    client.get("/article/999999")
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("tidings_polls_total") == 2
    assert grew("tidings_poll_duration_seconds_count") == 2
    assert grew("tidings_poll_failures_total", reason="HTTP 4xx") == 1
    assert grew("tidings_articles_stored_total", how="poll", outcome="new") == 3
    assert grew("tidings_request_duration_seconds_count", route="/article/{article_id}", method="GET") == 2
    assert not any("999999" in str(labels) for _, labels in after), "routes by template, never the raw path"
    assert after[("tidings_articles", ())] == 3 and after[("tidings_feeds_failing", ())] == 1
    assert after[("tidings_analysis_backlog", ())] == 3
    help_text = client.get("/metrics").text
    assert "# HELP tidings_polls_total Feeds polled by this process" in help_text
    if store.dialect == "postgresql":  # the workers' queue, read from the database
        from tidings import queue

        assert queue.defer(store.target, "analyse")
        assert scrape(client)[("tidings_queue_jobs", (("status", "todo"), ("task", "analyse")))] == 1
