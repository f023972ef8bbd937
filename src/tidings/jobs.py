"""Background work over stored articles: embed, fingerprint, link to Similar News and file into stories.

Articles wait in a backlog (``analysed = 0``) until this runs; it is idempotent, so the poller, the importer and
the scheduler all call the same ``analyse_backlog``, and several processes may run it at once: each batch is
claimed first, and every fact a decision rests on is read as stored. Links are stored both ways, so a new article
appears under older related ones and the older ones under it, and a page view only reads what is stored.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections import OrderedDict
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tidings.analysis.embeddings import Embedder, embedding_text, get_embedder
from tidings.analysis.regions import is_region
from tidings.analysis.terms import key_terms
from tidings.analysis.topics import PROTOTYPE_MODELS, TOPICS, prototype_matrix, topic_after_analysis
from tidings.clock import iso, parse_iso, utcnow
from tidings.config import PollSettings, env_float, index_path
from tidings.ingest.pipeline import RefreshResult, Tally, describe_tally, refresh_sources, tally
from tidings.linking.apply import apply_links, apply_stories
from tidings.linking.plan import Candidate, plan_links
from tidings.linking.recluster import Member
from tidings.linking.recluster import recluster_pairs as plan_recluster
from tidings.progress import Progress, quiet
from tidings.similarity.index import Indexed, VectorIndex
from tidings.similarity.lexical import content_words
from tidings.similarity.neardup import Fingerprint, copy_share, fingerprint, needs_exact_check
from tidings.similarity.relate import DEFAULT, Evidence, Thresholds
from tidings.storage.store import Store

if TYPE_CHECKING:  # the HTTP client is imported by the poll itself: `tidings import` starts without it
    from tidings.ingest.fetch import FetchSettings, RobotsCache

log = logging.getLogger(__name__)

CANDIDATES = 40       # nearest articles considered per new article
# Evidence of the most recently analysed or read articles: the candidates of a batch (64 articles, 40 each) are
# mostly of the latest few thousand; the rest is read from the store. ~7.5 KB an entry: 20,000 held ~150 MB.
EVIDENCE_CACHE = 4_096
BATCH = 64            # articles embedded and committed together
WHOLE_BACKLOG = 10**9  # counts every waiting article (backlog_size counts up to a limit)


@dataclass
class Analyser:
    """Holds the model and the similarity index for one process; build it once with ``Analyser.open``."""

    embedder: Embedder
    index: VectorIndex
    thresholds: Thresholds = field(default_factory=lambda: DEFAULT)
    index_path: Path | None = None
    # Evidence of recently seen articles: neighbours recur, and names are costly to extract again.
    evidence_cache: OrderedDict[int, Evidence] = field(default_factory=OrderedDict)

    topic_prototypes: tuple[Any, ...] | None = None  # embedded on first use (see file_topics)

    unsettled_since: str | None = None  # earliest time among articles analysed since the stories last settled
    seen_seq: int = 0  # the last analysis (by any process) this index has taken in

    def note_unsettled(self, when: str | None) -> None:
        if when and (self.unsettled_since is None or when < self.unsettled_since):
            self.unsettled_since = when

    def remember(self, article_id: int, ev: Evidence) -> None:
        self.evidence_cache[article_id] = ev
        self.evidence_cache.move_to_end(article_id)
        if len(self.evidence_cache) > EVIDENCE_CACHE:
            self.evidence_cache.popitem(last=False)

    def catch_up(self, store: Store) -> None:
        """Take in what every analyser (this process or another) has analysed since this index last looked: new
        vectors added, facts (story, copy group) as stored now."""
        while rows := store.analysed_after(self.seen_seq, self.embedder.name):
            new = []
            for r in rows:
                if self.index.get(r["article_id"]) is None:
                    new.append(r)
                else:
                    self.index.set_facts(_facts(r))
            if new:
                self.index.add_many([_facts(r) for r in new],
                                    np.stack([np.frombuffer(r["vector"], dtype=np.float32) for r in new]))
            self.seen_seq = int(rows[-1]["analysed_seq"])

    @classmethod
    def open(cls, store: Store, embedder: Embedder | None = None) -> Analyser:
        """Load the saved index and catch it up with the store (new vectors added, removed ones dropped)."""
        emb = embedder or get_embedder()
        seen = store.last_analysed_seq()  # read first: what is analysed while the index loads is caught up later
        path = index_path(store.target, emb.name)
        index = VectorIndex.load(path, emb.dim) if path else VectorIndex(emb.dim)
        have = index.graph_keys()
        keep: set[int] = set()
        missing: list[Indexed] = []
        for r in store.iter_index_facts(emb.name):
            item = Indexed(r["article_id"], r["outlet"], _epoch(r["published_at"]), r["story_id"], r["copy_group"])
            keep.add(item.id)
            if item.id in have:
                index.set_facts(item)
            else:
                missing.append(item)
        for start in range(0, len(missing), 2048):
            chunk = missing[start:start + 2048]
            raw = store.vectors([i.id for i in chunk], emb.name)
            index.add_many(chunk, np.stack([np.frombuffer(raw[i.id], dtype=np.float32) for i in chunk]))
        index.remove_missing(keep)
        return cls(emb, index, index_path=path, seen_seq=seen)

    def save(self) -> None:
        if self.index_path is not None and self.index.changed:
            self.index_path.parent.mkdir(parents=True, exist_ok=True)  # a data folder of its own may be new
            self.index.save(self.index_path)


def _epoch(value: str | None) -> float | None:
    dt = parse_iso(value)
    return dt.timestamp() if dt else None


def evidence(title: str, text: str, published: float | None = None, fp: Fingerprint | None = None) -> Evidence:
    """What the linker compares: headline and lead words, names and figures, the text's fingerprint, the date."""
    return Evidence(words=content_words(title, text), terms=key_terms(title, text),
                    fingerprint=fingerprint(text) if fp is None else fp, published=published)


