"""A story's full coverage: the first report and later developments in time order (undated ones last), each text
once with the outlets that ran its copies, opinion and analysis apart, an Atom feed to follow it, and long
lists (a story's reports, the sources, the API's stories) that page on. Built through Store methods only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from fastapi.testclient import TestClient

from newsserver import doc, numbered_articles, text_of, texts
from tidings.models import ArticleIn
from tidings.storage import open_store
from tidings.storage.store import Store
from tidings.web import pages
from tidings.web.app import create_app

BASE = "https://news.example.org"
T0 = datetime(2024, 4, 2, 8, 0, tzinfo=UTC)
WIRE = "A road bridge over the harbour collapsed at dawn, sending two lorries into the water."
COLUMN = "Our bridges are crumbling because nobody wants to pay for them. That has to change."


@dataclass
class World:
    store: Store
    ids: dict[str, int] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    stories: dict[str, int] = field(default_factory=dict)


def add(w: World, key: str, source: str, title: str, minutes: int | None, *, path: str = "", text: str = "") -> int:
    """An article ``minutes`` after T0 (None: undated) at https://{source}.example/{path or key}."""
    url = f"https://{source.lower().replace(' ', '-')}.example/{path or key}"
    published = None if minutes is None else T0 + timedelta(minutes=minutes)
    aid = w.store.insert_article(ArticleIn(url=url, title=title, source_id=w.store.import_source(source), text=text,
                                           published=published), content_hash=key)
    w.ids[key], w.urls[key] = aid, url
    return aid


def story_of(w: World, name: str, title: str, keys: list[str]) -> int:
    story = w.store.create_story(title)
    for key in keys:
        w.store.set_story(w.ids[key], story)
    w.store.update_story(story, title=title, lead_article_id=w.ids[keys[0]], first=None, last=None, size=len(keys),
                         outlets=len(keys))
    w.stories[name] = story
    return story


BRIDGE = ["r1", "w1", "w2", "w3", "r2", "op1", "an1", "poll", "wreck", "ed1", "ed2"]


def build(database: str) -> World:
    w = World(open_store(database))
    add(w, "r1", "Harbour Times", "Bridge collapses in harbour city", 0, path="news/bridge-collapses")
    add(w, "w1", "Wire Daily", "Harbour bridge collapses at dawn", 10, text=WIRE)
    add(w, "w2", "Courier", "Bridge collapse: lorries fall into harbour", 15, text=WIRE)
    add(w, "w3", "Herald", "Harbour bridge gives way", 18, text=WIRE)
    add(w, "r2", "Globe", "Rescuers search the river after the bridge collapse", 30)
    add(w, "op1", "Globe", "Decades of neglect brought the bridge down", 40, path="opinion/bridge-neglect")
    add(w, "an1", "Courier", "Analysis: what the collapse means for the city's budget", 50)
    add(w, "poll", "Harbour Times", "Opinion poll shows anger over the bridge", 60,
        path="news/opinion-poll-shows-anger-over-bridge")
    add(w, "wreck", "Globe", "Analysis of the wreckage finds corroded cables", 70)
    add(w, "ed1", "Wire Daily", "Op-Ed | Fix our bridges before the next one falls", 80, text=COLUMN)
    add(w, "ed2", "Herald", "Op-Ed | Fix our bridges now", 85, text=COLUMN)
    w.store.join_copy_group([w.ids[k] for k in ("w1", "w2", "w3")], 1)
    w.store.join_copy_group([w.ids["ed1"], w.ids["ed2"]], 2)
    story_of(w, "bridge", "Harbour bridge collapses", BRIDGE)
    # A story with a report whose time is unknown; it arrived before the dated ones were published.
    add(w, "s1", "Globe", "Storm reaches the coast", 200)
    add(w, "s2", "Herald", "Storm brings floods", 230)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("tidings.storage.store.utcnow", lambda: T0)
        add(w, "s0", "Tribune", "Storm: what we know", None)
    story_of(w, "storm", "Storm reaches the coast", ["s1", "s2", "s0"])
    return w


