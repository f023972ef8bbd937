"""The web layer against a small Store filled through its own methods: pages, JSON API, Atom feed, escaping."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import feedparser
import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from newsserver import ApiCheck, check_api, doc, numbered_articles, texts
from tidings.models import ArticleIn, Neighbour
from tidings.similarity.relate import Link
from tidings.storage import open_store
from tidings.storage.store import Store
from tidings.web import pages
from tidings.web.app import CSP, create_app, warm
from tidings.web.render import environment, highlight, http_url, paragraphs

XSS = "<script>alert(1)</script>"
BASE = "https://news.example.org"  # the configured public address: every absolute link starts with it
T0 = datetime(2023, 6, 19, 10, 0, tzinfo=UTC)
LEAD_TEXT = (
    "U.S. Secretary of State Antony Blinken met Chinese President Xi Jinping on Monday in Beijing.\n"
    "The two sides agreed to stabilise relations after months of tension.\n"
    "\n"
    "Military communication channels, however, remain closed."
)

EVIDENCE = Link(score=0.9, relation="same_story", cosine=0.91, lexical=0.42, containment=0.0, gap_days=0.02,
                shared=["Blinken", "Xi Jinping"])


@dataclass
class World:
    store: Store
    ids: dict[str, int] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    stories: dict[str, int] = field(default_factory=dict)


def add(w: World, key: str, source: str, title: str, *, minutes: int = 0, sections: tuple[str, ...] = (),
        url: str | None = None, **extra: Any) -> int:
    sid = w.sources.get(source) or w.store.import_source(source)
    w.sources[source] = sid
    url = url or f"https://{source.lower().replace(' ', '-')}.example/{key}"
    art = ArticleIn(url=url, title=title, source_id=sid, published=T0 + timedelta(minutes=minutes), **extra)
    aid = w.store.insert_article(art, content_hash=key)
    w.store.set_sections(aid, sections)
    w.ids[key], w.urls[key] = aid, url
    return aid


def build_world(database: str) -> World:
    w = World(open_store(database))
    us = ("United States", "World")
    add(w, "lead", "Daily Planet", "Blinken meets Xi in Beijing", sections=us, text=LEAD_TEXT, author="Lois Lane",
        image_url="https://img.example/xi.jpg", summary="Short summary of the visit.")
    add(w, "same", "The Globe", "Blinken and Xi agree to stabilise ties", minutes=30, sections=us,
        summary="The top US diplomat met China's leader. Both sides spoke of progress. A third sentence here.")
    add(w, "copy1", "Metro Wire", "Blinken meets Xi (wire copy)", minutes=20, sections=us,
        text="Wire copy text about Blinken and Xi. It was carried everywhere.")
    add(w, "copy2", "Courier", "Blinken meets Xi (Courier)", minutes=21, sections=us, text="Wire copy text again.")
    add(w, "copy3", "Herald", "Blinken meets Xi (Herald)", minutes=22, sections=us, text="Wire copy text, again.")
    add(w, "own", "Daily Planet - Politics", "Own outlet follow-up on Xi", minutes=40, sections=us)
    add(w, "js", "Tribune", "Related piece with a bad link", minutes=50, sections=("World",),
        url="javascript:alert(1)", summary="Tensions in the Taiwan Strait.")
    add(w, "xss", f"Evil {XSS} News", f"{XSS} Headline", minutes=55, sections=("World",),
        text=f"Body with {XSS} and <img src=x onerror=alert(1)>.", author=XSS,
        image_url="javascript:alert(1)")
    add(w, "old", "The Globe", "Old election story", minutes=-60 * 24 * 30, sections=("Politics",))
    add(w, "old2", "Courier", "Old election story, Courier", minutes=-60 * 24 * 30 + 5, sections=("Politics",))
    for n in range(35):
        add(w, f"sci{n}", "Lab Notes", f"Science note {n}\x0b", minutes=-600 + n, sections=("Science",),
            summary=f"Finding number {n} about quasars.")
    s = w.store
    lead = w.ids["lead"]
    s.save_neighbours([
        Neighbour(lead, w.ids["copy1"], 0.95, "duplicate"),
        Neighbour(lead, w.ids["copy2"], 0.94, "duplicate"),
        Neighbour(lead, w.ids["copy3"], 0.93, "duplicate"),
        Neighbour(lead, w.ids["same"], 0.90, "same_story", why=json.dumps(EVIDENCE.why())),
        Neighbour(lead, w.ids["own"], 0.99, "same_story"),
        Neighbour(lead, w.ids["js"], 0.50, "related"),
        Neighbour(lead, w.ids["xss"], 0.40, "related"),
    ])
    big = s.create_story("Blinken visits Beijing")
    for key in ("lead", "same", "copy1", "copy2", "copy3", "own"):
        s.set_story(w.ids[key], big)
    s.update_story(big, title="Blinken visits Beijing", lead_article_id=lead, first="2023-06-19T10:00:00Z",
                   last="2023-06-19T10:40:00Z", size=6, outlets=5)
    old = s.create_story("Old election story")
    for key in ("old", "old2"):
        s.set_story(w.ids[key], old)
    s.update_story(old, title="Old election story", lead_article_id=w.ids["old"], first="2023-05-20T10:00:00Z",
                   last="2023-05-20T10:05:00Z", size=2, outlets=2)
    lone = s.create_story(f"Lonely {XSS}")
    for key in ("js", "xss"):
        s.set_story(w.ids[key], lone)
    s.update_story(lone, title=f"Lonely {XSS}", lead_article_id=w.ids["js"], first="2023-06-19T10:50:00Z",
                   last="2023-06-19T10:55:00Z", size=2, outlets=2)
    w.stories = {"big": big, "old": old, "lone": lone}
    feed_id, _ = s.add_source("https://feeds.example/world.xml", "World Feed", section="World")
    s.update_source(feed_id, last_polled_at="2023-06-19T11:00:00Z", last_status=503, error_count=3,
                    last_error=f"HTTP 503 {XSS}", next_poll_at="2023-06-19T12:00:00Z")
    w.sources["World Feed"] = feed_id
    return w


@pytest.fixture(scope="module")
def world(module_database: str) -> World:
    return build_world(module_database)


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    """The site over the world; every API answer it gets is checked against its documented model."""
    with TestClient(create_app(world.store, base_url=BASE)) as c:
        c.api_check = check_api(c, c.app)  # type: ignore[attr-defined]
        yield c


# -- pure helpers -----------------------------------------------------------------------------------------


def test_lead_snippet_prefers_summary_and_keeps_abbreviations() -> None:
    assert pages.lead_snippet("Summary first.", "Text second.") == "Summary first."
    assert pages.lead_snippet("   ", LEAD_TEXT) == (
        "U.S. Secretary of State Antony Blinken met Chinese President Xi Jinping on Monday in Beijing."
        " The two sides agreed to stabilise relations after months of tension.")
    long_first = "Mr. Smith " + "went far away " * 10 + "today. Then he returned."
    assert pages.lead_snippet(long_first) == long_first[: long_first.index("today.") + 6]
    two = pages.lead_snippet("It rained. Roads closed. Schools shut.")
    assert two == "It rained. Roads closed."
    assert pages.lead_snippet("", "") == ""


def test_lead_snippet_cuts_long_text_at_a_word() -> None:
    text = "word " * 200
    out = pages.lead_snippet("", text)
    assert len(out) <= 300 and out.endswith("…") and out[:-1].split() == ["word"] * len(out[:-1].split())
    assert pages.lead_snippet("x" * 1000).endswith("…")


def test_finite_scores() -> None:
    assert pages.finite(float("nan")) is None
    assert pages.finite(float("inf")) is None
    assert pages.finite("0.5") == 0.5
    assert pages.finite(None) is None


def test_http_url_and_highlight() -> None:
    assert http_url("https://a.example/x") == "https://a.example/x"
    assert http_url("javascript:alert(1)") == ""
    assert http_url("//evil.example/") == ""
    assert http_url("http://[::1") == ""
    assert highlight("a [b] c") == [("a ", False), ("b", True), (" c", False)]


def test_pages_make_a_bounded_number_of_queries(world: World) -> None:
    statements: list[str] = []
    world.store.trace(statements.append)
    try:
        for call in (lambda: pages.home_page(world.store), lambda: pages.article_page(world.store, world.ids["lead"]),
                     lambda: pages.story_page(world.store, world.stories["big"]),
                     lambda: pages.section_page(world.store, "Science")):
            statements.clear()
            call()
            assert 0 < len(statements) <= 6, statements
    finally:
        world.store.trace(None)


# -- HTML pages -------------------------------------------------------------------------------------------


def test_warming_compiles_every_template_and_never_stops_the_site(world: World) -> None:
    env = environment()
    env.cache.clear()  # type: ignore[union-attr]
    warm(world.store)
    assert set(env.list_templates()) <= {name for _, name in env.cache}  # type: ignore[union-attr]

    class Unreadable:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("the database cannot be read")

    warm(Unreadable())  # type: ignore[arg-type]


def test_home_shows_current_big_story_and_latest(client: TestClient, world: World) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    tree = doc(r.text)
    cards = tree.xpath("//article[@class='story-card']")
    titles = texts(tree, "//article[@class='story-card']//h2")
    assert titles[0] == "Blinken visits Beijing"
    assert "Old election story" not in titles  # a month older than the newest article
    assert "5 outlets" in cards[0].text_content()
    headlines = cards[0].xpath(".//ul[@class='headlines']/li")
    assert len(headlines) == 3
    assert len({h.xpath("./span[@class='source']")[0].text for h in headlines}) == 3
    latest = texts(tree, "//ol[@class='article-list']//h3")
    assert latest[0] == f"{XSS} Headline" and len(latest) == 30
    assert "Science note 34" in latest and "\x0b" not in r.text  # control characters never reach the page


def test_nav_links(client: TestClient) -> None:
    tree = doc(client.get("/sources").text)
    nav = {a.text: a.get("href") for a in tree.xpath("//nav[@aria-label='Main']//a")}
    assert nav == {"Home": "/", "Sections": "/sections", "Sources": "/sources", "Search": "/search"}
    assert tree.xpath("//a[@aria-current='page']")[0].text == "Sources"


def test_section_page_heading_and_pagination(client: TestClient) -> None:
    r = client.get("/section/United States")
    assert r.status_code == 200
    tree = doc(r.text)
    assert texts(tree, "//h1") == ["United States Latest News, United States Headlines"]
    assert len(tree.xpath("//li[@class='article-item']")) == 6
    first = doc(client.get("/section/Science").text)
    assert len(first.xpath("//li[@class='article-item']")) == 30
    assert first.xpath("//a[@rel='next']/@href") == ["/section/Science?page=2"]
    second = doc(client.get("/section/Science?page=2").text)
    assert len(second.xpath("//li[@class='article-item']")) == 5
    assert second.xpath("//a[@rel='prev']/@href") == ["/section/Science?page=1"]
    assert client.get("/section/Science?page=3").status_code == 404


def test_unknown_section_is_a_friendly_404(client: TestClient) -> None:
    r = client.get("/section/Atlantis")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert "There is no section named “Atlantis”." in doc(r.text).text_content()


def test_sections_list_with_counts(client: TestClient) -> None:
    tree = doc(client.get("/sections").text)
    items = {li.xpath("./a")[0].text: li.xpath("./span")[0].text for li in tree.xpath("//ul[@class='section-list']/li")}
    assert items == {"Science": "35 articles", "World": "8 articles", "United States": "6 articles",
                     "Politics": "2 articles"}
    assert client.get("/api/sections").json()["sections"][0] == {
        "name": "Science", "articles": 35, "heading": "Science Latest News, Science Headlines",
        "link": "/section/Science", "feed": "/feeds/section/Science.atom"}


def test_article_page_layout(client: TestClient, world: World) -> None:
    r = client.get(f"/article/{world.ids['lead']}")
    assert r.status_code == 200
    tree = doc(r.text)
    assert texts(tree, "//h1") == ["Blinken meets Xi in Beijing"]
    byline = texts(tree, "//p[contains(@class,'byline')]")[0]
    assert "Daily Planet" in byline and "By Lois Lane" in byline and "19 Jun 2023, 10:00 UTC" in byline
    assert texts(tree, "//div[@class='article-body']/p") == [p for p in LEAD_TEXT.split("\n") if p]
    assert tree.xpath("//figure//img/@src") == [f"/image/{world.ids['lead']}?w=960"]  # served by Tidings itself
    assert tree.xpath("//p[contains(@class,'byline')]/img/@src") == [f"/icon/{world.sources['Daily Planet']}"]
    assert tree.xpath("//p[@class='original']/a/@href") == [world.urls["lead"]]
    line = tree.xpath("//p[@class='section-line']/a")[0]
    assert line.text == "United States Latest News, United States Headlines"
    assert line.get("href") == "/section/United%20States"
    assert texts(tree, "//section[@class='similar']/h2") == ["Similar News"]
    assert texts(tree, "//p[@class='similar-intro']") == [
        "You can also read news stories similar to this one that we have collected from other news sources."]
    coverage = tree.xpath("//p[@class='coverage']/a")[0]
    assert coverage.text == "Full coverage: 5 outlets · 6 reports"
    assert coverage.get("href") == f"/story/{world.stories['big']}"


def test_similar_news_only_other_outlets_with_labels(client: TestClient, world: World) -> None:
    tree = doc(client.get(f"/article/{world.ids['lead']}").text)
    items = tree.xpath("//li[@class='similar-item']")
    assert [i.xpath(".//h3/a")[0].text_content() for i in items] == [
        "Blinken meets Xi (wire copy)", "Blinken and Xi agree to stabilise ties", "Related piece with a bad link",
        f"{XSS} Headline"]
    sources = [i.xpath(".//span[@class='source']")[0].text for i in items]
    assert not any(s.startswith("Daily Planet") for s in sources)
    assert [i.xpath(".//span[contains(@class,'relation')]")[0].text for i in items] == [
        "Copy of this report", "Same story", "Related", "Related"]
    assert texts(items[0], ".//p[@class='also']") == ["Also carried by 2 outlets: Courier, Herald"]
    assert items[1].xpath(".//h3/a/@href") == [f"/article/{world.ids['same']}"]
    assert texts(items[1], ".//p[@class='snippet']") == [
        "The top US diplomat met China's leader. Both sides spoke of progress."]


def test_read_more_links_go_to_original_urls(client: TestClient, world: World) -> None:
    tree = doc(client.get(f"/article/{world.ids['lead']}").text)
    links = tree.xpath("//li[@class='similar-item']//a[@class='read-more']")
    assert [a.get("href") for a in links] == [world.urls["copy1"], world.urls["same"], world.urls["xss"]]
    assert all(a.text == "Read more »" and a.get("rel") == "noopener nofollow" for a in links)
    assert "javascript:" not in "".join(tree.xpath("//a/@href"))


def test_article_html_and_api_hold_the_same_data(client: TestClient, world: World) -> None:
    aid = world.ids["lead"]
    data = client.get(f"/api/articles/{aid}").json()
    tree = doc(client.get(f"/article/{aid}").text)
    assert data["article"]["title"] == texts(tree, "//h1")[0]
    assert data["article"]["url"] == world.urls["lead"]
    assert data["article"]["published"] == "2023-06-19T10:00:00Z"
    assert data["article"]["sections"] == ["United States", "World"]
    assert data["article"]["text"] == LEAD_TEXT
    assert paragraphs(data["article"]["text"]) == texts(tree, "//div[@class='article-body']/p")
    assert [s["title"] for s in data["similar"]] == texts(tree, "//li[@class='similar-item']//h3")
    assert [s["relation_label"] for s in data["similar"]] == texts(tree, "//span[contains(@class,'relation')]")
    assert data["section"]["heading"] == texts(tree, "//p[@class='section-line']")[0]
    assert data["story"]["size"] == 6


def test_story_page_full_coverage(client: TestClient, world: World) -> None:
    r = client.get(f"/story/{world.stories['big']}")
    assert r.status_code == 200
    tree = doc(r.text)
    assert texts(tree, "//h1") == ["Blinken visits Beijing"]
    assert "First reported by Daily Planet" in texts(tree, "//p[@class='first-reported']")[0]
    timeline = texts(tree, "//ol[@class='timeline']//a[@class='headline']")
    assert tree.xpath("//ol[@class='timeline']//p[@class='why']"), "each grouped member says why"
    assert timeline == ["Blinken meets Xi in Beijing", "Blinken meets Xi (wire copy)", "Blinken meets Xi (Courier)",
                        "Blinken meets Xi (Herald)", "Blinken and Xi agree to stabilise ties",
                        "Own outlet follow-up on Xi"]
    assert texts(tree, "//ul[@class='source-list']/li/a") == [
        "Daily Planet", "Metro Wire", "Courier", "Herald", "The Globe", "Daily Planet - Politics"]
    api = client.get(f"/api/stories/{world.stories['big']}").json()
    assert api["story"]["outlets"] == 5 and api["first_reported_by"]["source"] == "Daily Planet"


def test_sources_table_and_source_health(client: TestClient, world: World) -> None:
    tree = doc(client.get("/sources").text)
    rows = {r.xpath("./td[1]")[0].text_content(): r for r in tree.xpath("//table[@class='sources']/tbody/tr")}
    feed = rows["World Feed"]
    cells = [" ".join(td.text_content().split()) for td in feed.xpath("./td")]
    assert cells[2] == "https://feeds.example/world.xml"
    assert cells[3] == "19 Jun 2023, 11:00 UTC"
    assert cells[4].startswith("failing HTTP 503") and "HTTP 503 <script>" in cells[4]
    assert cells[5:] == ["3", "0", "19 Jun 2023, 12:00 UTC"]
    assert [" ".join(td.text_content().split()) for td in rows["Lab Notes"].xpath("./td")][6] == "35"
    lab = client.get(f"/source/{world.sources['Lab Notes']}")
    assert lab.status_code == 200
    assert len(doc(lab.text).xpath("//li[@class='article-item']")) == 30
    api = client.get(f"/api/sources/{world.sources['World Feed']}").json()["source"]
    assert api["health"] == "failing" and api["error_count"] == 3 and api["last_status"] == 503
    listing = client.get("/api/sources").json()["sources"]
    assert {s["name"] for s in listing} >= {"World Feed", "Lab Notes", "Daily Planet"}


def test_search(client: TestClient, world: World) -> None:
    form = doc(client.get("/search").text)
    assert form.xpath("//form[@role='search']/input/@name") == ["q"]
    assert not form.xpath("//li[@class='article-item']")
    tree = doc(client.get("/search", params={"q": "quasars number 7"}).text)
    assert [t.strip() for t in texts(tree, "//li[@class='article-item']//h3")] == ["Science note 7"]
    hits = doc(client.get("/search", params={"q": "carried everywhere"}).text)
    assert texts(hits, "//li[@class='article-item']//h3") == ["Blinken meets Xi (wire copy)"]
    assert texts(hits, "//mark") == ["carried", "everywhere"]
    api = client.get("/api/search", params={"q": "Beijing"}).json()
    assert api["query"] == "Beijing" and world.urls["lead"] in {r["url"] for r in api["results"]}
    assert client.get("/api/search", params={"q": "zzzyyyxxx"}).json()["results"] == []


def test_xss_payloads_come_out_escaped(client: TestClient, world: World) -> None:
    paths = ["/", f"/article/{world.ids['xss']}", f"/article/{world.ids['lead']}", "/sources",
             f"/source/{world.sources[f'Evil {XSS} News']}", f"/story/{world.stories['lone']}",
             f"/search?q={XSS}", "/search?q=Headline", "/section/World", f"/section/{XSS}"]
    for path in paths:
        r = client.get(path)
        assert r.status_code in (200, 404), path
        assert XSS not in r.text and "<img src=x" not in r.text, path
        assert "&lt;script&gt;" in r.text, path
    tree = doc(client.get(f"/article/{world.ids['xss']}").text)
    assert texts(tree, "//h1") == [f"{XSS} Headline"]
    assert tree.xpath("//script/@src") == ["/static/when.js"] and not tree.xpath("//script/text()")
    assert not tree.xpath("//figure")


def test_security_headers(client: TestClient, world: World) -> None:
    for path in ("/", f"/article/{world.ids['lead']}", "/api/home", "/nope", "/static/style.css"):
        r = client.get(path)
        assert r.headers["content-security-policy"] == CSP == (
            "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'")
        assert r.headers["x-content-type-options"] == "nosniff"
    assert "text/css" in client.get("/static/style.css").headers["content-type"]


# -- Atom -------------------------------------------------------------------------------------------------


def test_atom_feed_parses_back(client: TestClient, world: World) -> None:
    r = client.get("/feeds/section/United States.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(r.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "United States Latest News, United States Headlines – Tidings"
    assert [e.link for e in feed.entries] == [world.urls[k] for k in
                                              ("own", "same", "copy3", "copy2", "copy1", "lead")]
    assert feed.entries[-1].title == "Blinken meets Xi in Beijing"
    assert feed.entries[-1].published == "2023-06-19T10:00:00Z"
    assert feed.entries[-1].author == "Lois Lane"
    assert feed.entries[-1].id == f"{BASE}/article/{world.ids['lead']}"


def test_atom_feed_limits_and_cleans(client: TestClient) -> None:
    feed = feedparser.parse(client.get("/feeds/section/Science.atom").content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert len(feed.entries) == 35
    assert feed.entries[0].title == "Science note 34"  # the vertical tab XML cannot carry is dropped
    world_feed = feedparser.parse(client.get("/feeds/section/World.atom").content)
    assert not world_feed.bozo
    bad = next(e for e in world_feed.entries if e.title == "Related piece with a bad link")
    assert bad.link.startswith(f"{BASE}/article/")
    assert client.get("/feeds/section/Atlantis.atom").status_code == 404


# -- JSON API and contract ------------------------------------------------------------------------------


def test_api_similar_contract(client: TestClient, world: World) -> None:
    r = client.get("/api/similar", params={"url": world.urls["lead"]})
    assert r.status_code == 200
    data = r.json()
    assert data["article"]["url"] == world.urls["lead"]
    assert data["article"]["title"] == "Blinken meets Xi in Beijing" and data["article"]["source"] == "Daily Planet"
    keys = {"url", "title", "source", "snippet", "published", "score", "relation", "why", "also_carried_by"}
    assert all(set(item) == keys for item in data["similar"])
    # copies of one text are one item, naming the others that carried it; they never come back as items
    assert [i["url"] for i in data["similar"]] == [world.urls[k] for k in ("copy1", "same", "js", "xss")]
    assert [i["relation"] for i in data["similar"]] == ["duplicate", "same_story", "related", "related"]
    assert data["similar"][0]["also_carried_by"] == [{"url": world.urls["copy2"], "source": "Courier"},
                                                     {"url": world.urls["copy3"], "source": "Herald"}]
    assert [i["also_carried_by"] for i in data["similar"][1:]] == [[], [], []]
    assert not any(i["source"].startswith("Daily Planet") for i in data["similar"])
    assert data["similar"][0]["score"] == 0.95 and data["similar"][0]["published"] == "2023-06-19T10:20:00Z"
    assert data["similar"][1]["snippet"] == "The top US diplomat met China's leader. Both sides spoke of progress."
    short = client.get("/api/similar", params={"url": world.urls["lead"], "limit": 2}).json()
    assert [i["url"] for i in short["similar"]] == [world.urls["copy1"], world.urls["same"]]
    capped = client.get("/api/similar", params={"url": world.urls["lead"], "limit": 1000})
    assert capped.status_code == 200 and len(capped.json()["similar"]) == 4


def test_api_similar_errors(client: TestClient) -> None:
    r = client.get("/api/similar", params={"url": "https://nowhere.example/x"})
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    assert "nowhere.example" in r.json()["error"]
    missing = client.get("/api/similar")
    assert missing.status_code in (400, 422) and "url" in missing.json()["error"]
    for bad in ("0", "-3", "ten"):
        r = client.get("/api/similar", params={"url": "https://x.example/", "limit": bad})
        assert r.status_code == 400 and "limit" in r.json()["error"]


def test_api_stories_contract(client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    data = client.get("/api/stories").json()
    assert set(data) == {"stories", "pagination"}
    assert data["pagination"] | {"per_page": 0} == {"page": 1, "per_page": 0, "prev_page": None, "next_page": None,
                                                   "total": 3, "pages": 1}
    assert [s["id"] for s in data["stories"]] == [world.stories[k] for k in ("lone", "big", "old")]
    for story in data["stories"]:
        assert set(story) == {"id", "title", "articles"}
        assert all(set(a) == {"url", "title", "source", "copy_of"} for a in story["articles"])
        assert all(a["copy_of"] is None for a in story["articles"])  # this world stores no copy group
    urls = [a["url"] for s in data["stories"] for a in s["articles"]]
    assert len(urls) == len(set(urls)) == 10
    assert len(client.get("/api/stories", params={"limit": 1}).json()["stories"]) == 1
    assert client.get("/api/stories", params={"limit": 100000}).json()["stories"] == data["stories"]
    monkeypatch.setattr(pages, "MEMBER_CHUNK", 1)
    assert client.get("/api/stories", params={"limit": 500000}).json()["stories"] == data["stories"]
    assert client.get("/api/stories", params={"limit": 0}).status_code == 400


def test_api_page_twins(client: TestClient, world: World) -> None:
    home = client.get("/api/home").json()
    assert home["stories"][0]["title"] == "Blinken visits Beijing" and len(home["latest"]) == 30
    section = client.get("/api/sections/United States").json()
    assert section["heading"] == "United States Latest News, United States Headlines"
    assert section["pagination"] == {"page": 1, "per_page": 30, "prev_page": None, "next_page": None}
    for path in ("/api/home", "/api/sources", f"/api/articles/{world.ids['xss']}", "/api/sections/Science?page=2",
                 f"/api/stories/{world.stories['old']}", "/api/search?q=Xi"):
        r = client.get(path)
        assert r.status_code == 200, path
        constants: list[str] = []
        json.loads(r.text, parse_constant=constants.append)
        assert constants == [], path  # NaN or Infinity would not be JSON


def test_unknown_ids_are_404(client: TestClient) -> None:
    for path in ("/article/999999", "/story/999999", "/source/999999", "/nope", "/article/abc",
                 "/article/0", "/article/99999999999999999999999"):
        r = client.get(path)
        assert r.status_code == 404 and "text/html" in r.headers["content-type"], path
        assert "Back to the front page" in r.text
    for path in ("/api/articles/999999", "/api/stories/999999", "/api/sources/999999", "/api/nope",
                 "/api/sections/Atlantis", "/api/articles/abc"):
        r = client.get(path)
        assert r.status_code == 404 and set(r.json()) == {"error"}, path


def test_bad_query_params_are_400_not_500(client: TestClient) -> None:
    for path in ("/section/Science?page=0", "/section/Science?page=abc", "/section/Science?page=9999999",
                 "/search?q=" + "a" * 600):
        r = client.get(path)
        assert r.status_code == 400, path
        assert "page" in r.text or "q:" in r.text
    r = client.get("/api/sections/Science?page=-1")
    assert r.status_code == 400 and r.json()["error"].startswith("page:")
    for path in ("/section/%ED%A0%80", "/search?q=%ED%A0%80", "/api/similar?url=%00", "/search?q=%22%27%29%28*"):
        assert client.get(path).status_code in (200, 400, 404), path


def test_every_api_answer_is_what_its_model_documents(client: TestClient, world: World) -> None:
    """Every route of /openapi.json that reads answers the world's data as the model of its status says: every key
    named (extra="forbid"), of its type (ApiCheck), errors too."""
    check = ApiCheck(client.app)
    paths = ["/healthz", "/api/home", "/api/latest", "/api/latest?page=2", "/api/sections", "/api/sources",
             "/api/search?q=Blinken", "/api/search?q=", "/api/stories", "/api/stories?limit=1",
             "/api/sections/Science?page=2", "/api/articles/999999", "/api/latest?page=0", "/api/stories?limit=0"]
    paths += [f"/api/sections/{s['name']}" for s in client.get("/api/sections").json()["sections"]]
    paths += [f"/api/articles/{i}" for i in world.ids.values()] + [f"/api/stories/{i}" for i in world.stories.values()]
    paths += [f"/api/sources/{i}" for i in world.sources.values()]
    for url in [*world.urls.values(), "https://nowhere.example/x"]:
        paths.append("/api/similar?" + urlencode({"url": url}))
    for path in paths:
        check(client.get(path))
    reads = {(method, path) for method, path in check.routes() if method == "GET"}
    assert reads and reads == {(m, p) for m, p, status in check.checked if status == 200}, "every read route"
    assert {("GET", "/api/articles/{article_id}", 404), ("GET", "/api/latest", 400)} <= check.checked
    similar = client.get("/api/similar", params={"url": world.urls["lead"]}).json()["similar"]
    assert [i["why"] for i in similar if i["why"]] == [EVIDENCE.why()], "the stored evidence, all of it"


@pytest.mark.parametrize(("body", "problem"), [
    ({"sections": [{"name": "World", "articles": 3, "heading": "h", "link": "/l", "feed": "/f", "new": 1}]},
     "extra_forbidden"),
    ({"sections": [{"name": "World", "articles": 3, "heading": "h", "link": "/l"}]}, "missing"),
    ({"sections": [{"name": "World", "articles": "3", "heading": "h", "link": "/l", "feed": "/f"}]}, "int_type"),
    ({"sections": [], "total": 0}, "extra_forbidden"),
])
def test_the_api_check_finds_undocumented_keys(client: TestClient, body: dict[str, Any], problem: str) -> None:
    check = ApiCheck(client.app)
    good = {"sections": [{"name": "World", "articles": 3, "heading": "h", "link": "/l", "feed": "/f"}]}
    check(httpx.Response(200, json=good, request=httpx.Request("GET", "http://testserver/api/sections")))
    with pytest.raises(ValidationError, match=problem):
        check(httpx.Response(200, json=body, request=httpx.Request("GET", "http://testserver/api/sections")))
    with pytest.raises(AssertionError, match="not documented"):
        check(httpx.Response(409, json={"error": "x"}, request=httpx.Request("GET", "http://testserver/api/sections")))


def test_docs_and_openapi(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/api/similar", "/api/stories", "/api/articles/{article_id}"} <= set(spec["paths"])
    assert "/article/{article_id}" not in spec["paths"]


def test_scores_in_json_are_finite(client: TestClient, world: World) -> None:
    data = client.get(f"/api/articles/{world.ids['lead']}").json()
    assert all(isinstance(s["score"], float) and math.isfinite(s["score"]) for s in data["similar"])


# -- real articles ----------------------------------------------------------------------------------------

BASIL = Path(__file__).resolve().parents[2] / "shared" / "data" / "basil" / "articles"
OUTLETS = {"fox": "Fox News", "nyt": "The New York Times", "hpo": "HuffPost"}


def test_real_triplets_show_the_other_two_outlets(database: str) -> None:
    """BASIL: 100 events each reported by three outlets; each article's Similar News is the other two."""
    if not BASIL.is_dir():
        pytest.skip("real data not available: ../shared/data/basil is absent")
    store = open_store(database)
    by_triplet: dict[str, list[tuple[int, str]]] = {}
    for path in sorted(BASIL.glob("*/*.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        if store.article_by_url(rec["url"]) is not None:
            continue
        source = store.import_source(OUTLETS.get(rec["source"].lower(), rec["source"]))
        text = "\n".join(p[0] for p in rec["body-paragraphs"] if p)
        aid = store.insert_article(ArticleIn(url=rec["url"], title=rec["title"], source_id=source, text=text,
                                             published=datetime.fromisoformat(rec["date"]).replace(tzinfo=UTC)),
                                   rec["uuid"])
        store.set_sections(aid, ["United States"])
        by_triplet.setdefault(rec["triplet-uuid"], []).append((aid, rec["url"]))
    for members in by_triplet.values():
        story = store.create_story("story")
        for aid, _ in members:
            store.set_story(aid, story)
        store.save_neighbours(Neighbour(a, b, 0.8, "same_story") for a, _ in members for b, _ in members if a != b)
    assert len(by_triplet) == 100
    with TestClient(create_app(store)) as client:
        for members in by_triplet.values():
            for aid, url in members:
                data = client.get("/api/similar", params={"url": url}).json()
                mates = {u for other, u in members if other != aid}
                assert {i["url"] for i in data["similar"]} == mates
                assert data["article"]["source"] not in {i["source"] for i in data["similar"]}
        aid, url = next(iter(by_triplet.values()))[0]
        tree = doc(client.get(f"/article/{aid}").text)
        assert set(tree.xpath("//a[@class='read-more']/@href")) == {
            u for members in by_triplet.values() for other, u in members if (aid, url) in members and other != aid}
        assert texts(tree, "//p[@class='section-line']") == ["United States Latest News, United States Headlines"]
        stories = client.get("/api/stories", params={"limit": 1000}).json()["stories"]
        assert sorted(len(s["articles"]) for s in stories) == sorted(len(m) for m in by_triplet.values())


def test_unexpected_errors_get_a_friendly_500(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    with TestClient(create_app(world.store), raise_server_exceptions=False) as c:
        monkeypatch.setattr(pages, "home_page", broken)
        r = c.get("/")
        assert r.status_code == 500 and "Something went wrong" in r.text and "disk on fire" not in r.text
        api = c.get("/api/home")
        assert api.status_code == 500 and set(api.json()) == {"error"}


def test_tidings_has_an_icon_of_its_own(client: TestClient) -> None:
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml") and b"<svg" in r.content
    head = doc(client.get("/").text)
    assert head.xpath("//link[@rel='icon']/@href") == ["/static/favicon.svg"]


def test_a_first_run_explains_itself_and_failing_sources_show(database: str) -> None:
    from tidings.clock import iso, utcnow

    store = open_store(database)
    with TestClient(create_app(store, base_url=BASE)) as c:
        empty = doc(c.get("/").text)
        assert "there are no sources" in " ".join(texts(empty, "//div[contains(@class, 'first-run')]"))
        ids = [store.add_source(f"https://feeds.example/{n}.xml", f"Feed {n}")[0] for n in range(3)]
        for i in ids[:2]:
            store.update_source(i, last_polled_at=iso(utcnow()), error_count=1, last_error="connection failed: x")
        store.update_source(ids[2], last_polled_at=iso(utcnow()))
        page = doc(c.get("/").text)
        banner = " ".join(texts(page, "//p[contains(@class, 'banner')]"))
        assert "1 of 3 sources reachable" in banner and page.xpath("//p[contains(@class, 'banner')]/a/@href") == [
            "/sources"]
        assert "Tidings is polling 3 sources" in " ".join(texts(page, "//div[contains(@class, 'first-run')]"))
        store.update_source(ids[0], error_count=0, last_error="")
        assert doc(c.get("/").text).xpath("//p[contains(@class, 'banner')]") == []  # most are reachable again
        assert c.get("/api/home").json()["health"] | {"sources_link": ""} == {
            "sources": 3, "polled": 3, "failing": 1, "reachable": 2, "warning": False, "sources_link": ""}


def test_a_source_page_goes_on_to_older_articles(database: str) -> None:
    store = open_store(database)
    numbered_articles(store, 35, outlets=1)
    source_id = int(store.sources()[0]["id"])
    with TestClient(create_app(store, base_url=BASE)) as c:
        first = doc(c.get(f"/source/{source_id}").text)
        assert len(first.xpath("//li[contains(@class, 'article-item')]")) == 30
        assert first.xpath("//a[@rel='next']/@href") == [f"/source/{source_id}?page=2"]
        second = doc(c.get(f"/source/{source_id}?page=2").text)
        titles = texts(second, "//li[contains(@class, 'article-item')]/h3")
        assert len(titles) == 5 and "Item 0" in " ".join(titles)  # the oldest are on the last page
        assert second.xpath("//a[@rel='prev']/@href") == [f"/source/{source_id}?page=1"]
        assert second.xpath("//a[@rel='next']") == []
        assert c.get(f"/source/{source_id}?page=3").status_code == 404
        api = c.get(f"/api/sources/{source_id}?page=2").json()
        assert api["pagination"]["prev_page"] == 1 and len(api["articles"]) == 5


def test_the_latest_news_goes_on_past_the_home_page(database: str) -> None:
    store = open_store(database)
    numbered_articles(store, 40)
    with TestClient(create_app(store, base_url=BASE)) as c:
        home = doc(c.get("/").text)
        assert len(home.xpath("//li[contains(@class, 'article-item')]")) == 30
        assert home.xpath("//a[@rel='next']/@href") == ["/latest?page=2"]
        older = doc(c.get("/latest?page=2").text)
        titles = texts(older, "//li[contains(@class, 'article-item')]/h3")
        assert len(titles) == 10 and titles[-1] == "Item 0"
        assert c.get("/latest?page=3").status_code == 404
        assert len(c.get("/api/latest?page=2").json()["articles"]) == 10


def test_search_says_how_many_match_and_pages_on(database: str) -> None:
    store = open_store(database)
    numbered_articles(store, 60, outlets=4, word="Harbour")
    with TestClient(create_app(store, base_url=BASE)) as c:
        first = doc(c.get("/search?q=harbour").text)
        assert "60 articles match “harbour”" in " ".join(texts(first, "//p[@class='result-count']"))
        assert len(first.xpath("//li[contains(@class, 'article-item')]")) == 50
        assert first.xpath("//a[@rel='next']/@href") == ["/search?q=harbour&page=2"]
        second = doc(c.get("/search?q=harbour&page=2").text)
        assert len(second.xpath("//li[contains(@class, 'article-item')]")) == 10
        seen = texts(first, "//li/h3") + texts(second, "//li/h3")
        assert len(set(seen)) == 60  # every match once, over the two pages
        assert c.get("/search?q=harbour&page=3").status_code == 404
        assert c.get("/api/search?q=harbour").json()["matches"] == 60


def test_a_sources_section_is_a_page_before_any_article(database: str) -> None:
    store = open_store(database)
    store.add_source("https://africa.example/feed.xml", "Africa Desk", section="Africa")
    with TestClient(create_app(store, base_url=BASE)) as c:
        sources = doc(c.get("/sources").text)
        assert "/section/Africa" in sources.xpath("//a/@href")
        r = c.get("/section/Africa")
        assert r.status_code == 200 and "No articles in this section yet" in r.text
        assert c.get("/section/Atlantis").status_code == 404


def test_the_api_documentation_works_offline(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    tree = doc(page.text)
    assets = tree.xpath("//script/@src") + tree.xpath("//link/@href")
    assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets  # no CDN
    assert "cdn." not in page.text and "https://" not in page.text.replace("https://swagger.io", "")
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_dates_show_as_dates_and_the_first_report_only_when_the_times_say_so() -> None:
    from tidings.web.render import when

    assert when("2025-03-03T00:00:00Z") == "3 Mar 2025"  # a feed that gives only the day
    assert when("2025-03-03T14:05:00Z") == "3 Mar 2025, 14:05 UTC"

    def member(n: int, published: str | None) -> dict[str, Any]:
        return {"id": n, "url": f"https://o{n}.example/a", "title": f"Report {n}", "source": f"Outlet {n}",
                "source_id": n, "published_at": published, "summary": "", "text": ""}

    assert pages.first_report([member(1, "2025-03-03T09:00:00Z"), member(2, "2025-03-03T10:00:00Z")])["source"] == \
        "Outlet 1"
    for members in ([member(1, "2025-03-03T00:00:00Z"), member(2, "2025-03-03T00:00:00Z")],  # dates only
                    [member(1, "2025-03-03T09:00:00Z"), member(2, "2025-03-03T09:00:00Z")],  # a tie
                    [member(1, "2025-03-03T09:00:00Z"), member(2, None)],  # one undated
                    [member(1, "2025-03-03T09:00:00Z")]):  # alone
        assert pages.first_report(members) is None, members


def test_an_operator_can_watch_health_and_metrics(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(database)
    numbered_articles(store, 5)
    failing = store.add_source("https://down.example/feed.xml", "Down")[0]
    store.update_source(failing, error_count=2, last_error="HTTP 503")
    with TestClient(create_app(store, base_url=BASE)) as c:
        r = c.get("/healthz")
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        assert r.json() == {"status": "ok", "articles": 5, "stories": 0, "waiting": 5, "feeds": 1, "failing": 1}
        families = {f.name: f for f in text_string_to_metric_families(c.get("/metrics").text)}
        assert families["tidings_articles"].samples[0].value == 5
        assert families["tidings_feeds_failing"].samples[0].value == 1
        assert families["tidings_analysis_backlog"].type == "gauge"

        def unreadable() -> dict[str, Any]:
            raise OSError("disk gone")

        monkeypatch.setattr(store, "counts", unreadable)
        down = c.get("/healthz")
        assert down.status_code == 503 and "database cannot be read" in down.json()["error"]
