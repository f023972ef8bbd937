"""The one door to the database: named query methods, with the SQL kept in this package.

``Store`` holds every query, written once in SQL that both backends take; ``SQLiteStore`` (the default, one file,
nothing to set up) and ``PostgresStore`` (many processes on many machines) give connections, transactions,
migrations, full-text search and the change counter. Nothing outside ``tidings.storage`` sees a connection.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from tidings.clock import iso, utcnow
from tidings.errors import UserError
from tidings.models import ArticleIn, Neighbour

Row = dict[str, Any]

BACKLOG_COLUMNS = ("a.id, a.title, a.summary, a.text, a.published_at, a.fetched_at, a.story_id, a.copy_group,"
                   " a.section, s.outlet")
CLAIM_LEASE = 600.0  # seconds an analyser may hold a claim before others take the articles again

SOURCE_FIELDS = {
    "site_url", "name", "outlet", "section", "fulltext", "needs_fulltext", "etag", "last_modified",
    "last_polled_at", "last_success_at", "next_poll_at", "poll_interval", "error_count", "last_error",
    "last_status", "last_skipped", "poll_every", "keep_rules", "block_rules",
}

ARTICLE_COLUMNS = (
    "a.id, a.source_id, a.guid, a.url, a.canonical_url, a.title, a.summary, a.author, a.published_at, "
    "a.fetched_at, a.updated_at, a.language, a.image_url, a.site_name, a.section, a.story_id, "
    "a.extraction_error, a.copy_group, s.name AS source, s.outlet AS outlet"
)


# What ``copy_into`` carries from one store to another, table by table, in an order that keeps every reference
# valid: (table, the column its rows are read in ranges of, the columns both schemas have).
TABLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("sources", "id", (
        "id", "feed_url", "site_url", "name", "outlet", "section", "fulltext", "needs_fulltext", "etag",
        "last_modified", "last_polled_at", "last_success_at", "next_poll_at", "poll_interval", "poll_every",
        "error_count", "last_error", "last_status", "last_skipped", "created_at", "keep_rules", "block_rules")),
    ("articles", "id", (
        "id", "source_id", "guid", "url", "canonical_url", "title", "summary", "text", "author", "published_at",
        "fetched_at", "updated_at", "language", "image_url", "site_name", "section", "extraction_error",
        "content_hash", "story_id", "copy_group", "analysed", "analysed_seq", "claimed_at", "claimed_by")),
    ("article_sections", "article_id", ("article_id", "section", "sort_key", "position")),
    ("embeddings", "article_id", ("article_id", "model", "vector")),
    ("fingerprints", "article_id", ("article_id", "minhash", "shingles", "words", "terms")),
    ("links", "article_id", ("article_id", "other_id", "score", "relation", "why")),
    ("stories", "id", (
        "id", "title", "lead_article_id", "first_published_at", "last_published_at", "size", "outlets",
        "updated_at")),
    ("story_redirects", "from_id", ("from_id", "to_id")),
    ("source_icons", "source_id", ("source_id", "site_url", "icon_url", "checked_at")),
)


def outlet_key(name: str) -> str:
    """Identity of an outlet from its display name: 'The Guardian - World' and 'the guardian' are one outlet."""
    base = re.split(r"\s+[-|:–—>»]\s+", name.strip(), maxsplit=1)[0]
    base = re.sub(r"^the\s+", "", base.lower())
    return re.sub(r"[^\w]+", " ", base).strip() or name.strip().lower()


class Store(ABC):
    """What every store answers: the named queries below, written once in SQL that SQLite and PostgreSQL both
    take (``?`` placeholders, ``ON CONFLICT``, ``RETURNING``, explicit ``NULLS FIRST/LAST``). A backend gives the
    connection, transactions, migrations, full-text search and the change counter (``storage.sqlite``,
    ``storage.postgres``); ``open_store`` picks one from a path or a ``postgresql://`` URL."""

    dialect: str = ""
    # Appended to the SELECT of a claim: PostgreSQL locks the rows it takes and skips rows another claimer holds;
    # SQLite has one writer at a time, so nothing is needed there.
    CLAIM_LOCK = ""

    def __init__(self, target: str) -> None:
        self.target = target  # the path or URL it was opened from: names its data files (see config.data_dir)
        self._trace: Callable[[str], None] | None = None

    def trace(self, callback: Callable[[str], None] | None) -> None:
        """Call ``callback`` with each statement this store runs (None: stop): to see what a page costs."""
        self._trace = callback

    def _traced(self, sql: str) -> str:
        if self._trace is not None:
            self._trace(sql)
        return sql

    # -- what a backend provides -----------------------------------------------------------------------

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """One transaction for everything inside (nested uses join the outer one); writes wait for each other."""

    @property
    @abstractmethod
    def in_transaction(self) -> bool:
        """Whether this thread is inside a transaction (a caller's batch of writes)."""

    @abstractmethod
    def data_version(self) -> int:
        """Changes whenever something has been committed since this thread last looked: the page cache's
        signal that what it holds may be out of date."""

    @abstractmethod
    def close(self) -> None:
        """Close the store: its connections go (SQLite: this thread's)."""

    @abstractmethod
    def thread_done(self) -> None:
        """A thread that used the store is ending: what it held for itself can go (SQLite's per-thread
        connection; PostgreSQL's connections belong to the pool, not to threads)."""

    @abstractmethod
    def migrate(self) -> int:
        """Brings the schema up to date; returns the number of migrations the backend knows."""

    @abstractmethod
    def describe(self) -> str:
        """The database, for people: a path, or a URL without its password."""

    @abstractmethod
    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[Row]: ...

    @abstractmethod
    def _tuples(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _run(self, sql: str, params: Iterable[Any] = ()) -> None: ...

    @abstractmethod
    def _many(self, sql: str, rows: Iterable[Iterable[Any]]) -> None: ...

    @abstractmethod
    def serialise(self, name: str) -> None:
        """Inside a transaction: wait until no other transaction holds ``name``, then hold it until commit (the
        decisions that must not interleave, e.g. numbering analysed articles, or linking)."""

    @abstractmethod
    def search(self, query: str, *, limit: int = 50) -> list[Row]:
        """Full-text search; the query is taken as plain words, so user input is never search syntax. Each row
        is an article with ``match``, a snippet of its text with the matched words in [brackets]."""

    @abstractmethod
    def search_count(self, query: str) -> int:
        """How many articles match ``search``'s query."""

    @abstractmethod
    def after_copy(self) -> None:
        """After ``copy_into`` wrote rows with their ids: the next ids follow on from the largest ones."""

    def _one(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _insert(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Runs an INSERT ... RETURNING id; returns the id."""
        row = self._one(sql, params)
        return int(row["id"]) if row else 0

    # -- sources ---------------------------------------------------------------------------------------

    def add_source(self, feed_url: str, name: str, *, site_url: str = "", section: str = "",
                   fulltext: str = "auto") -> tuple[int, bool]:
        """Returns (id, created). An existing feed URL is not added twice."""
        existing = self.source_by_feed_url(feed_url)
        if existing:
            return int(existing["id"]), False
        with self.transaction():  # another process may add the same feed at the same moment: the first one wins
            new_id = self._insert(
                "INSERT INTO sources (feed_url, site_url, name, outlet, section, fulltext, next_poll_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (feed_url) DO NOTHING RETURNING id",
                (feed_url, site_url, name, outlet_key(name), section, fulltext, iso(utcnow()), iso(utcnow())),
            )
        if new_id:
            return new_id, True
        row = self.source_by_feed_url(feed_url)
        return (int(row["id"]) if row else 0), False

    def import_source(self, name: str) -> int:
        """The source behind imported articles: one per outlet name, no feed URL."""
        row = self._one("SELECT id FROM sources WHERE feed_url IS NULL AND name = ?", (name,))
        if row:
            return int(row["id"])
        with self.transaction():
            self.serialise("import_source")  # one source per name, whoever imports at the same moment
            row = self._one("SELECT id FROM sources WHERE feed_url IS NULL AND name = ?", (name,))
            if row:
                return int(row["id"])
            return self._insert("INSERT INTO sources (feed_url, name, outlet, created_at) VALUES (NULL, ?, ?, ?)"
                                " RETURNING id", (name, outlet_key(name), iso(utcnow())))

    def source(self, source_id: int) -> Row | None:
        return self._one(
            "SELECT s.*, (SELECT COUNT(*) FROM articles a WHERE a.source_id = s.id) AS article_count"
            " FROM sources s WHERE s.id = ?", (source_id,))

    def source_by_feed_url(self, feed_url: str) -> Row | None:
        return self._one("SELECT * FROM sources WHERE feed_url = ?", (feed_url,))

    def sources(self) -> list[Row]:
        return self._all(
            "SELECT s.*, COALESCE(c.n, 0) AS article_count, c.latest AS latest_article_at FROM sources s"
            " LEFT JOIN (SELECT source_id, COUNT(*) AS n, MAX(published_at) AS latest FROM articles"
            " GROUP BY source_id) c ON c.source_id = s.id ORDER BY s.section, s.name")

    def sources_listed(self, *, limit: int, offset: int = 0) -> list[Row]:
        """A page of ``sources`` (by section, then name), counting the articles of the page's sources only."""
        return self._all(
            "SELECT s.*, (SELECT COUNT(*) FROM articles a WHERE a.source_id = s.id) AS article_count,"
            " (SELECT MAX(a.published_at) FROM articles a WHERE a.source_id = s.id) AS latest_article_at"
            " FROM sources s ORDER BY s.section, s.name, s.id LIMIT ? OFFSET ?", (limit, offset))

    def source_count(self) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM sources")
        return int(row["n"]) if row else 0

    def has_source_section(self, section: str) -> bool:
        """Whether some source files its articles under ``section`` (a section that exists before any article)."""
        return self._one("SELECT 1 AS x FROM sources WHERE section = ? LIMIT 1", (section,)) is not None

    def due_sources(self, now: str, *, include_all: bool = False) -> list[Row]:
        if include_all:
            return self._all("SELECT * FROM sources WHERE feed_url IS NOT NULL ORDER BY id")
        return self._all(
            "SELECT * FROM sources WHERE feed_url IS NOT NULL AND (next_poll_at IS NULL OR next_poll_at <= ?)"
            " ORDER BY next_poll_at NULLS FIRST, id", (now,))

    def refresh_now(self, source_id: int) -> None:
        """Make a source due now: the next scheduling pass (here or on a worker) polls it."""
        self._run("UPDATE sources SET next_poll_at = NULL WHERE id = ?", (source_id,))

    def refresh_all_now(self) -> int:
        """Make every feed due now (the next scheduling pass polls them all); returns how many there are."""
        with self.transaction():
            self._run("UPDATE sources SET next_poll_at = NULL WHERE feed_url IS NOT NULL")
            row = self._one("SELECT COUNT(*) AS n FROM sources WHERE feed_url IS NOT NULL")
        return int(row["n"]) if row else 0

    def claim_due_sources(self, now: str, until: str, *, limit: int = 10_000) -> list[int]:
        """Due feeds handed to pollers: their next poll is put off to ``until`` (the poll sets the real time), so
        a scheduler running again meanwhile, here or on another machine, does not hand them out twice."""
        with self.transaction():
            self.serialise("schedule")
            ids = [r["id"] for r in self._all(
                "SELECT id FROM sources WHERE feed_url IS NOT NULL AND (next_poll_at IS NULL OR next_poll_at <= ?)"
                " ORDER BY next_poll_at NULLS FIRST, id LIMIT ?", (now, limit))]
            self._many("UPDATE sources SET next_poll_at = ? WHERE id = ?", [(until, i) for i in ids])
        return ids

    def next_due_at(self) -> str | None:
        row = self._one("SELECT MIN(next_poll_at) AS t FROM sources WHERE feed_url IS NOT NULL")
        return row["t"] if row else None

    def update_source(self, source_id: int, **fields: Any) -> None:
        unknown = set(fields) - SOURCE_FIELDS
        if unknown:
            raise ValueError(f"unknown source fields: {sorted(unknown)}")
        if "name" in fields:
            fields["outlet"] = outlet_key(fields["name"])
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction():
            self._run(f"UPDATE sources SET {sets} WHERE id = ?", (*fields.values(), source_id))

    def remove_source(self, source_id: int) -> None:
        with self.transaction():
            ids = [r["id"] for r in self._all("SELECT id FROM articles WHERE source_id = ?", (source_id,))]
            self._many("DELETE FROM articles WHERE id = ?", [(i,) for i in ids])
            self._run("DELETE FROM sources WHERE id = ?", (source_id,))

    def source_icon(self, source_id: int) -> Row | None:
        """Where the source's icon was last looked for: ``site_url``, ``icon_url`` ('' when none was usable) and
        ``checked_at``; None when never."""
        return self._one("SELECT site_url, icon_url, checked_at FROM source_icons WHERE source_id = ?", (source_id,))

    def save_source_icon(self, source_id: int, site_url: str, icon_url: str, checked_at: str) -> None:
        """Record where the source's icon was found (a source removed meanwhile is left alone)."""
        with self.transaction():
            self._run(
                "INSERT INTO source_icons (source_id, site_url, icon_url, checked_at)"
                " SELECT id, ?, ?, ? FROM sources WHERE id = ?"
                " ON CONFLICT (source_id) DO UPDATE SET site_url = excluded.site_url, icon_url = excluded.icon_url,"
                " checked_at = excluded.checked_at", (site_url, icon_url, checked_at, source_id))

    def source_article_url(self, source_id: int) -> str:
        """The address of the source's newest stored article ('' when none): where an imported source's site is."""
        row = self._one("SELECT url FROM articles WHERE source_id = ? ORDER BY id DESC LIMIT 1", (source_id,))
        return str(row["url"]) if row else ""

    def source_health(self) -> Row:
        """How the feeds fare: how many there are, how many have been polled, how many fail now."""
        row = self._one("SELECT COUNT(*) AS sources,"
                        " COALESCE(SUM(CASE WHEN last_polled_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS polled,"
                        " COALESCE(SUM(CASE WHEN error_count > 0 THEN 1 ELSE 0 END), 0) AS failing"
                        " FROM sources WHERE feed_url IS NOT NULL")
        return row or {"sources": 0, "polled": 0, "failing": 0}

    def stories_of_source(self, source_id: int) -> list[int]:
        """The stories a source's articles are in."""
        return [r["story_id"] for r in self._all(
            "SELECT DISTINCT story_id FROM articles WHERE source_id = ? AND story_id IS NOT NULL", (source_id,))]

    def recent_publish_times(self, source_id: int, limit: int = 20) -> list[str]:
        rows = self._all(
            "SELECT published_at FROM articles WHERE source_id = ? AND published_at IS NOT NULL"
            " ORDER BY published_at DESC LIMIT ?", (source_id, limit))
        return [r["published_at"] for r in rows]

    # -- articles --------------------------------------------------------------------------------------

    def find_article(self, source_id: int, guid: str, url: str, canonical_url: str = "") -> Row | None:
        """Identity: same GUID from the same source, else the same URL (from any source: a URL is stored once, so
        the caller must check whose it is), else the same canonical URL from the same source. A canonical URL is
        the page's own claim, so it never reaches another source's articles."""
        cols = "id, source_id, title, text, summary, content_hash"
        if guid:
            row = self._one(f"SELECT {cols} FROM articles WHERE source_id = ? AND guid = ?", (source_id, guid))
            if row:
                return row
        row = self._one(f"SELECT {cols} FROM articles WHERE url = ?", (url,))
        if row or not canonical_url:
            return row
        return self._one(f"SELECT {cols} FROM articles WHERE canonical_url = ? AND source_id = ? ORDER BY id LIMIT 1",
                         (canonical_url, source_id))

    def source_name(self, source_id: int) -> str:
        row = self._one("SELECT name FROM sources WHERE id = ?", (source_id,))
        return str(row["name"]) if row else ""

    def insert_article(self, a: ArticleIn, content_hash: str) -> int:
        now = iso(utcnow())
        with self.transaction():
            return self._insert(
                "INSERT INTO articles (source_id, guid, url, canonical_url, title, summary, text, author,"
                " published_at, fetched_at, updated_at, language, image_url, site_name, section,"
                " extraction_error, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " RETURNING id",
                (a.source_id, a.guid, a.url, a.canonical_url, a.title, a.summary, a.text, a.author,
                 iso(a.published), now, now, a.language, a.image_url, a.site_name, a.section,
                 a.extraction_error, content_hash),
            )

    def update_article(self, article_id: int, a: ArticleIn, content_hash: str) -> None:
        """An edited article is updated in place and queued for analysis again."""
        with self.transaction():
            self._run(
                "UPDATE articles SET title = ?, summary = ?, text = ?, author = ?,"
                " published_at = COALESCE(?, published_at), updated_at = ?, language = ?, image_url = ?,"
                " site_name = ?, canonical_url = ?, extraction_error = ?, content_hash = ?, analysed = 0,"
                " claimed_at = NULL"
                " WHERE id = ?",
                (a.title, a.summary, a.text, a.author, iso(a.published), iso(utcnow()), a.language,
                 a.image_url, a.site_name, a.canonical_url, a.extraction_error, content_hash, article_id),
            )

    def set_sections(self, article_id: int, sections: Iterable[str]) -> None:
        with self.transaction():
            self._run("DELETE FROM article_sections WHERE article_id = ?", (article_id,))
            wanted = list(dict.fromkeys(s for s in sections if s))
            self._many(
                "INSERT INTO article_sections (article_id, section, sort_key, position)"
                " SELECT id, CAST(? AS TEXT), COALESCE(published_at, fetched_at), ? FROM articles WHERE id = ?"
                " ON CONFLICT DO NOTHING", [(s, k, article_id) for k, s in enumerate(wanted)])

    def article(self, article_id: int, *, with_text: bool = True) -> Row | None:
        cols = ARTICLE_COLUMNS + (", a.text" if with_text else "")
        row = self._one(f"SELECT {cols} FROM articles a JOIN sources s ON s.id = a.source_id WHERE a.id = ?",
                        (article_id,))
        if row:
            row["sections"] = self.sections_of(article_id)
        return row

    def article_by_url(self, url: str) -> Row | None:
        row = self._one("SELECT id FROM articles WHERE url = ?", (url,))
        if row is None:
            row = self._one("SELECT id FROM articles WHERE canonical_url = ? ORDER BY id LIMIT 1", (url,))
        return self.article(int(row["id"])) if row else None

    def article_by_urls(self, urls: list[str]) -> Row | None:
        """The article stored at the first of ``urls`` that names one (as its URL, else its canonical URL)."""
        if not urls:
            return None
        marks = ",".join("?" * len(urls))
        rows = self._all(f"SELECT id, url, canonical_url FROM articles WHERE url IN ({marks})"
                         f" OR canonical_url IN ({marks}) ORDER BY id", (*urls, *urls))
        rank = {u: k for k, u in reversed(list(enumerate(urls)))}
        best = min(rows, key=lambda r: min(rank.get(r["url"], len(urls)), rank.get(r["canonical_url"], len(urls))),
                   default=None)  # rows are in id order: the first stored wins a tie
        return self.article(int(best["id"])) if best else None

    def stored_article(self, url: str) -> Row | None:
        """Every column stored for the article at ``url``, as stored (to check what a change left untouched)."""
        return self._one("SELECT * FROM articles WHERE url = ?", (url,))

    def articles_by_ids(self, ids: list[int], *, with_text: bool = False) -> list[Row]:
        if not ids:
            return []
        cols = ARTICLE_COLUMNS + (", a.text" if with_text else "")
        marks = ",".join("?" * len(ids))
        rows = self._all(f"SELECT {cols} FROM articles a JOIN sources s ON s.id = a.source_id"
                         f" WHERE a.id IN ({marks})", ids)
        order = {i: n for n, i in enumerate(ids)}
        return sorted(rows, key=lambda r: order[r["id"]])

    def sections_of(self, article_id: int) -> list[str]:
        return [r["section"] for r in self._all(
            "SELECT section FROM article_sections WHERE article_id = ? ORDER BY position", (article_id,))]

    def sections_of_many(self, article_ids: list[int]) -> dict[int, list[str]]:
        """The sections of each article, in the order they were filed (as ``sections_of``), read together:
        one query for up to 900 articles. Articles without sections map to an empty list."""
        out: dict[int, list[str]] = {i: [] for i in article_ids}
        for chunk in _chunks(list(out), 900):
            marks = ",".join("?" * len(chunk))
            for r in self._all(f"SELECT article_id, section FROM article_sections WHERE article_id IN ({marks})"
                               " ORDER BY article_id, position", chunk):
                out[r["article_id"]].append(r["section"])
        return out

    def latest_articles(self, *, section: str | None = None, source_id: int | None = None,
                        limit: int = 50, offset: int = 0) -> list[Row]:
        """Newest first (by publication, else arrival), from one section, one source or everywhere."""
        order = "ORDER BY COALESCE(a.published_at, a.fetched_at) DESC, a.id DESC LIMIT ? OFFSET ?"
        if section:
            return self._all(
                f"SELECT {ARTICLE_COLUMNS} FROM article_sections x JOIN articles a ON a.id = x.article_id"
                " JOIN sources s ON s.id = a.source_id WHERE x.section = ?"
                " ORDER BY x.sort_key DESC, x.article_id DESC LIMIT ? OFFSET ?", (section, limit, offset))
        if source_id is not None:
            return self._all(f"SELECT {ARTICLE_COLUMNS} FROM articles a JOIN sources s ON s.id = a.source_id"
                             f" WHERE a.source_id = ? {order}", (source_id, limit, offset))
        return self._all(f"SELECT {ARTICLE_COLUMNS} FROM articles a JOIN sources s ON s.id = a.source_id {order}",
                         (limit, offset))

    def section_counts(self) -> list[Row]:
        return self._all("SELECT section, COUNT(*) AS articles FROM article_sections GROUP BY section"
                         " ORDER BY articles DESC, section")

    def counts(self) -> Row:
        """What an operator watches, counted in one query: articles, stories, sources and the backlog."""
        row = self._one(
            "SELECT (SELECT COUNT(*) FROM articles) AS articles, (SELECT COUNT(*) FROM stories) AS stories,"
            " (SELECT COUNT(*) FROM articles WHERE analysed = 0) AS waiting,"
            " (SELECT COUNT(*) FROM sources WHERE feed_url IS NOT NULL) AS feeds,"
            " (SELECT COUNT(*) FROM sources WHERE feed_url IS NOT NULL AND error_count > 0) AS failing")
        return row or {}

    def queued_jobs(self) -> dict[tuple[str, str], int]:
        """Jobs waiting or running in a queue of workers, by (task, status): none where there are no workers."""
        return {}

    def article_count(self) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM articles")
        return int(row["n"]) if row else 0

    # -- analysis backlog and derived data ------------------------------------------------------------

    def backlog(self, limit: int = 256) -> list[Row]:
        """Articles waiting for analysis, claimed or not (to look at; analysers take theirs with ``claim_backlog``)."""
        return self._all(f"SELECT {BACKLOG_COLUMNS} FROM articles a JOIN sources s ON s.id = a.source_id"
                         " WHERE a.analysed = 0 ORDER BY a.id LIMIT ?", (limit,))

    def claim_backlog(self, limit: int, *, by: str = "", lease: float = CLAIM_LEASE) -> tuple[str, list[Row]]:
        """Take up to ``limit`` waiting articles for one analyser (``by`` names it, see ``claimants``): others
        skip them until ``mark_analysed`` or ``release_claims``, or until the claim is ``lease`` seconds old.
        Returns the claim's stamp, which the analyser hands back with them."""
        now = datetime.now(UTC)  # to the microsecond: claims made within one second stay apart
        stamp = _stamp(now)
        with self.transaction():
            expired = _stamp(now - timedelta(seconds=lease))
            rows = self._all(f"SELECT {BACKLOG_COLUMNS} FROM articles a JOIN sources s ON s.id = a.source_id"
                             " WHERE a.analysed = 0 AND (a.claimed_at IS NULL OR a.claimed_at < ?)"
                             f" ORDER BY a.id LIMIT ?{self.CLAIM_LOCK}", (expired, limit))
            self._many("UPDATE articles SET claimed_at = ?, claimed_by = ? WHERE id = ?",
                           [(stamp, by, r["id"]) for r in rows])
        return stamp, rows

    def claimants(self) -> list[str]:
        """Who holds claims on waiting articles now."""
        return [r["claimed_by"] for r in self._all(
            "SELECT DISTINCT claimed_by FROM articles WHERE analysed = 0 AND claimed_at IS NOT NULL")]

    def release_claimant(self, by: str) -> None:
        """Free every claim of an analyser known to be gone (killed before it could give them back)."""
        with self.transaction():
            self._run("UPDATE articles SET claimed_at = NULL, claimed_by = NULL WHERE analysed = 0"
                       " AND claimed_by = ?", (by,))

    def release_claims(self, ids: Iterable[int], stamp: str) -> None:
        """Give claimed articles back to the backlog (the analysis failed), unless someone else holds them now."""
        with self.transaction():
            self._many("UPDATE articles SET claimed_at = NULL WHERE id = ? AND claimed_at = ?",
                           [(i, stamp) for i in ids])

    def backlog_size(self, limit: int, *, lease: float = CLAIM_LEASE) -> int:
        """How many articles wait for an analyser (claimed ones left out), counted up to ``limit``."""
        row = self._one("SELECT COUNT(*) AS n FROM (SELECT 1 FROM articles WHERE analysed = 0"
                        " AND (claimed_at IS NULL OR claimed_at < ?) LIMIT ?) AS waiting",
                        (_stamp(datetime.now(UTC) - timedelta(seconds=lease)), limit))
        return int(row["n"]) if row else 0

    def mark_analysed(self, ids: Iterable[int], stamp: str | None = None) -> None:
        """Analysed, numbered in the order analyses end. With the claim's ``stamp``, an article changed (and so
        given back to the backlog) or claimed by another since is left waiting."""
        with self.transaction():
            self.serialise("analysed_seq")  # numbers are handed out in commit order, so none is ever skipped
            row = self._one("SELECT COALESCE(MAX(analysed_seq), 0) AS n FROM articles")
            seq = int(row["n"]) if row else 0
            done = [(seq + k, i) for k, i in enumerate(ids, start=1)]
            sql = "UPDATE articles SET analysed = 1, claimed_at = NULL, analysed_seq = ? WHERE id = ?"
            if stamp is None:
                self._many(sql, done)
            else:
                self._many(sql + " AND claimed_at = ?", [(*d, stamp) for d in done])

    def analysed_after(self, seq: int, model: str, limit: int = 2048) -> list[Row]:
        """Articles analysed (by any process) after ``seq``, in that order, with their index facts and vector."""
        return self._all(
            "SELECT a.id AS article_id, a.analysed_seq, a.published_at, a.story_id, a.copy_group, s.outlet, e.vector"
            " FROM articles a JOIN sources s ON s.id = a.source_id JOIN embeddings e ON e.article_id = a.id"
            " AND e.model = ? WHERE a.analysed_seq > ? ORDER BY a.analysed_seq LIMIT ?", (model, seq, limit))

    def last_analysed_seq(self) -> int:
        row = self._one("SELECT COALESCE(MAX(analysed_seq), 0) AS n FROM articles")
        return int(row["n"]) if row else 0

    def index_facts(self, ids: list[int]) -> dict[int, Row]:
        """The facts the linker relies on for a few articles (story, copy group, outlet, time), as stored now."""
        out: dict[int, Row] = {}
        for chunk in _chunks(ids, 900):
            marks = ",".join("?" * len(chunk))
            out.update((r["article_id"], r) for r in self._all(
                "SELECT a.id AS article_id, a.published_at, a.story_id, a.copy_group, s.outlet FROM articles a"
                f" JOIN sources s ON s.id = a.source_id WHERE a.id IN ({marks})", chunk))
        return out

    def save_embeddings(self, model: str, rows: Iterable[tuple[int, bytes]]) -> None:
        with self.transaction():
            self._many("INSERT INTO embeddings (article_id, model, vector) VALUES (?, ?, ?) ON CONFLICT (article_id)"
                       " DO UPDATE SET model = excluded.model, vector = excluded.vector",
                           [(i, model, v) for i, v in rows])

    def iter_index_facts(self, model: str, *, batch: int = 5000) -> Iterator[Row]:
        """Per embedded article, the facts the similarity index filters on, in id order (read in batches, so a
        million articles never sit in memory as rows at once)."""
        after = 0
        while True:
            rows = self._all(
                "SELECT e.article_id, a.published_at, a.story_id, a.copy_group, s.outlet"
                " FROM embeddings e JOIN articles a ON a.id = e.article_id JOIN sources s ON s.id = a.source_id"
                " WHERE e.model = ? AND e.article_id > ? ORDER BY e.article_id LIMIT ?", (model, after, batch))
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1]["article_id"]

    def vectors(self, ids: list[int], model: str) -> dict[int, bytes]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return {r["article_id"]: r["vector"] for r in self._all(
            f"SELECT article_id, vector FROM embeddings WHERE model = ? AND article_id IN ({marks})", (model, *ids))}

    def save_fingerprints(self, rows: Iterable[tuple[int, bytes, int, str | None, str | None]]) -> None:
        """Per article: MinHash signature, shingle count, and the linker's words and terms (newline-joined)."""
        with self.transaction():
            self._many("INSERT INTO fingerprints (article_id, minhash, shingles, words, terms) VALUES (?, ?, ?, ?, ?)"
                       " ON CONFLICT (article_id) DO UPDATE SET minhash = excluded.minhash,"
                       " shingles = excluded.shingles, words = excluded.words, terms = excluded.terms", list(rows))

    def save_evidence(self, article_id: int, words: str, terms: str) -> None:
        with self.transaction():
            self._run("UPDATE fingerprints SET words = ?, terms = ? WHERE article_id = ?", (words, terms, article_id))

    def link_features(self, ids: list[int], *, lead_chars: int = 2500) -> dict[int, Row]:
        """Headline, lead and fingerprint of a few articles: what the linker compares a new article with."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._all(
            "SELECT a.id, a.title, a.summary, f.minhash, f.shingles, f.words, f.terms,"
            " CASE WHEN f.words IS NULL THEN substr(a.text, 1, ?) END AS lead"  # the text only where needed
            f" FROM articles a LEFT JOIN fingerprints f ON f.article_id = a.id WHERE a.id IN ({marks})",
            (lead_chars, *ids))
        return {r["id"]: r for r in rows}

    def headlines_and_texts(self, ids: list[int]) -> dict[int, tuple[str, str]]:
        """Headline and text (the page's, else the feed's summary) of a few articles: what copies are judged on."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return {r["id"]: (r["title"] or "", r["text"] or r["summary"] or "") for r in self._all(
            f"SELECT id, title, text, summary FROM articles WHERE id IN ({marks})", ids)}

    def save_neighbours(self, links: Iterable[Neighbour]) -> None:
        with self.transaction():
            self._many(
                "INSERT INTO links (article_id, other_id, score, relation, why) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (article_id, other_id) DO UPDATE SET score = excluded.score,"
                " relation = excluded.relation, why = excluded.why",
                [(n.article_id, n.other_id, n.score, n.relation, n.why) for n in links])

    def clear_neighbours(self, article_id: int) -> None:
        with self.transaction():
            self._run("DELETE FROM links WHERE article_id = ?", (article_id,))
            self._run("DELETE FROM links WHERE other_id = ?", (article_id,))

    def similar_to(self, article_id: int, *, limit: int = 10) -> list[Row]:
        """Stored Similar News of one article, same-event first, then by score (texts cut to their lead)."""
        return self._all(
            f"SELECT {ARTICLE_COLUMNS}, substr(a.text, 1, 1500) AS text, n.score, n.relation, n.why FROM links n"
            " JOIN articles a ON a.id = n.other_id JOIN sources s ON s.id = a.source_id"
            " WHERE n.article_id = ?"
            " ORDER BY CASE n.relation WHEN 'related' THEN 1 ELSE 0 END, n.score DESC, n.other_id LIMIT ?",
            (article_id, limit))

    # -- copies of one text ----------------------------------------------------------------------------

    def join_copy_group(self, article_ids: list[int], group: int, *, absorb: Iterable[int] = ()) -> list[int]:
        """Put articles, and every member of the groups in ``absorb``, into one copy group; returns its members."""
        others = [g for g in absorb if g != group]
        with self.transaction():
            for g in others:
                self._run("UPDATE articles SET copy_group = ? WHERE copy_group = ?", (group, g))
            self._many("UPDATE articles SET copy_group = ? WHERE id = ?", [(group, i) for i in article_ids])
        return [r["id"] for r in self._all("SELECT id FROM articles WHERE copy_group = ?", (group,))]

    def copy_group_members(self, group: int) -> list[Row]:
        return self._all(
            f"SELECT {ARTICLE_COLUMNS}, substr(a.text, 1, 600) AS lead FROM articles a"
            " JOIN sources s ON s.id = a.source_id WHERE a.copy_group = ?"
            " ORDER BY COALESCE(a.published_at, a.fetched_at), a.id", (group,))

    def copy_groups(self, groups: list[int], *, edge_chars: int = 400) -> dict[int, list[Row]]:
        """Members of several copy groups, earliest first, each with the head and tail of its text (where a
        credit line sits) instead of the whole text."""
        out: dict[int, list[Row]] = {g: [] for g in groups}
        if not groups:
            return out
        marks = ",".join("?" * len(groups))
        for r in self._all(
                f"SELECT {ARTICLE_COLUMNS}, substr(a.text, 1, ?) AS text_head,"
                " CASE WHEN length(a.text) > ? THEN substr(a.text, length(a.text) - ? + 1) ELSE '' END AS text_tail"
                f" FROM articles a JOIN sources s ON s.id = a.source_id WHERE a.copy_group IN ({marks})"
                " ORDER BY COALESCE(a.published_at, a.fetched_at), a.id",
                (edge_chars, edge_chars, edge_chars, *groups)):
            out[r["copy_group"]].append(r)
        return out

    def latest_folded(self, *, section: str | None = None, source_id: int | None = None,
                      limit: int = 50, offset: int = 0) -> list[Row]:
        """Like ``latest_articles``, with each copy group once: only its earliest member within the listing
        (same section, same source or everywhere) is listed, so LIMIT and OFFSET count folded items.

        Each listed row looks up its group's other members through the copy-group index (a group is small);
        CROSS JOIN and the unary plus keep SQLite from scanning the whole section or source instead."""
        earlier = ("(COALESCE(b.published_at, b.fetched_at) < COALESCE(a.published_at, a.fetched_at)"
                   " OR (COALESCE(b.published_at, b.fetched_at) = COALESCE(a.published_at, a.fetched_at)"
                   " AND b.id < a.id))")
        order = "ORDER BY COALESCE(a.published_at, a.fetched_at) DESC, a.id DESC LIMIT ? OFFSET ?"
        if section:
            return self._all(
                f"SELECT {ARTICLE_COLUMNS} FROM article_sections x JOIN articles a ON a.id = x.article_id"
                " JOIN sources s ON s.id = a.source_id WHERE x.section = ? AND (a.copy_group IS NULL OR NOT EXISTS"
                " (SELECT 1 FROM articles b CROSS JOIN article_sections y"
                " WHERE b.copy_group = a.copy_group AND y.article_id = b.id AND y.section = x.section"
                " AND (y.sort_key < x.sort_key"
                " OR (y.sort_key = x.sort_key AND y.article_id < x.article_id))))"
                " ORDER BY x.sort_key DESC, x.article_id DESC LIMIT ? OFFSET ?", (section, limit, offset))
        if source_id is not None:
            return self._all(
                f"SELECT {ARTICLE_COLUMNS} FROM articles a JOIN sources s ON s.id = a.source_id"
                " WHERE a.source_id = ? AND (a.copy_group IS NULL OR NOT EXISTS (SELECT 1 FROM articles b"
                f" WHERE b.copy_group = a.copy_group AND +b.source_id = a.source_id AND {earlier})) {order}",
                (source_id, limit, offset))
        return self._all(
            f"SELECT {ARTICLE_COLUMNS} FROM articles a JOIN sources s ON s.id = a.source_id"
            " WHERE a.copy_group IS NULL OR NOT EXISTS (SELECT 1 FROM articles b"
            f" WHERE b.copy_group = a.copy_group AND {earlier}) {order}", (limit, offset))

    def story_links(self, story_id: int) -> list[Row]:
        """Stored links between members of one story (each pair once): why they are grouped."""
        return self._all(
            "SELECT n.article_id, n.other_id, n.score, n.relation, n.why FROM links n"
            " JOIN articles a ON a.id = n.article_id JOIN articles b ON b.id = n.other_id"
            " WHERE a.story_id = ? AND b.story_id = ? AND n.article_id < n.other_id ORDER BY n.score DESC",
            (story_id, story_id))

    # -- stories ---------------------------------------------------------------------------------------

    def create_story(self, title: str) -> int:
        with self.transaction():
            return self._insert("INSERT INTO stories (title, updated_at) VALUES (?, ?) RETURNING id",
                                (title, iso(utcnow())))

    def set_story(self, article_id: int, story_id: int) -> None:
        with self.transaction():
            self._run("UPDATE articles SET story_id = ? WHERE id = ?", (story_id, article_id))

    def move_story(self, from_id: int, to_id: int) -> None:
        """Merge one story into another: every article follows, the emptied story goes, and its address
        redirects to the one it joined."""
        if from_id == to_id:
            return
        with self.transaction():
            self._run("UPDATE articles SET story_id = ? WHERE story_id = ?", (to_id, from_id))
            self._run("DELETE FROM stories WHERE id = ?", (from_id,))
            self.record_story_redirect(from_id, to_id)

    def record_story_redirect(self, from_id: int, to_id: int) -> None:
        """The story ``from_id`` now lives at ``to_id``. Redirects that led to ``from_id`` are repointed, so
        every old address is one hop from a live story."""
        if from_id == to_id:
            return
        with self.transaction():
            self._run("UPDATE story_redirects SET to_id = ? WHERE to_id = ?", (to_id, from_id))
            self._run("INSERT INTO story_redirects (from_id, to_id) VALUES (?, ?)"
                       " ON CONFLICT (from_id) DO UPDATE SET to_id = excluded.to_id", (from_id, to_id))
            # A story merged back into an id that once redirected to it would otherwise point at itself.
            self._run("DELETE FROM story_redirects WHERE from_id = to_id")

    def story_redirect(self, story_id: int) -> int | None:
        """Where a merged story now lives; None when there is no redirect or a live story has this id (story
        ids can be reused, and a live story always wins)."""
        row = self._one("SELECT r.to_id FROM story_redirects r WHERE r.from_id = ?"
                        " AND NOT EXISTS (SELECT 1 FROM stories st WHERE st.id = r.from_id)", (story_id,))
        return int(row["to_id"]) if row else None

    def delete_story(self, story_id: int) -> None:
        with self.transaction():
            self._run("UPDATE articles SET story_id = NULL WHERE story_id = ?", (story_id,))
            self._run("DELETE FROM stories WHERE id = ?", (story_id,))

    def story_members(self, story_id: int) -> list[Row]:
        return self._all(
            f"SELECT {ARTICLE_COLUMNS} FROM articles a JOIN sources s ON s.id = a.source_id"
            " WHERE a.story_id = ? ORDER BY COALESCE(a.published_at, a.fetched_at), a.id", (story_id,))

    def update_story(self, story_id: int, *, title: str, lead_article_id: int | None, first: str | None,
                     last: str | None, size: int, outlets: int) -> None:
        with self.transaction():
            self._run(
                "UPDATE stories SET title = ?, lead_article_id = ?, first_published_at = ?,"
                " last_published_at = ?, size = ?, outlets = ?, updated_at = ? WHERE id = ?",
                (title, lead_article_id, first, last, size, outlets, iso(utcnow()), story_id))

    def story_sizes(self, story_ids: list[int]) -> dict[int, int]:
        if not story_ids:
            return {}
        marks = ",".join("?" * len(story_ids))
        return {r["id"]: r["size"] for r in self._all(f"SELECT id, size FROM stories WHERE id IN ({marks})",
                                                       story_ids)}

    def story(self, story_id: int) -> Row | None:
        return self._one("SELECT * FROM stories WHERE id = ?", (story_id,))

    def stories(self, *, limit: int = 50, offset: int = 0, section: str | None = None,
                min_outlets: int = 1) -> list[Row]:
        params: list[Any] = [min_outlets]
        where = "WHERE st.outlets >= ?"
        if section:
            where += (" AND st.id IN (SELECT a.story_id FROM articles a JOIN article_sections x"
                      " ON x.article_id = a.id WHERE x.section = ?)")
            params.append(section)
        return self._all(
            f"SELECT st.* FROM stories st {where}"
            " ORDER BY st.outlets DESC, st.last_published_at DESC NULLS LAST, st.id DESC LIMIT ? OFFSET ?",
            (*params, limit, offset))

    def story_count(self) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM stories")
        return int(row["n"]) if row else 0

    def recent_stories(self, *, limit: int = 50, offset: int = 0) -> list[Row]:
        return self._all("SELECT * FROM stories ORDER BY last_published_at DESC NULLS LAST, id DESC LIMIT ? OFFSET ?",
                         (limit, offset))

    def members_of_stories(self, story_ids: list[int]) -> dict[int, list[Row]]:
        out: dict[int, list[Row]] = {i: [] for i in story_ids}
        if not story_ids:
            return out
        marks = ",".join("?" * len(story_ids))
        for r in self._all(
                f"SELECT {ARTICLE_COLUMNS} FROM articles a JOIN sources s ON s.id = a.source_id"
                f" WHERE a.story_id IN ({marks}) ORDER BY COALESCE(a.published_at, a.fetched_at), a.id",
                story_ids):
            out[r["story_id"]].append(r)
        return out

    # -- re-clustering ---------------------------------------------------------------------------------

    def cluster_window(self, since: str | None = None, *, limit: int = 20_000) -> list[Row]:
        """The latest ``limit`` analysed articles whose time (publication, else arrival) is at or after ``since``
        (all when None), with what the re-clustering needs: outlet, time, story and the linker's words."""
        where = "WHERE a.analysed = 1" + (" AND COALESCE(a.published_at, a.fetched_at) >= ?" if since else "")
        return self._all(
            "SELECT a.id, s.outlet, a.published_at, a.story_id, a.copy_group, f.words FROM articles a"
            " JOIN sources s ON s.id = a.source_id LEFT JOIN fingerprints f ON f.article_id = a.id"
            f" {where} ORDER BY COALESCE(a.published_at, a.fetched_at) DESC, a.id DESC LIMIT ?",
            (since, limit) if since else (limit,))

    def links_among(self, ids: list[int]) -> list[tuple[int, int, float, str]]:
        """Stored links (both directions) whose two ends are both in ``ids``, as (article_id, other_id, score,
        relation): tuples, since a window of many thousand articles has hundreds of thousands of links."""
        wanted = set(ids)
        out: list[tuple[int, int, float, str]] = []
        for chunk in _chunks(ids, 900):
            marks = ",".join("?" * len(chunk))
            out += [(r[0], r[1], r[2], r[3]) for r in self._tuples(
                f"SELECT article_id, other_id, score, relation FROM links WHERE article_id IN ({marks})", chunk)
                if r[1] in wanted]
        return out

    def relabel_links(self, rows: Iterable[tuple[float, str, int, int]]) -> None:
        """New (score, relation) for stored links given as (score, relation, article_id, other_id)."""
        with self.transaction():
            self._many("UPDATE links SET score = ?, relation = ? WHERE article_id = ? AND other_id = ?",
                           list(rows))


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _stamp(when: datetime) -> str:
    """A claim's time to the microsecond (ISO, UTC): claims compare as text."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def copy_into(source: Store, target: Store, *, step: int = 2000,
              progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Every row of ``source`` written to ``target`` (an empty store, e.g. a new PostgreSQL database), ids kept,
    so every link, story and redirect is the same there; returns the rows copied per table. The rows of a table
    are read in ranges of ``step`` ids, so an archive of any size copies in little memory."""
    if target.article_count() or target.sources():
        raise UserError(f"{target.describe()} is not empty: copy into a new database")
    copied: dict[str, int] = {}
    for table, key, columns in TABLES:
        span = source._one(f"SELECT MIN({key}) AS lo, MAX({key}) AS hi FROM {table}")
        lo, hi = (span or {}).get("lo"), (span or {}).get("hi")
        copied[table] = 0
        if lo is None or hi is None:
            continue
        names, marks = ", ".join(columns), ", ".join("?" * len(columns))
        for start in range(int(lo), int(hi) + 1, step):
            rows = source._tuples(f"SELECT {names} FROM {table} WHERE {key} >= ? AND {key} < ?", (start, start + step))
            with target.transaction():
                target._many(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
            copied[table] += len(rows)
            if progress is not None:
                progress(table, copied[table])
    target.after_copy()
    return copied