def analyse_backlog(store: Store, analyser: Analyser, *, batch: int = BATCH, whole_batches: bool = False,
                    settle: bool | None = None, progress: Progress = quiet) -> int:
    """Analyse the articles waiting in the backlog (with ``whole_batches``, only while a whole batch is
    waiting: the model is faster on full batches); returns how many were analysed. Each batch is claimed first,
    so several analysers (processes) share one backlog and none does an article another is doing. With
    ``settle`` (the default unless ``whole_batches``) the stories of every article analysed since the last
    settling are re-clustered once at the end. ``progress`` hears ``("analyse", done, waiting)`` after each
    batch and ``("stories", 0 or 1, 1)`` around the settling."""
    done = 0
    _free_claims_of_the_dead(store)
    waiting = store.backlog_size(WHOLE_BACKLOG) if progress is not quiet else 0

    def more() -> bool:
        return not whole_batches or store.backlog_size(batch) >= batch

    # The model embeds the next batch in a thread of its own while this one is linked: ONNX Runtime and the
    # tokenizer leave the interpreter lock, so linking's one core and the model's cores are busy together.
    with ThreadPoolExecutor(1, thread_name_prefix="tidings-embed") as model:
        claimed = _claim(store, analyser, model, batch) if more() else None
        while claimed is not None:
            stamp, rows, vectors = claimed
            claimed = None
            try:
                claimed = _claim(store, analyser, model, batch) if more() else None
                _analyse_batch(store, analyser, rows, stamp, vectors.result())
            except BaseException:
                store.release_claims([r["id"] for r in rows], stamp)  # for the next analyser, at once
                if claimed is not None:
                    store.release_claims([r["id"] for r in claimed[1]], claimed[0])
                raise
            done += len(rows)
            if done > waiting and progress is not quiet:  # more arrived meanwhile (a poll stores as this runs)
                waiting = done + store.backlog_size(WHOLE_BACKLOG)
            progress("analyse", done, waiting)
    if (not whole_batches if settle is None else settle) and analyser.unsettled_since is not None:
        progress("stories", 0, 1)
        recluster(store, analyser, since=analyser.unsettled_since)
        analyser.unsettled_since = None
        progress("stories", 1, 1)
    analyser.save()
    return done