@pytest.fixture(scope="module")
def world(module_database: str) -> World:
    return build(module_database)


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.store, base_url=BASE)) as c:
        yield c


def ids(w: World, *keys: str) -> list[int]:
    return [w.ids[k] for k in keys]


# -- the story page and its API twin ------------------------------------------------------------------------


def test_the_timeline_holds_each_report_once_in_time_order(client: TestClient, world: World) -> None:
    data = client.get(f"/api/stories/{world.stories['bridge']}").json()
    timeline = data["timeline"]
    # the opinion poll and the analysis *of the wreckage* are news; the wire text is one item at its earliest
    assert [a["id"] for a in timeline] == ids(world, "r1", "w1", "r2", "poll", "wreck")
    assert [a["kind"] for a in timeline] == ["report"] * 5
    assert [c["source"] for c in timeline[1]["also_carried_by"]] == ["Courier", "Herald"]
    assert [a["first_report"] for a in timeline] == [True, False, False, False, False]
    assert data["first_reported_by"]["id"] == world.ids["r1"] and all(a["dated"] for a in timeline)
    assert data["undated"] == 0 and data["feed"] == f"/feeds/story/{world.stories['bridge']}.atom"
    assert data["story"]["reports"] == 8  # five reports and three opinion texts, copies counted once
    assert data["pagination"] == {"page": 1, "per_page": pages.STORY_PAGE_SIZE, "prev_page": None,
                                  "next_page": None, "total": 5, "pages": 1}

    tree = doc(client.get(f"/story/{world.stories['bridge']}").text)
    assert texts(tree, "//ol[@class='timeline']//a[@class='headline']") == [a["title"] for a in timeline]
    first = tree.xpath("//ol[@class='timeline']/li")[0]
    assert first.get("class") == "first-report" and "First report" in text_of(first)
    # in a timeline the hour matters: readers' browsers keep it beside the date of an older report
    assert [t.get("data-detail") for t in tree.xpath("//ol[@class='timeline']/li/time")] == ["time"] * 5
    wire = text_of(tree.xpath("//ol[@class='timeline']/li")[1])
    assert "Also carried by 2 outlets: Courier, Herald" in wire
    assert "5 reports" in texts(tree, "//p[@class='list-count']")[0]


def test_opinion_and_analysis_stand_apart(client: TestClient, world: World) -> None:
    data = client.get(f"/api/stories/{world.stories['bridge']}").json()
    opinion = data["opinion"]
    assert [a["id"] for a in opinion] == ids(world, "op1", "an1", "ed1")
    assert [(a["kind"], a["kind_label"]) for a in opinion] == [
        ("opinion", "Opinion"), ("analysis", "Analysis"), ("opinion", "Opinion")]
    assert [c["source"] for c in opinion[2]["also_carried_by"]] == ["Herald"]  # a syndicated column is one item
    assert not any(a["first_report"] for a in opinion)
    tree = doc(client.get(f"/story/{world.stories['bridge']}").text)
    assert texts(tree, "//h2[@class='section-title']") == ["Timeline", "Opinion and analysis", "Sources"]
    items = tree.xpath("//ol[@class='timeline opinion']/li")
    assert [text_of(i.xpath(".//a[@class='headline']")[0]) for i in items] == [a["title"] for a in opinion]
    assert [text_of(i.xpath(".//span[contains(@class, 'piece-kind')]")[0]) for i in items] == [
        "Opinion", "Analysis", "Opinion"]
    # every outlet that ran any piece of it is still named
    assert texts(tree, "//ul[@class='source-list']/li/a") == ["Harbour Times", "Wire Daily", "Courier", "Herald",
                                                               "Globe"]


def test_undated_reports_come_last_and_say_so(client: TestClient, world: World) -> None:
    data = client.get(f"/api/stories/{world.stories['storm']}").json()
    assert [a["id"] for a in data["timeline"]] == ids(world, "s1", "s2", "s0")
    assert [a["dated"] for a in data["timeline"]] == [True, True, False] and data["undated"] == 1
    assert data["first_reported_by"] is None  # an undated report might have come first: no outlet is named
    tree = doc(client.get(f"/story/{world.stories['storm']}").text)
    when = texts(tree, "//ol[@class='timeline']/li/*[self::time or @class='undated']")
    assert when[-1] == "undated" and "undated" not in when[:-1]
    assert "1 report without a publication time comes last" in texts(tree, "//p[@class='list-note']")[0]
    assert not tree.xpath("//p[@class='first-reported']") and not tree.xpath("//li[@class='first-report']")


