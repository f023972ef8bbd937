"""Feed documents (RSS 0.9x/1.0/2.0, Atom, JSON Feed) to ParsedFeed; never raises on what the web sends."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from lxml import etree
from lxml import html as lxml_html

from tidings.ingest.normalize import absolute_http_url, html_to_text, parse_datetime
from tidings.models import FeedEntry, ParsedFeed

MAX_ENTRIES = 500
_HTML_TYPES = ("text/html", "application/xhtml+xml", "html", "xhtml")
# feedparser reports these when it had to second-guess the declared encoding or media type: not a failure.
_HARMLESS_BOZO = ("CharacterEncodingOverride", "NonXMLContentType")
_FEED_ROOT = re.compile(rb"<(?:[\w.-]+:)?(?:rss|feed|rdf)[\s>/]", re.IGNORECASE)
_PROLOG = re.compile(rb"^(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*", re.DOTALL | re.IGNORECASE)
# C0 controls (but tab and line breaks) and non-characters: nothing a reader needs, and XML output chokes on them
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def storable(text: str) -> str:
    """Text SQLite can store and XML can carry: lone surrogates (from JSON escapes) and control codes go."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return _UNSTORABLE.sub("", text)


NO_LINK = "no link"
NO_TITLE_OR_TEXT = "no title and no text"


def _skip_reason(title: str, url: str, text: str) -> str | None:
    """Why an entry cannot become an article, or None. An entry with a text but no title is kept: RSS allows it,
    and the pipeline takes a title from the page or the text."""
    if not url:
        return NO_LINK
    if not title and not text.strip():
        return NO_TITLE_OR_TEXT
    return None


def _storable_entry(entry: FeedEntry) -> FeedEntry | str:
    """The entry with storable text, or why it was left out (a link made of nothing but control codes, say)."""
    changes: dict[str, Any] = {
        f.name: storable(v) for f in dataclasses.fields(entry) if isinstance(v := getattr(entry, f.name), str)}
    changes["title"] = _flat(changes["title"])
    changes["url"] = changes["url"].strip()
    changes["guid"] = changes["guid"].strip() or changes["url"]
    changes["categories"] = _unique(storable(c) for c in entry.categories)
    reason = _skip_reason(changes["title"], changes["url"], changes["summary"] + changes["content_html"])
    return reason or dataclasses.replace(entry, **changes)


def _storable_feed(feed: ParsedFeed) -> ParsedFeed:
    entries, skipped = _sorted_out(_storable_entry(e) for e in feed.entries)
    for reason, n in feed.skipped.items():
        skipped[reason] = skipped.get(reason, 0) + n
    return ParsedFeed(title=_flat(storable(feed.title)), site_url=storable(feed.site_url).strip(),
                      language=_flat(storable(feed.language)), entries=entries,
                      error=storable(feed.error) if feed.error else feed.error, skipped=skipped)


def _sorted_out(results: Iterable[FeedEntry | str], over_limit: int = 0) -> tuple[list[FeedEntry], dict[str, int]]:
    """Entries kept, and the others counted by the reason they were left out."""
    entries: list[FeedEntry] = []
    skipped: dict[str, int] = {}
    for r in results:
        if isinstance(r, str):
            skipped[r] = skipped.get(r, 0) + 1
        else:
            entries.append(r)
    if over_limit > 0:
        skipped[f"over the {MAX_ENTRIES}-item limit of one feed document"] = over_limit
    return entries, skipped


