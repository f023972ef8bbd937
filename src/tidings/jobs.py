"""Background work over stored articles: embed, fingerprint, link to Similar News and file into stories.

Articles wait in a backlog (``analysed = 0``) until this runs; it is idempotent, so the poller, the importer and
the scheduler all call the same ``analyse_backlog``. Links are stored both ways, so a new article appears under
older related ones and the older ones under it, and a page view only reads what is stored.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tidings.analysis.embeddings import Embedder, embedding_text, get_embedder
from tidings.clock import iso, parse_iso, utcnow
from tidings.config import PollSettings, env_float
from tidings.ingest.fetch import Fetcher, FetchSettings, allow_private_from_env
from tidings.ingest.pipeline import RefreshResult, refresh_sources
from tidings.models import Neighbour
from tidings.similarity.index import Indexed, VectorIndex
from tidings.similarity.lexical import content_words
from tidings.similarity.neardup import fingerprint
from tidings.similarity.relate import DEFAULT, Thresholds, relate
from tidings.storage.store import Store
from tidings.stories.cluster import choose_story, describe

log = logging.getLogger(__name__)

CANDIDATES = 40       # nearest articles considered per new article
KEEP_LINKS = 30       # links stored per new article
FINGERPRINT_MIN_WORDS = 40  # shorter texts (a summary) are too short to call copies


@dataclass
class Analyser:
    """Holds the model and the in-memory index for one process; build it once with ``Analyser.open``."""

    embedder: Embedder
    index: VectorIndex
    thresholds: Thresholds = field(default_factory=lambda: DEFAULT)

    @classmethod
    def open(cls, store: Store, embedder: Embedder | None = None) -> Analyser:
        emb = embedder or get_embedder()
        index = VectorIndex(emb.dim)
        for r in store.iter_index_rows(emb.name):
            index.add(_indexed(r["article_id"], r["outlet"], r["published_at"], r["title"], r["summary"],
                               r["minhash"] or b"", r["story_id"]),
                      np.frombuffer(r["vector"], dtype=np.float32))
        return cls(emb, index)


def _epoch(value: str | None) -> float | None:
    dt = parse_iso(value)
    return dt.timestamp() if dt else None


def _indexed(article_id: int, outlet: str, published_at: str | None, title: str, lead: str, fp: bytes,
             story_id: int | None) -> Indexed:
    return Indexed(id=article_id, outlet=outlet, published=_epoch(published_at),
                   words=content_words(title, lead), fingerprint=fp, story_id=story_id)


def analyse_backlog(store: Store, analyser: Analyser, *, batch: int = 64) -> int:
    """Analyse every article waiting in the backlog; returns how many were analysed."""
    done = 0
    while rows := store.backlog(batch):
        vectors = analyser.embedder.embed(
            [embedding_text(r["title"], r["summary"], r["text"]) for r in rows])
        prints = [fingerprint(r["text"]) if len(r["text"].split()) >= FINGERPRINT_MIN_WORDS else b""
                  for r in rows]
        store.save_embeddings(analyser.embedder.name,
                              [(r["id"], v.astype(np.float32).tobytes()) for r, v in zip(rows, vectors, strict=True)])
        store.save_fingerprints([(r["id"], p) for r, p in zip(rows, prints, strict=True)])
        for row, vector, fp in zip(rows, vectors, prints, strict=True):
            _link(store, analyser, row, vector, fp)
        store.mark_analysed(r["id"] for r in rows)
        done += len(rows)
    return done


def _link(store: Store, analyser: Analyser, row: dict[str, Any], vector: np.ndarray, fp: bytes) -> None:
    lead = row["text"] or row["summary"]
    item = _indexed(row["id"], row["outlet"], row["published_at"], row["title"], lead, fp, row["story_id"])
    neighbours: list[Neighbour] = []
    story_links: list[tuple[int | None, float, str]] = []
    for other, cosine in analyser.index.nearest(vector, CANDIDATES, exclude_outlet=item.outlet):
        if other.id == item.id:
            continue
        link = relate(cosine, item.words, other.words, item.fingerprint, other.fingerprint,
                      item.published, other.published, analyser.thresholds)
        if link.relation is None:
            continue
        neighbours.append(Neighbour(item.id, other.id, link.score, link.relation))
        story_links.append((other.story_id, link.score, link.relation))
    neighbours = sorted(neighbours, key=lambda n: -n.score)[:KEEP_LINKS]
    store.clear_neighbours(item.id)
    store.save_neighbours(neighbours + [Neighbour(n.other_id, n.article_id, n.score, n.relation) for n in neighbours])
    item.story_id = _file_into_story(store, row, choose_story(story_links))
    analyser.index.add(item, vector)


def _file_into_story(store: Store, row: dict[str, Any], story_id: int | None) -> int:
    previous = row["story_id"]
    if story_id is None:
        story_id = previous if previous is not None and len(store.story_members(previous)) <= 1 else None
    if story_id is None:
        story_id = store.create_story(row["title"])
    if story_id != previous:
        store.set_story(row["id"], story_id)
        if previous is not None:
            refresh_story(store, previous)
    refresh_story(store, story_id)
    return story_id


def refresh_story(store: Store, story_id: int) -> None:
    d = describe(store.story_members(story_id))
    if d.size == 0:
        store.delete_story(story_id)
        return
    store.update_story(story_id, title=d.title, lead_article_id=d.lead_article_id, first=d.first_published_at,
                       last=d.last_published_at, size=d.size, outlets=d.outlets)


# -- polling and the scheduler ---------------------------------------------------------------------------


@dataclass
class PollReport:
    sources: int = 0
    new: int = 0
    updated: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    analysed: int = 0


def fetch_settings_from_env() -> FetchSettings:
    return FetchSettings(allow_private=allow_private_from_env(),
                         min_delay=env_float("TIDINGS_HOST_DELAY", FetchSettings.min_delay),
                         jitter=env_float("TIDINGS_HOST_JITTER", FetchSettings.jitter))


def poll(store: Store, analyser: Analyser | None = None, *, include_all: bool = False,
         fetch_settings: FetchSettings | None = None, settings: PollSettings | None = None) -> PollReport:
    """One pass over the due sources (or all of them), then bring Similar News and stories up to date."""
    sources = store.due_sources(iso(utcnow()) or "", include_all=include_all)
    report = PollReport(sources=len(sources))

    async def run() -> list[RefreshResult]:
        async with Fetcher(fetch_settings or fetch_settings_from_env()) as fetcher:
            return await refresh_sources(store, fetcher, sources, settings)

    for r in asyncio.run(run()) if sources else []:
        report.new += r.new
        report.updated += r.updated
        if r.error:
            report.failed.append((r.source_id, r.error))
    if report.new or report.updated or store.backlog(1):
        report.analysed = analyse_backlog(store, analyser or Analyser.open(store))
    return report


def run_scheduler(store: Store, stop: threading.Event, *, tick: float = 30.0) -> None:
    """Poll due sources until ``stop`` is set; one Analyser (model and index) lives for the whole run."""
    analyser: Analyser | None = None
    while not stop.is_set():
        try:
            if analyser is None:
                analyser = Analyser.open(store)
            report = poll(store, analyser)
            if report.sources:
                log.info("polled %d sources: %d new, %d updated, %d failed", report.sources, report.new,
                         report.updated, len(report.failed))
        except Exception:  # keep the scheduler alive whatever one pass hits
            log.exception("poll pass failed")
        stop.wait(tick)
