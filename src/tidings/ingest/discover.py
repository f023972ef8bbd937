"""Finding a site's feeds from one of its HTML pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from lxml import etree
from lxml import html as lxml_html

from tidings.ingest.normalize import absolute_http_url

_FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/feed+json", "application/json"}
)
_FEED_PATH_ENDINGS = ("/feed", "/rss", ".rss", ".xml", "atom.xml")
_GUESSED_PATHS = ("/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml")


def _parse(html: bytes | str) -> lxml_html.HtmlElement | None:
    if not html or not html.strip():
        return None
    try:
        return lxml_html.document_fromstring(html)
    except ValueError:
        # lxml refuses a str that carries an XML encoding declaration; bytes it reads.
        if isinstance(html, str):
            return _parse(html.encode("utf-8"))
        return None
    except etree.LxmlError:
        return None


def _absolute(href: str | None, base: str) -> str:
    """``href`` made absolute against ``base``; "" when it is not an http(s) URL."""
    return absolute_http_url(href, base)


def _base_of(root: lxml_html.HtmlElement, page_url: str) -> str:
    """The page's <base href>, when it has one, resolved against the page URL."""
    for base in root.iter("base"):
        href = _absolute(base.get("href"), page_url)
        if href:
            return href
    return page_url


def _alternate_links(root: lxml_html.HtmlElement, base: str) -> list[str]:
    found: list[str] = []
    for link in root.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        media = (link.get("type") or "").split(";")[0].strip().lower()
        if "alternate" in rels and media in _FEED_TYPES:
            found.append(_absolute(link.get("href"), base))
    return found


def _anchor_links(root: lxml_html.HtmlElement, base: str) -> list[str]:
    found: list[str] = []
    for anchor in root.iter("a"):
        url = _absolute(anchor.get("href"), base)
        path = urlsplit(url).path.lower().rstrip("/") if url else ""
        if path.endswith(_FEED_PATH_ENDINGS) and "sitemap" not in path:
            found.append(url)
    return found


def _unique(urls: list[str]) -> list[str]:
    return list(dict.fromkeys(u for u in urls if u))


def find_feed_links(html: bytes | str, base_url: str) -> list[str]:
    """Feed URLs a page announces, in document order, without repeats.

    <link rel="alternate"> elements with a feed media type come first and alone; only when there are none are
    plain <a href> links whose path looks like a feed (/feed, /rss, .rss, .xml) returned.
    """
    root = _parse(html)
    if root is None:
        return []
    base = _base_of(root, base_url)
    return _unique(_alternate_links(root, base)) or _unique(_anchor_links(root, base))


def common_feed_paths(site_url: str) -> list[str]:
    """Conventional feed locations at the root of ``site_url``'s host, to try when a page announces none."""
    try:
        parts = urlsplit((site_url or "").strip())
    except ValueError:
        return []
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return []
    origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
    return [origin + path for path in _GUESSED_PATHS]


_ICON_RELS = ("icon", "apple-touch-icon", "apple-touch-icon-precomposed")
_WANTED_ICON = 32  # pixels: the size Tidings shows an icon at (on a 2x screen)
_TOUCH_ICON = 180  # what an apple-touch-icon without sizes is by convention


def _icon_size(link: lxml_html.HtmlElement, rels: list[str]) -> int:
    """The largest size a <link sizes> names (0: "any" or none given); apple-touch-icons default to 180."""
    sizes = []
    for token in (link.get("sizes") or "").lower().split():
        w, _, h = token.partition("x")
        if w.isdigit() and h.isdigit():
            sizes.append(min(int(w), int(h)))
    return max(sizes, default=_TOUCH_ICON if "icon" not in rels else 0)


def _icon_rank(size: int, order: int) -> tuple[int, int, int]:
    """Large enough and closest to the wanted size first, then icons of unknown size, then small ones."""
    if size >= _WANTED_ICON:
        return (0, size - _WANTED_ICON, order)
    return (1, 0, order) if size == 0 else (2, _WANTED_ICON - size, order)


def find_icon_links(html: bytes | str, base_url: str) -> list[str]:
    """The site icons a page announces (<link rel="icon">, "shortcut icon", "apple-touch-icon"), best first for
    a small square: the smallest at least 32 pixels, then those of unknown size, then smaller ones. SVG icons
    (image/svg+xml, or a .svg path) are left out: Tidings never serves SVG it did not make."""
    root = _parse(html)
    if root is None:
        return []
    base = _base_of(root, base_url)
    ranked: list[tuple[tuple[int, int, int], str]] = []
    for order, link in enumerate(root.iter("link")):
        rels = (link.get("rel") or "").lower().split()
        url = _absolute(link.get("href"), base)
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        if not url or not any(r in _ICON_RELS for r in rels):
            continue
        if kind == "image/svg+xml" or urlsplit(url).path.lower().endswith((".svg", ".svgz")):
            continue
        ranked.append((_icon_rank(_icon_size(link, rels), order), url))
    return _unique([url for _, url in sorted(ranked)])


def favicon_url(site_url: str) -> str:
    """The conventional /favicon.ico at the root of ``site_url``'s host ("" for anything but http(s))."""
    try:
        parts = urlsplit((site_url or "").strip())
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}/favicon.ico"