def _head_bytes(content: bytes, size: int = 4096) -> bytes:
    """The start of a document as ASCII-compatible bytes (UTF-16/32 re-encoded), BOM removed."""
    head = content[: size * 2]
    for bom, codec in ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                       (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if head.startswith(bom):
            return head.decode(codec, "ignore").encode("utf-8", "ignore")[:size]
    return head.removeprefix(b"\xef\xbb\xbf")[:size]


def _looks_like_json_feed(head: bytes) -> bool:
    return head.lstrip().startswith(b"{") and b"jsonfeed.org/version" in head.replace(b"\\/", b"/")


def looks_like_feed(content: bytes, content_type: str = "") -> bool:
    """Cheap sniff: does the body start with an RSS/Atom/RDF root element or a JSON Feed version key?"""
    if not content:
        return False
    head = _head_bytes(content)
    media = content_type.split(";")[0].strip().lower()
    if _looks_like_json_feed(head) or (media == "application/feed+json" and head.lstrip().startswith(b"{")):
        return True
    body = _PROLOG.sub(b"", head, count=1)
    if _FEED_ROOT.match(body):
        return True
    # A feed media type vouches for an XML body whose root we could not see in the head (long prolog).
    return media in ("application/rss+xml", "application/atom+xml", "application/rdf+xml") and (
        body.startswith(b"<") and not body[:5].lower().startswith(b"<html")
    )


def _flat(text: str | None) -> str:
    return " ".join((text or "").split())


def _resolve(link: str, base: str) -> str:
    link = (link or "").strip()
    if not link:
        return ""
    try:
        return urljoin(base, link) if base else link
    except ValueError:
        return link


def _struct_to_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = value[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _unique(values: Iterable[str]) -> list[str]:
    """Non-empty values, first spelling of each kept, compared without case."""
    kept: list[str] = []
    seen: set[str] = set()
    for value in map(_flat, values):
        if value and value.lower() not in seen:
            seen.add(value.lower())
            kept.append(value)
    return kept


def _is_pixel(img: Any) -> bool:
    return img.get("width", "").strip() in ("0", "1") or img.get("height", "").strip() in ("0", "1")


def _first_img_src(html: str) -> str:
    """The first real picture of an HTML fragment (tracking pixels skipped)."""
    if "<img" not in html.lower():
        return ""
    try:
        root = lxml_html.fragment_fromstring(html, create_parent="div")
    except (etree.LxmlError, ValueError):
        return ""
    for img in root.iter("img"):
        src = (img.get("src") or "").strip()
        if src and not src.startswith("data:") and not _is_pixel(img):
            return src
    return ""


def _media_width(item: Mapping[str, Any]) -> int:
    try:
        return int(item.get("width") or 0)
    except (TypeError, ValueError):
        return 0


def _is_picture(media: Mapping[str, Any]) -> bool:
    """A media:content that names a picture: medium="image" or an image/* type (either may be left out)."""
    medium = str(media.get("medium") or "image").lower()
    kind = str(media.get("type") or "").lower()
    return kind.startswith("image/") or (medium == "image" and not kind)


def _entry_images(entry: Mapping[str, Any], content_html: str, summary_html: str) -> Iterator[str]:
    """The pictures an entry names, best first: media:content (widest first), media:thumbnail (widest first),
    image enclosures, itunes:image, then the first <img> of its content or summary."""
    pictures = [m for m in entry.get("media_content") or [] if m.get("url") and _is_picture(m)]
    for media in sorted(pictures, key=_media_width, reverse=True):
        yield str(media["url"])
    thumbs = [t for t in entry.get("media_thumbnail") or [] if t.get("url")]
    for thumb in sorted(thumbs, key=_media_width, reverse=True):
        yield str(thumb["url"])
    for link in entry.get("links") or []:
        is_image = str(link.get("type") or "").lower().startswith("image/")
        if link.get("rel") == "enclosure" and is_image and link.get("href"):
            yield str(link["href"])
    image = entry.get("image")
    if isinstance(image, Mapping) and image.get("href"):
        yield str(image["href"])
    yield _first_img_src(content_html) or _first_img_src(summary_html)


def _entry_image(entry: Mapping[str, Any], content_html: str, summary_html: str, base: str) -> str:
    """The entry's best picture as an absolute http(s) URL (a data: or javascript: one is passed over), or ""."""
    return next((url for link in _entry_images(entry, content_html, summary_html)
                 if (url := absolute_http_url(link, base))), "")


def _text_of(detail: Mapping[str, Any] | None, value: str) -> str:
    """Plain text of a feedparser text construct: HTML ones are converted, plain ones only tidied."""
    kind = (detail or {}).get("type") or ""
    return _flat(html_to_text(value) if kind in _HTML_TYPES else value)


def _content_html(entry: Mapping[str, Any]) -> str:
    contents = entry.get("content") or []
    for item in contents:
        if (item.get("type") or "") in _HTML_TYPES and item.get("value"):
            return str(item["value"])
    return str(contents[0].get("value") or "") if contents else ""


def _feedparser_entry(entry: Mapping[str, Any], base: str) -> FeedEntry | str:
    title = _text_of(entry.get("title_detail"), entry.get("title") or "")
    url = _resolve(entry.get("link") or "", base)
    summary_html = entry.get("summary") or ""
    content_html = _content_html(entry)
    if reason := _skip_reason(title, url, html_to_text(summary_html) + html_to_text(content_html)):
        return reason
    published = _struct_to_datetime(entry.get("published_parsed")) or parse_datetime(entry.get("published"))
    updated = _struct_to_datetime(entry.get("updated_parsed")) or parse_datetime(entry.get("updated"))
    names = (a.get("name") for a in entry.get("authors") or [])
    author = entry.get("author") or ", ".join(n for n in names if n)
    image = _entry_image(entry, content_html, summary_html, url)
    return FeedEntry(
        guid=_flat(entry.get("id")) or url,
        url=url,
        title=title,
        summary=html_to_text(summary_html),
        content_html=content_html,
        author=_flat(html_to_text(author)),
        published=published or updated,
        updated=updated,
        image_url=image,
        categories=_unique(t.get("term") or t.get("label") or "" for t in entry.get("tags") or []),
    )


def _bozo_error(parsed: Mapping[str, Any]) -> str | None:
    if not parsed.get("bozo"):
        return None
    exc = parsed.get("bozo_exception")
    name = type(exc).__name__
    if name in _HARMLESS_BOZO:
        return None
    return f"{name}: {exc}" if exc is not None else "malformed feed"


def _parse_xml_feed(content: bytes, url: str, content_type: str) -> ParsedFeed:
    headers = {"content-location": url} if url else {}
    if content_type:
        headers["content-type"] = content_type
    # A stream, never a str: feedparser would treat a str as a URL or a file name to open.
    import feedparser  # only polling needs it: `tidings import` starts without it

    parsed = feedparser.parse(io.BytesIO(content), response_headers=headers)
    # Plain dicts: FeedParserDict's legacy key aliases (updated -> published...) warn and blur the two dates.
    feed = dict(parsed.get("feed") or {})
    error = _bozo_error(parsed)
    raw_entries = parsed.get("entries") or []
    if not parsed.get("version") and not raw_entries:
        error = error or "not a feed: no RSS, Atom or RDF root element"
    entries, skipped = _sorted_out((_feedparser_entry(dict(raw), url) for raw in raw_entries[:MAX_ENTRIES]),
                                   len(raw_entries) - MAX_ENTRIES)
    return ParsedFeed(
        title=_text_of(feed.get("title_detail"), feed.get("title") or ""),
        site_url=_resolve(feed.get("link") or "", url),
        language=_flat(feed.get("language")),
        entries=entries,
        error=error,
        skipped=skipped,
    )


def _json_authors(obj: Mapping[str, Any]) -> str:
    authors = obj.get("authors")
    if not isinstance(authors, list):
        authors = [obj.get("author")]  # JSON Feed 1.0 has a single author object
    names = (a.get("name") for a in authors if isinstance(a, Mapping))
    return ", ".join(_flat(n) for n in names if isinstance(n, str) and n.strip())


def _json_images(item: Mapping[str, Any], content_html: str) -> Iterator[str]:
    for key in ("image", "banner_image"):
        if isinstance(item.get(key), str) and item[key].strip():
            yield str(item[key])
    for attachment in item.get("attachments") or []:
        if isinstance(attachment, Mapping) and str(attachment.get("mime_type") or "").startswith("image/"):
            yield str(attachment.get("url") or "")
    yield _first_img_src(content_html)


def _json_image(item: Mapping[str, Any], content_html: str, base: str) -> str:
    return next((url for link in _json_images(item, content_html) if (url := absolute_http_url(link, base))), "")


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _tidy_text(text: str) -> str:
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def _json_entry(item: Mapping[str, Any], base: str, feed_author: str) -> FeedEntry | str:
    title = _flat(_str(item.get("title")))
    url = _resolve(_str(item.get("url")) or _str(item.get("external_url")), base)
    content_html = _str(item.get("content_html"))
    summary = _str(item.get("summary")) or _str(item.get("content_text"))
    if reason := _skip_reason(title, url, summary + html_to_text(content_html)):
        return reason
    published = parse_datetime(_str(item.get("date_published")))
    updated = parse_datetime(_str(item.get("date_modified")))
    tags = item.get("tags")
    ident = item.get("id")
    guid = _flat(str(ident)) if isinstance(ident, str | int) and not isinstance(ident, bool) else ""
    return FeedEntry(
        guid=guid or url,
        url=url,
        title=title,
        summary=_tidy_text(summary) or html_to_text(content_html),
        content_html=content_html,
        author=_json_authors(item) or feed_author,
        published=published or updated,
        updated=updated,
        image_url=_json_image(item, content_html, url),
        categories=_unique(t for t in (tags if isinstance(tags, list) else []) if isinstance(t, str)),
    )


def _parse_json_feed(content: bytes, url: str) -> ParsedFeed:
    try:
        doc = json.loads(content.decode("utf-8-sig", "replace"))
    except (ValueError, RecursionError) as exc:
        return ParsedFeed(error=f"invalid JSON Feed: {exc}")
    if not isinstance(doc, dict) or not isinstance(doc.get("items", []), list):
        return ParsedFeed(error="invalid JSON Feed: no items list")
    base = _str(doc.get("feed_url")) or url
    all_items = doc.get("items") or []
    items = [i for i in all_items[:MAX_ENTRIES] if isinstance(i, dict)]
    entries, skipped = _sorted_out((_json_entry(i, url or base, _json_authors(doc)) for i in items),
                                   len(all_items) - MAX_ENTRIES)
    is_json_feed = "jsonfeed.org/version" in _str(doc.get("version"))
    error = None if is_json_feed else "JSON document without a JSON Feed version"
    return ParsedFeed(
        title=_flat(_str(doc.get("title"))),
        site_url=_resolve(_str(doc.get("home_page_url")), base),
        language=_flat(_str(doc.get("language"))),
        entries=entries,
        error=error,
        skipped=skipped,
    )


def _is_json(content: bytes, content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media.endswith("json") or _head_bytes(content).lstrip().startswith((b"{", b"["))


def parse_feed(content: bytes, url: str = "", content_type: str = "") -> ParsedFeed:
    """Parse an RSS, Atom or JSON Feed document fetched from ``url``.

    Entry links are resolved against ``url``; entries lacking a link, or both a title and a text, are left out
    and counted by reason in ``skipped``; at most ``MAX_ENTRIES`` are kept. A damaged document yields what could
    be recovered plus ``error``. Every string
    that comes back is valid Unicode without control codes.
    """
    if not content or not content.strip():
        return ParsedFeed(error="empty document")
    try:
        if _is_json(content, content_type):
            return _storable_feed(_parse_json_feed(content, url))
        return _storable_feed(_parse_xml_feed(content, url, content_type))
    except Exception as exc:  # a parser bug on hostile input must not stop a crawl
        return ParsedFeed(error=storable(f"{type(exc).__name__}: {exc}"))