def _process_start(pid: int) -> str | None:
    """When a process started (Linux: clock ticks since boot, from /proc), to tell it from a later one that got
    the same id; "" where the system does not say; None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except OSError:
            return ""
        return ""


# Who claims articles for analysis: this machine, this process and when it started (see _free_claims_of_the_dead).
CLAIMANT = f"{socket.gethostname()}/{os.getpid()}/{_process_start(os.getpid()) or ''}"


def _free_claims_of_the_dead(store: Store) -> None:
    """Claims of analysers on this machine that are no longer running (killed) go back to the backlog at once;
    those of other machines wait for the lease."""
    host = socket.gethostname()
    for who in store.claimants():
        parts = (who or "").split("/")
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
            continue
        started = _process_start(int(parts[1]))
        if started is None or (started and parts[2] and started != parts[2]):
            store.release_claimant(who)


def _claim(store: Store, analyser: Analyser, model: Executor, batch: int
           ) -> tuple[str, list[dict[str, Any]], Future[np.ndarray]] | None:
    """Claim the next batch of the backlog and start embedding it on ``model``; None when nothing waits."""
    stamp, rows = store.claim_backlog(batch, by=CLAIMANT)
    if not rows:
        return None
    texts = [embedding_text(r["title"], r["summary"], r["text"]) for r in rows]
    return stamp, rows, model.submit(analyser.embedder.embed, texts)


def _analyse_batch(store: Store, analyser: Analyser, rows: list[dict[str, Any]], stamp: str,
                   vectors: np.ndarray) -> None:
    analyser.catch_up(store)
    analyser.note_unsettled(min(r["published_at"] or r["fetched_at"] or "" for r in rows))
    items = [_indexed(r) for r in rows]
    evs = [evidence(r["title"], r["text"] or r["summary"], i.published, fingerprint(r["text"]))
           for r, i in zip(rows, items, strict=True)]
    store.save_embeddings(analyser.embedder.name,
                          [(r["id"], v.astype(np.float32).tobytes()) for r, v in zip(rows, vectors, strict=True)])
    store.save_fingerprints([(i.id, e.fingerprint.signature, e.fingerprint.shingles, *_kept(e))
                             for i, e in zip(items, evs, strict=True)])
    file_topics(store, analyser, rows, vectors)
    # The batch joins the index and is searched in one call on every core; each article is still linked
    # only to those analysed before it, as if they had come one by one.
    analyser.index.add_many(items, vectors)
    found = analyser.index.nearest_many(vectors, CANDIDATES, exclude_outlets=[i.outlet for i in items])
    pending = {i.id for i in items}
    with store.transaction():  # one commit per batch: readers go on (WAL), the batch lands whole
        # Links, copy groups and stories are decided by one analyser at a time, each reading what the others
        # wrote (embedding, above, runs on every worker at once).
        store.serialise("linking")
        for row, item, ev, near in zip(rows, items, evs, found, strict=True):
            pending.discard(item.id)
            _link(store, analyser, row, item, ev, [(o, c) for o, c in near if o not in pending and o != item.id])
        store.mark_analysed((i.id for i in items), stamp)


def file_topics(store: Store, analyser: Analyser, rows: list[dict[str, Any]], vectors: np.ndarray) -> None:
    """Articles whose source gives no section are filed under the topic their vector and text point to
    (``topic_after_analysis``), in place of the lexicon's guess at save time; regions stay as filed."""
    if analyser.embedder.name not in PROTOTYPE_MODELS:
        return
    unsectioned = [(r, v) for r, v in zip(rows, vectors, strict=True) if not r["section"]]
    if not unsectioned:
        return
    if analyser.topic_prototypes is None:
        analyser.topic_prototypes = prototype_matrix(analyser.embedder)
    filed = store.sections_of_many([r["id"] for r, _ in unsectioned])
    with store.transaction():
        for row, vector in unsectioned:
            before = filed[row["id"]]
            regions = [s for s in before if is_region(s)]
            topic = topic_after_analysis(vector, row["title"], row["text"] or row["summary"],
                                         analyser.topic_prototypes, regions)
            after = [s for s in before if s not in TOPICS] + ([topic] if topic else [])
            if after != before:
                store.set_sections(row["id"], after)


