"""Feed parsing: real feeds with their expected parse, plus small fixtures for each format and failure."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tidings.ingest.feeds import MAX_ENTRIES, looks_like_feed, parse_feed
from tidings.ingest.normalize import parse_datetime

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
RSS_PARSER = Path(__file__).resolve().parents[2] / "shared" / "data" / "rss-parser-feeds"
REAL_FEEDS = [
    "guardian.rss",
    "heise.atom",
    "uolNoticias.rss",
    "encoding.rss",
    "rss-1.rss",
    "customfields.rss",
]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def real_feed(name: str) -> tuple[bytes, list[dict[str, str]]]:
    if not RSS_PARSER.is_dir():
        pytest.skip(f"real data not available: {RSS_PARSER} is absent (it sits beside the project checkout)")
    expected_path = RSS_PARSER / "output" / (name.rsplit(".", 1)[0] + ".json")
    raw = expected_path.read_bytes()
    try:
        expected = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:  # encoding.json was saved in the feed's own ISO-8859-1
        expected = json.loads(raw.decode("latin-1"))
    return (RSS_PARSER / "input" / name).read_bytes(), expected["feed"]["items"]


def flat(text: str) -> str:
    return " ".join(text.split())


def same_text(ours: str, expected: str) -> bool:
    """Equal after whitespace folding; U+FFFD in the expected text (its parser's decoding loss) matches any
    single character other than U+FFFD."""
    pattern = "".join("[^\ufffd]" if ch == "\ufffd" else re.escape(ch) for ch in flat(expected))
    return re.fullmatch(pattern, flat(ours)) is not None


@pytest.mark.parametrize("name", REAL_FEEDS)
def test_real_feeds_match_expected_items(name: str) -> None:
    raw, expected = real_feed(name)
    parsed = parse_feed(raw, url="https://feeds.example.org/feed")
    assert parsed.error is None
    assert len(parsed.entries) == len(expected)
    for entry, item in zip(parsed.entries, expected, strict=True):
        assert same_text(entry.title, item["title"]), (entry.title, item["title"])
        assert entry.url == item["link"].strip()
        assert "\ufffd" not in entry.title + entry.summary
        if item.get("isoDate"):
            assert entry.published == parse_datetime(item["isoDate"])
        assert entry.published is None or entry.published.tzinfo is not None


@pytest.mark.parametrize("name", ["uolNoticias.rss", "encoding.rss"])
def test_iso_8859_1_feeds_decode_accents(name: str) -> None:
    raw, _ = real_feed(name)
    text = " ".join(e.title + " " + e.summary for e in parse_feed(raw).entries)
    assert {"ç", "ã"} <= set(text)
    assert "Ã" not in text  # UTF-8 bytes read as Latin-1 would show up as "Ã§", "Ã£"


def test_iso_8859_1_feed_without_declaration_survives_a_wrong_header() -> None:
    raw, expected = real_feed("uolNoticias.rss")
    parsed = parse_feed(raw, content_type="text/xml; charset=utf-8")
    assert same_text(parsed.entries[0].title, expected[0]["title"])
    assert "ç" in " ".join(e.title for e in parsed.entries)


def test_rss_1_0_feed() -> None:
    raw, _ = real_feed("rss-1.rss")
    parsed = parse_feed(raw)
    assert parsed.title == "Science twis"
    assert all(e.author for e in parsed.entries)  # dc:creator
    assert all(e.published and e.published.year == 2017 for e in parsed.entries)


def test_real_feed_media_images_and_categories() -> None:
    raw, _ = real_feed("guardian.rss")
    first = parse_feed(raw).entries[0]
    assert first.image_url.startswith("https://i.guim.co.uk/") and "w=460" in first.image_url  # the wider one
    assert "Donald Trump" in first.categories
    assert first.author == "David Smith in Washington"


def test_json_feed() -> None:
    parsed = parse_feed(fixture("jsonfeed.json"), url="https://gazette.example.net/feed.json")
    assert parsed.error is None
    assert (parsed.title, parsed.site_url, parsed.language) == (
        "Harbour Gazette",
        "https://gazette.example.net/",
        "en-GB",
    )
    assert [e.title for e in parsed.entries] == [
        "New ferry timetable starts on Monday",
        "Council approves sea wall repairs",
        "",  # JSON Feed allows an item without a title: kept, the pipeline finds it one
    ]
    assert parsed.skipped == {"no link": 1}
    first, second, note = parsed.entries
    assert note.summary.startswith("A note without a title")
    assert first.guid == "urn:gazette:1001"
    assert first.url == "https://gazette.example.net/news/2024/03/ferry-timetable"
    assert first.summary == "Crossings every 40 minutes during the summer."
    assert "<b>confirmed</b>" in first.content_html
    assert first.image_url == "https://gazette.example.net/img/ferry.jpg"
    assert first.published == datetime(2024, 3, 8, 8, 30, tzinfo=UTC)
    assert first.updated == datetime(2024, 3, 8, 10, 0, tzinfo=UTC)
    assert first.author == "Ana Lopes, Tom Reed"
    assert first.categories == ["Transport", "Harbour"]
    assert second.guid == "1002"
    assert second.url == "https://other.example.com/story/55"
    assert second.summary == "The vote was unanimous. Work begins in May."
    assert second.author == "Gazette Desk"  # the feed's author stands in
    assert second.image_url == "https://cdn.example.net/wall.png"


def test_json_feed_that_is_not_one() -> None:
    assert parse_feed(b'{"items": "nope"}').error
    assert parse_feed(b'{"version": "https://jsonfeed.org/version/1", "items": [').error
    parsed = parse_feed(b"[1, 2, 3]", content_type="application/json")
    assert parsed.entries == [] and parsed.error


def test_atom_with_relative_links() -> None:
    parsed = parse_feed(fixture("relative.atom"), url="https://carnet.example.org/feeds/atom.xml")
    assert parsed.error is None
    assert parsed.site_url == "https://carnet.example.org/"
    assert parsed.language == "fr"
    first, second = parsed.entries
    assert first.url == "https://carnet.example.org/2024/02/quais-renoves"
    assert second.url == "https://carnet.example.org/feeds/marche-de-nuit.html"
    assert first.title == "Les quais rénovés rouvrent"  # type="html" title made plain
    assert first.summary == "Après deux ans de travaux, les quais rouvrent ce samedi."
    assert first.image_url == "https://carnet.example.org/images/quais.jpg"
    assert first.published == datetime(2024, 2, 2, 8, 15, tzinfo=UTC)  # from <updated>: no <published>
    assert second.published == datetime(2024, 1, 30, 18, 0, tzinfo=UTC)
    assert second.updated == datetime(2024, 1, 31, 8, 0, tzinfo=UTC)
    assert first.author == "Claire Martin" and first.categories == ["Ville"]


def test_rss_091() -> None:
    parsed = parse_feed(fixture("netscape.rss"))
    assert parsed.error is None
    assert parsed.title == "Valley Weekly"
    assert [e.title for e in parsed.entries] == [
        "Bridge reopens after flood repairs",
        "Café on the square wins award",
    ]
    assert parsed.entries[0].summary == "Traffic & buses return to the old bridge."
    assert parsed.entries[0].guid == parsed.entries[0].url == "http://valley.example.com/stories/bridge.html"


def test_rss_2_details() -> None:
    parsed = parse_feed(fixture("rich.rss"), url="https://metro.example.com/rss")
    by_title = {e.title: e for e in parsed.entries}
    # neither title nor link, and title without link: both dropped
    assert list(by_title) == [
        "Tram line extension approved",
        "Library opening hours extended",
        "Marathon route announced",
        "Park clean-up this weekend",
    ]
    tram = by_title["Tram line extension approved"]
    assert tram.guid == "metro-7781"
    assert tram.summary == "The council voted 9–2 in favour.\nConstruction starts next year."
    assert "<script" not in tram.content_html and 'href="https://metro.example.com/tram"' in tram.content_html
    assert tram.image_url == "https://img.example.com/tram-large.jpg"  # widest picture, not the video
    assert tram.author == "Priya Shah" and tram.categories == ["Transport", "City Hall"]
    assert tram.published == datetime(2024, 3, 5, 19, 20, tzinfo=UTC)
    library = by_title["Library opening hours extended"]
    assert library.url == library.guid == "https://metro.example.com/news/library-hours"  # permalink guid
    assert library.image_url == "https://img.example.com/library-thumb.jpg"
    assert by_title["Marathon route announced"].image_url == "https://img.example.com/marathon.jpg"
    assert (
        by_title["Park clean-up this weekend"].image_url == "https://img.example.com/park.jpg"
    )  # not the pixel


MEDIA = 'xmlns:media="http://search.yahoo.com/mrss/"'


@pytest.mark.parametrize(("markup", "picture"), [
    ('<media:content url="https://img.example/a.jpg" medium="image"/>', "https://img.example/a.jpg"),
    ('<media:content url="https://img.example/b.png" type="image/png"/>', "https://img.example/b.png"),
    ('<media:content url="https://img.example/clip.mp4" type="video/mp4"/>'
     '<media:thumbnail url="https://img.example/still.jpg"/>', "https://img.example/still.jpg"),
    ('<media:group><media:content url="https://img.example/small.jpg" medium="image" width="120"/>'
     '<media:content url="https://img.example/big.jpg" medium="image" width="1200"/></media:group>',
     "https://img.example/big.jpg"),
    ('<media:thumbnail url="/thumbs/c.jpg"/>', "https://paper.example/thumbs/c.jpg"),  # relative: resolved
    ('<enclosure url="https://img.example/d.webp" type="image/webp" length="10"/>', "https://img.example/d.webp"),
    ('<enclosure url="https://img.example/e.mp3" type="audio/mpeg" length="10"/>'
     '<description>&lt;img src="https://img.example/f.gif"&gt; Text.</description>', "https://img.example/f.gif"),
    ('<media:content url="data:image/png;base64,AAAA" medium="image"/>'
     '<media:thumbnail url="https://img.example/g.jpg"/>', "https://img.example/g.jpg"),  # data: passed over
    ('<media:content url="javascript:alert(1)" medium="image"/>', ""),
    ('<enclosure url="https://img.example/h.mp3" type="audio/mpeg" length="1"/>', ""),
])
def test_each_kind_of_feed_picture(markup: str, picture: str) -> None:
    doc = (f'<rss version="2.0" {MEDIA}><channel><title>T</title><item><title>Headline</title>'
           f"<link>https://paper.example/news/1</link>{markup}</item></channel></rss>").encode()
    parsed = parse_feed(doc, url="https://paper.example/rss")
    assert parsed.error is None and parsed.entries[0].image_url == picture


def test_json_feed_picture_is_absolute_http() -> None:
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": [
        {"id": "1", "url": "https://paper.example/a", "title": "A", "image": "/pics/a.jpg"},
        {"id": "2", "url": "https://paper.example/b", "title": "B", "image": "data:image/png;base64,AA",
         "attachments": [{"url": "https://img.example/b.png", "mime_type": "image/png"}]}]}
    entries = parse_feed(json.dumps(doc).encode(), url="https://paper.example/feed.json").entries
    assert [e.image_url for e in entries] == ["https://paper.example/pics/a.jpg", "https://img.example/b.png"]


def test_guid_falls_back_to_the_link() -> None:
    doc = b"""<rss version="2.0"><channel><title>T</title>
      <item><title>Same title</title><link>https://x.example/1</link></item></channel></rss>"""
    entry = parse_feed(doc).entries[0]
    assert entry.guid == "https://x.example/1"
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
      <entry><title>Only a title</title><link href="https://x.example/2"/></entry></feed>"""
    assert parse_feed(atom).entries[0].guid == "https://x.example/2"


def test_truncated_feed_keeps_entries_before_the_break() -> None:
    parsed = parse_feed(fixture("truncated.rss"))
    assert parsed.error
    assert [e.title for e in parsed.entries] == ["Tram line extension approved"]


@pytest.mark.parametrize(
    "body", [b"", b"   \n", os.urandom(4096), b"\x00" * 100, b"<html><body>hi</body></html>"]
)
def test_garbage_never_raises(body: bytes) -> None:
    parsed = parse_feed(body, url="https://x.example/feed")
    assert parsed.entries == []
    assert parsed.error


def test_entries_are_capped() -> None:
    items = "".join(
        f"<item><title>Item {i}</title><link>https://x.example/{i}</link></item>" for i in range(600)
    )
    parsed = parse_feed(f'<rss version="2.0"><channel><title>Big</title>{items}</channel></rss>'.encode())
    assert len(parsed.entries) == MAX_ENTRIES == 500
    assert parsed.entries[0].title == "Item 0" and parsed.entries[-1].title == "Item 499"


@pytest.mark.parametrize(
    "name", ["jsonfeed.json", "relative.atom", "netscape.rss", "rich.rss", "truncated.rss"]
)
def test_looks_like_feed_on_feeds(name: str) -> None:
    assert looks_like_feed(fixture(name))


def test_looks_like_feed_after_bom_prolog_and_in_utf16() -> None:
    atom = (
        b'<?xml version="1.0"?>\n<!-- generated -->\n<?xml-stylesheet href="s.xsl"?>\n<feed xmlns="x"></feed>'
    )
    assert looks_like_feed(b"\xef\xbb\xbf" + atom)
    assert looks_like_feed(atom.decode().encode("utf-16"))
    assert looks_like_feed(b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">')
    late_version = b'{"title": "' + b"x" * 5000 + b'", "version": "https://jsonfeed.org/version/1.1"}'
    assert not looks_like_feed(late_version)
    assert looks_like_feed(late_version, "application/feed+json; charset=utf-8")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<!DOCTYPE html><html><head><title>x</title></head></html>", "text/html"),
        (b"<html><body>rss feed</body></html>", "application/rss+xml"),
        (b'{"name": "not a feed"}', "application/json"),
        (b"", "application/rss+xml"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
    ],
)
def test_looks_like_feed_rejects(body: bytes, content_type: str) -> None:
    assert not looks_like_feed(body, content_type)
