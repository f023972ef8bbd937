"""OPML subscription lists: reading them (forgivingly) and writing them (OPML 2.0)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

from tidings.models import OpmlOutline

# XML 1.0 forbids these characters even when escaped; lxml refuses to serialise them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _local(name: str) -> str:
    """Lower-case local part of "{ns}name" or "prefix:name" (recovered XML can keep unbound prefixes)."""
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()


def _attrs(el: etree._Element) -> dict[str, str]:
    """Attributes keyed by lower-case local name, values trimmed (OPML files in the wild vary the casing)."""
    return {_local(str(k)): (v or "").strip() for k, v in el.attrib.items()}


def _is_outline(el: etree._Element) -> bool:
    return isinstance(el.tag, str) and _local(el.tag) == "outline"


def _feed_url(raw: str) -> str:
    """http(s) URL of a feed; the feed: pseudo-scheme is rewritten, other schemes give ""."""
    url = raw.strip()
    lowered = url.lower()
    if lowered.startswith("feed://"):
        url = "http://" + url[len("feed://") :]
    elif lowered.startswith("feed:"):
        url = url[len("feed:") :]
    return url if url.lower().startswith(("http://", "https://")) else ""


def _walk(el: etree._Element, category: str) -> Iterator[OpmlOutline]:
    """Feeds under ``el``: an outline without xmlUrl is a folder whose title names the category below it."""
    for child in el:
        if not _is_outline(child):
            if isinstance(child.tag, str):  # <body>, <head> or some wrapper: look inside
                yield from _walk(child, category)
            continue
        attrs = _attrs(child)
        title = attrs.get("title") or attrs.get("text") or ""
        if "xmlurl" in attrs:
            url = _feed_url(attrs["xmlurl"])
            if url:
                own = attrs.get("category", "").split(",")[0].strip("/ ").split("/")[0]
                yield OpmlOutline(url, title, attrs.get("htmlurl", ""), category or own)
            yield from _walk(child, category)
        else:
            yield from _walk(child, title or category)


def parse_opml(content: bytes) -> list[OpmlOutline]:
    """The feeds listed in an OPML document, each once, with the category of its enclosing folder.

    Bad XML is read as far as it goes; anything unreadable gives [].
    """
    if isinstance(content, str):  # tolerated: callers sometimes hold the text already
        content = content.encode("utf-8")
    if not content or not content.strip():
        return []
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(content, parser)
    except (etree.LxmlError, ValueError):
        return []
    if root is None:
        return []
    seen: set[str] = set()
    found: list[OpmlOutline] = []
    try:
        for outline in _walk(root, ""):
            if outline.feed_url not in seen:
                seen.add(outline.feed_url)
                found.append(outline)
    except (RecursionError, ValueError):  # absurd nesting or names lxml refuses: keep what was read
        pass
    return found


def _clean(text: str) -> str:
    return _XML_INVALID.sub("", text or "").strip()


def _outline(parent: etree._Element, item: OpmlOutline) -> None:
    title = _clean(item.title) or _clean(item.feed_url)
    attrs = {"type": "rss", "text": title, "title": title, "xmlUrl": _clean(item.feed_url)}
    if item.site_url:
        attrs["htmlUrl"] = _clean(item.site_url)
    etree.SubElement(parent, "outline", attrs)


def export_opml(items: list[OpmlOutline], title: str = "Tidings sources") -> str:
    """An OPML 2.0 document of ``items``: one folder outline per category, in order of first appearance."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = _clean(title)
    body = etree.SubElement(root, "body")
    folders: dict[str, etree._Element] = {}
    for item in items:
        category = _clean(item.category)
        parent = body
        if category:
            if category not in folders:
                folders[category] = etree.SubElement(body, "outline", text=category, title=category)
            parent = folders[category]
        _outline(parent, item)
    xml: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return xml.decode("utf-8")
