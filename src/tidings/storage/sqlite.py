"""The SQLite store: one file, nothing to set up, the default.

WAL mode lets the web server read while the poller writes. Each thread has its own connection (sqlite3
connections must not be shared across threads); writes are short ``BEGIN IMMEDIATE`` transactions, so one writer
at a time holds the lock and the others queue.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tidings.errors import UserError
from tidings.storage.schema_sqlite import MIGRATIONS
from tidings.storage.store import ARTICLE_COLUMNS, Row, Store


class SQLiteStore(Store):
    dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        super().__init__(str(path))
        self._local = threading.local()
        if self.target != ":memory:":
            Path(self.target).parent.mkdir(parents=True, exist_ok=True)
        self.migrate()

    @classmethod
    def open(cls, path: str | Path, *, create: bool = True) -> SQLiteStore:
        """The store at ``path``, with a clear UserError instead of SQLite's when it cannot be used: a folder
        given for the file, a file that is no database, a folder that cannot be written, or (``create`` False,
        for commands that only read) no database there yet."""
        p = Path(path).expanduser()
        if p.is_dir():
            raise UserError(f"{p} is a folder: give the database file in it, e.g. {p / 'tidings.db'}")
        if not create and not p.exists():
            raise UserError(f"there is no database at {p} (`tidings sources add URL` or `tidings run` makes one)")
        try:
            return cls(p)
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc):
                raise UserError(f"{p} is not a Tidings database (not an SQLite file)") from None
            raise UserError(f"cannot use the database {p}: {exc} (can its folder be written?)") from None
        except (FileExistsError, NotADirectoryError):
            raise UserError(f"cannot make the database folder {p.parent}: a file is in the way") from None
        except OSError as exc:
            raise UserError(f"cannot make the database folder {p.parent}: {exc.strerror}") from None

    def describe(self) -> str:
        return self.target

    # -- connection and transactions -------------------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.target, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE takes the write lock up front, so two writers queue instead of deadlocking."""
        db = self.db
        if db.in_transaction:
            yield
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @property
    def in_transaction(self) -> bool:
        return bool(self.db.in_transaction)

    def serialise(self, name: str) -> None:
        """Nothing to do: a transaction here already holds the database's one write lock."""

    def data_version(self) -> int:
        """``PRAGMA data_version``: changes on this connection whenever another connection (any thread or
        process) has committed."""
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        self.thread_done()

    def thread_done(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def after_copy(self) -> None:
        """Nothing to do: a new row's id is one more than the largest already."""

    def migrate(self) -> int:
        db = self.db
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = db.execute("SELECT MAX(version) AS v FROM schema_version").fetchone()
        current = row["v"] or 0
        for version, sql in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            # executescript commits on its own; wrap the script so a failure leaves nothing half-applied.
            db.executescript(f"BEGIN;\n{sql}\nINSERT INTO schema_version (version) VALUES ({version});\nCOMMIT;")
        return len(MIGRATIONS)

    # -- statements ------------------------------------------------------------------------------------

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return [dict(r) for r in self.db.execute(self._traced(sql), tuple(params)).fetchall()]

    def _tuples(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.db.execute(self._traced(sql), tuple(params)).fetchall()]

    def _run(self, sql: str, params: Iterable[Any] = ()) -> None:
        self.db.execute(self._traced(sql), tuple(params))

    def _many(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        self.db.executemany(self._traced(sql), [tuple(r) for r in rows])

    # -- full-text search (FTS5) -----------------------------------------------------------------------

    def search(self, query: str, *, limit: int = 50) -> list[Row]:
        match = _fts_query(query)
        if not match:
            return []
        return self._all(
            f"SELECT {ARTICLE_COLUMNS}, snippet(articles_fts, 2, '[', ']', '…', 24) AS match"
            " FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid"
            " JOIN sources s ON s.id = a.source_id WHERE articles_fts MATCH ? ORDER BY rank LIMIT ?",
            (match, limit))

    def search_count(self, query: str) -> int:
        match = _fts_query(query)
        if not match:
            return 0
        row = self._one("SELECT COUNT(*) AS n FROM articles_fts WHERE articles_fts MATCH ?", (match,))
        return int(row["n"]) if row else 0


def _fts_query(query: str) -> str:
    """The words of a query, each quoted: what a person types is never taken as FTS syntax."""
    return " ".join(f'"{w}"' for w in re.findall(r"\w+", query)[:20])