# -- the story's Atom feed ----------------------------------------------------------------------------------


def test_a_story_has_a_feed_to_follow_with_each_text_once(client: TestClient, world: World) -> None:
    story = world.stories["bridge"]
    tree = doc(client.get(f"/story/{story}").text)
    assert tree.xpath("//link[@rel='alternate'][@type='application/atom+xml']/@href") == [f"/feeds/story/{story}.atom"]
    r = client.get(f"/feeds/story/{story}.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(r.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "Harbour bridge collapses – Tidings"
    assert {link.rel: link.href for link in feed.feed.links} == {
        "self": f"{BASE}/feeds/story/{story}.atom", "alternate": f"{BASE}/story/{story}"}
    # newest first, one entry per text: the copies w2, w3 and ed2 are named in their group's entry
    assert [e.link for e in feed.entries] == [world.urls[k] for k in ("ed1", "wreck", "poll", "an1", "op1", "r2",
                                                                      "w1", "r1")]
    wire = next(e for e in feed.entries if e.link == world.urls["w1"])
    assert wire.summary.endswith("Also carried by 2 outlets: Courier, Herald.")
    terms = {e.link: [t.term for t in e.get("tags", [])] for e in feed.entries}
    assert terms[world.urls["op1"]] == ["Opinion"] and terms[world.urls["an1"]] == ["Analysis"]


def test_a_new_member_is_a_new_entry_and_a_merged_story_feed_moves(database: str) -> None:
    w = World(open_store(database))
    add(w, "a", "Globe", "Fire at the docks", 0)
    add(w, "b", "Herald", "Dock fire spreads", 20)
    story = story_of(w, "fire", "Fire at the docks", ["a", "b"])
    with TestClient(create_app(w.store, base_url=BASE)) as c:
        path = f"/feeds/story/{story}.atom"
        assert [e.link for e in feedparser.parse(c.get(path).content).entries] == [w.urls["b"], w.urls["a"]]
        add(w, "c", "Courier", "Dock fire put out", 60)
        w.store.set_story(w.ids["c"], story)
        assert [e.link for e in feedparser.parse(c.get(path).content).entries] == [w.urls[k] for k in "cba"]
        add(w, "d", "Tribune", "Docks reopen", 90)
        other = story_of(w, "reopen", "Docks reopen", ["d"])
        w.store.move_story(story, other)
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 301 and r.headers["location"] == f"/feeds/story/{other}.atom"
        assert c.get("/feeds/story/999999.atom").status_code == 404


# -- lists that page on -------------------------------------------------------------------------------------


def test_a_long_story_pages_on_with_a_true_count(database: str) -> None:
    w = World(open_store(database))
    keys = []
    for n in range(35):
        add(w, f"k{n}", f"Outlet {n:02d}", f"Report {n:02d} on the summit", n)
        keys.append(f"k{n}")
    add(w, "view", "Outlet 00", "Opinion: the summit was a waste of time", 100)
    story = story_of(w, "summit", "Summit", [*keys, "view"])
    with TestClient(create_app(w.store, base_url=BASE)) as c:
        first = doc(c.get(f"/story/{story}").text)
        assert len(first.xpath("//ol[@class='timeline']/li")) == 30
        assert first.xpath("//a[@rel='next']/@href") == [f"/story/{story}?page=2"]
        assert "35 reports · page 1 of 2" in texts(first, "//p[@class='list-count']")
        second = doc(c.get(f"/story/{story}?page=2").text)
        later = texts(second, "//ol[@class='timeline']//a[@class='headline']")
        assert later == [f"Report {n:02d} on the summit" for n in range(30, 35)]
        assert second.xpath("//a[@rel='prev']/@href") == [f"/story/{story}?page=1"]
        assert second.xpath("//a[@rel='next']") == []
        api = c.get(f"/api/stories/{story}?page=2").json()
        assert [a["id"] for a in api["timeline"]] == ids(w, *keys[30:])
        assert api["pagination"] | {"per_page": 0} == {"page": 2, "per_page": 0, "prev_page": 1, "next_page": None,
                                                       "total": 35, "pages": 2}
        assert [a["id"] for a in api["opinion"]] == [w.ids["view"]]
        assert c.get(f"/story/{story}?page=3").status_code == 404
        assert c.get(f"/api/stories/{story}?page=3").status_code == 404
        assert c.get(f"/story/{story}?page=0").status_code == 400


def test_the_sources_page_on_with_a_true_count(database: str) -> None:
    store = open_store(database)
    for n in range(60):
        store.add_source(f"https://feeds.example/{n}.xml", f"Feed {n:02d}")
    numbered_articles(store, 4, outlets=2)  # "Outlet 0" and "Outlet 1", imported
    with TestClient(create_app(store, base_url=BASE)) as c:
        first = doc(c.get("/sources").text)
        names = texts(first, "//table[@class='sources']/tbody/tr/td[1]")
        assert len(names) == pages.SOURCES_PAGE_SIZE == 50
        assert "62 sources · page 1 of 2" in texts(first, "//p[@class='list-count']")
        assert first.xpath("//a[@rel='next']/@href") == ["/sources?page=2"]
        second = doc(c.get("/sources?page=2").text)
        rest = texts(second, "//table[@class='sources']/tbody/tr/td[1]")
        assert len(rest) == 12 and not set(names) & set(rest)
        assert set(names) | set(rest) == {f"Feed {n:02d}" for n in range(60)} | {"Outlet 0", "Outlet 1"}
        api = c.get("/api/sources?page=2").json()
        assert [s["name"] for s in api["sources"]] == rest
        assert api["pagination"] | {"per_page": 0} == {"page": 2, "per_page": 0, "prev_page": 1, "next_page": None,
                                                       "total": 62, "pages": 2}
        counts = {s["name"]: s["article_count"] for s in api["sources"]}
        assert counts["Outlet 0"] == counts["Outlet 1"] == 2 and counts["Feed 59"] == 0
        assert c.get("/sources?page=3").status_code == 404
        assert c.get("/api/sources?page=3").status_code == 404


def test_api_stories_pages_on_and_keeps_its_limit(database: str) -> None:
    w = World(open_store(database))
    for n in range(5):
        add(w, f"a{n}", "Globe", f"Story {n}", n * 10)
        story_of(w, f"s{n}", f"Story {n}", [f"a{n}"])
        w.store.update_story(w.stories[f"s{n}"], title=f"Story {n}", lead_article_id=w.ids[f"a{n}"],
                             first=None, last=(T0 + timedelta(minutes=n)).isoformat(), size=1, outlets=1)
    with TestClient(create_app(w.store, base_url=BASE)) as c:
        everything = [s["id"] for s in c.get("/api/stories").json()["stories"]]
        assert everything == [w.stories[f"s{n}"] for n in (4, 3, 2, 1, 0)]
        seen = []
        for page in (1, 2, 3):
            data = c.get("/api/stories", params={"limit": 2, "page": page}).json()
            seen += [s["id"] for s in data["stories"]]
            assert data["pagination"]["total"] == 5 and data["pagination"]["pages"] == 3
            assert data["pagination"]["next_page"] == (page + 1 if page < 3 else None)
        assert seen == everything
        r = c.get("/api/stories", params={"limit": 2, "page": 4})
        assert r.status_code == 404 and "error" in r.json()
        assert c.get("/api/stories", params={"page": 0}).status_code == 400


def test_story_json_is_plain_json(client: TestClient, world: World) -> None:
    for story in world.stories.values():
        r = client.get(f"/api/stories/{story}")
        constants: list[str] = []
        json.loads(r.text, parse_constant=constants.append)
        assert r.status_code == 200 and constants == []
