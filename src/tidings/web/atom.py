"""Atom 1.0 feeds of the latest articles (everywhere, or one section), built with ElementTree so escaping is
never hand-made. An entry stands for its copy group: the other outlets that ran its text are named in it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from tidings.clock import iso, parse_iso, utcnow
from tidings.web.pages import (
    LATEST_FEED_PATH,
    article_path,
    lead_snippet,
    primary_section,
    section_feed_path,
    section_heading,
    section_path,
    story_feed_path,
    story_path,
)
from tidings.web.render import http_url

Row = dict[str, Any]

ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_SIZE = 50

# Characters XML 1.0 cannot carry at all; feed text sometimes holds them.
_XML_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: Any) -> str:
    return _XML_INVALID.sub("", str(text or ""))


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        el.text = _clean(text)
    return el


def _stamp(value: Any) -> str | None:
    """A stored time normalised to RFC 3339 as Atom wants it, or None."""
    return iso(parse_iso(value)) if isinstance(value, str) else None


def section_feed(section: str, rows: list[Row], *, base_url: str) -> bytes:
    """The feed document for ``section`` from article rows (newest first), with absolute links under base_url."""
    return _feed(f"{section_heading(section)} – Tidings", section_path(section), section_feed_path(section), rows,
                 base_url=base_url, category=section)


def latest_feed(rows: list[Row], *, base_url: str) -> bytes:
    """The feed of the front page's latest news: every section, newest first."""
    return _feed("Latest news – Tidings", "/", LATEST_FEED_PATH, rows, base_url=base_url, category=None)


def story_feed(story: Row, rows: list[Row], *, base_url: str) -> bytes:
    """The feed of one story: each text an entry (newest first), so a reader sees each new report arrive; an
    opinion or analysis piece is filed under that category."""
    return _feed(f"{story['title']} – Tidings", story_path(int(story["id"])), story_feed_path(int(story["id"])),
                 rows, base_url=base_url, category=None)


def _feed(title: str, page_path: str, self_path: str, rows: list[Row], *, base_url: str,
          category: str | None) -> bytes:
    base = base_url.rstrip("/")
    page_url = base + page_path
    feed = ET.Element("feed", xmlns=ATOM_NS)  # plain tags under one default namespace
    _sub(feed, "id", page_url)
    _sub(feed, "title", title)
    _sub(feed, "link", rel="self", type="application/atom+xml", href=base + self_path)
    _sub(feed, "link", rel="alternate", type="text/html", href=page_url)
    _sub(_sub(feed, "author"), "name", "Tidings")
    _sub(feed, "generator", "Tidings")
    stamps = [_stamp(r.get("published_at")) or _stamp(r.get("fetched_at")) for r in rows]
    _sub(feed, "updated", max((s for s in stamps if s), default=iso(utcnow())))
    for row, stamp in zip(rows, stamps, strict=True):
        _entry(feed, row, stamp or iso(utcnow()) or "", base, category or row.get("kind_label") or primary_section(row))
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def carried_line(carried: list[Row]) -> str:
    """'Also carried by 2 outlets: Courier, Herald.' for an entry that stands for a copy group; '' otherwise."""
    if not carried:
        return ""
    count = f"{len(carried)} outlet" + ("" if len(carried) == 1 else "s")
    return f"Also carried by {count}: {', '.join(str(c['source']) for c in carried)}."


def _entry(feed: ET.Element, row: Row, updated: str, base: str, section: str) -> None:
    entry = _sub(feed, "entry")
    page = base + article_path(int(row["id"]))
    _sub(entry, "id", page)
    _sub(entry, "title", row.get("title") or "(untitled)", type="text")
    original = http_url(row.get("url"))
    _sub(entry, "link", rel="alternate", type="text/html", href=original or page)
    if original:
        _sub(entry, "link", rel="related", type="text/html", href=page)
    _sub(entry, "updated", updated)
    published = _stamp(row.get("published_at"))
    if published:
        _sub(entry, "published", published)
    _sub(_sub(entry, "author"), "name", row.get("author") or row.get("source") or "Unknown")
    if section:
        _sub(entry, "category", term=section)
    summary = " ".join(p for p in (lead_snippet(row.get("summary") or "", row.get("text") or ""),
                                   carried_line(list(row.get("also_carried_by") or []))) if p)
    if summary:
        _sub(entry, "summary", summary, type="text")
    source = _sub(entry, "source")
    _sub(source, "title", row.get("source") or "")
