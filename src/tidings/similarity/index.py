"""An in-memory index of every analysed article: its vector and the few facts the linker filters on.

Search is exact (one matrix-vector product), which has recall 1.0 and stays fast for a few hundred thousand
articles; the index is rebuilt from the store when a process starts. Texts and fingerprints stay in the store and
are read only for the candidates of a new article.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Indexed:
    id: int
    outlet: str
    published: float | None  # epoch seconds; None when the source gave no date
    story_id: int | None
    copy_group: int | None = None


class VectorIndex:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._vectors = np.zeros((1024, dim), dtype=np.float32)
        self.items: list[Indexed] = []
        self._pos: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.items)

    def get(self, article_id: int) -> Indexed | None:
        pos = self._pos.get(article_id)
        return self.items[pos] if pos is not None else None

    def add(self, item: Indexed, vector: np.ndarray) -> None:
        """Add an article, or replace it when it is already indexed (an edited article)."""
        pos = self._pos.get(item.id)
        if pos is None:
            pos = len(self.items)
            if pos == len(self._vectors):
                self._vectors = np.concatenate([self._vectors, np.zeros_like(self._vectors)])
            self.items.append(item)
            self._pos[item.id] = pos
        else:
            self.items[pos] = item
        self._vectors[pos] = vector

    def nearest(self, vector: np.ndarray, k: int, *, exclude_outlet: str | None = None) -> list[tuple[Indexed, float]]:
        """The k most similar indexed articles by cosine, best first, optionally skipping one outlet."""
        n = len(self.items)
        if n == 0:
            return []
        sims = self._vectors[:n] @ vector
        take = min(n, k * 3 + 10)  # room for the excluded outlet's own articles
        top = np.argpartition(-sims, take - 1)[:take] if take < n else np.arange(n)
        out = []
        for pos in top[np.argsort(-sims[top])]:
            item = self.items[int(pos)]
            if exclude_outlet is not None and item.outlet == exclude_outlet:
                continue
            out.append((item, float(sims[pos])))
            if len(out) == k:
                break
        return out
