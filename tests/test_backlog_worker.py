"""The analysis that runs beside a poll: whole batches while articles arrive, the rest at the end, errors raised."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from tidings.analysis.embeddings import HashingEmbedder
from tidings.ingest.pipeline import import_jsonl
from tidings.jobs import BATCH, Analyser, BacklogWorker
from tidings.storage import open_store
from tidings.storage.store import Store


def lines(n: int, start: int = 0) -> list[str]:
    return [json.dumps({"url": f"https://o{i % 4}.example/{i}", "title": f"Harbour bridge story {i}",
                        "source": f"Outlet {i % 4}", "text": f"Report {i} on the harbour bridge repairs. " * 12})
            for i in range(start, start + n)]


def waiting(store: Store) -> int:
    return int(store.counts()["waiting"])


def test_whole_batches_go_while_storing_goes_on_and_the_rest_at_the_end(database: str) -> None:
    store = open_store(database)
    worker = BacklogWorker(store, Analyser.open(store, HashingEmbedder()), idle=0.01, max_wait=3600)
    worker.start()
    import_jsonl(store, lines(BATCH - 1))
    time.sleep(0.3)
    assert waiting(store) == BATCH - 1  # less than a batch: it waits for more
    import_jsonl(store, lines(BATCH + 5, start=BATCH - 1))
    deadline = time.monotonic() + 30
    while waiting(store) > 4 and time.monotonic() < deadline:  # 2 * BATCH + 4 stored: two whole batches
        time.sleep(0.05)
    assert waiting(store) == 4  # the whole batches were analysed before finish, the rest waits for it
    assert worker.is_alive()
    assert worker.finish() == 2 * BATCH + 4 and waiting(store) == 0
    ids = [int(r["id"]) for r in store.latest_articles(limit=10_000)]
    assert len({link[0] for link in store.links_among(ids)}) > BATCH


def test_articles_that_waited_long_enough_are_analysed_before_a_batch_fills_and_settled_at_the_end(
        database: str) -> None:
    store = open_store(database)
    analyser = Analyser.open(store, HashingEmbedder())
    worker = BacklogWorker(store, analyser, idle=0.01, max_wait=0.05)
    worker.start()
    import_jsonl(store, lines(3))
    deadline = time.monotonic() + 30
    while waiting(store) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert waiting(store) == 0 and worker.is_alive(), "three articles analysed while the poll goes on"
    assert analyser.unsettled_since is not None, "their stories wait for the end of the pass"
    assert worker.finish() == 3
    assert analyser.unsettled_since is None, "settled at the end, though nothing was left to analyse"


class Broken(HashingEmbedder):
    def embed(self, texts: list[str]) -> np.ndarray:
        raise RuntimeError("model failed")


def test_a_failure_in_the_worker_is_raised_by_finish(database: str) -> None:
    store = open_store(database)
    import_jsonl(store, lines(3))
    worker = BacklogWorker(store, Analyser.open(store, Broken()), idle=0.01)
    worker.start()
    with pytest.raises(RuntimeError, match="model failed"):
        worker.finish()
    assert waiting(store) == 3  # nothing half done
