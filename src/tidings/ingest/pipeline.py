"""Ingest use cases: add a source, refresh a feed, poll what is due, import OPML and JSON Lines.

The only ingest module that touches the store. Every function here is what the CLI, the scheduler and the API
call alike. Input from the web never raises out of here: errors are recorded on the source or the item.

Each article is stored in one transaction (row and sections together), so a crash leaves an article either
wholly stored or not at all, and a rerun stores what is missing without storing anything twice. After each
commit the ``tidings.progress`` logger says ``stored <url>`` (``report_progress`` sends it to a stream).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlparse

from tidings import metrics
from tidings.analysis.regions import detect_regions
from tidings.clock import iso, parse_iso, utcnow
from tidings.config import PollSettings
from tidings.errors import UserError
from tidings.ingest import schedule
from tidings.ingest.feeds import NO_TITLE_OR_TEXT, looks_like_feed, parse_feed, storable
from tidings.ingest.normalize import canonical_url, html_to_text, snippet, word_count
from tidings.ingest.opml import export_opml as opml_document
from tidings.ingest.opml import parse_opml
from tidings.ingest.rules import Rules
from tidings.models import ArticleIn, FeedEntry, OpmlOutline, ParsedFeed
from tidings.progress import Progress, quiet
from tidings.storage.store import Store

if TYPE_CHECKING:  # polling's HTTP client is imported where it is used: `tidings import` never needs it
    from tidings.ingest.fetch import Fetcher, FetchResult

log = logging.getLogger(__name__)
stored_log = logging.getLogger("tidings.progress")
IMPORT_BATCH = 500  # lines committed together by import_jsonl
# Longest stored value of each field (characters); longer ones are cut, marked with CUT_MARK and counted. Generous
# for real news (the longest article of the extraction benchmark is ~60,000 characters) and small enough that one
# hostile item cannot make pages of megabytes.
FIELD_LIMITS = {"title": 1_000, "summary": 10_000, "text": 500_000, "author": 500, "section": 200,
                "site_name": 300, "language": 50}
MAX_URL_BYTES = 2_000          # a longer link or image address is not stored (cutting would change what it names);
                               # an index key holds ~2,700 bytes in PostgreSQL, so the limit counts UTF-8 bytes
MAX_LINE_CHARS = 2_000_000     # an import line longer than this is refused before parsing
CUT_MARK = " [cut]"
FOREIGN_URL = "link belongs to another source's article"  # a source may update only its own articles
HEADLINE_CHARS = 140           # a headline made from an item's text when it has none


def report_progress(stream: TextIO) -> None:
    """Write one ``stored <url>`` line to ``stream`` after each article is committed (each line flushed)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    stored_log.addHandler(handler)
    stored_log.setLevel(logging.INFO)
    stored_log.propagate = False


Tally = dict[str, int]  # how often each reason came up: items skipped, fields cut, dates clamped


def tally(counts: Tally, reason: str, n: int = 1) -> None:
    counts[reason] = counts.get(reason, 0) + n


def describe_tally(counts: Tally) -> str:
    """``3 (no link: 2, over the limit: 1)``, or ``0``."""
    total = sum(counts.values())
    return f"{total} ({', '.join(f'{r}: {n}' for r, n in sorted(counts.items()))})" if total else "0"


@dataclass
class RefreshResult:
    source_id: int
    status: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    error: str = ""
    skipped: Tally = field(default_factory=dict)   # items not stored, by reason
    adjusted: Tally = field(default_factory=dict)  # items stored with a field cut or a date clamped
    queued: bool = False  # handed to the workers instead of polled here (see usecases.queue_refresh)


@dataclass
class ImportReport:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    adjusted: Tally = field(default_factory=dict)
    skipped: Tally = field(default_factory=dict)  # good lines left out by a source's keep or block rules

    def count(self, outcome: str) -> None:
        if outcome == "new":
            self.imported += 1
        elif outcome == "updated":
            self.updated += 1
        else:
            self.unchanged += 1


