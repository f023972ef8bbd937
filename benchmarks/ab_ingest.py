"""Ingest A/B: an earlier commit of Tidings (A) and this checkout (B) on the same texts, in one run.

    python -m benchmarks.ab_ingest [--base REV] [--feeds 15] [--per-feed 100] [--hosts 5] [--workdir DIR]
                                   [--markdown]

A is a ``git worktree`` of REV (default: the merge base with main) made in the work folder (and removed at the
end); each `tidings`
command runs with PYTHONPATH pointing at its checkout's sources. Both poll the same fixture web (every page
fetched and extracted, ``TIDINGS_HOST_DELAY=0``) into fresh databases, then import the same JSON Lines, in the
order poll A, poll B, import B, import A, so that a machine getting busier or quieter weighs on both. Beside
them, the model alone (A's backend, torch) on the same texts in three rounds (before, between, after), as in
``benchmarks/ingest.py``; and the same for B's default backend. Ratios are given by wall time and by CPU time
(steadier when other work shares the machine).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import DEFAULT_DATA, MIB, REPO, Row, log, median, run_measured, tidings_cmd, tidings_env
from benchmarks.corpus import plan_articles
from benchmarks.ingest import NO_DELAY, FloorHelper, _add_sources, _write_jsonl, build_web, load_docs
from benchmarks.newsweb import FixtureWeb, addresses

RERUN = "python -m benchmarks.ab_ingest"


def base_checkout(work: Path, rev: str) -> Path:
    """A detached worktree of ``rev`` inside ``work`` (made once, reused)."""
    path = work / f"base-{rev.replace('/', '-')}"
    if not (path / "src" / "tidings").is_dir():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), rev], check=True,
                       capture_output=True)
    return path


def default_base() -> str:
    done = subprocess.run(["git", "-C", str(REPO), "merge-base", "HEAD", "main"], capture_output=True, text=True,
                          check=False)
    return done.stdout.strip()[:12] or "HEAD"


def env_for(checkout: Path, **extra: str | None) -> dict[str, str]:
    env = tidings_env(TIDINGS_EMBEDDER=None, **extra)
    env["PYTHONPATH"] = str(checkout / "src")
    return env


def run_ab(data: Path, work: Path, *, base: str, feeds: int, per_feed: int, hosts: int) -> list[Row]:
    checkouts = {"A": base_checkout(work, base), "B": REPO}
    articles = plan_articles(load_docs(data), feeds, per_feed, hosts)
    n = len(articles)
    polled, imported = {}, {}
    with FixtureWeb(addresses(hosts, "127.0.0.2")) as web:
        feed_urls = build_web(web, articles, feeds)
        jsonl = work / "articles.jsonl"
        _write_jsonl(articles, web, jsonl)
        floors = {"torch": FloorHelper(articles, work, env={"TIDINGS_EMBEDDER": "minilm-torch"}),
                  "B": FloorHelper(articles, work)}
        try:
            for side in ("A", "B"):
                db = work / f"poll-{side}.db"
                for old in work.glob(f"poll-{side}.db*"):
                    old.unlink()
                _add_sources(db, feed_urls)
            for f in floors.values():
                f.round()
            for side in ("A", "B"):
                log(f"ab: poll --all, {side} ({n} articles)")
                polled[side] = run_measured(tidings_cmd("--db", str(work / f"poll-{side}.db"), "poll", "--all"),
                                            env_for(checkouts[side], **NO_DELAY))
                polled[side].check(f"tidings poll --all ({side})")
            for f in floors.values():
                f.round()
            for side in ("B", "A"):
                log(f"ab: import, {side}")
                db = work / f"import-{side}.db"
                for old in work.glob(f"import-{side}.db*"):
                    old.unlink()
                imported[side] = run_measured(tidings_cmd("--db", str(db), "import", str(jsonl)),
                                              env_for(checkouts[side]))
                imported[side].check(f"tidings import ({side})")
            for f in floors.values():
                f.round()
        finally:
            for f in floors.values():
                f.close()
    torch_rate = median(floors["torch"].rates)
    torch_cpu = floors["torch"].cpu_per_text
    cmd = f"{RERUN} --base {base} --feeds {feeds} --per-feed {per_feed} --hosts {hosts}"
    rows = [Row(f"model alone, torch (median of rounds {', '.join(f'{r:.1f}' for r in floors['torch'].rates)})",
                torch_rate, "texts/s", "", cmd),
            Row(f"model alone, B's default backend (rounds {', '.join(f'{r:.1f}' for r in floors['B'].rates)})",
                median(floors["B"].rates), "texts/s", "", cmd),
            Row("model alone: CPU per text, torch -> B's default backend",
                f"{torch_cpu * 1000:.1f} -> {floors['B'].cpu_per_text * 1000:.1f}", "ms", "", cmd)]
    for label, runs in (("poll --all", polled), ("import", imported)):
        a, b = runs["A"], runs["B"]
        rows += [
            Row(f"{label}: A -> B, wall", f"{a.seconds:.1f} -> {b.seconds:.1f}", "s", "", cmd),
            Row(f"{label}/model ratio (model = torch alone), A -> B",
                f"{n / a.seconds / torch_rate:.3f} -> {n / b.seconds / torch_rate:.3f}", "x", "", cmd),
            Row(f"{label}/model ratio by CPU time, A -> B",
                f"{torch_cpu / (a.cpu / n):.3f} -> {torch_cpu / (b.cpu / n):.3f}", "x", "", cmd),
            Row(f"{label}: CPU per article, A -> B", f"{a.cpu / n * 1000:.1f} -> {b.cpu / n * 1000:.1f}", "ms",
                "", cmd),
            Row(f"{label}: peak RSS, A -> B", f"{a.max_rss / MIB:.0f} -> {b.max_rss / MIB:.0f}", "MiB", "", cmd),
            Row(f"{label}: B / A speed", a.seconds / b.seconds, "x", "", cmd),
        ]
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=RERUN, description=__doc__.split("\n\n")[0])
    p.add_argument("--base", default=None, help="the commit to compare with (default: merge base with main)")
    p.add_argument("--feeds", type=int, default=15)
    p.add_argument("--per-feed", type=int, default=100)
    p.add_argument("--hosts", type=int, default=5)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--workdir", type=Path)
    args = p.parse_args(argv)
    base = args.base or default_base()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="tidings-ab-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        rows = run_ab(args.data, work, base=base, feeds=args.feeds, per_feed=args.per_feed, hosts=args.hosts)
    finally:  # the base checkout is registered with git: unregister it (its files go with the work folder)
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                        str(work / f"base-{base.replace('/', '-')}")], capture_output=True, check=False)
    print("| what | value | unit | command |\n|---|---:|---|---|")
    for r in rows:
        value = f"{r.value:.3f}" if isinstance(r.value, float) else str(r.value)
        print(f"| {r.what} | {value} | {r.unit} | `{r.command}` |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
