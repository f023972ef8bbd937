"""OPML import (forgiving) and export (OPML 2.0), and the default source list Tidings ships."""

from __future__ import annotations

from importlib import resources
from urllib.parse import urlsplit

import pytest
from lxml import etree

from tidings.ingest.opml import export_opml, parse_opml
from tidings.models import OpmlOutline

NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="News">
      <outline text="BBC World" type="rss" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"
               htmlUrl="https://www.bbc.co.uk/news/world"/>
      <outline title="Sub folder" text="Ignored text">
        <outline text="Deep feed" xmlUrl="https://deep.example/feed"/>
      </outline>
      <outline text="Back in News" xmlUrl="https://news.example/rss"/>
    </outline>
    <outline text="Loose feed" xmlUrl="https://loose.example/atom.xml"/>
    <outline text="Empty folder"/>
  </body>
</opml>"""


def test_nested_outlines_take_the_nearest_folder() -> None:
    assert parse_opml(NESTED) == [
        OpmlOutline(
            "https://feeds.bbci.co.uk/news/world/rss.xml",
            "BBC World",
            "https://www.bbc.co.uk/news/world",
            "News",
        ),
        OpmlOutline("https://deep.example/feed", "Deep feed", "", "Sub folder"),
        OpmlOutline("https://news.example/rss", "Back in News", "", "News"),
        OpmlOutline("https://loose.example/atom.xml", "Loose feed", "", ""),
    ]


def test_odd_casing_missing_attributes_and_duplicates() -> None:
    doc = b"""<opml><body><OUTLINE TEXT="Tech">
        <outline xmlurl=" https://a.example/feed " HTMLURL="https://a.example/"/>
        <outline xmlUrl="feed://b.example/rss" text="B"/>
        <outline xmlUrl="https://a.example/feed" text="Again"/>
        <outline xmlUrl="javascript:alert(1)" text="Nope"/>
        <outline xmlUrl="" text="Blank"/>
    </OUTLINE></body></opml>"""
    assert parse_opml(doc) == [
        OpmlOutline("https://a.example/feed", "", "https://a.example/", "Tech"),
        OpmlOutline("http://b.example/rss", "B", "", "Tech"),
    ]


def test_category_attribute_when_there_is_no_folder() -> None:
    doc = (
        b'<opml><body><outline text="X" xmlUrl="https://x.example/f" category="/Science/Space,/Other"/>'
        b"</body></opml>"
    )
    assert parse_opml(doc)[0].category == "Science"


def test_bad_xml_is_read_as_far_as_it_goes() -> None:
    doc = b"""<opml><body><outline text="World">
        <outline text="One" xmlUrl="https://one.example/rss"/>
        <outline text="Two & three" xmlUrl="https://two.example/rss"/>
        <outline text="Cut" xmlUrl="https://three.exa"""
    found = parse_opml(doc)
    assert [o.feed_url for o in found][:2] == ["https://one.example/rss", "https://two.example/rss"]
    assert all(o.category == "World" for o in found)


@pytest.mark.parametrize(
    "content", [b"", b"   ", b"not xml at all", b"\x00\xff\xfe" * 50, b"<html><p>hi</p></html>"]
)
def test_unreadable_input_gives_nothing(content: bytes) -> None:
    assert parse_opml(content) == []


def test_export_round_trips_and_escapes() -> None:
    items = [
        OpmlOutline(
            "https://a.example/rss?x=1&y=2", 'Ampersands & "quotes" <tags>', "https://a.example/", "World"
        ),
        OpmlOutline("https://b.example/feed", "", "", ""),
        OpmlOutline("https://c.example/feed", "C\x07 bell", "", "Science & Tech"),
        OpmlOutline("https://d.example/feed", "D", "", "World"),
    ]
    text = export_opml(items, title="Mine & yours")
    root = etree.fromstring(text.encode("utf-8"))  # well-formed XML
    assert root.get("version") == "2.0"
    assert root.findtext("head/title") == "Mine & yours"
    assert [o.get("text") for o in root.find("body")] == ["World", "https://b.example/feed", "Science & Tech"]
    back = parse_opml(text.encode("utf-8"))
    assert [(o.feed_url, o.category) for o in back] == [
        ("https://a.example/rss?x=1&y=2", "World"),
        ("https://d.example/feed", "World"),
        ("https://b.example/feed", ""),
        ("https://c.example/feed", "Science & Tech"),
    ]
    assert back[0].title == 'Ampersands & "quotes" <tags>' and back[0].site_url == "https://a.example/"
    assert back[3].title == "C bell"


def test_shipped_default_sources() -> None:
    content = resources.files("tidings").joinpath("data/default-sources.opml").read_bytes()
    outlines = parse_opml(content)
    assert len(outlines) >= 30
    categories = {o.category for o in outlines}
    assert len(categories) >= 6 and "" not in categories
    assert {"World", "Business", "Technology", "Science", "Health"} <= categories
    assert all(
        urlsplit(o.feed_url).scheme in ("http", "https") and urlsplit(o.feed_url).netloc for o in outlines
    )
    assert all(o.title for o in outlines)
    # no duplicates: parse_opml drops repeats, so compare with the raw count of feed outlines
    raw = etree.fromstring(content).iter("outline")
    assert len([el for el in raw if el.get("xmlUrl")]) == len({o.feed_url for o in outlines})
