"""Full text and metadata of an article page, by trafilatura plus a few HTML head lookups."""

from __future__ import annotations

import asyncio
import codecs
import multiprocessing
import os
import re
import threading
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from tidings.ingest.normalize import canonical_url, parse_datetime
from tidings.models import ExtractedPage

# trafilatura settings chosen on benchmarks/extraction.py: favor_precision without comments scores best on the
# article-extraction-benchmark (mean token F1 0.965, defaults 0.948). Its rare failure (it keeps a stub of a
# long article) is caught the way trafilatura's own balanced mode escalates: a short text covering a small
# share of the page is retried in balanced mode, and the retry is kept when clearly longer (F1 0.970).
# ``fast`` skips trafilatura's second opinion from its fallback extractors: 35.8 -> 47.7 pages/s, F1 0.9695 ->
# 0.9716 on the same benchmark (extraction is the largest cost of ingest beside the model).
EXTRACT_OPTIONS: dict[str, Any] = {"favor_precision": True, "include_comments": False, "include_tables": True,
                                   "fast": True}
RETRY_OPTIONS: dict[str, Any] = {"include_comments": False, "include_tables": True}
RETRY_BELOW_CHARS = 3000
RETRY_BELOW_PAGE_SHARE = 0.2
RETRY_KEEP_RATIO = 2.0
MAX_HTML_CHARS = 20_000_000  # beyond this a page is not an article; lxml would only burn memory on it

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
_DECLARED_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)|<\?xml[^>]+encoding=["']([\w.:-]+)""", re.IGNORECASE
)
_PUBLISHED_KEYS = (
    "article:published_time", "og:article:published_time", "og:published_time", "published_time",
    "datepublished", "article.published", "pubdate", "publishdate", "publish-date", "publish_date",
    "parsely-pub-date", "sailthru.date", "dc.date.issued", "dcterms.issued", "dcterms.created", "date",
)
_LANGUAGE = re.compile(r"^([a-zA-Z]{2,3})(?:[-_][\w-]*)?$")


def _declared_charset(head: bytes) -> str:
    match = _DECLARED_CHARSET.search(head)
    if not match:
        return ""
    name = (match.group(1) or match.group(2)).decode("ascii", "ignore")
    try:
        return codecs.lookup(name).name
    except LookupError:
        return ""


