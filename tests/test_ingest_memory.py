"""What a poll holds does not grow with the number of pages: a source's pages are held from their fetch until
their text is extracted, at most ``PollSettings.pages_in_hand`` at a time, and stored in feed order."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from newsserver import FEED_TYPE, NewsServer, refresh, rss
from tidings.config import PollSettings
from tidings.ingest import extract as extraction
from tidings.ingest.fetch import Fetcher
from tidings.storage.store import Store

PAGES = 12
BODY = " ".join(f"Sentence {n} of the report on the harbour, with its details and figures." for n in range(40))


def _page(i: int) -> str:
    return (f"<html><head><title>Harbour report {i}</title></head><body><article><h1>Harbour report {i}</h1>"
            f"<p>{BODY}</p><p>{BODY}</p></article></body></html>")


def _poll_counting(store: Store, server: NewsServer, monkeypatch: pytest.MonkeyPatch,
                   in_hand: int) -> tuple[int, list[str]]:
    """Poll one full-text feed of PAGES pages; the most pages held at once (fetched, not yet extracted), and
    the stored articles' URLs in the order they were stored."""
    items = [(f"g{i}", server.url(f"/a/{i}"), f"Harbour report {i}") for i in range(PAGES)]
    for i in range(PAGES):
        server.add(f"/a/{i}", _page(i))
    feed = server.add("/feed.xml", rss(items), FEED_TYPE)
    source_id = store.add_source(feed, "Harbour", fulltext="always")[0]
    held, most = 0, 0
    fetch, extract = Fetcher.fetch, extraction.extract_page_elsewhere

    async def counted_fetch(self: Fetcher, url: str, **kw: Any) -> Any:
        nonlocal held, most
        res = await fetch(self, url, **kw)
        if "/a/" in url:
            held += 1
            most = max(most, held)
        return res

    async def slow_extract(html: bytes | str, url: str = "", **kw: Any) -> Any:
        nonlocal held
        await asyncio.sleep(0.02)  # extraction slower than loopback fetches, as in a real poll
        page = await extract(html, url, **kw)
        held -= 1
        return page

    monkeypatch.setattr(Fetcher, "fetch", counted_fetch)
    monkeypatch.setattr(extraction, "extract_page_elsewhere", slow_extract)
    result = refresh(store, source_id, poll=PollSettings(pages_in_hand=in_hand))
    assert result.new == PAGES and not result.error
    stored = sorted(store.latest_articles(source_id=source_id, limit=PAGES), key=lambda r: r["id"])
    return most, [r["url"] for r in stored]


