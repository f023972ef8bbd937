"""Peak memory of `tidings import` against the number of articles it imports.

Each size is one whole `tidings import` process on a fresh database, fed ``synthetic_lines(n)`` (benchmarks/scale.py:
events of one to six reports by different outlets), its peak RSS read from /proc while it runs (it imports, analyses
every article, then settles the stories of the latest ``RECLUSTER_MAX`` of them). With the feature-hashing embedder
no model is loaded, so what grows with the number of lines is Tidings' own; the default embedder (ONNX Runtime) adds
its baseline. Goal: flat in the number of articles, and at most 700 MiB for 100,000 lines with the model.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import MIB, Row, log, run_measured, shown, tidings_cmd, tidings_env
from benchmarks.scale import synthetic_lines

GOAL_MIB = 700.0  # tidings import of 100,000 lines, with the model


def write_lines(path: Path, n: int) -> Path:
    if not path.exists():
        with path.open("w", encoding="utf-8") as fh:
            fh.writelines(f"{line}\n" for line in synthetic_lines(n))
    return path


def import_peak(work: Path, n: int, embedder: str | None) -> float:
    """Peak RSS (MiB) of `tidings import` of n synthetic lines into a fresh database."""
    lines = write_lines(work / f"memory-{n}.jsonl", n)
    db = work / f"memory-{n}-{embedder or 'default'}.db"
    for old in work.glob(f"{db.name}*"):
        old.unlink()
    env = tidings_env(TIDINGS_EMBEDDER=embedder)
    done = run_measured(tidings_cmd("--db", str(db), "import", str(lines)), env, timeout=4 * 3600)
    done.check(shown(tidings_cmd("import", str(lines)), env, ("TIDINGS_EMBEDDER",)))
    log(f"memory: import of {n:,} lines ({embedder or 'default embedder'}): peak {done.max_rss / MIB:.0f} MiB, "
        f"{done.seconds:.0f} s")
    return done.max_rss / MIB


def run_memory(work: Path, sizes: list[int], model_sizes: list[int], *, rerun: str) -> list[Row]:
    rows: list[Row] = []
    hashing = {n: import_peak(work, n, "hashing") for n in sizes}
    for n, peak in hashing.items():
        rows.append(Row(f"import memory: tidings import of {n:,} synthetic lines, peak RSS (hashing embedder)",
                        peak, "MiB", "", f"{rerun}  # TIDINGS_EMBEDDER=hashing tidings import memory-{n}.jsonl"))
    if len(hashing) > 1:
        small, large = min(hashing), max(hashing)
        rows.append(Row(f"import memory: growth from {small:,} to {large:,} lines (hashing embedder)",
                        hashing[large] - hashing[small], "MiB", "", rerun))
    for n in model_sizes:
        peak = import_peak(work, n, None)
        goal = f"<= {GOAL_MIB:.0f} at 100,000" if n >= 100_000 else ""
        rows.append(Row(f"import memory: tidings import of {n:,} synthetic lines, peak RSS (default model)",
                        peak, "MiB", goal, f"{rerun}  # tidings import memory-{n}.jsonl",
                        met=peak <= GOAL_MIB if goal else None))
    return rows
