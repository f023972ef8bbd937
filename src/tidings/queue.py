"""Work as jobs on a queue kept in PostgreSQL, for ``tidings worker`` on any number of machines.

Why Procrastinate: it needs nothing but the PostgreSQL database Tidings already uses (a job is a row; workers take
jobs with ``SELECT … FOR UPDATE SKIP LOCKED`` and hear of new ones by LISTEN/NOTIFY), it is maintained and typed,
runs plain functions in threads, and has what this needs built in: locks (jobs sharing a lock run one at a time),
queueing locks (at most one waiting copy of a job), retries, periodic jobs, and worker heartbeats that tell which
jobs a dead worker left behind.

The jobs, each a thin call of the use case the CLI and the SQLite scheduler run too:
- ``schedule`` (every few seconds, on whichever worker's turn it is): hands due sources to ``poll`` in batches,
  puts the jobs of workers that stopped sending heartbeats (killed) back in the queue, and asks for ``analyse``
  while articles wait;
- ``poll``: refreshes a batch of feeds (pages fetched and extracted), then asks for ``analyse``;
- ``analyse``: claims batches of the backlog and embeds them (on every worker at once), deciding links, copies
  and stories under one lock; then asks for ``settle``;
- ``settle``: re-clusters the stories of the recent window, one at a time (lock "stories").

A killed worker's job runs again; every job is safe to run twice (a feed item is stored once, an article is
analysed under a claim, a story plan is applied in one transaction).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tidings.clock import iso, utcnow
from tidings.config import env_float

if TYPE_CHECKING:
    import procrastinate

    from tidings.jobs import Analyser
    from tidings.storage.postgres import PostgresStore

log = logging.getLogger("tidings.queue")

POLL_BATCH = 20          # feeds one poll job refreshes together (one HTTP client, their fetches side by side)


def poll_claim() -> float:
    """Seconds a source handed to a poll job is not handed out again (the job then sets its real next time)."""
    return env_float("TIDINGS_POLL_CLAIM", 120.0)


def stalled_after() -> float:
    """Seconds without a heartbeat after which a worker counts as gone and its jobs run again elsewhere."""
    return env_float("TIDINGS_WORKER_STALLED", 30.0)


def heartbeat() -> float:
    """Seconds between a worker's heartbeats (a sixth of the time after which it counts as gone)."""
    return max(0.2, stalled_after() / 6)


def host_turn_lease() -> float:
    """Seconds after which a request turn of a worker that never ended it (killed) no longer counts: longer than
    any one request may take (fetches time out well before)."""
    return env_float("TIDINGS_HOST_TURN_LEASE", 90.0)

SCHEDULE_CRON = "* * * * * */5"  # every 5 seconds (the sixth field is seconds)
RETRY_ATTEMPTS = 5       # a job that fails runs again up to this many times, 2, 4, 8, ... seconds apart

_apps: dict[str, procrastinate.App] = {}
_apps_lock = threading.Lock()


def app(url: str) -> procrastinate.App:
    """The queue of the database at ``url``, with Tidings' jobs (one app per database and process)."""
    with _apps_lock:
        if url not in _apps:
            _apps[url] = _build(url)
        return _apps[url]


def _build(url: str) -> procrastinate.App:
    import procrastinate

    a = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))
    retry = procrastinate.RetryStrategy(max_attempts=RETRY_ATTEMPTS, exponential_wait=2)

    @a.task(name="poll", queue="poll", retry=retry)
    def poll(source_ids: list[int], claim: str = "") -> int:
        return _worker().poll(source_ids, claim)

    @a.task(name="analyse", queue="analyse", retry=retry, queueing_lock="analyse")
    def analyse() -> int:
        return _worker().analyse()

    @a.task(name="settle", queue="stories", retry=retry, lock="stories", queueing_lock="settle")
    def settle(since: str | None = None) -> int:
        return _worker().settle(since)

    @a.periodic(cron=SCHEDULE_CRON)
    @a.task(name="schedule", queue="schedule", queueing_lock="schedule")
    async def schedule(timestamp: int) -> int:
        return await _worker().schedule()

    return a


