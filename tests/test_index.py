"""The similarity index: approximate search agrees with exact search, and the saved graph follows the store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tidings.analysis.embeddings import HashingEmbedder
from tidings.config import index_path
from tidings.ingest.pipeline import import_jsonl
from tidings.jobs import Analyser, analyse_backlog
from tidings.similarity import index as index_module
from tidings.similarity.index import Indexed, VectorIndex
from tidings.storage.sqlite import SQLiteStore


def clustered(n: int, dim: int = 64, centres: int = 50, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centres, dim))
    v = c[rng.integers(0, centres, n)] + 0.35 * rng.normal(size=(n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_graph_search_finds_what_exact_search_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "EXACT_BELOW", 0)  # force the graph even for a small set
    v = clustered(3000)
    ix = VectorIndex(v.shape[1])
    ix.add_many([Indexed(i, f"o{i % 7}", None, None) for i in range(len(v))], v)
    queries = v[:200]
    exact = np.argsort(-(queries @ v.T), axis=1)[:, :10]
    hits = 0
    for q, truth in zip(queries, exact, strict=True):
        found = [item.id for item, _ in ix.nearest(q, 10)]
        hits += len(set(found) & set(truth.tolist()))
    assert hits / (10 * len(queries)) >= 0.98


def test_nearest_skips_one_outlet_and_reports_cosine() -> None:
    v = clustered(50)
    ix = VectorIndex(v.shape[1])
    ix.add_many([Indexed(i, "a" if i % 2 else "b", None, None) for i in range(50)], v)
    found = ix.nearest(v[0], 5, exclude_outlet="b")
    assert found and all(item.outlet == "a" for item, _ in found)
    assert abs(found[0][1] - float(v[0] @ v[found[0][0].id])) < 0.01


def _lines(n: int, start: int = 0) -> list[str]:
    return [json.dumps({"url": f"https://o{i % 3}.example/{i}", "title": f"Headline number {i} about topic {i % 5}",
                        "source": f"Outlet {i % 3}", "text": f"Body of story {i} on topic {i % 5}. " * 20})
            for i in range(start, start + n)]


def test_the_saved_index_is_caught_up_with_the_store(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "t.db")
    import_jsonl(store, _lines(30))
    first = Analyser.open(store, HashingEmbedder())
    analyse_backlog(store, first)
    path = index_path(store.target, HashingEmbedder.name)
    assert path is not None and path.exists()
    # Another process adds articles; a later open loads the file and adds only what is missing.
    import_jsonl(store, _lines(10, start=30))
    analyse_backlog(store, Analyser.open(store, HashingEmbedder()))
    store.remove_source(store.import_source("Outlet 0"))
    later = Analyser.open(store, HashingEmbedder())
    assert len(later.index) == store.article_count() == 26
    assert later.index.graph_keys() == {r["id"] for r in store.latest_articles(limit=100)}
    # A damaged file is only a cache: the index is rebuilt from the store.
    path.write_bytes(b"not an index")
    assert len(Analyser.open(store, HashingEmbedder()).index) == 26


def test_the_data_folder_comes_from_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tidings.storage.sqlite import SQLiteStore
    from tidings.web.auth import load_admin_secret

    db, elsewhere = tmp_path / "db" / "t.db", tmp_path / "data"
    db.parent.mkdir()
    monkeypatch.delenv("TIDINGS_ADMIN_SECRET", raising=False)
    monkeypatch.setenv("TIDINGS_DATA_DIR", str(elsewhere))
    store = SQLiteStore(db)
    import_jsonl(store, [json.dumps({"url": "https://a.example/1", "source": "A", "title": "Bridge reopens",
                                     "text": "The bridge reopened to traffic on Monday. " * 10})])
    analyse_backlog(store, Analyser.open(store, HashingEmbedder()))
    secret = load_admin_secret(db)
    assert (elsewhere / "t.db.hashing-512.usearch").exists() and secret.where == str(elsewhere / "admin-secret")
    assert sorted(p.name for p in db.parent.iterdir() if not p.name.startswith("t.db")) == []  # nothing beside it
    monkeypatch.delenv("TIDINGS_DATA_DIR")
    assert index_path(db, "hashing-512") == db.parent / "t.db.hashing-512.usearch"  # the default: beside it
    assert index_path(":memory:", "hashing-512") is None
