"""The ONNX Runtime backend gives the vectors torch gives, without loading torch."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tidings.analysis import onnx_export
from tidings.analysis.embeddings import EMBEDDERS, MiniLMEmbedder, OnnxMiniLMEmbedder, embedding_text, get_embedder

SRC = Path(__file__).resolve().parents[1] / "src"

TEXTS = [
    embedding_text("Floods close the main road into the valley",
                   "", "Heavy rain overnight flooded the main road into the valley, and the police closed it "
                       "until the water goes down. " * 3),
    embedding_text("Central bank holds rates", "The bank kept its main rate at 4.5 per cent.", ""),
    "short",
    "  padded with spaces and a much longer tail " + "word " * 400,  # truncated at 256 tokens by both
    "Ünïcödé, emoji 🙂 and numbers 1,234.5",
]


def test_the_default_minilm_runs_on_onnx_and_torch_stays_selectable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIDINGS_EMBEDDER", raising=False)
    assert isinstance(get_embedder(), OnnxMiniLMEmbedder)
    assert isinstance(get_embedder("minilm-torch"), MiniLMEmbedder)
    monkeypatch.setenv("TIDINGS_EMBEDDER", "minilm-torch")
    assert isinstance(get_embedder(), MiniLMEmbedder)
    # Same name: vectors stored by one backend are used by the other, never embedded again.
    assert EMBEDDERS["minilm-onnx"].name == EMBEDDERS["minilm-torch"].name


def test_the_cached_graph_is_named_by_the_versions_that_made_it(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDINGS_DATA_DIR", str(tmp_path))
    first = onnx_export.graph_path()
    assert first.parent == tmp_path / "models"
    monkeypatch.setattr(onnx_export, "_version", lambda package: "9.9" if package == "torch" else "1.0")
    assert onnx_export.graph_path() != first


@pytest.mark.slow
def test_onnx_vectors_match_torch_and_torch_is_never_loaded(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "TIDINGS_DATA_DIR": str(tmp_path)}
    script = ("import json, sys; from tidings.analysis.embeddings import get_embedder\n"
              "v = get_embedder('minilm-onnx').embed(json.loads(sys.stdin.read()))\n"
              "print(json.dumps({'torch': 'torch' in sys.modules, 'v': v.tolist()}))")
    done = subprocess.run([sys.executable, "-c", script], input=json.dumps(TEXTS), env=env, capture_output=True,
                          text=True, check=True, timeout=300)
    answer = json.loads(done.stdout)
    assert answer["torch"] is False  # the export ran in a process of its own
    assert len(list((tmp_path / "models").glob("*.onnx"))) == 1  # cached, no temporary file left behind
    onnx = np.asarray(answer["v"], dtype=np.float32)
    torch = MiniLMEmbedder(batch_size=2).embed(TEXTS)  # other batches than ONNX's: padding must not matter
    assert onnx.shape == torch.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    assert float((onnx * torch).sum(axis=1).min()) >= 0.99999


GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="resident memory as read here, and the heap setting, are Linux with glibc")
def test_the_model_gives_its_buffers_back_after_each_batch() -> None:
    """Batches of long texts need about 100 MiB of buffers while the model runs. ONNX Runtime's default arena
    kept them for the life of the process (measured: +127 MiB after three such batches), and a poll's peak grew
    by that much; now they are given back after each batch."""
    script = ("from tidings.heap import return_freed_memory\n"
              "from tidings.analysis.embeddings import OnnxMiniLMEmbedder\n"
              "def rss(): return int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20\n"
              "return_freed_memory()\n"  # as every tidings command does
              "e = OnnxMiniLMEmbedder()\n"
              "e.embed(['warm up'])\n"
              "before = rss()\n"
              "long = 'floods close the valley road after rain ' * 40\n"
              "for n in range(3): e.embed([f'{n} {k} {long}' for k in range(8)])\n"
              "print(rss() - before)\n")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300,
                          check=True)
    assert float(done.stdout.split()[-1]) < 40, done.stdout


def test_a_process_that_chose_another_embedder_can_still_load_onnx_runtime_after_the_index() -> None:
    """ONNX Runtime imported after usearch crashes the process; the index loads it first whatever embedder was
    chosen, so a process that began with another (tests, `tidings eval`'s baselines) may turn to it later."""
    script = ("from tidings.similarity.index import VectorIndex\n"
              "VectorIndex(8)\n"  # usearch is loaded for the index's graph
              "import onnxruntime\n"
              "print('alive', onnxruntime.get_device())\n")
    env = {**os.environ, "TIDINGS_EMBEDDER": "hashing"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert done.returncode == 0 and "alive" in done.stdout, (done.returncode, done.stderr[-2000:])


def test_vectors_of_fixed_texts_are_embedded_once_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tidings.analysis.embeddings import HashingEmbedder, embed_fixed

    monkeypatch.setenv("TIDINGS_DATA_DIR", str(tmp_path))
    calls: list[list[str]] = []

    class Counted(HashingEmbedder):
        def embed(self, texts: list[str]) -> np.ndarray:
            calls.append(texts)
            return super().embed(texts)

    texts = ["Quarterback throws four touchdowns", "Central bank raises interest rates"]
    first = embed_fixed(Counted(), texts)
    again = embed_fixed(Counted(), texts)  # a later process: read from the models folder
    assert len(calls) == 1 and np.array_equal(first, again) and again.dtype == np.float32
    assert np.array_equal(first, HashingEmbedder().embed(texts))
    embed_fixed(Counted(), [*texts, "Vaccine trial shows strong results"])  # other texts: their own vectors
    assert len(calls) == 2
    (kept,) = [p for p in (tmp_path / "models").iterdir() if p.name.endswith(".npy") and p.stat().st_size
               and np.load(p).shape[0] == 2]
    kept.write_bytes(b"not an array")  # a damaged file is embedded again, not trusted
    assert np.array_equal(embed_fixed(Counted(), texts), first) and len(calls) == 3
