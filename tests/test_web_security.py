"""No script injection: classic XSS payloads in every place feed data reaches a page, and the security headers.

Each payload goes into titles, summaries, bodies, article links, image links, source site links, source names,
section names, authors and search queries; every page that shows them, the Atom feed and the admin pages are
parsed and checked for anything a browser would execute.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import lxml.etree
import lxml.html
import pytest
from fastapi.testclient import TestClient

from newsserver import NewsServer
from tidings.ingest.fetch import Fetcher
from tidings.ingest.pipeline import add_source, refresh_feed
from tidings.jobs import fetch_settings_from_env
from tidings.models import ArticleIn, Neighbour
from tidings.storage.sqlite import SQLiteStore
from tidings.storage.store import Store
from tidings.web import pages
from tidings.web.app import CSP, create_app
from tidings.web.render import TEMPLATES, http_url

SECRET = "security-test-secret-0123456789"
T0 = datetime(2024, 2, 1, 12, 0, tzinfo=UTC)

PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "\"><svg/onload=alert(1)>",
    "'><script>alert(document.cookie)</script>",
    "</title><script>alert(1)</script>",
    "</textarea><script>alert(1)</script>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<body onload=alert(1)>",
    "<a href=\"javascript:alert(1)\">click</a>",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "java\x00script:alert(1)",
    "\x01javascript:alert(1)",
    "&#106;avascript:alert(1)",
    "&#x6A;&#x61;vascript:alert(1)",
    "javascript&colon;alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=javascript:alert(1)>",
    "<base href=\"javascript:alert(1)//\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<style>@import 'javascript:alert(1)';</style>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "\" onmouseover=\"alert(1)",
    "' onmouseover='alert(1)",
    "` onmouseover=alert(1) x=`",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "＜script＞alert(1)＜/script＞",
    "<script\x00>alert(1)</script>",
    "\u2028<script>alert(1)</script>\u2029",
    "<!--<img src=x onerror=alert(1)>-->",
    "]]><script>alert(1)</script>",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "https://ok.example/\"><script>alert(1)</script>",
    "https://ok.example/' onerror='alert(1)",
    "{{7*7}}<script>alert(1)</script>",
]
PLACES = ("title", "summary", "body", "article url", "image url", "source site url", "source name", "section",
          "author", "search query")
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "poster", "data", "background", "cite", "srcset",
                  "xlink:href", "longdesc", "manifest", "ping"}
SAFE_SCHEMES = {"http", "https"}


def template_tags() -> set[str]:
    """Every element name the templates write: anything else in a page came from data."""
    tags = set()
    for path in TEMPLATES.glob("*.html"):
        tags |= {t.lower() for t in re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", path.read_text())}
    return tags


ALLOWED_TAGS = template_tags()


def scheme_of(url: str) -> str:
    """The scheme a browser would see: entities are already decoded by the parser; C0 controls and spaces
    around and tabs/newlines inside are dropped, as the URL standard does."""
    cleaned = re.sub(r"[\t\n\r]", "", url.strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f\x10"
                                                 "\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "))
    m = re.match(r"([a-zA-Z][a-zA-Z0-9+.\-]*):", cleaned)
    return m.group(1).lower() if m else ""


OWN_SCRIPT = '<script src="/static/when.js" defer></script>'  # the one script a page has: Tidings' own file


def assert_inert(page: str, where: str) -> None:
    """No executable markup: only the templates' own elements (one script, Tidings' own file, in the head), no
    event handlers or inline styles, and every link or source is relative to this site or http(s)."""
    assert "\x00" not in page, where
    head, _, body = page.partition("</head>")
    assert head.count(OWN_SCRIPT) <= 1 and OWN_SCRIPT not in body, where
    page = head.replace(OWN_SCRIPT, "") + "</head>" + body
    lowered = page.lower()
    assert "<script" not in lowered and "<svg" not in lowered and "<iframe" not in lowered, where
    tree = lxml.html.document_fromstring(page)
    assert not tree.xpath("//script | //iframe | //object | //embed | //base | //svg | //math | //style"), where
    assert not tree.xpath("//meta[@http-equiv]"), where
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue  # comments
        assert el.tag.lower() in ALLOWED_TAGS, (where, el.tag)
        for name, value in el.attrib.items():
            lname = name.lower()
            assert not lname.startswith("on"), (where, el.tag, name)
            assert lname not in {"style", "srcdoc", "formaction"}, (where, el.tag, name)
            if lname in URL_ATTRIBUTES:
                scheme = scheme_of(value)
                assert scheme in SAFE_SCHEMES or (not scheme and value.strip()[:1] in "/?#"), (where, name, value)


def assert_no_raw_payload(text: str, where: str) -> None:
    for p in PAYLOADS:
        if "<" in p:
            assert p not in text, (where, p)


@dataclass
class World:
    store: Store
    payload_articles: list[int] = field(default_factory=list)
    companions: list[int] = field(default_factory=list)
    sources: list[int] = field(default_factory=list)
    stories: list[int] = field(default_factory=list)


def build(path: Path) -> World:
    """One source, article and story per payload, the payload in every field; a clean companion article per
    payload lists the payload article under Similar News (so its Read more link is the payload)."""
    w = World(SQLiteStore(path))
    s = w.store
    companion_source, _ = s.add_source("https://companion.example/feed.xml", "Companion Desk", section="World")
    for n, p in enumerate(PAYLOADS):
        sid, _ = s.add_source(f"https://feeds.example/{n}.xml", p, site_url=p, section=p)
        s.update_source(sid, last_error=p, last_status=500, error_count=1, last_polled_at="2024-02-01T12:00:00Z")
        when = T0 - timedelta(minutes=n)
        aid = s.insert_article(ArticleIn(url=p, title=p, source_id=sid, guid=p, summary=p, text=f"{p}\nSecond {p}",
                                         author=p, image_url=p, section=p, published=when, site_name=p), f"h{n}")
        s.set_sections(aid, [p, "World"])
        cid = s.insert_article(ArticleIn(url=f"https://companion.example/{n}", title=f"Companion report {n}",
                                         source_id=companion_source, summary="A clean report.", published=when,
                                         section="World"), f"c{n}")
        s.set_sections(cid, ["World"])
        why = json.dumps({"similarity": 0.9, "shared": [p, "harbour"], "hours_apart": 1.0})  # evidence echoes text
        s.save_neighbours([Neighbour(cid, aid, 0.9, "same_story", why), Neighbour(aid, cid, 0.9, "same_story", why)])
        story = s.create_story(p)
        for member in (aid, cid):
            s.set_story(member, story)
        s.update_story(story, title=p, lead_article_id=aid, first=None, last=None, size=2, outlets=2)
        w.payload_articles.append(aid)
        w.companions.append(cid)
        w.sources.append(sid)
        w.stories.append(story)
    return w


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build(tmp_path_factory.mktemp("xss") / "t.db")


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.store, SECRET)) as c:
        yield c


def logged_in(client: TestClient) -> None:
    page = client.get("/login").text
    token = lxml.html.fromstring(page).xpath("//input[@name='csrf_token']/@value")[0]
    r = client.post("/login", data={"secret": SECRET, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303


def html_get(client: TestClient, path: str, statuses: tuple[int, ...] = (200,)) -> str:
    r = client.get(path)
    assert r.status_code in statuses, (path, r.status_code)
    assert r.headers["content-type"].startswith("text/html"), path
    assert r.headers["content-security-policy"] == CSP, path
    assert_inert(r.text, path)
    assert_no_raw_payload(r.text, path)
    return r.text


def atom_get(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml"), path
    assert_no_raw_payload(r.text, path)
    root = lxml.etree.fromstring(r.content)  # well-formed XML, whatever the data
    ns = "{http://www.w3.org/2005/Atom}"
    for el in root.iter():
        assert isinstance(el.tag, str) and el.tag.startswith(ns), (path, el.tag)
        assert el.get("type") in (None, "text", "text/html", "application/atom+xml"), (path, el.get("type"))
        if el.tag == ns + "link":
            assert scheme_of(el.get("href", "")) in SAFE_SCHEMES, (path, el.get("href"))


# -- the payloads in every place ---------------------------------------------------------------------------


def test_there_are_enough_payloads() -> None:
    assert len(PAYLOADS) >= 30 and len(set(PAYLOADS)) == len(PAYLOADS)


def test_payloads_in_every_field_stay_inert(client: TestClient, world: World) -> None:
    checked = 0
    for n, p in enumerate(PAYLOADS):
        article = html_get(client, f"/article/{world.payload_articles[n]}")
        tree = lxml.html.document_fromstring(article)
        title = tree.xpath("//h1[@class='article-title']")[0].text_content()
        assert title == " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", p).split()), "shown as text, not dropped"
        if not http_url(p):
            assert not tree.xpath("//figure//img") and not tree.xpath("//p[@class='original']/a"), p
        companion = html_get(client, f"/article/{world.companions[n]}")
        read_more = lxml.html.document_fromstring(companion).xpath("//a[@class='read-more']/@href")
        assert read_more == ([p.strip()] if http_url(p) else []), p
        html_get(client, f"/source/{world.sources[n]}")
        html_get(client, f"/story/{world.stories[n]}")
        # A route's path pattern stops at a newline: such a section name has no page (a 404, still inert).
        reachable = "\n" not in p
        html_get(client, pages.section_path(p), (200,) if reachable else (404,))
        html_get(client, f"/search?q={quote(p)}")
        html_get(client, "/section/" + quote(p + " nowhere", safe=""), (404,))  # the name is echoed in the error
        if reachable:
            atom_get(client, pages.section_feed_path(p))
        checked += 1
    assert checked == len(PAYLOADS)


def test_list_pages_search_and_errors_stay_inert(client: TestClient, world: World) -> None:
    for path in ("/", "/sections", "/sources", "/section/World", "/section/World?page=2", "/search?q=alert",
                 "/search?q=script", "/search?q=Second", "/article/999999", "/nowhere", "/login"):
        html_get(client, path, (200, 404))
    atom_get(client, "/feeds/section/World.atom")


def test_admin_pages_stay_inert(client: TestClient, world: World) -> None:
    logged_in(client)
    page = html_get(client, "/admin")
    tree = lxml.html.document_fromstring(page)
    names = tree.xpath("//form[contains(@class,'admin-edit')]//input[@name='name']/@value")
    assert set(PAYLOADS) - set(names) <= {p for p in PAYLOADS if p != " ".join(re.sub(r"[\x00-\x1f]", " ", p).split())}
    for n in range(len(PAYLOADS)):
        html_get(client, f"/admin/sources/{world.sources[n]}/remove")


def test_json_never_carries_a_dangerous_image(client: TestClient, world: World) -> None:
    for aid in world.payload_articles:
        r = client.get(f"/api/articles/{aid}")
        assert r.headers["content-type"] == "application/json" and r.headers["x-content-type-options"] == "nosniff"
        image = r.json()["article"]["image_url"]
        assert image == "" or scheme_of(image) in SAFE_SCHEMES


# -- through a real feed -----------------------------------------------------------------------------------


def hostile_feed(base: str, payloads: list[str]) -> str:
    items = []
    for n, p in enumerate(payloads):
        e = html.escape(p.replace("\x00", "").replace("\x01", ""), quote=True)  # XML cannot carry NUL at all
        items.append(
            f"<item><title>{e}</title><link>{e}</link><guid isPermaLink='false'>g{n}</guid>"
            f"<pubDate>{format_datetime(T0 - timedelta(hours=n))}</pubDate><author>{e}</author>"
            f"<description>{e} &lt;b onclick=alert(1)&gt;bold&lt;/b&gt;</description>"
            f"<content:encoded><![CDATA[<p>{p.replace(']]>', '')} body {n}</p><img src='javascript:alert(1)'>"
            f"<script>alert(2)</script>]]></content:encoded>"
            f"<enclosure url='{e}' type='image/jpeg' length='1'/></item>")
    return ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0' "
            "xmlns:content='http://purl.org/rss/1.0/modules/content/'><channel>"
            f"<title>{html.escape(PAYLOADS[4])}</title><link>javascript:alert(1)</link><description>x</description>"
            + "".join(items) + "</channel></rss>")


async def _ingest(store: Store, feed_url: str, section: str) -> None:
    async with Fetcher(fetch_settings_from_env()) as fetcher:
        row = await add_source(store, fetcher, feed_url, section=section, fulltext="never")
        await refresh_feed(store, fetcher, row)


def test_a_hostile_feed_through_the_pipeline_stays_inert(tmp_path: Path, news_server: NewsServer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    monkeypatch.setenv("TIDINGS_HOST_DELAY", "0")
    feed = news_server.add("/hostile.xml", hostile_feed(news_server.base, PAYLOADS), "application/rss+xml")
    store = SQLiteStore(tmp_path / "feed.db")
    asyncio.run(_ingest(store, feed, PAYLOADS[0]))
    rows = store.latest_articles(limit=500)
    assert len(rows) >= len(PAYLOADS) // 2, "the entries were stored (links made absolute where relative)"
    with TestClient(create_app(store, SECRET)) as c:
        for row in rows:
            html_get(c, f"/article/{row['id']}")
        source_id = store.sources()[0]["id"]
        for path in ("/", "/sources", f"/source/{source_id}", pages.section_path(PAYLOADS[0]), "/search?q=body"):
            html_get(c, path)
        atom_get(c, pages.section_feed_path(PAYLOADS[0]))
        logged_in(c)
        html_get(c, "/admin")


# -- links --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [p for p in PAYLOADS if not p.startswith("https://ok.example")] + [
    "", "   ", "/relative/path", "//evil.example/x", "ftp://files.example/x", "mailto:a@b.example",
    "https:", "http://", "https://ok.example/\x00", "https://ok.example/\x1b[31m", None, 42,
])
def test_http_url_refuses_everything_but_absolute_http(url: Any) -> None:
    assert http_url(url) == ""


@pytest.mark.parametrize("url", ["https://ok.example/a?b=1#c", "HTTP://OK.EXAMPLE/", "  https://ok.example/x  ",
                                 "https://ok.example/\"><script>alert(1)</script>"])
def test_http_url_keeps_web_links(url: str) -> None:
    assert http_url(url) == url.strip()


def test_templates_never_mark_data_safe() -> None:
    for path in TEMPLATES.glob("*.html"):
        text = path.read_text()
        assert not re.search(r"\|\s*safe\b|autoescape\s+false|Markup\(", text), path.name


# -- headers ------------------------------------------------------------------------------------------------


def assert_security_headers(r: Any, where: str, *, csp: bool = True) -> None:
    assert r.headers["x-content-type-options"] == "nosniff", where
    assert r.headers["x-frame-options"] == "DENY", where
    assert r.headers["referrer-policy"] == "same-origin", where
    if csp:
        assert r.headers["content-security-policy"] == CSP, where
        assert "script-src 'self'" in CSP and "unsafe" not in CSP


def test_every_response_carries_the_security_headers(client: TestClient, world: World,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    checks: list[tuple[str, Any]] = [
        ("home", client.get("/")),
        ("article", client.get(f"/article/{world.payload_articles[0]}")),
        ("404", client.get("/nowhere")),
        ("404 api", client.get("/api/articles/999999")),
        ("400", client.get("/section/World?page=0")),
        ("405", client.delete("/")),
        ("static", client.get("/static/style.css")),
        ("atom", client.get("/feeds/section/World.atom")),
        ("login", client.get("/login")),
        ("401 api", client.post("/api/sources", json={"url": "https://x.example/"})),
        ("403 api", client.post("/api/sources", json={"url": "https://x.example/"},
                                headers={"Authorization": "Bearer wrong-wrong-wrong-wrong"})),
        ("403 form", client.post("/login", data={"secret": "x"})),
        ("413", client.post("/api/sources", content=b"x" * (2 * 1024 * 1024))),
        ("admin redirect", client.get("/admin", follow_redirects=False)),
    ]
    for where, r in checks:
        assert_security_headers(r, where)
    assert {checks[i][1].status_code for i in (2, 4, 5, 9, 10, 11, 12)} == {404, 400, 405, 401, 403, 413}
    docs = client.get("/docs")
    assert_security_headers(docs, "docs", csp=False)  # Swagger UI needs its scripts; the rest still applies

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    with TestClient(create_app(world.store, SECRET), raise_server_exceptions=False) as c:
        monkeypatch.setattr(pages, "home_page", broken)
        r = c.get("/")
        assert r.status_code == 500 and "disk on fire" not in r.text
        assert_security_headers(r, "500")
        api = c.get("/api/home")
        assert api.status_code == 500 and api.json() == {"error": "Tidings could not show this page. Please try "
                                                                  "again later."}
        assert_security_headers(api, "500 api")
