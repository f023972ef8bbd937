"""Copies of one text (one copy group) are one item in every list, counted once, credited only by their own
words; a merged story's address redirects to the story it joined. Built through Store methods only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from fastapi.testclient import TestClient

from newsserver import check_api, doc, text_of, texts
from tidings.clock import iso
from tidings.models import ArticleIn, Neighbour
from tidings.storage import open_store
from tidings.storage.schema_sqlite import MIGRATIONS
from tidings.storage.sqlite import SQLiteStore
from tidings.storage.store import Store
from tidings.web import pages
from tidings.web.app import create_app

BASE = "https://news.example.org"
T0 = datetime(2024, 9, 3, 9, 0, tzinfo=UTC)
WIRE = "MIAMI (AP) — A hurricane made landfall on Tuesday, flooding streets along the coast.\nShelters opened."
UNCREDITED = "A hurricane made landfall on Tuesday, flooding streets along the coast.\nShelters opened."
FILLER = "Residents described the night in detail and officials counted the damage street by street. " * 30


@dataclass
class World:
    store: Store
    ids: dict[str, int] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    stories: dict[str, int] = field(default_factory=dict)


def add(w: World, key: str, source: str, title: str, minutes: int, *, text: str = "", section: str = "Weather",
        summary: str = "") -> int:
    sid = w.store.import_source(source)
    url = f"https://{source.lower().replace(' ', '-')}.example/{key}"
    aid = w.store.insert_article(ArticleIn(url=url, title=title, source_id=sid, text=text, summary=summary,
                                           published=T0 + timedelta(minutes=minutes)), content_hash=key)
    w.store.set_sections(aid, [section])
    w.ids[key], w.urls[key] = aid, url
    return aid


def build(database: str) -> World:
    w = World(open_store(database))
    s = w.store
    # One Associated Press text run by four outlets (only Yahoo's and ABC's copies keep the credit), and two
    # outlets' own reports of the same storm.
    add(w, "w1", "Yahoo News", "Hurricane makes landfall", 0, text=WIRE)
    add(w, "w2", "HuffPost", "Hurricane makes landfall in Florida", 5, text=UNCREDITED)
    add(w, "w3", "ABC News", "Hurricane hits Florida coast", 10, text=WIRE)
    add(w, "w4", "Boston Globe", "Hurricane hits the coast", 20, text=UNCREDITED, section="Nation")
    add(w, "i1", "Fox News", "Storm floods Miami streets", 30, text="Our reporter in Miami saw the water rise.")
    add(w, "i2", "New York Times", "A long night in Miami", 40, text="Residents spent the night in shelters.")
    add(w, "rel", "Reuters", "Insurers brace for storm losses", 50, text="Insurers expect large claims.")
    # A second copy group whose earliest copy names no agency, while a later one credits Reuters in its last line.
    add(w, "h1", "HuffPost", "Oil prices climb", 60, text="Oil prices climbed on Tuesday.\n" + FILLER)
    add(w, "h2", "Yahoo News", "Oil prices climb as storm nears", 65,
        text="Oil prices climbed on Tuesday.\n" + FILLER + "\nReporting by Jane Roe (Reuters)")
    s.join_copy_group([w.ids[k] for k in ("w1", "w2", "w3", "w4")], 100)
    s.join_copy_group([w.ids["h1"], w.ids["h2"]], 200)
    links = [("i1", "w1", 0.55, "same_story"), ("i1", "w2", 0.85, "same_story"), ("i1", "w3", 0.80, "same_story"),
             ("i1", "w4", 0.60, "same_story"), ("i1", "i2", 0.75, "same_story"), ("i1", "rel", 0.90, "related"),
             ("i1", "h1", 0.40, "related"), ("i1", "h2", 0.42, "related"),
             ("w2", "w1", 0.99, "duplicate"), ("w2", "w3", 0.98, "duplicate"), ("w2", "w4", 0.97, "duplicate"),
             ("w2", "i1", 0.85, "same_story")]
    s.save_neighbours(Neighbour(w.ids[a], w.ids[b], score, rel) for a, b, score, rel in links)
    storm = s.create_story("Hurricane makes landfall")
    for key in ("w1", "w2", "w3", "w4", "i1", "i2"):
        s.set_story(w.ids[key], storm)
    s.update_story(storm, title="Hurricane makes landfall", lead_article_id=w.ids["w1"],
                   first=iso(T0), last=iso(T0 + timedelta(minutes=40)), size=6, outlets=6)
    w.stories["storm"] = storm
    return w


@pytest.fixture(scope="module")
def world(module_database: str) -> World:
    return build(module_database)


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    """The site over copies of one text; every API answer it gets is checked against its documented model."""
    with TestClient(create_app(world.store, base_url=BASE)) as c:
        c.api_check = check_api(c, c.app)  # type: ignore[attr-defined]
        yield c


COPIES = [("HuffPost", "w2"), ("ABC News", "w3"), ("Boston Globe", "w4")]


# -- lists ------------------------------------------------------------------------------------------------


def test_home_latest_lists_a_copy_group_once_at_its_earliest_publication(client: TestClient, world: World) -> None:
    data = client.get("/api/home").json()
    ids = [a["id"] for a in data["latest"]]
    assert world.ids["w1"] in ids and not {world.ids[k] for k in ("w2", "w3", "w4", "h2")} & set(ids)
    assert len(ids) == len(set(ids)) == 5  # 9 articles: two copy groups of 4 and 2, three reports of their own
    w1 = next(a for a in data["latest"] if a["id"] == world.ids["w1"])
    assert w1["also_carried_by"] == [{"url": world.urls[k], "source": name, "link": f"/article/{world.ids[k]}"}
                                     for name, k in COPIES]
    tree = doc(client.get("/").text)
    item = next(li for li in tree.xpath("//ol[@class='article-list']/li")
                if li.xpath(".//h3/a/@href") == [f"/article/{world.ids['w1']}"])
    assert text_of(item.xpath(".//p[@class='also']")[0]) == \
        "Also carried by 3 outlets: HuffPost, ABC News, Boston Globe"
    assert "Hurricane makes landfall in Florida" not in texts(tree, "//ol[@class='article-list']//h3")


def test_a_section_lists_the_group_once_led_by_its_earliest_member_there(client: TestClient, world: World) -> None:
    weather = client.get("/api/sections/Weather").json()["articles"]
    ids = [a["id"] for a in weather]
    assert ids.count(world.ids["w1"]) == 1 and world.ids["w2"] not in ids and world.ids["w3"] not in ids
    # The Globe's copy sits in another section, where it is the group's earliest member: it is listed there.
    nation = client.get("/api/sections/Nation").json()["articles"]
    assert [a["id"] for a in nation] == [world.ids["w4"]]
    assert [c["source"] for c in nation[0]["also_carried_by"]] == ["Yahoo News", "HuffPost", "ABC News"]


def test_section_pages_count_folded_items_and_lose_or_repeat_none(database: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    w = World(open_store(database))
    expected: list[int] = []
    for n in range(12):  # newest last; every third article starts a copy group of three outlets
        lead = add(w, f"a{n}", "Outlet A", f"Report {n}", n * 10, section="Busy")
        if n % 3 == 0:
            copies = [add(w, f"b{n}", "Outlet B", f"Report {n} (B)", n * 10 + 1, section="Busy"),
                      add(w, f"c{n}", "Outlet C", f"Report {n} (C)", n * 10 + 2, section="Busy")]
            w.store.join_copy_group([lead, *copies], 1000 + n)
        expected.append(lead)
    monkeypatch.setattr(pages, "SECTION_PAGE_SIZE", 4)
    seen: list[int] = []
    page: int | None = 1
    while page is not None:
        data = pages.section_page(w.store, "Busy", page)
        assert len(data["articles"]) == 4  # 12 folded items: three full pages of four
        seen += [a["id"] for a in data["articles"]]
        page = data["pagination"]["next_page"]
    assert seen == expected[::-1]
    with pytest.raises(pages.NotFound):
        pages.section_page(w.store, "Busy", 4)


def test_search_folds_copies_into_one_result(client: TestClient, world: World) -> None:
    results = client.get("/api/search", params={"q": "hurricane landfall"}).json()["results"]
    group = [r for r in results if r["id"] in {world.ids[k] for k in ("w1", "w2", "w3", "w4")}]
    assert [r["id"] for r in group] == [world.ids["w1"]]
    assert [c["source"] for c in group[0]["also_carried_by"]] == [name for name, _ in COPIES]
    tree = doc(client.get("/search", params={"q": "hurricane landfall"}).text)
    assert "Also carried by 3 outlets: HuffPost, ABC News, Boston Globe" in texts(tree, "//p[@class='also']")


def test_atom_feeds_carry_one_entry_per_group(client: TestClient, world: World) -> None:
    for path in ("/feeds/section/Weather.atom", pages.LATEST_FEED_PATH):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml"), path
        feed = feedparser.parse(r.content)
        assert not feed.bozo, feed.get("bozo_exception")
        links = [e.link for e in feed.entries]
        assert links.count(world.urls["w1"]) == 1 and world.urls["w2"] not in links and world.urls["h2"] not in links
        entry = next(e for e in feed.entries if e.link == world.urls["w1"])
        assert entry.summary.endswith("Also carried by 3 outlets: HuffPost, ABC News, Boston Globe."), path
    latest = feedparser.parse(client.get(pages.LATEST_FEED_PATH).content)
    assert latest.feed.links[0].href == f"{BASE}{pages.LATEST_FEED_PATH}" and len(latest.entries) == 5


# -- stories ----------------------------------------------------------------------------------------------


def test_story_card_counts_outlets_and_independent_reports(client: TestClient, world: World) -> None:
    card = client.get("/api/home").json()["stories"][0]
    assert (card["outlets"], card["size"], card["reports"]) == (6, 6, 3)
    assert card["carried"] == [{"reports": 1, "outlets": 4}]
    assert [h["id"] for h in card["headlines"]] == [world.ids[k] for k in ("w1", "i1", "i2")]
    assert [c["source"] for c in card["headlines"][0]["also_carried_by"]] == [name for name, _ in COPIES]
    tree = doc(client.get("/").text)
    meta = text_of(tree.xpath("//article[@class='story-card']/p[@class='meta']")[0])
    assert meta.startswith("6 outlets · 3 reports (1 carried by 4 outlets)")


def test_story_page_folds_copies_in_its_timeline(client: TestClient, world: World) -> None:
    data = client.get(f"/api/stories/{world.stories['storm']}").json()
    assert [a["id"] for a in data["timeline"]] == [world.ids[k] for k in ("w1", "i1", "i2")]
    assert [c["source"] for c in data["timeline"][0]["also_carried_by"]] == [name for name, _ in COPIES]
    assert data["timeline"][1]["also_carried_by"] == []
    assert len(data["sources"]) == 6  # every outlet that ran it is still named
    tree = doc(client.get(f"/story/{world.stories['storm']}").text)
    assert len(tree.xpath("//ol[@class='timeline']/li")) == 3
    assert texts(tree, "//p[@class='meta']")[0].startswith("6 outlets · 3 reports (1 carried by 4 outlets)")


def test_api_stories_keeps_every_article_and_names_what_a_copy_copies(client: TestClient, world: World) -> None:
    story = next(s for s in client.get("/api/stories").json()["stories"] if s["id"] == world.stories["storm"])
    assert [a["url"] for a in story["articles"]] == [world.urls[k] for k in ("w1", "w2", "w3", "w4", "i1", "i2")]
    assert [a["copy_of"] for a in story["articles"]] == [None, *[world.urls["w1"]] * 3, None, None]


# -- Similar News -----------------------------------------------------------------------------------------


def test_api_similar_folds_a_group_and_ranks_it_by_its_best_member(client: TestClient, world: World) -> None:
    data = client.get("/api/similar", params={"url": world.urls["i1"]}).json()
    items = data["similar"]
    # The group's earliest copy scores lowest of all same-event links, yet the group is led by its best (0.85).
    assert [i["url"] for i in items] == [world.urls[k] for k in ("w1", "i2", "rel", "h1")]
    assert items[0]["score"] == 0.85 and items[0]["relation"] == "same_story"
    assert items[0]["also_carried_by"] == [{"url": world.urls[k], "source": name} for name, k in COPIES]
    assert items[3]["also_carried_by"] == [{"url": world.urls["h2"], "source": "Yahoo News"}]
    urls = [i["url"] for i in items]
    assert not {world.urls[k] for k in ("w2", "w3", "w4", "h2")} & set(urls)  # copies never come back as items
    assert all({"url", "title", "source", "snippet", "published", "score", "relation"} <= set(i) for i in items)


def test_similar_news_of_a_copy_never_lists_its_own_outlet(client: TestClient, world: World) -> None:
    data = client.get("/api/similar", params={"url": world.urls["w2"]}).json()
    assert [i["url"] for i in data["similar"]] == [world.urls["w1"], world.urls["i1"]]
    carried = data["similar"][0]["also_carried_by"]
    assert [c["source"] for c in carried] == ["ABC News", "Boston Globe"]  # not HuffPost, whose page this is


# -- agency credit ----------------------------------------------------------------------------------------


def test_the_credit_is_only_ever_an_articles_own(client: TestClient, world: World) -> None:
    huff = client.get(f"/api/articles/{world.ids['w2']}").json()["copies"]
    assert huff["outlets"] == ["ABC News", "Boston Globe", "Yahoo News"] and huff["credited"] is None
    page = text_of(doc(client.get(f"/article/{world.ids['w2']}").text).xpath("//p[@class='carried']")[0])
    assert "Also carried" not in page and "credits" not in page and "First published by Yahoo News" in page
    yahoo = client.get(f"/api/articles/{world.ids['w1']}").json()["copies"]
    assert yahoo["credited"] == "Associated Press" and yahoo["this_is_first"] is True
    # Reuters is named only in the last line of a long text: read from the whole text, not its opening.
    assert client.get(f"/api/articles/{world.ids['h2']}").json()["copies"]["credited"] == "Reuters"
    assert client.get(f"/api/articles/{world.ids['h1']}").json()["copies"]["credited"] is None


def test_a_similar_item_is_credited_by_its_own_text_only(client: TestClient, world: World) -> None:
    similar = {i["id"]: i for i in client.get(f"/api/articles/{world.ids['i1']}").json()["similar"]}
    assert similar[world.ids["w1"]]["credited"] == "Associated Press"
    assert similar[world.ids["h1"]]["credited"] is None  # its copy credits Reuters; this text does not
    assert [c["source"] for c in similar[world.ids["h1"]]["also_carried_by"]] == ["Yahoo News"]


def test_pages_with_copy_groups_make_a_bounded_number_of_queries(world: World) -> None:
    statements: list[str] = []
    world.store.trace(statements.append)
    try:
        for call in (lambda: pages.home_page(world.store), lambda: pages.article_page(world.store, world.ids["i1"]),
                     lambda: pages.article_page(world.store, world.ids["w2"]),
                     lambda: pages.story_page(world.store, world.stories["storm"]),
                     lambda: pages.section_page(world.store, "Weather"),
                     lambda: pages.search_page(world.store, "hurricane")):
            statements.clear()
            call()
            assert 0 < len(statements) <= 6, statements
    finally:
        world.store.trace(None)


# -- merged stories -------------------------------------------------------------------------------------------


def story_with(store: Store, url: str, title: str) -> int:
    sid = store.import_source("Outlet")
    aid = store.insert_article(ArticleIn(url=url, title=title, source_id=sid, published=T0), content_hash=url)
    story = store.create_story(title)
    store.set_story(aid, story)
    store.update_story(story, title=title, lead_article_id=aid, first=None, last=None, size=1, outlets=1)
    return story


def test_a_merged_story_redirects_to_the_one_it_joined(database: str) -> None:
    store = open_store(database)
    a, b, c = (story_with(store, f"https://outlet.example/{n}", f"Story {n}") for n in "abc")
    store.move_story(a, b)
    assert store.story(a) is None and store.story_redirect(a) == b and store.story_redirect(b) is None
    with TestClient(create_app(store, base_url=BASE)) as client:
        r = client.get(f"/story/{a}", follow_redirects=False)
        assert r.status_code == 301 and r.headers["location"] == f"/story/{b}"
        api = client.get(f"/api/stories/{a}", follow_redirects=False)
        assert api.status_code == 301 and api.headers["location"] == f"/api/stories/{b}"
        assert client.get(f"/story/{a}").status_code == 200
        store.move_story(b, c)  # a chain stays one hop
        assert store.story_redirect(a) == c and store.story_redirect(b) == c
        assert client.get(f"/story/{a}", follow_redirects=False).headers["location"] == f"/story/{c}"
        assert client.get(f"/api/stories/{a}").json()["story"]["id"] == c
        assert client.get("/story/999999", follow_redirects=False).status_code == 404


def test_a_live_story_wins_over_a_redirect_and_a_self_merge_changes_nothing(database: str) -> None:
    store = open_store(database)
    a, b = (story_with(store, f"https://outlet.example/{n}", f"Story {n}") for n in "ab")
    store.move_story(a, a)
    assert store.story(a) is not None and store.story_redirect(a) is None
    store.record_story_redirect(a, b)  # as if the id had been reused by a live story
    assert store.story_redirect(a) is None
    with TestClient(create_app(store, base_url=BASE)) as client:
        assert client.get(f"/story/{a}", follow_redirects=False).status_code == 200
        store.delete_story(b)  # a caller that empties a story itself then records where it went
        store.record_story_redirect(b, a)
        assert store.story_redirect(a) is None and store.story_redirect(b) == a
        r = client.get(f"/story/{b}", follow_redirects=False)
        assert r.status_code == 301 and r.headers["location"] == f"/story/{a}"


def test_the_redirect_table_is_a_new_migration(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    version = store.db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    assert version == len(MIGRATIONS) and any("CREATE TABLE story_redirects" in m for m in MIGRATIONS)
    cols = [r[1] for r in store.db.execute("PRAGMA table_info(story_redirects)")]
    assert cols == ["from_id", "to_id"]
