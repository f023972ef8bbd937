"""Changes made through the web: the same ingest use cases the CLI calls, run off the server's event loop.

The Store blocks (SQLite waits for the write lock), so each action runs in a worker thread, with its own event
loop where the use case fetches over the network. Analysis after a change runs in one background thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from tidings import usecases
from tidings.analysis.embeddings import Embedder, get_embedder
from tidings.ingest import pipeline
from tidings.ingest.fetch import Fetcher
from tidings.storage.store import Store

log = logging.getLogger(__name__)

Row = dict[str, Any]
T = TypeVar("T")

MAX_REPORTED_ERRORS = 100


class Analysis:
    """Brings Similar News and stories up to date after a change, one pass at a time, in a background thread.

    Requests made while a pass runs fold into one more pass. The embedding model loads once per app; the
    vector index is rebuilt from the store for each pass, so articles another process (``tidings poll`` from
    cron) added since are candidates too. With ``enabled`` false nothing runs here and two analysers never race
    over one backlog: ``enqueue`` then asks the process that analyses (the poller beside the site under
    ``tidings run``, the workers on PostgreSQL), else its next scheduled pass does it.
    """

    def __init__(self, store: Store, *, enabled: bool = True, enqueue: Callable[[], object] | None = None) -> None:
        self.store = store
        self.enabled = enabled
        self.enqueue = enqueue  # where another process analyses: this asks it, and no model loads here
        self._embedder: Embedder | None = None
        self._cond = threading.Condition()
        self._pending = False
        self._thread: threading.Thread | None = None
        self.passes = 0

    def request(self) -> str:
        """Ask for a pass; returns "queued", or "deferred" when the scheduler will do it."""
        if self.enqueue is not None:
            self.enqueue()
            return "queued"
        if not self.enabled:
            return "deferred"
        with self._cond:
            self._pending = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="tidings-web-analysis", daemon=True)
                self._thread.start()
        return "queued"

    def wait(self, timeout: float) -> bool:
        """Wait until no pass is queued or running; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._thread is None, timeout)

    def _work(self) -> None:
        while True:
            with self._cond:
                if not self._pending:
                    self._thread = None
                    self._cond.notify_all()
                    return
                self._pending = False
            try:
                self._run_once()
            except Exception:  # keep serving; the backlog stays for the next pass or `tidings analyse`
                log.exception("analysis after a change failed")

    def _run_once(self) -> None:
        from tidings.jobs import Analyser

        if self._embedder is None:
            self._embedder = get_embedder()
        usecases.analyse_pending(self.store, Analyser.open(self.store, self._embedder))
        self.passes += 1


def _fetching(use_case: Callable[[Fetcher], Awaitable[T]]) -> T:
    """Run a fetching use case to the end in this (worker) thread, with a Fetcher set up as the CLI sets it."""
    from tidings.jobs import fetch_settings_from_env

    async def run() -> T:
        async with Fetcher(fetch_settings_from_env()) as fetcher:
            return await use_case(fetcher)

    return asyncio.run(run())


# Actions that fetch over the network may take a minute; they get threads of their own so that the small pool
# that renders pages (see web.app) is never held up by them.
_ACTION_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tidings-action")


async def off_page_threads(func: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_ACTION_THREADS, func, *args)


# -- the actions -----------------------------------------------------------------------------------------


async def add_source(store: Store, url: str, *, section: str = "", name: str = "", fulltext: str = "auto",
                     every_minutes: int = 0, keep: list[str] | None = None, block: list[str] | None = None) -> Row:
    """Add a feed by feed URL or site URL (UserError when none is found there)."""
    def use_case(fetcher: Fetcher) -> Awaitable[tuple[Row, bool]]:
        return usecases.add_source(store, fetcher, url, section=section, name=name, fulltext=fulltext,
                                   every_minutes=every_minutes, keep=keep or (), block=block or ())

    row, _ = await off_page_threads(_fetching, use_case)
    return row


edit_source = usecases.edit_source
remove_source = usecases.remove_source


async def refresh_source(store: Store, source_id: int) -> pipeline.RefreshResult:
    """Poll one feed now, whether due or not; on PostgreSQL a worker polls it (the site fetches nothing)."""
    if store.dialect == "postgresql":
        return await off_page_threads(usecases.queue_refresh, store, source_id)

    def use_case(fetcher: Fetcher) -> Awaitable[pipeline.RefreshResult]:
        return usecases.refresh_source(store, fetcher, source_id)

    return await off_page_threads(_fetching, use_case)


async def refresh_all(store: Store) -> Row:
    """Poll every feed now; on PostgreSQL they are made due and the workers poll them (the site fetches
    nothing)."""
    if store.dialect == "postgresql":
        feeds = await off_page_threads(usecases.queue_refresh_all, store)
        return {**describe_all([]), "sources": feeds, "queued": True}

    def use_case(fetcher: Fetcher) -> Awaitable[list[pipeline.RefreshResult]]:
        return usecases.refresh_all(store, fetcher)

    return describe_all(await off_page_threads(_fetching, use_case))


def describe_all(results: list[pipeline.RefreshResult]) -> Row:
    skipped: pipeline.Tally = {}
    for r in results:
        for reason, n in r.skipped.items():
            pipeline.tally(skipped, reason, n)
    return {"sources": len(results), "new": sum(r.new for r in results), "updated": sum(r.updated for r in results),
            "unchanged": sum(r.unchanged for r in results), "skipped": skipped, "queued": False,
            "failed": [{"source_id": r.source_id, "error": r.error} for r in results if r.error]}


def import_opml(store: Store, content: bytes) -> Row:
    added, existing = usecases.import_sources(store, content)
    return {"added": added, "existing": existing}


def import_jsonl(store: Store, content: bytes) -> Row:
    """Articles from JSON Lines; lines split on newlines only, as the command line reads a file."""
    text = content.decode("utf-8", errors="replace")
    report = usecases.import_articles(store, text.split("\n"))
    return {"imported": report.imported, "updated": report.updated, "unchanged": report.unchanged,
            "skipped": len(report.errors), "adjusted": report.adjusted, "left_out": report.skipped,
            "errors": [{"line": n, "message": m} for n, m in report.errors[:MAX_REPORTED_ERRORS]]}


def describe_refresh(r: pipeline.RefreshResult) -> Row:
    return {"status": r.status, "new": r.new, "updated": r.updated, "unchanged": r.unchanged, "error": r.error,
            "skipped": r.skipped, "queued": r.queued}
