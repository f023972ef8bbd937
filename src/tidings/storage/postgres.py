"""The PostgreSQL store: for many processes on many machines (``tidings worker``), chosen by a
``postgresql://`` URL.

Connections come from a psycopg pool and are lent per statement; a transaction keeps its connection for the
thread until it ends. The queries are the shared ones of ``Store`` (``?`` placeholders are turned into psycopg's
``%s`` once per statement text). What SQLite gets from its single writer, PostgreSQL gets from row locks
(``claim_backlog`` skips rows another claimer holds) and transaction-scoped advisory locks (``serialise``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from tidings.errors import UserError
from tidings.storage.schema_postgres import MIGRATIONS, QUEUE_SCHEMA, queue_schema
from tidings.storage.store import ARTICLE_COLUMNS, Row, Store

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

POOL_MAX = 8           # connections one process may hold (web threads, poller, analyser)
CONNECT_TIMEOUT = 10   # seconds to wait for a connection before a statement fails
MIGRATE_LOCK = 7_246_001  # advisory lock key: one process at a time brings the schema up to date


def is_postgres_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@lru_cache(maxsize=1024)
def _psycopg_sql(sql: str) -> str:
    """``?`` placeholders in psycopg's style; a literal ``%`` doubled so psycopg leaves it alone."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresStore(Store):
    dialect = "postgresql"
    CLAIM_LOCK = " FOR UPDATE OF a SKIP LOCKED"

    def __init__(self, url: str, *, pool_max: int = POOL_MAX) -> None:
        super().__init__(url)
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        self._local = threading.local()
        self.pool: ConnectionPool[psycopg.Connection[Row]] = ConnectionPool(
            url, min_size=1, max_size=pool_max, timeout=CONNECT_TIMEOUT, open=False,
            kwargs={"autocommit": True, "row_factory": dict_row},
            check=ConnectionPool.check_connection,  # a connection that died while idle is replaced, not used
            name="tidings")
        try:
            self.pool.open(wait=True, timeout=CONNECT_TIMEOUT)
            self.migrate()
        except BaseException:
            self.pool.close()  # no pool left trying to reconnect behind a store that never opened
            raise

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> PostgresStore:
        """The store at ``url``, with one clear UserError when the server cannot be reached or refuses."""
        import psycopg
        from psycopg_pool import PoolTimeout

        try:
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT).close()  # one try first: its error says why
            return cls(url)
        except (PoolTimeout, psycopg.OperationalError) as exc:
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            reason = lines[0].removeprefix("connection failed: ") if lines else type(exc).__name__
            raise UserError(f"cannot use the database {hide_password(url)}: {reason}") from None
        except psycopg.ProgrammingError as exc:  # not a URL psycopg can read
            raise UserError(f"cannot use the database {hide_password(url)}: {exc}") from None

    def describe(self) -> str:
        return hide_password(self.target)

    # -- connection and transactions -------------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Row]]:
        """This thread's transaction's connection, else one lent by the pool for one statement."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        with self.pool.connection() as lent:
            yield lent

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with self.pool.connection() as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    yield
            finally:
                self._local.conn = None

    @property
    def in_transaction(self) -> bool:
        return getattr(self._local, "conn", None) is not None

    def serialise(self, name: str) -> None:
        if not self.in_transaction:
            raise RuntimeError("serialise() holds its lock until commit: call it inside a transaction")
        self._run("SELECT pg_advisory_xact_lock(hashtext(?))", (name,))

    def data_version(self) -> int:
        row = self._one("SELECT COALESCE(SUM(n), 0) AS n FROM changes")
        return int(row["n"]) if row else 0

    def close(self) -> None:
        self.pool.close()

    def thread_done(self) -> None:
        """Nothing to do: connections go back to the pool after each statement or transaction."""

    def migrate(self) -> int:
        with self.pool.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
            try:
                conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                row = conn.execute("SELECT MAX(version) AS v FROM schema_version").fetchone()
                current = (row or {}).get("v") or 0
                for version, sql in enumerate(MIGRATIONS, start=1):
                    if version <= current:
                        continue
                    with conn.transaction():
                        conn.execute(queue_schema() if sql == QUEUE_SCHEMA else sql)
                        conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))
        return len(MIGRATIONS)

    def after_copy(self) -> None:
        """New ids follow on from the copied ones (a story's also from those that now redirect: never reused)."""
        for table, used in (
                ("sources", "SELECT MAX(id) FROM sources"), ("articles", "SELECT MAX(id) FROM articles"),
                ("stories", "SELECT MAX(id) FROM stories UNION ALL SELECT MAX(from_id) FROM story_redirects")):
            self._run(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                      f" GREATEST((SELECT COALESCE(MAX(n), 0) FROM ({used}) AS ids (n)), 1))")

    # -- politeness across workers ----------------------------------------------------------------------

    def take_host_turn(self, host: str, *, per_host: int, gap: float, lease: float) -> tuple[int, float]:
        """A turn to send a request to ``host``, for whichever worker asks: granted as (turn id, 0) when fewer
        than ``per_host`` turns are in flight and the last one started ``gap`` seconds ago or more, else (0,
        seconds to wait). A turn not ended within ``lease`` seconds (its worker died) no longer counts."""
        with self.transaction():
            self.serialise(f"host:{host}")
            row = self._one(
                "SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8 AS now,"
                " (SELECT MAX(started) FROM host_turns WHERE host = ?) AS last,"
                " (SELECT COUNT(*) FROM host_turns WHERE host = ? AND NOT done"
                "  AND started > EXTRACT(EPOCH FROM clock_timestamp()) - ?) AS busy", (host, host, lease))
            assert row is not None
            now, last, busy = float(row["now"]), row["last"], int(row["busy"])
            if busy >= per_host:
                return 0, min(gap, 0.25)
            if last is not None and now < float(last) + gap:
                return 0, float(last) + gap - now
            self._run("DELETE FROM host_turns WHERE host = ? AND started < ?", (host, now - lease))
            return self._insert("INSERT INTO host_turns (host, started) VALUES (?, ?) RETURNING id", (host, now)), 0.0

    def end_host_turn(self, turn: int) -> None:
        self._run("UPDATE host_turns SET done = TRUE WHERE id = ?", (turn,))

    def queued_jobs(self) -> dict[tuple[str, str], int]:
        """Jobs in the workers' queue now, by (task, status): waiting ("todo") or running ("doing")."""
        return {(r["task_name"], r["status"]): int(r["n"]) for r in self._all(
            "SELECT task_name, status::text AS status, COUNT(*) AS n FROM procrastinate_jobs"
            " WHERE status IN ('todo', 'doing') GROUP BY task_name, status")}

    # -- statements ------------------------------------------------------------------------------------

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        with self._connection() as conn:
            return conn.execute(_psycopg_sql(self._traced(sql)), _params(params)).fetchall()

    def _tuples(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        from psycopg.rows import tuple_row

        with self._connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            return cur.execute(_psycopg_sql(self._traced(sql)), _params(params)).fetchall()

    def _run(self, sql: str, params: Iterable[Any] = ()) -> None:
        with self._connection() as conn:
            conn.execute(_psycopg_sql(self._traced(sql)), _params(params))

    def _many(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        batch = [_params(r) for r in rows]
        if not batch:
            return
        with self._connection() as conn, conn.cursor() as cur:
            cur.executemany(_psycopg_sql(self._traced(sql)), batch)

    # -- full-text search (tsvector) -------------------------------------------------------------------

    def search(self, query: str, *, limit: int = 50) -> list[Row]:
        words = _words(query)
        if not words:
            return []
        return self._all(
            f"SELECT {ARTICLE_COLUMNS}, ts_headline('simple', COALESCE(NULLIF(a.text, ''), a.summary), q,"
            " 'StartSel=[, StopSel=], MaxWords=24, MinWords=8, MaxFragments=1, FragmentDelimiter=…') AS match"
            " FROM articles a JOIN sources s ON s.id = a.source_id, plainto_tsquery('simple', ?) q"
            " WHERE a.search @@ q ORDER BY ts_rank(a.search, q) DESC, a.id DESC LIMIT ?", (words, limit))

    def search_count(self, query: str) -> int:
        words = _words(query)
        if not words:
            return 0
        row = self._one("SELECT COUNT(*) AS n FROM articles WHERE search @@ plainto_tsquery('simple', ?)", (words,))
        return int(row["n"]) if row else 0


def _params(params: Iterable[Any]) -> tuple[Any, ...]:
    """Parameters as PostgreSQL takes them: its text cannot hold NUL, which web input may carry (a pasted URL, a
    feed's text); it becomes U+FFFD, the character for what cannot be represented, instead of an error."""
    return tuple(p.replace("\x00", "\ufffd") if isinstance(p, str) and "\x00" in p else p for p in params)


def _words(query: str) -> str:
    """At most 20 words of a query, as plain words (plainto_tsquery never reads them as operators)."""
    return " ".join(re.findall(r"\w+", query)[:20])