def content_hash(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8", "replace")).hexdigest()


def file_sections(store: Store, article_id: int, primary: str, title: str, text: str) -> None:
    """An article goes under its source's section, the regions it is about (the main one first) and, when the
    source gives no section, the topic its text clearly has: e.g. ["United States", "Politics"]."""
    from tidings.analysis.topics import topic_section  # the lexicon is built on first use

    sections = [primary] if primary else []
    regions = detect_regions(title, text)
    sections += [r for r in regions if r not in sections]
    if not primary:
        topic = topic_section(title, text, regions)
        if topic and topic not in sections:
            sections.append(topic)
    store.set_sections(article_id, sections)


class RecentArticles:
    """A source's recent articles by (title, published): the identity of last resort.

    Some feeds mint a new GUID and a new URL for the same item on every poll; the same headline with the same
    publication time from the same source is the same article.
    """

    def __init__(self, rows: Iterable[dict[str, Any]] = ()) -> None:
        self._urls: dict[tuple[str, str], str] = {}
        for r in rows:
            self._remember(r["title"], r["published_at"], r["url"])

    @staticmethod
    def _key(title: str, published: str | None) -> tuple[str, str] | None:
        words = " ".join(storable(title).split()).lower()
        return (words, published) if words and published else None

    def _remember(self, title: str, published: str | None, url: str) -> None:
        key = self._key(title, published)
        if key is not None:
            self._urls.setdefault(key, url)

    def add(self, article: ArticleIn) -> None:
        self._remember(article.title, iso(article.published), article.url)

    def url_of(self, title: str, published: datetime | None) -> str | None:
        key = self._key(title, iso(published))
        return self._urls.get(key) if key else None


def _find(store: Store, article: ArticleIn, recent: RecentArticles | None) -> dict[str, Any] | None:
    found = store.find_article(article.source_id, article.guid, article.url, article.canonical_url)
    if found is None and recent is not None:
        url = recent.url_of(article.title, article.published)
        found = store.find_article(article.source_id, "", url) if url else None
    return found


def _capped(value: str, limit: int, name: str, adjusted: Tally | None) -> str:
    if len(value) <= limit:
        return value
    if adjusted is not None:
        tally(adjusted, f"{name} cut to {limit:,} characters")
    return value[: limit - len(CUT_MARK)].rstrip() + CUT_MARK


def _clean_article(a: ArticleIn, adjusted: Tally | None = None, now: datetime | None = None) -> ArticleIn:
    """Storable text, every field within its limit, and no date after the moment the item was seen (a date in
    the future would pin it to the top of every list)."""
    changes: dict[str, Any] = {
        f.name: storable(v) for f in dataclasses.fields(a) if isinstance(v := getattr(a, f.name), str)}
    for name, limit in FIELD_LIMITS.items():
        changes[name] = _capped(changes[name], limit, name, adjusted)
    if _url_too_long(changes["image_url"]):
        changes["image_url"] = ""
    if _url_too_long(changes["canonical_url"]):
        changes["canonical_url"] = ""
    seen = now or utcnow()
    if a.published is not None and a.published > seen:
        changes["published"] = seen
        if adjusted is not None:
            tally(adjusted, "date in the future set to the time seen")
    return dataclasses.replace(a, **changes)


def _url_too_long(url: str) -> bool:
    return len(url.encode("utf-8", "surrogatepass")) > MAX_URL_BYTES


def save_article(store: Store, article: ArticleIn, digest: str, *, recent: RecentArticles | None = None,
                 adjusted: Tally | None = None) -> str:
    """Insert or update by identity (GUID, URL, canonical URL, then ``recent``); returns "new", "updated",
    "unchanged", or "foreign" when the URL is another source's article (which is left untouched: a source may
    update only its own articles). The row and its sections are committed together."""
    article = _clean_article(article, adjusted)
    inside = store.in_transaction  # a caller's batch: it reports progress once that commits
    with store.transaction():
        existing = _find(store, article, recent)
        if existing is not None and int(existing["source_id"]) != article.source_id:
            return "foreign"
        if existing is None:
            article_id = store.insert_article(article, digest)
            outcome, url = "new", article.url
            if recent is not None:
                recent.add(article)
        elif existing["content_hash"] == digest:
            return "unchanged"
        else:
            article_id = int(existing["id"])
            store.update_article(article_id, article, digest)
            row = store.article(article_id, with_text=False)
            outcome, url = "updated", (row["url"] if row else article.url)
        file_sections(store, article_id, article.section, article.title, article.text or article.summary)
    if not inside:
        stored_log.info("stored %s", url)
    return outcome


# -- sources ---------------------------------------------------------------------------------------------


async def add_source(store: Store, fetcher: Fetcher, url: str, *, section: str = "", name: str = "",
                     fulltext: str = "auto") -> dict[str, Any]:
    """Add a feed by its URL, or by a site URL whose page links to its feed. Raises UserError if none is found.
    The fields are checked by ``usecases.add_source``, the way every caller adds a source."""
    url = url.strip()
    try:
        parts = urlparse(url)
    except ValueError:  # "http://[": urllib cannot even split it
        raise UserError(f"not an http(s) URL: {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"not an http(s) URL: {url!r}")
    existing = store.source_by_feed_url(url)
    if existing:
        return existing
    res = await fetcher.fetch(url)
    if not res.ok:
        raise UserError(f"could not fetch {url}: {res.error or res.status}")
    feed_url, parsed = await _resolve_feed(fetcher, res)
    title = name or parsed.title or urlparse(feed_url).netloc
    source_id, _ = store.add_source(feed_url, title, site_url=parsed.site_url or _site_of(url),
                                    section=section, fulltext=fulltext)
    row = store.source(source_id)
    assert row is not None
    return row


async def _resolve_feed(fetcher: Fetcher, res: FetchResult) -> tuple[str, ParsedFeed]:
    if looks_like_feed(res.content, res.content_type):
        parsed = parse_feed(res.content, res.final_url, res.content_type)
        if parsed.entries or not parsed.error:
            return res.final_url, parsed
    from tidings.ingest.discover import common_feed_paths, find_feed_links

    candidates = find_feed_links(res.content, res.final_url) or common_feed_paths(res.final_url)
    for candidate in candidates[:8]:
        sub = await fetcher.fetch(candidate)
        if sub.ok and looks_like_feed(sub.content, sub.content_type):
            parsed = parse_feed(sub.content, sub.final_url, sub.content_type)
            if parsed.entries or not parsed.error:
                return sub.final_url, parsed
    raise UserError(f"no feed found at {res.url}: it is not a feed and links to none")


def same_site(url: str, page_url: str) -> bool:
    """Whether ``url`` is on the host that served the page (``www.`` aside)."""
    def host(u: str) -> str:
        name = (urlparse(u).hostname or "").lower()
        return name.removeprefix("www.")
    return bool(url) and host(url) == host(page_url) != ""


def _site_of(url: str) -> str:
    p = urlparse(url)
    return f"{p.scheme}://{p.netloc}/"


def import_opml(store: Store, content: bytes) -> tuple[int, int]:
    """Add every feed of an OPML document (categories become sections); returns (added, already there)."""
    outlines = parse_opml(content)
    if not outlines:
        raise UserError("no feeds found in that OPML file")
    added = 0
    for o in outlines:
        _, created = store.add_source(o.feed_url, o.title or urlparse(o.feed_url).netloc,
                                      site_url=o.site_url, section=o.category)
        added += created
    return added, len(outlines) - added


def export_opml(store: Store) -> str:
    return opml_document([OpmlOutline(feed_url=s["feed_url"], title=s["name"], site_url=s["site_url"],
                                      category=s["section"]) for s in store.sources() if s["feed_url"]])


# -- polling ---------------------------------------------------------------------------------------------


def _entry_text(entry: FeedEntry) -> str:
    return html_to_text(entry.content_html) if entry.content_html else entry.summary


def _needs_fulltext(source: dict[str, Any], entries: list[FeedEntry], settings: PollSettings) -> bool:
    """Which sources need their pages fetched: set per source, else detected from how long their items are."""
    if source["fulltext"] in ("always", "never"):
        return bool(source["fulltext"] == "always")
    if not entries:
        return bool(source["needs_fulltext"])
    return median(word_count(_entry_text(e)) for e in entries) < settings.fulltext_min_words


async def refresh_feed(store: Store, fetcher: Fetcher, source: dict[str, Any],
                       settings: PollSettings | None = None) -> RefreshResult:
    """Poll one feed: conditional GET, parse, fetch pages where needed, store, schedule the next poll."""
    started = time.perf_counter()
    result = await _poll_feed(store, fetcher, source, settings or PollSettings())
    metrics.polled(result.status, result.error, result.new, result.updated, time.perf_counter() - started)
    return result


async def _poll_feed(store: Store, fetcher: Fetcher, source: dict[str, Any], settings: PollSettings
                     ) -> RefreshResult:
    result = RefreshResult(source_id=source["id"])
    now = utcnow()
    res = await fetcher.fetch(source["feed_url"], etag=source["etag"], last_modified=source["last_modified"])
    result.status = res.status
    if res.not_modified:
        _record_success(store, source, res, now, error="")
        return result
    if not res.ok:
        result.error = res.error or f"HTTP {res.status}"
        _record_failure(store, source, res, now, result.error)
        return result
    parsed = parse_feed(res.content, res.final_url, res.content_type)
    if not parsed.entries and parsed.error:
        result.error = f"unreadable feed: {parsed.error}"
        _record_failure(store, source, res, now, result.error)
        return result
    entries = parsed.entries[: settings.max_entries]
    result.skipped = dict(parsed.skipped)
    if len(parsed.entries) > len(entries):
        tally(result.skipped, f"over the {settings.max_entries}-item limit of one poll",
              len(parsed.entries) - len(entries))
    fulltext = _needs_fulltext(source, entries, settings)
    await _store_entries(store, fetcher, source, entries, fulltext, settings, result)
    updates: dict[str, Any] = {"needs_fulltext": int(fulltext), "last_skipped": json.dumps(result.skipped)}
    if not source["site_url"] and parsed.site_url:
        updates["site_url"] = storable(parsed.site_url)
    store.update_source(source["id"], **updates)
    _record_success(store, source, res, now, error=parsed.error or "")
    return result


async def _store_entries(store: Store, fetcher: Fetcher, source: dict[str, Any], entries: list[FeedEntry],
                         fulltext: bool, settings: PollSettings, result: RefreshResult) -> None:
    recent = RecentArticles(store.latest_articles(source_id=source["id"], limit=2 * len(entries) + 50))
    rules = Rules.of(source)
    fresh: list[tuple[FeedEntry, str]] = []
    for e in entries:
        digest = content_hash(e.title, e.summary, e.content_html)
        found = _find(store, _identity(source, e), recent) if not _url_too_long(e.url) else None
        if _url_too_long(e.url):
            tally(result.skipped, f"link longer than {MAX_URL_BYTES:,} bytes")
        elif rules and (left_out := rules.verdict(e.title, e.summary, _entry_text(e))):
            tally(result.skipped, left_out)  # judged on what the feed says: its page is not even fetched
        elif found is not None and int(found["source_id"]) != source["id"]:
            tally(result.skipped, FOREIGN_URL)  # not even fetched: nothing of it could be stored
        elif found is not None and found["content_hash"] == digest:
            result.unchanged += 1
        else:
            fresh.append((e, digest))
    # Pages are fetched for their text where the feed has only summaries, and for a headline where it has none.
    wanted = {i for i, (e, _) in enumerate(fresh) if fulltext or not e.title}
    wanted = set(sorted(wanted)[: settings.page_fetch_limit])
    # A page is held from its fetch until its text is extracted, and only ``pages_in_hand`` at a time per source:
    # the poller's memory does not grow with the number of pages. Articles are stored in feed order as soon as
    # they are ready, so the analysis can start on the first while later pages are still being fetched.
    in_hand = asyncio.Semaphore(max(1, settings.pages_in_hand))

    async def build(i: int, entry: FeedEntry) -> ArticleIn:
        if i not in wanted:
            return await _article_from(source, entry, None)
        async with in_hand:
            page = await fetcher.fetch(entry.url, check_robots=True, max_bytes=settings.max_page_bytes, ahead=True)
            return await _article_from(source, entry, page)

    tasks = [asyncio.ensure_future(build(i, e)) for i, (e, _) in enumerate(fresh)]
    try:
        for task, (_, digest) in zip(tasks, fresh, strict=True):
            article = await task
            if not article.title.strip():  # markup with no words in it, and no page to name it
                tally(result.skipped, NO_TITLE_OR_TEXT)
                continue
            outcome = save_article(store, article, digest, recent=recent, adjusted=result.adjusted)
            if outcome == "new":
                result.new += 1
            elif outcome == "updated":
                result.updated += 1
            elif outcome == "foreign":
                tally(result.skipped, FOREIGN_URL)
    finally:
        for task in tasks:  # cancelled (the pass's time is up) or failed: the pages not yet done are dropped
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _identity(source: dict[str, Any], e: FeedEntry) -> ArticleIn:
    """Just what identifies the article an entry would become."""
    return _clean_article(ArticleIn(url=e.url, title=e.title, source_id=source["id"], guid=e.guid,
                                    published=e.published, canonical_url=canonical_url(e.url)))


async def _article_from(source: dict[str, Any], e: FeedEntry, page: FetchResult | None) -> ArticleIn:
    text = _entry_text(e)
    a = ArticleIn(url=e.url, title=e.title, source_id=source["id"], guid=e.guid,
                  summary=e.summary or snippet(text), text=text, author=e.author, published=e.published,
                  image_url=e.image_url, section=source["section"], canonical_url=canonical_url(e.url))
    if page is not None and not page.ok:
        a.extraction_error = page.error or f"HTTP {page.status}"
    elif page is not None:
        await _add_page(a, page, text)
    # An item with no headline (RSS allows it) gets the page's, else the first sentence of its own text.
    a.title = a.title or snippet(a.summary or a.text, max_sentences=1, max_chars=HEADLINE_CHARS)
    return a


async def _add_page(a: ArticleIn, page: FetchResult, feed_text: str) -> None:
    from tidings.ingest.extract import extract_page_elsewhere

    # Where the feed gave the headline and the date, the page is not searched for them (a third of its cost).
    x = await extract_page_elsewhere(page.content, page.final_url, owner=a.source_id,
                                     full_metadata=not (a.title.strip() and a.published))
    if word_count(x.text) > word_count(feed_text):
        a.text = x.text
    else:  # the feed's own text stays; the reason is kept on the article
        a.extraction_error = x.error or "no article text found on the page"
    a.title = a.title or x.title
    a.author = a.author or x.author
    a.published = a.published or x.published
    a.image_url = a.image_url or x.image_url
    a.language, a.site_name = x.language, x.site_name
    if same_site(x.canonical_url, page.final_url):  # another host's canonical URL is no proof of identity
        a.canonical_url = x.canonical_url or a.canonical_url
    a.summary = a.summary or x.description or snippet(a.text)


def _record_success(store: Store, source: dict[str, Any], res: FetchResult, now: datetime, *, error: str) -> None:
    interval = int(source.get("poll_every") or 0)  # set by an operator; else adapt to the source
    if not interval:
        times = [t for t in (parse_iso(s) for s in store.recent_publish_times(source["id"])) if t]
        interval = schedule.adaptive_interval(times)
    store.update_source(
        source["id"], etag=res.etag, last_modified=res.last_modified, last_polled_at=iso(now),
        last_success_at=iso(now), last_status=res.status, error_count=0, last_error=storable(error),
        poll_interval=interval, next_poll_at=iso(schedule.next_poll(now, interval, max_age=res.max_age)))


def _record_failure(store: Store, source: dict[str, Any], res: FetchResult, now: datetime, error: str) -> None:
    errors = int(source["error_count"]) + 1
    wait = schedule.backoff(errors, int(source["poll_interval"]))
    store.update_source(
        source["id"], last_polled_at=iso(now), last_status=res.status, error_count=errors, last_error=storable(error),
        next_poll_at=iso(schedule.next_poll(now, wait, retry_after=res.retry_after)))


async def refresh_sources(store: Store, fetcher: Fetcher, sources: list[dict[str, Any]],
                          settings: PollSettings | None = None, progress: Progress = quiet) -> list[RefreshResult]:
    """Refresh many feeds at once; the fetcher's per-host limits keep each host's load polite. ``progress``
    hears ``("poll", sources done, sources)`` as each one ends.

    A source not done within ``settings.pass_timeout`` (a slow host with many feeds) is stopped, recorded as
    failed and backed off, so one host never holds up the pass.
    """
    from tidings.ingest.fetch import FetchResult

    limit = (settings or PollSettings()).pass_timeout
    done = 0

    async def one(source: dict[str, Any]) -> RefreshResult:
        nonlocal done
        result = await polled(source)
        done += 1
        progress("poll", done, len(sources))
        return result

    async def polled(source: dict[str, Any]) -> RefreshResult:
        started = time.perf_counter()
        try:
            return await asyncio.wait_for(refresh_feed(store, fetcher, source, settings), limit)
        except TimeoutError:
            error = f"timeout: not done within the {limit:g} s a poll pass allows"
        except Exception as exc:  # a bug must not stop the other sources: record it and go on
            log.exception("refreshing source %s failed", source["id"])
            error = f"internal error: {type(exc).__name__}: {exc}"
        url = source["feed_url"] or ""
        _record_failure(store, source, FetchResult(url, url, 0), utcnow(), error)
        metrics.polled(0, error, 0, 0, time.perf_counter() - started)
        return RefreshResult(source_id=source["id"], error=error)

    return list(await asyncio.gather(*(one(s) for s in sources)))


# -- JSON Lines import -----------------------------------------------------------------------------------


def bounded_lines(stream: TextIO, max_chars: int = MAX_LINE_CHARS) -> Iterator[str]:
    """The lines of a stream, reading at most ``max_chars + 1`` characters of each: a longer line is given cut
    there (``import_jsonl`` refuses it by its length) and the rest of it is read and dropped, never held."""
    while line := stream.readline(max_chars + 1):
        if len(line) > max_chars and not line.endswith("\n"):
            while (rest := stream.readline(1 << 16)) and not rest.endswith("\n"):
                pass
        yield line


def _parse_line(line: str) -> dict[str, Any]:
    if len(line.rstrip("\r\n")) > MAX_LINE_CHARS:
        raise ValueError(f"line longer than {MAX_LINE_CHARS:,} characters")
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    for key in ("url", "title", "source"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise ValueError(f"{key!r} is missing or empty")
    if _url_too_long(obj["url"].strip()):
        raise ValueError(f"url longer than {MAX_URL_BYTES:,} bytes")
    p = urlparse(obj["url"].strip())
    if p.scheme not in ("http", "https") or not p.netloc:
        raise ValueError(f"url is not an http(s) URL: {obj['url']!r}")
    for key in ("summary", "text", "section", "language", "published"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise ValueError(f"{key!r} must be a string")
    if obj.get("published") and parse_iso(obj["published"]) is None:
        raise ValueError(f"published is not an ISO 8601 date: {obj['published']!r}")
    return obj


@dataclass
class _ImportSource:
    """A source lines are imported into: its id, its rules, and what its rules left out of this import."""

    id: int
    rules: Rules
    skipped: Tally = field(default_factory=dict)


def import_jsonl(store: Store, lines: Iterable[str], *, total: int | None = None,
                 progress: Progress = quiet) -> ImportReport:
    """Store articles given one JSON object per line; bad lines are reported by number and skipped, and lines
    a source's rules leave out are counted by reason (on the report, and as the source's last skipped).
    ``progress`` hears ``("import", lines read, total)`` after each commit (``total``: the lines given, when
    known)."""
    report = ImportReport()
    sources: dict[str, _ImportSource] = {}
    numbered = ((number, line) for number, line in enumerate(lines, start=1) if line.strip())
    while chunk := list(itertools.islice(numbered, IMPORT_BATCH)):
        with store.transaction():  # one commit per batch of lines: a commit per article made imports slow
            stored = [url for number, line in chunk if (url := _import_line(store, number, line, sources, report))]
        for url in stored:  # reported once committed: a crash never loses what was reported
            stored_log.info("stored %s", url)
        progress("import", chunk[-1][0], total)
    if total is not None:
        progress("import", total, total)  # blank lines at the end were read too
    for source in sources.values():
        if source.rules:
            store.update_source(source.id, last_skipped=json.dumps(source.skipped))
    metrics.stored("import", report.imported, report.updated)
    return report


def _import_source(store: Store, name: str, sources: dict[str, _ImportSource]) -> _ImportSource:
    if name not in sources:
        source_id = store.import_source(name)
        sources[name] = _ImportSource(source_id, Rules.of(store.source(source_id) or {}))
    return sources[name]


def _import_line(store: Store, number: int, line: str, sources: dict[str, _ImportSource],
                 report: ImportReport) -> str:
    """Store one line; returns its URL when it was stored or updated, else ""."""
    try:
        obj = _parse_line(line)
    except ValueError as exc:
        report.errors.append((number, str(exc)))
        return ""
    name = storable(obj["source"].strip())
    source = _import_source(store, name, sources)
    text = (obj.get("text") or "").strip()
    summary = (obj.get("summary") or "").strip() or snippet(text)
    left_out = source.rules.verdict(obj["title"], summary, text)
    if left_out:
        tally(report.skipped, left_out)
        tally(source.skipped, left_out)
        return ""
    url = obj["url"].strip()
    article = ArticleIn(url=url, title=obj["title"].strip(), source_id=source.id, guid=url,
                        summary=summary, text=text, published=parse_iso(obj.get("published")),
                        language=obj.get("language") or "", section=(obj.get("section") or "").strip(),
                        canonical_url=canonical_url(url))
    outcome = save_article(store, article, content_hash(article.title, summary, text), adjusted=report.adjusted)
    if outcome == "foreign":
        report.errors.append((number, f"url already belongs to another source's article; '{name}' may update "
                                      "only its own"))
        return ""
    report.count(outcome)
    return url if outcome in ("new", "updated") else ""
