"""Feed discovery from a site's HTML page."""

from __future__ import annotations

import pytest

from tidings.ingest.discover import common_feed_paths, find_feed_links

PAGE = """<!DOCTYPE html><html><head>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="All news" href="/rss/all.xml">
<link rel="alternate" type="text/html" hreflang="fr" href="/fr/">
<link rel="Alternate" type="Application/Atom+XML; charset=utf-8" href="https://cdn.example.com/atom">
<link rel="alternate" type="application/rss+xml" href="/rss/all.xml">
<link rel="alternate" type="application/feed+json" href="feed.json">
<link rel="alternate" type="application/json" href="//api.example.com/feed.json">
<link rel="alternate" type="application/rss+xml" href="javascript:void(0)">
<link rel="alternate" type="application/rss+xml">
</head><body><a href="/other/feed">not used: link elements were found</a></body></html>"""


def test_link_alternates_in_document_order_resolved_and_unique() -> None:
    assert find_feed_links(PAGE, "https://www.example.com/section/page.html") == [
        "https://www.example.com/rss/all.xml",
        "https://cdn.example.com/atom",
        "https://www.example.com/section/feed.json",
        "https://api.example.com/feed.json",
    ]


def test_bytes_and_base_element() -> None:
    html = (
        b'<html><head><base href="https://static.example.net/blog/"><link rel="alternate" '
        b'type="application/atom+xml" href="atom.xml"></head></html>'
    )
    assert find_feed_links(html, "https://example.net/") == ["https://static.example.net/blog/atom.xml"]


def test_anchors_only_when_no_link_element() -> None:
    html = """<html><body>
      <a href="/about">About</a>
      <a href="/feed">Feed</a>
      <a href="https://example.org/news/rss/">RSS</a>
      <a href="/podcast.rss">Podcast</a>
      <a href="/sitemap.xml">Sitemap</a>
      <a href="/data/atom.xml?x=1">Atom</a>
      <a href="/feed">Feed again</a>
      <a href="mailto:rss@example.org">mail</a>
    </body></html>"""
    assert find_feed_links(html, "https://example.org/") == [
        "https://example.org/feed",
        "https://example.org/news/rss/",
        "https://example.org/podcast.rss",
        "https://example.org/data/atom.xml?x=1",
    ]


@pytest.mark.parametrize(
    "html", ["", "   ", b"", b"\x00\xff" * 30, "<html><body><p>No feeds here</p></body></html>", "<<<>>>"]
)
def test_nothing_found(html: str | bytes) -> None:
    assert find_feed_links(html, "https://example.org/") == []


def test_xml_declaration_in_a_str_page() -> None:
    html = (
        '<?xml version="1.0" encoding="utf-8"?><html><head><link rel="alternate" '
        'type="application/rss+xml" href="/rss"></head></html>'
    )
    assert find_feed_links(html, "https://example.org/x") == ["https://example.org/rss"]


def test_common_feed_paths() -> None:
    assert common_feed_paths("HTTPS://Blog.Example.com/posts/2024?page=2") == [
        "https://blog.example.com/feed",
        "https://blog.example.com/rss",
        "https://blog.example.com/rss.xml",
        "https://blog.example.com/atom.xml",
        "https://blog.example.com/feed.xml",
        "https://blog.example.com/index.xml",
    ]


@pytest.mark.parametrize("url", ["", "not a url", "ftp://example.com/", "/relative"])
def test_common_feed_paths_needs_a_web_url(url: str) -> None:
    assert common_feed_paths(url) == []
