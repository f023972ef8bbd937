"""No link on any page leads nowhere: every same-site address a page names (links, stylesheets, pictures,
scripts, GET forms) reached from the home page, and from the admin pages when logged in, answers without an
error, and every in-page anchor names an element of its page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote, urldefrag, urlencode, urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from newsserver import Newsroom, NewsServer, doc, log_in, newsroom, png
from tidings.storage.store import Store
from tidings.web.app import create_app

SECRET = "correct-horse-battery-staple-0123456789"
ORIGIN = "http://testserver"
ADDRESSES = "//a/@href | //link/@href | //img/@src | //script/@src"


@dataclass
class Crawl:
    """Where each address was first found, how it answered, and anchors that name no element."""

    found_on: dict[str, str] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)
    bad_anchors: list[str] = field(default_factory=list)

    def broken(self) -> list[str]:
        return [f"{url} answered {code} (linked from {self.found_on[url]})"
                for url, code in sorted(self.status.items()) if code == 404 or code >= 500] + self.bad_anchors


def get_forms(tree: object) -> Iterator[str]:
    """The address a GET form goes to with the values it starts with."""
    for form in tree.xpath("//form[not(@method) or translate(@method, 'GET', 'get') = 'get']"):  # type: ignore[attr-defined]
        fields = [(i.get("name"), i.get("value") or "") for i in form.xpath(".//input[@name]")]
        yield (form.get("action") or "") + "?" + urlencode(fields)


def links_of(page_url: str, html: str, crawl: Crawl) -> Iterator[str]:
    """The same-site addresses a page names, without fragments; anchors into the page itself are checked here."""
    tree = doc(html)
    ids = set(tree.xpath("//@id"))
    for raw in [*tree.xpath(ADDRESSES), *get_forms(tree)]:
        raw = raw.strip()
        if raw.startswith("#") and raw[1:] not in ids:
            crawl.bad_anchors.append(f"{raw} names no element of {page_url}")
        url = urldefrag(urljoin(page_url, raw)).url
        if url.startswith(ORIGIN + "/"):
            yield url


def crawl(client: TestClient, starts: list[str], crawl: Crawl) -> Crawl:
    """Breadth-first over every same-site address reachable from ``starts``; pages are read for more links."""
    queue = [ORIGIN + s for s in starts]
    for url in queue:
        crawl.found_on.setdefault(url, "the start")
    while queue:
        url = queue.pop(0)
        if url in crawl.status:
            continue
        r = client.get(url)
        crawl.status[url] = r.status_code
        if r.headers.get("content-type", "").startswith("text/html"):  # error pages have links too
            for link in links_of(str(r.url), r.text, crawl):
                if link not in crawl.found_on:
                    crawl.found_on[link] = url
                    queue.append(link)
    return crawl


@pytest.fixture
def site(store: Store, news_server: NewsServer) -> Iterator[tuple[TestClient, Newsroom]]:
    news_server.add("/pictures/harbour.png", png(), "image/png")
    room = newsroom(store, news_server.url("/pictures/harbour.png"))
    with TestClient(create_app(store, SECRET, analyse=False), base_url=ORIGIN) as client:
        yield client, room


def test_no_link_from_the_home_page_is_broken(site: tuple[TestClient, Newsroom]) -> None:
    client, room = site
    done = crawl(client, ["/", f"/search?q={room.query}", "/no-such-page"], Crawl())
    assert done.status.pop(ORIGIN + "/no-such-page") == 404  # its page's links are crawled, and none is broken
    assert not done.broken(), "\n".join(done.broken())
    # The crawl went everywhere a reader can: every article, story and source page, paged lists, a search.
    reached = {unquote(urlsplit(u).path) for u, code in done.status.items() if code == 200}
    assert {f"/article/{a}" for a in room.articles.values()} <= reached
    assert {f"/story/{s}" for s in room.stories.values()} <= reached
    assert {f"/source/{s}" for s in room.sources.values()} <= reached
    assert {"/latest", "/sections", "/section/World", "/section/Économie", "/section/Weather", "/docs",
            "/static/style.css", f"/image/{room.articles['lead']}"} <= reached
    assert ORIGIN + "/latest?page=2" in done.status and ORIGIN + "/section/World?page=2" in done.status
    assert ORIGIN + "/feeds/section/Weather.atom" in done.status  # a section's feed before its first article


def test_no_link_of_the_admin_pages_is_broken(site: tuple[TestClient, Newsroom]) -> None:
    client, room = site
    log_in(client, SECRET)
    done = crawl(client, ["/admin"], Crawl())
    assert not done.broken(), "\n".join(done.broken())
    reached = {unquote(urlsplit(u).path) for u, code in done.status.items() if code == 200}
    assert {"/admin/import", "/logout"} <= reached
    assert {f"/admin/sources/{s}/remove" for s in room.sources.values()} <= reached
