"""Plain data that flows between the stages: no I/O here, and nothing imports upward from this module."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class FeedEntry:
    """One item of a feed, as the feed gave it (text fields are plain text unless named ``*_html``). ``title`` may
    be empty (RSS allows an item with only a description): the pipeline finds one."""

    guid: str
    url: str
    title: str
    summary: str = ""
    content_html: str = ""
    author: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    image_url: str = ""
    categories: list[str] = field(default_factory=list)


@dataclass
class ParsedFeed:
    """A feed document: its own metadata and its entries. ``error`` holds a parse problem that was survived."""

    title: str = ""
    site_url: str = ""
    language: str = ""
    entries: list[FeedEntry] = field(default_factory=list)
    error: str | None = None
    skipped: dict[str, int] = field(default_factory=dict)  # entries left out, by reason


@dataclass
class ExtractedPage:
    """What full-text extraction found on an article page; empty strings where it found nothing."""

    text: str = ""
    title: str = ""
    author: str = ""
    published: datetime | None = None
    image_url: str = ""
    language: str = ""
    canonical_url: str = ""
    site_name: str = ""
    description: str = ""
    error: str = ""  # why extraction stopped short (over its time or memory budget, its worker died); else ""


@dataclass
class OpmlOutline:
    """A feed named in an OPML file; ``category`` is the enclosing outline's title (it becomes a section)."""

    feed_url: str
    title: str = ""
    site_url: str = ""
    category: str = ""


@dataclass
class ArticleIn:
    """An article ready to be stored: from a feed entry (plus extracted page) or an imported line."""

    url: str
    title: str
    source_id: int
    guid: str = ""
    summary: str = ""
    text: str = ""
    author: str = ""
    published: datetime | None = None
    image_url: str = ""
    language: str = ""
    site_name: str = ""
    section: str = ""
    canonical_url: str = ""
    extraction_error: str = ""


@dataclass
class Neighbour:
    """A scored link from one article to another one of a different outlet."""

    article_id: int
    other_id: int
    score: float
    relation: str  # "duplicate" | "same_story" | "related"
    why: str = ""  # JSON: the evidence behind the link (similarity, shared terms, time apart)