def defer(url: str, task: str, **kwargs: Any) -> bool:
    """Queue one job from a process that runs none (the web, the CLI); False when one like it already waits."""
    from procrastinate.exceptions import AlreadyEnqueued

    a = app(url)
    with a.open():
        try:
            a.tasks[task].defer(**kwargs)
        except AlreadyEnqueued:
            return False
    return True


class SharedHostGate:
    """The per-host politeness of every worker together: a request waits for a turn recorded in the database
    (at most ``per_host`` in flight, starts ``gap`` seconds apart), whichever machine sends it."""

    def __init__(self, store: PostgresStore, *, per_host: int, gap: float) -> None:
        self.store, self.per_host, self.gap = store, per_host, gap

    @asynccontextmanager
    async def __call__(self, key: str) -> AsyncIterator[None]:
        while True:
            turn, wait = await asyncio.to_thread(self.store.take_host_turn, key, per_host=self.per_host,
                                                 gap=self.gap, lease=host_turn_lease())
            if turn:
                break
            await asyncio.sleep(wait)
        try:
            yield
        finally:
            await asyncio.to_thread(self.store.end_host_turn, turn)


class Worker:
    """What one worker process holds: the store, and the model and vector index, loaded on first use."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self.name = f"{socket.gethostname()}/{os.getpid()}"
        self._analyser: Analyser | None = None
        self._analysing = threading.Lock()  # one analysis per process: the index is the process's own

    def poll(self, source_ids: list[int], claim: str = "") -> int:
        """Refresh the feeds handed to this job by ``claim``; one polled since, or handed to a later job because
        this one waited past the claim, is left alone (so a job run again after a kill polls only the rest)."""
        from tidings.ingest.fetch import Fetcher
        from tidings.ingest.pipeline import refresh_sources
        from tidings.jobs import fetch_settings_from_env

        sources = [s for s in (self.store.source(i) for i in source_ids)
                   if s and s.get("feed_url") and (not claim or s.get("next_poll_at") == claim)]
        settings = fetch_settings_from_env()
        gate = SharedHostGate(self.store, per_host=settings.per_host, gap=settings.min_delay)

        async def run() -> int:
            async with Fetcher(settings, gate=gate) as fetcher:
                results = await refresh_sources(self.store, fetcher, sources)
            return sum(r.new + r.updated for r in results)

        changed = asyncio.run(run()) if sources else 0
        if changed:
            self.defer("analyse")
        return changed

    def analyse(self) -> int:
        from tidings.jobs import BATCH, analyse_backlog

        if not self._analysing.acquire(blocking=False):
            return 0  # this process analyses or settles already; the next scheduling pass asks again if need be
        try:
            if self.store.backlog_size(2 * BATCH) > BATCH:
                self.defer("analyse")  # another worker may take a share of the backlog alongside
            analyser = self._loaded_analyser()
            done = analyse_backlog(self.store, analyser, settle=False)
            since, analyser.unsettled_since = analyser.unsettled_since, None
        finally:
            self._analysing.release()
        if since is not None:
            self.defer("settle", since=since)
        return done

    def settle(self, since: str | None) -> int:
        from tidings.jobs import recluster

        with self._analysing:
            analyser = self._loaded_analyser()
            analyser.catch_up(self.store)
            return recluster(self.store, analyser, since=since)

    def _loaded_analyser(self) -> Analyser:
        """The process's model and index, loaded by the first job that needs them (hold ``_analysing``)."""
        from tidings.jobs import Analyser

        if self._analyser is None:
            self._analyser = Analyser.open(self.store)
        return self._analyser

    def defer(self, task: str, **kwargs: Any) -> None:
        """Queue a job from inside a job, through the worker's open queue."""
        from procrastinate.exceptions import AlreadyEnqueued

        with contextlib.suppress(AlreadyEnqueued):  # one like it waits already: it will see this work too
            app(self.store.target).tasks[task].defer(**kwargs)

    async def schedule(self) -> int:
        await self.requeue_stalled()
        return await asyncio.to_thread(self._schedule)

    def _schedule(self) -> int:
        if self.store.backlog_size(1):  # whatever left articles waiting (a job that gave up), they are taken up
            self.defer("analyse")
        return self.hand_out_due_sources()

    async def requeue_stalled(self) -> int:
        """Jobs of workers that stopped sending heartbeats (killed, or cut off) go back in the queue. One whose
        like already waits (an ``analyse`` or ``settle``: same queueing lock) is ended instead: the waiting one
        does its work. One another scheduler took first is left to it."""
        from procrastinate import exceptions
        from procrastinate.jobs import Status

        manager = app(self.store.target).job_manager
        requeued = 0
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after()):
            try:
                await manager.retry_job(job)
                requeued += 1
                log.warning("job %s (%s) of a worker that stopped is queued again", job.id, job.task_name)
            except exceptions.UniqueViolation:
                await manager.finish_job(job, status=Status.ABORTED, delete_job=False)
                log.warning("job %s (%s) of a worker that stopped: one like it waits already", job.id, job.task_name)
            except exceptions.ConnectorException:
                pass  # another scheduler retried it a moment ago
        return requeued

    def hand_out_due_sources(self) -> int:
        """Give every due source to a poll job, a batch at a time: a batch is claimed (its next poll put off by
        ``poll_claim()``, the claim's mark) and then its job queued. If this job dies between the two, or the poll
        job waits past the claim, the batch is due again when the claim runs out and is handed out anew."""
        handed = 0
        while True:
            claim = iso(utcnow() + timedelta(seconds=poll_claim())) or ""
            ids = self.store.claim_due_sources(iso(utcnow()) or "", claim, limit=POLL_BATCH)
            if not ids:
                return handed
            self.defer("poll", source_ids=ids, claim=claim)
            handed += len(ids)


