"""Memory and disk: what `tidings serve` and `tidings poll` hold, what the database takes, how fast serve starts.

    python -m benchmarks --only footprint [--quick]

Measured on the ingest database. The per-100k-article figures are projections, labelled as such:

* disk: the database (main file and write-ahead log) scaled linearly by 100,000 / articles;
* serve memory: a process has a fixed part (Python, the libraries) that does not grow with the archive, so the
  projection is ``baseline + (measured - baseline) * 100,000 / articles``, the baseline measured the same way
  on an empty database. Growth is assumed linear (SQLite's page cache is bounded, so this is an upper bound);
* poller memory: what grows with the archive is the in-memory vector index a poll loads before analysing.
  `tidings analyse` with nothing waiting loads just that (no model), so its peak RSS on the ingest database
  minus its peak on an empty one is the index's share; the projection is the measured poll peak plus that
  share scaled to the articles missing to 100,000.

Cold start is the time from starting `tidings serve` until its first 200 from /api/stories?limit=1, the
median of several starts.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import MIB, PER, Row, db_bytes, log, median, rss_of, run_measured, tidings_cmd, tidings_env
from benchmarks.load import paths_from_db, serving, warm_up


def serve_rss(db: Path, paths: dict[str, list[str]]) -> tuple[int, float]:
    """Resident memory of `tidings serve` after warm-up requests, and its cold start."""
    with serving(db) as served:
        warm_up(served.base_url, paths, per_kind=20)
        return rss_of(served.proc.pid), served.cold_start


def project(measured: float, baseline: float, articles: int) -> float:
    """``measured`` grown to PER articles: the part above ``baseline`` scales, the baseline stays."""
    return baseline + max(0.0, measured - baseline) * PER / max(articles, 1)


def run_footprint(db: Path, work: Path, *, articles: int, poll_max_rss: int, model_rss: int, cold_runs: int = 3,
                  rerun: str = "python -m benchmarks --only footprint") -> list[Row]:
    paths = paths_from_db(db)
    log(f"footprint: {cold_runs} cold starts of tidings serve, memory after warm-up")
    runs = [serve_rss(db, paths) for _ in range(cold_runs)]
    rss = median([r for r, _ in runs])
    empty = work / "empty.db"
    base_rss, _ = serve_rss(empty, {"home": ["/", "/sections"], "api": ["/api/stories?limit=5", "/api/home"]})
    index_full = run_measured(tidings_cmd("--db", str(db), "analyse"), tidings_env(TIDINGS_EMBEDDER=None))
    index_empty = run_measured(tidings_cmd("--db", str(empty), "analyse"), tidings_env(TIDINGS_EMBEDDER=None))
    index_full.check("tidings analyse")
    index_empty.check("tidings analyse")
    index_share = max(0, index_full.max_rss - index_empty.max_rss)
    main, wal = db_bytes(db)
    scale = PER / max(articles, 1)
    n = f"{articles:,} articles"
    return [
        Row(f"serve cold start (median of {cold_runs}) to first 200 of /api/stories?limit=1",
            median([c for _, c in runs]), "s", "", rerun),
        Row(f"serve RSS after warm-up, {n} (measured)", rss / MIB, "MiB", "", rerun,
            error="" if rss else "RSS unreadable (no /proc)"),
        Row("serve RSS after warm-up, empty database (measured baseline)", base_rss / MIB, "MiB", "", rerun),
        Row("serve RSS per 100k articles (projected: baseline + linear growth)",
            project(rss, base_rss, articles) / MIB, "MiB", "", rerun),
        Row(f"poller peak RSS, tidings poll --all ingesting {n} (measured)", poll_max_rss / MIB, "MiB", "",
            rerun.replace("footprint", "ingest")),
        Row("poller baseline: Tidings and a warm model, no archive (measured)", model_rss / MIB, "MiB", "",
            rerun.replace("footprint", "ingest")),
        Row(f"poller vector index: tidings analyse peak RSS, {n} vs empty database (measured)",
            f"{index_full.max_rss / MIB:.1f} vs {index_empty.max_rss / MIB:.1f}", "MiB", "", rerun),
        Row("poller peak RSS on a 100k archive (projected: poll peak + index share x 100k / articles)",
            (poll_max_rss + index_share * max(0, PER - articles) / max(articles, 1)) / MIB, "MiB", "", rerun),
        Row(f"database main file + WAL, {n} (measured)", f"{main / MIB:.1f} + {wal / MIB:.1f}", "MiB", "", rerun),
        Row("database per 100k articles (projected: linear)", (main + wal) * scale / MIB, "MiB", "", rerun),
        Row("database bytes per article (measured)", (main + wal) / max(articles, 1), "bytes", "", rerun),
    ]