def _indexed(row: dict[str, Any]) -> Indexed:
    return Indexed(row["id"], row["outlet"], _epoch(row["published_at"]), row["story_id"], row["copy_group"])


def _link(store: Store, analyser: Analyser, row: dict[str, Any], item: Indexed, mine: Evidence,
          near_ids: list[tuple[int, float]]) -> None:
    """Gather the evidence on one article's nearest others, let the linker plan, and write the plan."""
    analyser.remember(item.id, mine)
    found = _as_stored(store, analyser, near_ids)
    theirs = _candidate_evidence(store, analyser, [o for o, _ in found])
    near = [(o, c, replace(theirs[o.id], published=o.published)) for o, c in found if o.id in theirs]
    copied = _copies(store, row["title"], row["text"] or row["summary"], mine.fingerprint, near)
    candidates = [Candidate(o, c, ev, copied.get(o.id, 0.0)) for o, c, ev in near]
    sizes = store.story_sizes([c.item.story_id for c in candidates
                               if c.item.story_id is not None and c.item.story_id != row["story_id"]])
    plan = plan_links(item, mine, candidates, sizes, t=analyser.thresholds)
    apply_links(store, analyser.index, row, item, plan)


def _as_stored(store: Store, analyser: Analyser, near_ids: list[tuple[int, float]]) -> list[tuple[Indexed, float]]:
    """The candidates with their facts as stored now (another process may have moved them to another story or
    copy group since this index last looked); the index takes them too."""
    facts = store.index_facts([i for i, _ in near_ids])
    found = []
    for article_id, cosine in near_ids:
        if (f := facts.get(article_id)) is not None:  # gone: removed with its source meanwhile
            item = _facts(f)
            analyser.index.set_facts(item)
            found.append((item, cosine))
    return found


def _facts(row: dict[str, Any]) -> Indexed:
    return Indexed(row["article_id"], row["outlet"], _epoch(row["published_at"]), row["story_id"], row["copy_group"])


def _kept(ev: Evidence) -> tuple[str, str]:
    """Words and terms as stored (newline-joined; terms keep their order, most telling first)."""
    return "\n".join(sorted(ev.words)), "\n".join(ev.terms)


def _candidate_evidence(store: Store, analyser: Analyser, others: list[Indexed]) -> dict[int, Evidence]:
    """Evidence of the candidates: from the cache, the rest read from the store in one query."""
    out = {o.id: analyser.evidence_cache[o.id] for o in others if o.id in analyser.evidence_cache}
    features = store.link_features([o.id for o in others if o.id not in out])
    for article_id, f in features.items():
        fp = Fingerprint(f["minhash"] or b"", f["shingles"] or 0)
        if f["words"] is not None:  # kept when it was analysed: parsing the lead again was most of the cost
            ev = Evidence(frozenset(f["words"].split("\n")) - {""}, [t for t in (f["terms"] or "").split("\n") if t],
                          fp)
        else:  # analysed before the evidence was kept: work it out once, and keep it
            ev = evidence(f["title"], f["lead"] or f["summary"], None, fp)
            store.save_evidence(article_id, *_kept(ev))
        analyser.remember(article_id, ev)
        out[article_id] = ev
    return out


