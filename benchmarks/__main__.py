"""Tidings' performance benchmarks: one command, one table.

    python -m benchmarks [--quick] [--markdown]
                         [--only ingest,load,footprint,polling,scale,memory,readers,fresh]
                         [--data DIR]
                         [--scale-sizes 10000,100000,1000000] [--workdir DIR]

Full mode: 50 feeds x 100 article pages for ingest, 10,000 sources (200 hosts x 50 feeds) for polling, 15 s of
load per kind of page, archives of 10k, 100k and 1M articles for Similar News at scale (the 1M build takes about
an hour on two cores: keep it with ``--workdir`` and later runs measure it again without rebuilding).
``--quick`` (for CI, under 3 minutes on a small machine): 10 feeds x 50 pages, 1,000 sources (40 x 25), 4 s of
load per kind, a 3,000-article archive. ``readers`` (32 readers during `tidings run`'s poll pass) and ``fresh``
(from a feed being served to its article page with Similar News) run only when named: see benchmarks/readers.py.
The fixture news web runs on loopback addresses 127.0.0.2 and up (Linux). The article texts come from the shared
data folder beside the checkout (``--data``); without it the command exits 2. Pages under load use wrk when it is
installed (see benchmarks/load.py).

Each row gives what was measured, the value, its unit, the goal where there is one, and the command that
reproduces it. Comparisons are made side by side in one run (ratios) because a shared machine is noisy.
Exit status: 0 when every benchmark ran without error (missed goals are shown, not errors), 1 otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.common import DEFAULT_DATA, REPO, Row, failed, log, machine_line

if str(REPO / "src") not in sys.path:  # run from a checkout without installing Tidings
    sys.path.insert(0, str(REPO / "src"))

if TYPE_CHECKING:
    from benchmarks.ingest import IngestResult

DEFAULT_SECTIONS = ("ingest", "load", "footprint", "polling", "scale", "memory")
SECTIONS = (*DEFAULT_SECTIONS, "readers", "fresh")  # readers and fresh (benchmarks/readers.py) run when named


@dataclass
class Mode:
    feeds: int
    per_feed: int
    ingest_hosts: int
    poll_hosts: int
    poll_feeds_per_host: int
    clients: int
    seconds: float
    cold_runs: int
    profile: bool
    profile_feeds: int
    scale_sizes: str
    scale_seconds: float  # load per kind of page on the largest archive (0: none)
    readers_feeds: tuple[int, int, int]  # feeds polled before, feeds the timed pass polls, articles per feed
    readers_rounds: int
    fresh_rounds: int  # passes, each with a new item in every new feed
    memory_sizes: tuple[int, ...] = (1000, 3000)  # lines imported with the hashing embedder (benchmarks/memory.py)
    memory_model_sizes: tuple[int, ...] = ()      # ... and with the default model


QUICK = Mode(feeds=10, per_feed=50, ingest_hosts=5, poll_hosts=40, poll_feeds_per_host=25, clients=32, seconds=4.0,
             cold_runs=3, profile=False, profile_feeds=2, scale_sizes="3000", scale_seconds=0.0,
             readers_feeds=(3, 4, 30), readers_rounds=1, fresh_rounds=3)
FULL = Mode(feeds=50, per_feed=100, ingest_hosts=10, poll_hosts=200, poll_feeds_per_host=50, clients=32,
            seconds=15.0, cold_runs=3, profile=True, profile_feeds=10, scale_sizes="10000,100000,1000000",
            scale_seconds=15.0, readers_feeds=(4, 8, 50), readers_rounds=2, fresh_rounds=5,
            memory_sizes=(1000, 5000, 20000, 100000), memory_model_sizes=(100000,))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes for CI (under 3 minutes)")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--only", default=",".join(DEFAULT_SECTIONS),
                   help="comma-separated benchmarks (default all but readers and fresh, which run when named); load"
                        " and footprint run ingest for their database")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    p.add_argument("--workdir", type=Path, help="keep databases, feeds and profiles here (default: a temp dir)")
    p.add_argument("--clients", type=int, help="concurrent clients for the load benchmark (default 32)")
    p.add_argument("--seconds", type=float, help="seconds of load per kind of page (default 15, quick 4)")
    p.add_argument("--scale-sizes", help="archive sizes for Similar News at scale (default 10000,100000,1000000; "
                                         "quick 3000)")
    p.add_argument("--memory-sizes", help="lines imported with the hashing embedder for the memory benchmark "
                                          "(default 1000,5000,20000,100000; quick 1000,3000)")
    p.add_argument("--memory-model-sizes", help="... and with the default model (default 100000; quick none)")
    p.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None,
                   help="profile a second ingest with py-spy (default: on in full mode)")
    return p.parse_args(argv)


def _sizes(given: str | None, default: tuple[int, ...]) -> list[int]:
    return [int(x) for x in given.split(",") if x.strip()] if given is not None else list(default)


def rerun_command(args: argparse.Namespace, section: str) -> str:
    return f"python -m benchmarks --only {section}{' --quick' if args.quick else ''}"


def fmt(value: float | int | str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    if value == float("inf"):
        return "n/a"
    magnitude = abs(value)
    return f"{value:,.0f}" if magnitude >= 1000 else f"{value:.1f}" if magnitude >= 10 else f"{value:.3g}"


def goal_cell(row: Row) -> str:
    mark = "" if row.met is None else (" (met)" if row.met else " (MISSED)")
    return f"{row.goal}{mark}" if row.goal else ""


def format_table(rows: list[Row], markdown: bool) -> str:
    head = ("what", "value", "unit", "goal", "command")
    cells = [(r.what, fmt(r.value) + (f" [{r.error}]" if r.error else ""), r.unit, goal_cell(r), r.command)
             for r in rows]
    if markdown:
        def esc(text: str) -> str:
            return text.replace("|", "\\|")

        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---", "---:", "---", "---", "---"]) + "|"]
        lines += ["| " + " | ".join(esc(c) if i != 4 else f"`{esc(c)}`" for i, c in enumerate(row)) + " |"
                  for row in cells]
        return "\n".join(lines)
    widths = [max(len(head[i]), *(len(c[i]) for c in cells)) if cells else len(head[i]) for i in range(4)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head[:4], widths, strict=True)) + "  " + head[4]]
    lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 7)
    for c in cells:
        first = [c[0].ljust(widths[0]), c[1].rjust(widths[1]), c[2].ljust(widths[2]), c[3].ljust(widths[3])]
        lines.append("  ".join(first) + "  " + c[4])
    return "\n".join(lines)


def guarded(section: str, args: argparse.Namespace, body: Callable[[], list[Row]]) -> list[Row]:
    """Run one benchmark; a failure becomes an error row and the others still run."""
    started = time.perf_counter()
    try:
        rows = body()
    except Exception as exc:
        traceback.print_exc()
        rows = [failed(f"{section}: benchmark failed", f"{type(exc).__name__}: {exc}", rerun_command(args, section))]
    log(f"{section}: done in {time.perf_counter() - started:.0f} s")
    return rows


def run(args: argparse.Namespace, work: Path) -> tuple[list[Row], list[str]]:
    from benchmarks.footprint import run_footprint
    from benchmarks.ingest import run_ingest
    from benchmarks.load import run_load_benchmark
    from benchmarks.memory import run_memory
    from benchmarks.polling import run_polling
    from benchmarks.readers import run_fresh, run_readers
    from benchmarks.scale import run_scale

    mode = QUICK if args.quick else FULL
    wanted = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = wanted - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    profile = mode.profile if args.profile is None else args.profile
    rows: list[Row] = []
    notes: list[str] = []
    ingest: IngestResult | None = None

    def do_ingest() -> list[Row]:
        nonlocal ingest
        ingest = run_ingest(args.data, work, feeds=mode.feeds, per_feed=mode.per_feed, hosts=mode.ingest_hosts,
                            profile=profile, profile_feeds=mode.profile_feeds, rerun=rerun_command(args, "ingest"))
        notes.extend(ingest.notes)
        return ingest.rows

    def do_load() -> list[Row]:
        done = _needs(ingest)
        return run_load_benchmark(done.db, clients=args.clients or mode.clients,
                                  seconds=args.seconds or mode.seconds, articles=done.articles,
                                  rerun=rerun_command(args, "load"))

    def do_footprint() -> list[Row]:
        done = _needs(ingest)
        return run_footprint(done.db, work, articles=done.articles, poll_max_rss=done.poll_max_rss,
                             model_rss=done.model_rss, cold_runs=mode.cold_runs,
                             rerun=rerun_command(args, "footprint"))

    if wanted & {"ingest", "load", "footprint"}:
        rows += guarded("ingest", args, do_ingest)
    if "load" in wanted:
        rows += guarded("load", args, do_load)
    if "footprint" in wanted:
        rows += guarded("footprint", args, do_footprint)
    if "polling" in wanted:
        rows += guarded("polling", args, lambda: run_polling(
            args.data, work, hosts=mode.poll_hosts, feeds_per_host=mode.poll_feeds_per_host,
            rerun=rerun_command(args, "polling")))
    if "scale" in wanted:
        sizes = [int(x) for x in (args.scale_sizes or mode.scale_sizes).split(",")]
        rows += guarded("scale", args, lambda: run_scale(
            work, sizes, clients=args.clients or mode.clients,
            seconds=mode.scale_seconds if args.seconds is None or not mode.scale_seconds else args.seconds,
            rerun=rerun_command(args, "scale")))
    if "memory" in wanted:
        rows += guarded("memory", args, lambda: run_memory(
            work, _sizes(args.memory_sizes, mode.memory_sizes),
            _sizes(args.memory_model_sizes, mode.memory_model_sizes), rerun=rerun_command(args, "memory")))
    base_feeds, new_feeds, per_feed = mode.readers_feeds
    if "readers" in wanted:
        rows += guarded("readers", args, lambda: run_readers(
            args.data, work, clients=args.clients or mode.clients, rounds=mode.readers_rounds, base_feeds=base_feeds,
            new_feeds=new_feeds, per_feed=per_feed, rerun=rerun_command(args, "readers")))
    if "fresh" in wanted:
        rows += guarded("fresh", args, lambda: run_fresh(
            args.data, work, rounds=mode.fresh_rounds, base_feeds=base_feeds, new_feeds=new_feeds,
            per_feed=per_feed, rerun=rerun_command(args, "fresh")))
    if ingest is not None and ingest.profile is not None:
        notes.extend(ingest.profile.lines())
    return rows, notes


def _needs(ingest: IngestResult | None) -> IngestResult:
    if ingest is None:
        raise RuntimeError("needs the ingest database, and the ingest benchmark failed")
    return ingest


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from benchmarks.corpus import DataMissing, load_docs

    try:
        load_docs(args.data)
    except DataMissing as exc:
        print(f"benchmarks need the shared data folder: {exc}", file=sys.stderr)
        return 2
    work = args.workdir or Path(tempfile.mkdtemp(prefix="tidings-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    machine = machine_line()
    started = time.perf_counter()
    try:
        rows, notes = run(args, work)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    errors = sum(1 for r in rows if r.error)
    missed = sum(1 for r in rows if r.met is False)
    mode = "quick" if args.quick else "full"
    print(f"Machine: {machine}")
    print(f"Mode: {mode}; total {time.perf_counter() - started:.0f} s")
    print()
    print(format_table(rows, args.markdown))
    print()
    for note in notes:
        print(note)
    print(f"errors: {errors}; goals missed: {missed}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
