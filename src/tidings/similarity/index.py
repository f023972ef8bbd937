"""The index of every analysed article: its vector for nearest-neighbour search, and the few facts the linker
filters on, kept in flat arrays (a few dozen bytes per article).

Vectors live in a usearch HNSW graph stored as half floats: under 2 KB per article with the graph, searched in
well under a millisecond at a million articles. Below ``EXACT_BELOW`` articles the search is exact (brute force
over the same vectors). The graph is saved beside the database and caught up with it on open; the database
stays the source of truth, so a lost or stale file costs a rebuild, never data.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

EXACT_BELOW = 20_000
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 256  # recall against speed at 1M: `python -m benchmarks.scale --expansion N` (docs)


@dataclass
class Indexed:
    id: int
    outlet: str
    published: float | None  # epoch seconds; None when the source gave no date
    story_id: int | None
    copy_group: int | None = None


def _usearch_index() -> Any:
    """usearch's Index class. ONNX Runtime (the default embedder's) is loaded first where it may be needed: loaded
    after usearch, its import crashes the process (two pybind11 modules built against different C++ runtimes);
    the other order works."""
    from tidings.analysis.embeddings import preload_runtime

    preload_runtime()
    from usearch.index import Index

    return Index


def _new_graph(dim: int) -> object:
    Index = _usearch_index()
    return Index(ndim=dim, metric="cos", dtype="f16", connectivity=CONNECTIVITY,
                 expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH)


class VectorIndex:
    def __init__(self, dim: int, graph: object | None = None) -> None:
        self.dim = dim
        self._graph = graph if graph is not None else _new_graph(dim)
        self._row: dict[int, int] = {}
        self._ids = np.zeros(1024, dtype=np.int64)
        self._outlet = np.zeros(1024, dtype=np.int32)
        self._published = np.full(1024, np.nan)
        self._story = np.full(1024, -1, dtype=np.int64)
        self._group = np.full(1024, -1, dtype=np.int64)
        self._outlet_code: dict[str, int] = {}
        self._outlet_name: list[str] = []
        self.changed = False

    def __len__(self) -> int:
        return len(self._row)

    # -- facts ------------------------------------------------------------------------------------------

    def _grow(self) -> None:
        for name in ("_ids", "_outlet", "_published", "_story", "_group"):
            arr = getattr(self, name)
            fill = np.nan if name == "_published" else (-1 if name in ("_story", "_group") else 0)
            setattr(self, name, np.concatenate([arr, np.full(len(arr), fill, dtype=arr.dtype)]))

    def _set_facts(self, item: Indexed) -> None:
        row = self._row.get(item.id)
        if row is None:
            row = len(self._row)
            if row == len(self._ids):
                self._grow()
            self._row[item.id] = row
        code = self._outlet_code.setdefault(item.outlet, len(self._outlet_name))
        if code == len(self._outlet_name):
            self._outlet_name.append(item.outlet)
        self._ids[row] = item.id
        self._outlet[row] = code
        self._published[row] = np.nan if item.published is None else item.published
        self._story[row] = -1 if item.story_id is None else item.story_id
        self._group[row] = -1 if item.copy_group is None else item.copy_group

    def _item(self, row: int) -> Indexed:
        published = float(self._published[row])
        story, group = int(self._story[row]), int(self._group[row])
        return Indexed(int(self._ids[row]), self._outlet_name[int(self._outlet[row])],
                       None if math.isnan(published) else published,
                       None if story < 0 else story, None if group < 0 else group)

    def get(self, article_id: int) -> Indexed | None:
        row = self._row.get(article_id)
        return self._item(row) if row is not None else None

    def set_story(self, article_ids: Iterable[int], story_id: int) -> None:
        for i in article_ids:
            if (row := self._row.get(i)) is not None:
                self._story[row] = story_id

    def move_story(self, old: int, new: int) -> None:
        n = len(self._row)
        self._story[:n][self._story[:n] == old] = new

    def set_copy_group(self, article_ids: Iterable[int], group: int) -> None:
        for i in article_ids:
            if (row := self._row.get(i)) is not None:
                self._group[row] = group

    # -- vectors ----------------------------------------------------------------------------------------

    def add(self, item: Indexed, vector: np.ndarray) -> None:
        """Add an article, or replace it when it is already indexed (an edited article)."""
        self.add_many([item], vector.reshape(1, -1))

    def add_many(self, items: list[Indexed], vectors: np.ndarray) -> None:
        keys = np.array([i.id for i in items], dtype=np.uint64)
        known = [k for k in keys if int(k) in self._row]
        if known:
            self._graph.remove(np.array(known, dtype=np.uint64))  # type: ignore[attr-defined]
        if len(items):
            self._graph.add(keys, np.asarray(vectors, dtype=np.float32))  # type: ignore[attr-defined]
        for item in items:
            self._set_facts(item)
        self.changed = True

    def set_facts(self, item: Indexed) -> None:
        """Facts only, for an article whose vector the graph already holds (catching up with the store)."""
        self._set_facts(item)

    def graph_keys(self) -> set[int]:
        return set(self._key_array().tolist())

    def _key_array(self) -> np.ndarray:
        # One call into usearch for all keys; iterating its key view costs a Python call per key.
        return np.asarray(self._graph.keys, dtype=np.uint64)  # type: ignore[attr-defined]

    def remove_missing(self, keep: set[int]) -> None:
        """Drop vectors of articles that are no longer in the store."""
        keys = self._key_array()
        stale = keys[~np.isin(keys, np.fromiter(keep, dtype=np.uint64, count=len(keep)))]
        if len(stale):
            self._graph.remove(stale)  # type: ignore[attr-defined]
            self.changed = True

    def nearest(self, vector: np.ndarray, k: int, *, exclude_outlet: str | None = None) -> list[tuple[Indexed, float]]:
        """The k most similar indexed articles by cosine, best first, optionally skipping one outlet."""
        found = self.nearest_many(np.asarray(vector).reshape(1, -1), k,
                                  exclude_outlets=None if exclude_outlet is None else [exclude_outlet])
        return [(self._item(self._row[key]), cosine) for key, cosine in found[0]]

    def nearest_many(self, vectors: np.ndarray, k: int, *,
                     exclude_outlets: list[str] | None = None) -> list[list[tuple[int, float]]]:
        """For each row of ``vectors``, up to k (article id, cosine) pairs, best first, skipping the row's
        outlet when ``exclude_outlets`` names one per row. One call searches the whole batch on every core."""
        n = len(self._row)
        if n == 0 or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        count = min(n, k * 3 + 10)  # room for the excluded outlet's own articles
        found = self._graph.search(np.asarray(vectors, dtype=np.float32), count,  # type: ignore[attr-defined]
                                   exact=n < EXACT_BELOW)
        keys = np.asarray(found.keys).reshape(len(vectors), -1)
        distances = np.asarray(found.distances).reshape(len(vectors), -1)
        # A batch of one comes back as single Matches, without counts.
        counts = np.asarray(getattr(found, "counts", [keys.shape[1]])).reshape(-1)
        out = []
        for q in range(len(vectors)):
            skip = -2
            if exclude_outlets is not None:
                skip = self._outlet_code.get(exclude_outlets[q], -2)
            hits: list[tuple[int, float]] = []
            for key, distance in zip(keys[q, :counts[q]].tolist(), distances[q, :counts[q]].tolist(), strict=True):
                row = self._row.get(key)
                if row is None or self._outlet[row] == skip:
                    continue
                hits.append((key, 1.0 - distance))
                if len(hits) == k:
                    break
            out.append(hits)
        return out

    # -- persistence ------------------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the graph atomically (a reader never sees half a file)."""
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"  # processes sharing a folder never mix files
        self._graph.save(tmp)  # type: ignore[attr-defined]
        os.replace(tmp, path)
        self.changed = False

    @classmethod
    def load(cls, path: str | Path, dim: int) -> VectorIndex:
        """The saved graph, or an empty index when there is none or it does not fit (it is rebuilt then)."""
        Index = _usearch_index()

        graph = None
        if Path(path).exists():
            try:
                graph = Index.restore(str(path))
            except Exception:  # a damaged file is only a cache: start over from the store
                graph = None
            if graph is not None and graph.ndim != dim:
                graph = None
        if graph is not None:
            graph.expansion_search = EXPANSION_SEARCH  # not part of the saved file
        return cls(dim, graph)