def test_a_poll_holds_at_most_pages_in_hand_and_stores_in_feed_order(
        store: Store, news_server: NewsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    most, urls = _poll_counting(store, news_server, monkeypatch, in_hand=2)
    assert 1 <= most <= 2
    assert urls == [news_server.url(f"/a/{i}") for i in range(PAGES)]


def test_without_the_bound_every_page_would_be_held(
        store: Store, news_server: NewsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    most, _ = _poll_counting(store, news_server, monkeypatch, in_hand=PAGES)
    assert most > 2  # the bound above is what kept it at two


def _reports_of_events(*, seed: int, events: int, reports: int, vocabulary: int, words: int
                       ) -> tuple[list[Any], np.ndarray, list[list[int]]]:
    """``reports`` texts for each of ``events`` events (most of an event's words shared, a few drawn again), as
    re-clustering members of as many outlets as reports, their hashing vectors, and every pair as candidates."""
    from tidings.analysis.embeddings import HashingEmbedder
    from tidings.linking import recluster as rc

    rng = np.random.default_rng(seed)
    kept = words - 3
    drawn = [list(rng.choice([f"w{i}" for i in range(vocabulary)], words, replace=False)) for _ in range(events)]
    texts = [" ".join([*ws[:kept], *rng.choice(ws, 3)]) for ws in drawn for _ in range(reports)]
    members = [rc.Member(i, f"outlet {i % reports}", 1.7e9 + 600 * i, None, frozenset(t.split()))
               for i, t in enumerate(texts)]
    candidates = [[j for j in range(len(texts)) if j != i] for i in range(len(texts))]
    return members, HashingEmbedder().embed(texts), candidates


def test_pairs_are_scored_in_chunks_with_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-clustering scores its pairs a chunk at a time (memory bounded by the chunk, not the window or the
    component); the plan is exactly that of scoring every pair at once."""
    from tidings.linking import recluster as rc

    members, vectors, candidates = _reports_of_events(seed=3, events=8, reports=5, vocabulary=400, words=14)
    monkeypatch.setattr(rc, "PAIR_CHUNK", 1 << 20)
    whole = rc.recluster(members, vectors, candidates)
    monkeypatch.setattr(rc, "PAIR_CHUNK", 7)
    chunked = rc.recluster(members, vectors, candidates)
    assert any(len(c) > 1 for c in whole.clusters)  # components were clustered, not only scored
    assert chunked.scores == whole.scores and chunked.clusters == whole.clusters and chunked.found == whole.found


def test_members_words_held_as_tuples_in_their_sets_order_give_the_same_plan() -> None:
    """A window holds each member's words as a tuple in its set's order (a set's table took ~4 KB an article):
    the word rows, and so every score and cluster, are exactly those of the sets."""
    from dataclasses import replace

    from tidings.linking import recluster as rc

    members, vectors, candidates = _reports_of_events(seed=5, events=6, reports=4, vocabulary=300, words=12)
    as_sets = rc.recluster(members, vectors, candidates)
    as_tuples = rc.recluster([replace(m, words=tuple(m.words)) for m in members], vectors, candidates)
    assert any(len(c) > 1 for c in as_sets.clusters)
    assert np.array_equal(as_tuples.scores._values, as_sets.scores._values)
    assert as_tuples.clusters == as_sets.clusters and as_tuples.found == as_sets.found
    assert as_tuples.strong == as_sets.strong


@pytest.mark.parametrize("n", [2, 3, 10, 41])
def test_condensed_pairs_come_in_scipys_order_in_bounded_chunks(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from tidings.linking import recluster as rc

    monkeypatch.setattr(rc, "PAIR_CHUNK", 12)
    chunks = list(rc._condensed_pairs(n))
    rows, cols = np.triu_indices(n, k=1)
    assert np.array_equal(np.concatenate([r for r, _ in chunks]), rows)
    assert np.array_equal(np.concatenate([c for _, c in chunks]), cols)
    assert all(len(r) <= max(12, n - 1) for r, _ in chunks)  # a chunk is whole rows: one row may exceed it


def test_pair_scores_answer_like_the_dictionary_they_replace() -> None:
    """Re-clustering keeps each candidate pair's score in arrays; read back, they are what a dictionary of
    rounded scores gave: the last score of a pair given twice, nothing for a pair that is no candidate."""
    from tidings.linking.recluster import PairScores

    rng = np.random.default_rng(5)
    ids = np.array([40, 7, 1000, 3, 12], dtype=np.int64)
    rows = rng.integers(0, 5, 60)
    cols = rng.integers(0, 5, 60)
    values = rng.normal(0.3, 0.2, 60)
    expected = {(int(ids[i]), int(ids[j])): round(float(v), 4) for i, j, v in zip(rows, cols, values, strict=True)}
    scores = PairScores(ids, rows, cols, values)
    assert dict(scores.items()) == expected and len(scores) == len(expected)
    absent = [(a, b) for a in [*ids.tolist(), 5] for b in [*ids.tolist(), 5] if (a, b) not in expected]
    assert absent  # pairs that are not candidates, and an id not in the window
    assert scores.lookup([a for a, _ in absent], [b for _, b in absent]) == [None] * len(absent)
    assert all(scores.get(pair, -1.0) == -1.0 for pair in absent)
    assert PairScores() == {} and PairScores().lookup([1], [2]) == [None]


def test_density_is_the_mean_of_each_members_closest_scores_to_other_outlets() -> None:
    from tidings.linking import recluster as rc

    rng = np.random.default_rng(8)
    members = [rc.Member(i, f"outlet {i % 3}", None, None, frozenset()) for i in range(30)]
    rows, cols = rng.integers(0, 29, 900), rng.integers(0, 30, 900)
    score = rng.normal(0.3, 0.1, 900)
    per: list[list[float]] = [[] for _ in members]
    for i, j, s in zip(rows.tolist(), cols.tolist(), score.tolist(), strict=True):
        if i % 3 != j % 3:
            per[i].append(s)
    expected = [float(np.mean(sorted(p)[-rc.DENSITY_NEIGHBOURS:])) for p in per if p]
    density = rc._density(members, rows, cols, score)
    assert not per[29] and density[29] == np.mean(expected)  # no pair of its own: the mean of all
    assert density[:29].tolist() == expected  # exactly, in the same order of summation
