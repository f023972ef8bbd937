"""From news sites on the (loopback) web to an article page with its Similar News, through the real CLI.

Three outlets publish BASIL events (one event reported by Fox News, the New York Times and HuffPost) as feeds
that carry only a one-sentence summary, each outlet on its own loopback address. Tidings adds the feeds, polls
them, fetches and extracts the pages, and must list the other outlets' reports of the same event.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from email.utils import format_datetime
from typing import Any

import pytest

from conftest import shared_data
from newsserver import NewsServer
from tidings.cli import main
from tidings.clock import parse_iso
from tidings.storage import open_store

OUTLETS = {"fox": "Fox News", "nyt": "New York Times", "hpo": "HuffPost"}
HOSTS = {"fox": "127.0.0.2", "nyt": "127.0.0.3", "hpo": "127.0.0.4"}
EVENTS = 8

pytestmark = pytest.mark.slow


def basil_events(n: int) -> list[list[dict[str, Any]]]:
    folder = shared_data("basil")
    by_event: dict[str, list[dict[str, Any]]] = {}
    for f in sorted(folder.glob("articles/*/*.json")):
        d = json.loads(f.read_text(encoding="utf-8"))
        d["key"] = f.stem
        d["outlet"] = d["source"].lower()
        d["text"] = "\n".join(p[0] for p in d["body-paragraphs"] if p and p[0].strip())
        by_event.setdefault(d["triplet-uuid"], []).append(d)
    events = [v for _, v in sorted(by_event.items()) if len(v) == 3]
    return events[:: max(1, len(events) // n)][:n]


def feed_xml(base: str, outlet: str, articles: list[dict[str, Any]]) -> str:
    items = []
    for a in articles:
        first = re.split(r"(?<=[.!?])\s", a["text"], maxsplit=1)[0]
        when = format_datetime(parse_iso(a["date"] + "T12:00:00Z"))  # type: ignore[arg-type]
        link = f"{base}/{outlet}/{a['key']}.html"
        items.append(f"<item><title>{html.escape(a['title'])}</title><link>{link}</link><guid>{link}</guid>"
                     f"<pubDate>{when}</pubDate><description>{html.escape(first)}</description></item>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{OUTLETS[outlet]}</title>'
            f"<link>{base}/</link><description>news</description>{''.join(items)}</channel></rss>")


def page_html(outlet: str, a: dict[str, Any]) -> str:
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in a["text"].split("\n"))
    nav = "".join(f'<li><a href="/{outlet}/s{i}.html">Section {i}</a></li>' for i in range(10))
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(a['title'])}</title>"
            f"</head><body><nav><ul>{nav}</ul></nav><main><article><h1>{html.escape(a['title'])}</h1>"
            f"<p class=byline>By Staff</p>{paras}</article></main><aside><h2>Most read</h2><ul><li>Weather</li>"
            f"</ul></aside><footer>Copyright {OUTLETS[outlet]}. All rights reserved.</footer></body></html>")


@pytest.fixture(scope="module")
def news_web() -> Iterator[tuple[dict[str, NewsServer], dict[str, str]]]:
    events = basil_events(EVENTS)
    servers = {o: NewsServer(host).__enter__() for o, host in HOSTS.items()}
    gold: dict[str, str] = {}
    for outlet, server in servers.items():
        mine = [a for ev in events for a in ev if a["outlet"] == outlet]
        for a in mine:
            url = server.add(f"/{outlet}/{a['key']}.html", page_html(outlet, a))
            gold[url] = a["triplet-uuid"]
        server.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
        server.add(f"/{outlet}/feed.xml", feed_xml(server.base, outlet, mine), "application/rss+xml",
                   ETag=f'"{outlet}-v1"')
        server.add("/", f'<html><head><link rel="alternate" type="application/rss+xml" '
                        f'href="/{outlet}/feed.xml"></head><body>home</body></html>')
    yield servers, gold
    for s in servers.values():
        s.__exit__()


@pytest.fixture(scope="module")
def polled(news_web: Any, module_database: str) -> tuple[str, Any]:
    servers, _ = news_web
    db = module_database
    mp = pytest.MonkeyPatch()
    mp.setenv("TIDINGS_HOST_DELAY", "0.05")
    mp.setenv("TIDINGS_HOST_JITTER", "0")
    # Fox is added by its site URL (feed discovery), the others by feed URL.
    assert main(["--db", str(db), "sources", "add", servers["fox"].url("/"), "--section", "Politics"]) == 0
    for outlet in ("nyt", "hpo"):
        assert main(["--db", str(db), "sources", "add", servers[outlet].url(f"/{outlet}/feed.xml")]) == 0
    assert main(["--db", str(db), "poll", "--all"]) == 0
    yield db, news_web
    mp.undo()


def test_every_article_lists_other_outlets_reports_of_its_event(polled: Any) -> None:
    db, (_, gold) = polled
    store = open_store(db)
    assert store.article_count() == len(gold)
    hits = 0
    for url, event in gold.items():
        art = store.article_by_url(url)
        assert art is not None, url
        assert len(art["text"].split()) > 80, "the page's full text was extracted, not just the summary"
        similar = store.similar_to(art["id"], limit=3)
        assert all(s["outlet"] != art["outlet"] for s in similar), "Similar News holds only other outlets"
        hits += any(gold.get(s["url"]) == event for s in similar)
    assert hits >= 0.9 * len(gold), f"same-event report in top 3 for only {hits}/{len(gold)}"


def test_article_page_shows_similar_news_with_read_more_links(polled: Any) -> None:
    from fastapi.testclient import TestClient

    from tidings.web.app import create_app

    db, (_, gold) = polled
    store = open_store(db)
    url, event = next(iter(gold.items()))
    art = store.article_by_url(url)
    assert art is not None
    client = TestClient(create_app(store))
    page = client.get(f"/article/{art['id']}")
    assert page.status_code == 200
    assert "Similar News" in page.text
    links = re.findall(r'<a[^>]*class="read-more"[^>]*href="([^"]+)"|<a[^>]*href="([^"]+)"[^>]*class="read-more"',
                       page.text)
    hrefs = [html.unescape(a or b) for a, b in links]
    assert any(gold.get(h) == event and h != url for h in hrefs), "a Read more link goes to another outlet's report"
    api = client.get("/api/similar", params={"url": url, "limit": 5}).json()
    assert api["article"]["url"] == url
    assert any(gold.get(s["url"]) == event and s["relation"] in ("same_story", "duplicate") for s in api["similar"])


def test_second_poll_is_conditional_and_stores_nothing_twice(polled: Any) -> None:
    db, (servers, gold) = polled
    before = open_store(db).article_count()
    assert main(["--db", str(db), "poll", "--all"]) == 0
    assert open_store(db).article_count() == before == len(gold)
    sent = [h for m, p, h in servers["nyt"].requests if p == "/nyt/feed.xml"]
    assert sent[-1].get("If-None-Match") == '"nyt-v1"', "the stored ETag was sent back"
    src = open_store(db).source_by_feed_url(servers["nyt"].url("/nyt/feed.xml"))
    assert src is not None and src["last_status"] == 304 and src["error_count"] == 0


def test_an_edited_headline_is_updated_in_place(polled: Any) -> None:
    db, (servers, gold) = polled
    hpo = servers["hpo"]
    feed = hpo.routes["/hpo/feed.xml"]
    url = next(u for u in gold if "/hpo/" in u)
    store = open_store(db)
    before = store.article_by_url(url)
    assert before is not None
    edited = feed.body.decode().replace(html.escape(before["title"]), "Corrected: " + html.escape(before["title"]), 1)
    hpo.add("/hpo/feed.xml", edited, "application/rss+xml", ETag='"hpo-v2"')
    assert main(["--db", str(db), "poll", "--all"]) == 0
    after = open_store(db).article_by_url(url)
    assert after is not None and after["id"] == before["id"]
    assert after["title"].startswith("Corrected: ")
    assert open_store(db).article_count() == len(gold)


def test_stories_hold_every_article_once(polled: Any) -> None:
    from fastapi.testclient import TestClient

    from tidings.web.app import create_app

    db, (_, gold) = polled
    stories = TestClient(create_app(open_store(db))).get("/api/stories", params={"limit": 1000}).json()["stories"]
    urls = [a["url"] for s in stories for a in s["articles"]]
    assert sorted(urls) == sorted(gold)
    together = sum(1 for s in stories if len({gold[a["url"]] for a in s["articles"]}) == 1 and len(s["articles"]) > 1)
    assert together >= EVENTS * 0.75, "most events form one multi-outlet story"