COPY_COSINE = 0.5      # copies of one text embed far closer than this; pairs below it skip the exact check
COPY_LEAD_WORDS = 12   # a copy needs a lead on both sides: matching headlines alone are too often two reports


def _copies(store: Store, title: str, text: str, fp: Fingerprint,
            near: list[tuple[Indexed, float, Evidence]]) -> dict[int, float]:
    """Share of copied text with each near article (see ``copy_share``), for the pairs that may be copies:
    the MinHash estimate rules out long texts that share little, the exact measure decides the rest."""
    words = len(text.split())
    if words < COPY_LEAD_WORDS:
        return {}
    # A fingerprint's shingle count is its text's distinct 5-grams: about its words, less four.
    maybe = [o.id for o, cosine, ev in near if cosine >= COPY_COSINE
             and needs_exact_check(fp, ev.fingerprint, words, ev.fingerprint.shingles + 4)]
    return {other_id: copy_share(title, text, other_title, other_text)
            for other_id, (other_title, other_text) in store.headlines_and_texts(maybe).items()
            if len(other_text.split()) >= COPY_LEAD_WORDS}


# -- re-clustering ---------------------------------------------------------------------------------------

RECLUSTER_MAX = 20_000  # the most recent articles one re-clustering settles (vectors in memory: ~30 MB)
WINDOW_SLICE = 1024     # articles whose vectors are read, or whose neighbours are searched, at once


def recluster(store: Store, analyser: Analyser, *, since: str | None = None) -> int:
    """Settle the stories of every analysed article from ``since`` on (ISO time; all when None), and of those
    published up to four days before it, which the new ones may join: cluster that window again and write the
    merges and splits with stable ids. Returns how many articles changed story."""
    if since is not None:
        start = parse_iso(since)
        since = iso(start - timedelta(days=analyser.thresholds.same_story_days)) if start else None
    rows = store.cluster_window(since, limit=RECLUSTER_MAX)
    if len(rows) < 2:
        return 0
    members, vectors = _window(store, analyser.embedder.name, rows)
    del rows
    if not members:
        return 0
    position = {m.id: i for i, m in enumerate(members)}
    links = store.links_among(list(position))
    pairs = _candidate_pairs(analyser.index, vectors, position, links)
    plan = plan_recluster(members, vectors, *pairs, t=analyser.thresholds)
    del pairs
    with store.transaction():
        store.serialise("linking")
        moved = apply_stories(store, analyser.index, plan, {m.id: m.story_id for m in members}, links)
    return moved


def _window(store: Store, model: str, rows: list[dict[str, Any]]) -> tuple[list[Member], np.ndarray]:
    """The window's articles that have a vector, as members, and their vectors (one row each). Vectors are
    read a slice at a time into one array, and each distinct word is held once: a window of 20,000 articles
    repeats the same words a million times."""
    members: list[Member] = []
    vectors: np.ndarray | None = None
    words: dict[str, str] = {}
    for start in range(0, len(rows), WINDOW_SLICE):
        chunk = rows[start:start + WINDOW_SLICE]
        raw = store.vectors([r["id"] for r in chunk], model)
        for r in chunk:
            if r["id"] not in raw:
                continue
            vector = np.frombuffer(raw[r["id"]], dtype=np.float32)
            if vectors is None:
                vectors = np.empty((len(rows), len(vector)), dtype=np.float32)
            vectors[len(members)] = vector
            distinct = frozenset(words.setdefault(w, w) for w in (r["words"] or "").split("\n")) - {""}
            # kept as a tuple in the set's order (the word rows are built in that order): a set's table took
            # ~4 KB an article
            members.append(Member(r["id"], r["outlet"], _epoch(r["published_at"]), r["story_id"], tuple(distinct)))
    if vectors is None:
        return [], np.zeros((0, 0), dtype=np.float32)
    return members, vectors[:len(members)]