_here: Worker | None = None


def _worker() -> Worker:
    if _here is None:
        raise RuntimeError("Tidings' jobs run in `tidings worker`")
    return _here


def run_worker(url: str, *, concurrency: int = 4, wait: bool = True) -> None:
    """Take jobs from the queue until stopped (SIGINT or SIGTERM; with ``wait`` False, once the queue is empty).
    When the database goes away the worker waits for it and starts again (its jobs left half done are run again
    by the next scheduling pass, as a dead worker's are)."""
    from tidings.storage.postgres import PostgresStore

    global _here
    store = PostgresStore.open(url)
    _here = Worker(store)
    try:
        asyncio.run(_work(url, _here.name, concurrency=concurrency, wait=wait))
    finally:
        _here = None
        store.close()


async def _work(url: str, name: str, *, concurrency: int, wait: bool) -> None:
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    pause = 1.0
    while not stop.is_set():
        started = loop.time()
        try:
            ended = await _until_stopped(_attempt(url, name, concurrency=concurrency, wait=wait), stop)
            if ended and not wait:
                return
        except Exception as exc:  # the database is unreachable (or went away mid-run): wait and start again
            log.warning("the queue's database is unreachable (%s); trying again in %.0f s", _reason(exc), pause)
        pause = 1.0 if loop.time() - started > 60 else min(pause * 2, 30.0)
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)


async def _attempt(url: str, name: str, *, concurrency: int, wait: bool) -> None:
    async with app(url).open_async():
        await app(url).run_worker_async(
            concurrency=concurrency, wait=wait, name=name, listen_notify=True, install_signal_handlers=False,
            update_heartbeat_interval=heartbeat(), stalled_worker_timeout=stalled_after(), delete_jobs="successful")


async def _until_stopped(work: Any, stop: asyncio.Event) -> bool:
    """Run ``work`` until it ends by itself (True) or ``stop`` is set (False: it is cancelled, which lets a
    running worker finish its jobs first, and ends a wait for an unreachable database at once)."""
    task, stopping = asyncio.ensure_future(work), asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        stopping.cancel()
        task.result()
        return not stop.is_set()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return False


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1].strip() if text else type(exc).__name__