def decode_html(raw: bytes) -> str:
    """Text of an HTML byte string: BOM, else valid UTF-8, else the declared charset, else Windows-1252.

    Valid UTF-8 wins over a declaration because mislabelled UTF-8 pages are common and the reverse is not.
    """
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            return raw.decode(codec, "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for codec in (_declared_charset(raw[:8192]), "cp1252"):
        if codec:
            try:
                return raw.decode(codec)
            except (UnicodeDecodeError, LookupError):
                continue
    return raw.decode("utf-8", "replace")


def _meta_map(tree: Any) -> dict[str, str]:
    """First content of each <meta> by lower-cased property/name/itemprop, plus <time itemprop> values."""
    found: dict[str, str] = {}
    for meta in tree.iter("meta"):
        content = (meta.get("content") or "").strip()
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = (meta.get(attr) or "").strip().lower()
            if key and content:
                found.setdefault(key, content)
    for time_el in tree.iter("time"):
        key = (time_el.get("itemprop") or "").strip().lower()
        if key and time_el.get("datetime"):
            found.setdefault(key, time_el.get("datetime", "").strip())
    return found


def _canonical(tree: Any, meta: dict[str, str], page_url: str) -> str:
    href = ""
    for link in tree.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and (link.get("href") or "").strip():
            href = link.get("href", "").strip()
            break
    href = href or meta.get("og:url", "")
    if not href:
        return ""
    try:
        absolute = urljoin(page_url, href) if page_url else href
    except ValueError:
        return ""
    return canonical_url(absolute) if absolute.lower().startswith(("http://", "https://")) else ""


def _language(tree: Any, meta: dict[str, str]) -> str:
    """Primary language subtag ("en", "pt") from <html lang>, Content-Language or og:locale."""
    candidates = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    keys = ("content-language", "og:locale", "language", "dc.language", "inlanguage")
    candidates += [meta.get(k) for k in keys]
    for value in candidates:
        match = _LANGUAGE.match((value or "").split(",")[0].strip())
        if match:
            return match.group(1).lower()
    return ""


def _published(meta: dict[str, str], found: str | None) -> datetime | None:
    """htmldate's pick when it knows the time of day (it weighs JSON-LD and original dates), else the page's
    own published-time meta, else htmldate's bare day."""
    day = parse_datetime(found)
    if day and "T00:00:00" not in (found or ""):
        return day
    for key in _PUBLISHED_KEYS:
        when = parse_datetime(meta.get(key))
        if when:
            return when
    return day


def _authors(value: str | None) -> str:
    """trafilatura joins authors with "; " and sometimes repeats one in capitals: tidy into "A, B"."""
    names: dict[str, str] = {}
    for name in re.split(r"\s*;\s*", value or ""):
        name = " ".join(name.split())
        if name:
            names.setdefault(name.lower(), name)
    return ", ".join(names.values())


def _text(doc: Any) -> str:
    text = unicodedata.normalize("NFC", getattr(doc, "text", None) or "")
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _date_params() -> dict[str, Any]:
    from trafilatura.settings import set_date_params

    # Ask htmldate for the time of day too, not just the day, when the page gives it.
    return {**set_date_params(True), "outputformat": "%Y-%m-%dT%H:%M:%S%z"}


def _extract(tree: Any, url: str) -> tuple[str, Any]:
    """Main text (precise pass, retried in balanced mode when very short) and the metadata document."""
    import trafilatura

    dates = _date_params()
    doc = trafilatura.bare_extraction(
        tree, url=url or None, with_metadata=True, date_extraction_params=dates, **EXTRACT_OPTIONS
    )
    text = _text(doc)
    if len(text) < RETRY_BELOW_CHARS and len(text) < RETRY_BELOW_PAGE_SHARE * len(trafilatura.html2txt(tree)):
        retry = _text(trafilatura.bare_extraction(tree, url=url or None, **RETRY_OPTIONS))
        text = retry if len(retry) >= RETRY_KEEP_RATIO * len(text) else text
    if doc is None:  # no usable text: the metadata is still worth having
        doc = trafilatura.extract_metadata(tree, default_url=url or None, date_config=dates)
    return text, doc


def _load_tree(html: bytes | str) -> Any:
    from trafilatura.utils import load_html

    source = decode_html(html) if isinstance(html, bytes) else html
    if not source.strip() or len(source) > MAX_HTML_CHARS:
        return None
    return load_html(source)


def _site_name(doc: Any, url: str) -> str:
    """og:site_name or the like; trafilatura's stand-in of the URL's host name is not a find."""
    name = _field(doc, "sitename")
    host = (urlsplit(url).hostname or "") if url else ""
    return "" if host and name.lower() in (host, host.removeprefix("www.")) else name


def _field(doc: Any, name: str) -> str:
    value = getattr(doc, name, None)
    return " ".join(value.split()) if isinstance(value, str) else ""


def extract_page(html: bytes | str, url: str = "") -> ExtractedPage:
    """Main text (paragraphs separated by "\\n") and metadata of an article page fetched from ``url``.

    Returns an empty ExtractedPage for anything unreadable; never raises.
    """
    try:
        tree = _load_tree(html)
        if tree is None:
            return ExtractedPage()
        meta = _meta_map(tree)
        text, doc = _extract(tree, url)
        image = _field(doc, "image") or meta.get("og:image", "")
        return ExtractedPage(
            text=text,
            title=_field(doc, "title"),
            author=_authors(_field(doc, "author")),
            published=_published(meta, _field(doc, "date")),
            image_url=urljoin(url, image) if url and image else image,
            language=_language(tree, meta),
            canonical_url=_canonical(tree, meta, url),
            site_name=_site_name(doc, url),
            description=_field(doc, "description"),
        )
    except Exception:  # trafilatura, htmldate and lxml raise assorted errors on hostile pages
        return ExtractedPage()


# -- extraction beside the model ---------------------------------------------------------------------------
# Extraction is pure Python (trafilatura, lxml) and would hold the interpreter lock the model's thread needs;
# in a worker process it runs on another core while this process embeds. Measured in docs/performance.md.

MAX_WORKERS = 4
_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _workers() -> ProcessPoolExecutor | None:
    global _pool
    with _pool_lock:
        cores = os.cpu_count() or 1
        if _pool is None and cores > 1 and os.environ.get("TIDINGS_EXTRACT_IN_PROCESS", "") != "1":
            _pool = ProcessPoolExecutor(max_workers=min(MAX_WORKERS, cores - 1),
                                        mp_context=multiprocessing.get_context("spawn"))
        return _pool


def _drop_workers(broken: ProcessPoolExecutor) -> None:
    global _pool
    with _pool_lock:
        if _pool is broken:
            _pool = None
    broken.shutdown(wait=False, cancel_futures=True)


async def extract_page_elsewhere(html: bytes | str, url: str = "") -> ExtractedPage:
    """``extract_page`` in a worker process (in this one where there is a single core). A page that kills its
    worker is tried once more in a new one, then given up (no text): it costs a worker, never the poll."""
    for _ in range(2):
        pool = _workers()
        if pool is None:
            return extract_page(html, url)
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, extract_page, html, url)
        except BrokenProcessPool:
            _drop_workers(pool)
    return ExtractedPage()