def _candidate_pairs(index: VectorIndex, vectors: np.ndarray, position: dict[int, int],
                     links: list[tuple[int, int, float, str]]) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs (rows[k], cols[k]) of window members: each member's nearest articles in the window and
    every stored link among them (so that all links get the same kind of score), each pair once, a member's in
    ascending order. Searched a slice at a time: the (id, cosine) tuples of every member at once took ~120 MB."""
    linked: dict[int, list[int]] = {}
    for a, b, _, _ in links:
        linked.setdefault(position[a], []).append(position[b])
    rows, cols = [], []
    for start in range(0, len(vectors), WINDOW_SLICE):
        found = index.nearest_many(vectors[start:start + WINDOW_SLICE], CANDIDATES)
        for i, near in enumerate(found, start):
            mine = np.unique(np.array([position[j] for j, _ in near if j in position] + linked.pop(i, []),
                                      dtype=np.int64))
            rows.append(np.full(len(mine), i, dtype=np.int64))
            cols.append(mine)
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(rows), np.concatenate(cols)


# -- polling and the scheduler ---------------------------------------------------------------------------


@dataclass
class PollReport:
    sources: int = 0
    new: int = 0
    updated: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    analysed: int = 0
    skipped: Tally = field(default_factory=dict)   # feed items not stored, by reason (also on each source)
    adjusted: Tally = field(default_factory=dict)  # items stored with a field cut or a date clamped


def fetch_settings_from_env() -> FetchSettings:
    from tidings.ingest.fetch import FetchSettings, allow_private_from_env

    return FetchSettings(allow_private=allow_private_from_env(),
                         min_delay=env_float("TIDINGS_HOST_DELAY", FetchSettings.min_delay),
                         jitter=env_float("TIDINGS_HOST_JITTER", FetchSettings.jitter))


def poll(store: Store, analyser: Analyser | None = None, *, include_all: bool = False,
         fetch_settings: FetchSettings | None = None, settings: PollSettings | None = None,
         progress: Progress = quiet, robots: RobotsCache | None = None) -> PollReport:
    """One pass over the due sources (or all of them), bringing Similar News and stories up to date as articles
    arrive: the model works on one batch while the network and page extraction work on the next. ``progress``
    hears the sources polled and, from the analysis thread, the articles analysed (see ``analyse_backlog``);
    ``robots`` keeps what robots.txt files said from one pass to the next (a scheduler's)."""
    from tidings.usecases import refresh_all

    sources = store.due_sources(iso(utcnow()) or "", include_all=include_all)
    report = PollReport(sources=len(sources))
    progress("poll", 0, len(sources))

    from tidings.ingest.fetch import Fetcher

    async def run() -> list[RefreshResult]:
        async with Fetcher(fetch_settings or fetch_settings_from_env(), robots=robots) as fetcher:
            if include_all:  # the same use case as the site's "Poll all now"
                return await refresh_all(store, fetcher, settings, progress)
            return await refresh_sources(store, fetcher, sources, settings, progress)

    alongside = BacklogWorker(store, analyser, progress=progress)
    alongside.start()
    try:
        results = asyncio.run(run()) if sources else []
    finally:
        report.analysed = alongside.finish()
    report.sources = len(results)
    for r in results:
        report.new += r.new
        report.updated += r.updated
        for reason, n in r.skipped.items():
            tally(report.skipped, reason, n)
        for reason, n in r.adjusted.items():
            tally(report.adjusted, reason, n)
        if r.error:
            report.failed.append((r.source_id, r.error))
    return report


FRESH_WAIT = 0.1  # seconds a stored article waits at most for a batch to fill while a poll goes on


class BacklogWorker(threading.Thread):
    """Analyses whole batches of the backlog in its own thread while a poll is still storing articles, then
    what is left once ``finish`` is called. Articles that have waited ``max_wait`` seconds are analysed without
    waiting for a whole batch, so fresh news gets its Similar News a moment after it is stored, not at the
    end of a long pass (their stories are settled at the end). The model is loaded only when there is
    something to analyse, and then while the first pages are still being fetched; pages are extracted in worker
    processes (``extract_page_elsewhere``), so the poll's own thread leaves the interpreter to the model. See
    docs/performance.md."""

    def __init__(self, store: Store, analyser: Analyser | None = None, *, idle: float = 0.1,
                 max_wait: float = FRESH_WAIT, progress: Progress = quiet) -> None:
        super().__init__(name="tidings-analysis", daemon=True)
        self.store, self.analyser, self.idle, self.max_wait = store, analyser, idle, max_wait
        self.progress = progress
        self.analysed = 0
        self._finishing = threading.Event()
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            _free_claims_of_the_dead(self.store)  # what a killed run held counts as waiting again
            since: float | None = None  # when articles were first seen waiting (monotonic)
            while True:
                last = self._finishing.is_set()
                waiting = self.store.backlog_size(BATCH)
                since = (since or time.monotonic()) if waiting else None
                stale = since is not None and time.monotonic() - since >= self.max_wait
                # at the end, the stories of what was analysed during the pass are settled even if nothing waits
                unsettled = self.analyser is not None and self.analyser.unsettled_since is not None
                if waiting == BATCH or stale or (last and (waiting or unsettled)):
                    if self.analyser is None:
                        self.analyser = Analyser.open(self.store)
                    whole = not (last or stale)
                    self.analysed += analyse_backlog(self.store, self.analyser, whole_batches=whole, settle=last,
                                                     progress=self._counted if self.progress is not quiet else quiet)
                    since = None
                if last:
                    return
                self._finishing.wait(self.idle)
        except BaseException as exc:  # raised again in the polling thread by finish()
            self._error = exc
        finally:
            self.store.thread_done()

    def _counted(self, step: str, done: int, total: int | None) -> None:
        """Progress of one ``analyse_backlog`` call, counted on from what this worker analysed before it."""
        if step == "analyse":
            done, total = self.analysed + done, None if total is None else self.analysed + total
        self.progress(step, done, total)

    def finish(self) -> int:
        """Analyse what is left, wait for it, and return how many articles this worker analysed."""
        self._finishing.set()
        self.join()
        if self._error is not None:
            raise self._error
        return self.analysed


passes = logging.getLogger("tidings.passes")  # one line per poll pass: `tidings run` shows these by default


def describe_pass(report: PollReport, *, reasons: int = 3) -> str:
    """A poll pass in one line: sources reached and failing (with the commonest reasons), what was stored."""
    why: Tally = {}
    for _, error in report.failed:
        tally(why, error.split(":")[0].strip() or "error")
    top = sorted(why.items(), key=lambda kv: (-kv[1], kv[0]))[:reasons]
    failing = f", {len(report.failed)} failing ({', '.join(f'{r} {n}' for r, n in top)})" if report.failed else ""
    skipped = f"; items skipped {describe_tally(report.skipped)}" if report.skipped else ""
    return (f"polled {report.sources} sources: {report.sources - len(report.failed)} ok{failing}; "
            f"{report.new} new, {report.updated} updated, {report.analysed} analysed{skipped}")


def run_scheduler(store: Store, stop: threading.Event, *, tick: float = 30.0,
                  wake: threading.Event | None = None) -> None:
    """Poll due sources every ``tick`` seconds, or as soon as ``wake`` is set (articles added elsewhere wait to be
    analysed), until ``stop`` is set (checked after each pass and each wait: set ``wake`` too to stop at once).
    One Analyser (model and index) lives for the whole run."""
    analyser: Analyser | None = None
    robots: RobotsCache = {}
    wake = wake or threading.Event()
    while not stop.is_set():
        wake.clear()
        try:
            if analyser is None:
                analyser = Analyser.open(store)
            report = poll(store, analyser, robots=robots)
            if report.sources:
                passes.info("%s", describe_pass(report))
        except Exception:  # keep the scheduler alive whatever one pass hits
            log.exception("poll pass failed")
        wake.wait(tick)
