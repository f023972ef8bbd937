"""Ingest end to end: `tidings sources add` for every feed, then `tidings poll --all`, against the fixture web.

    python -m benchmarks --only ingest [--quick]

The feeds carry a one-sentence summary per item, so Tidings fetches and extracts every article page, then
embeds with the real sentence model, detects copies, links Similar News and files stories into SQLite. The
fetcher's host delay is switched off for this run (TIDINGS_HOST_DELAY=0, TIDINGS_HOST_JITTER=0); the per-host
concurrency limit stays. Beside it, in the same run and on the same texts:

* the embedding model alone (``get_embedder().embed`` on ``embedding_text(title, "", text)`` in batches of 64,
  as ``analyse_backlog`` does, model load excluded): the floor the pipeline cannot beat. It is measured in
  three rounds, each over a third of the texts: before the ingest, between the ingest and the import, and after
  the import, so a machine that gets busier or quieter during the run moves the floor as it moves the
  pipeline; the median round is the floor;
* ``tidings import`` of the same articles as JSON Lines.

``python -m benchmarks.ingest --embed-floor FILE ROUNDS`` is the helper process that measures the model alone
(FILE: a JSON list of [title, text]). It loads the model, prints one JSON line (load time, memory), then for
each line read from stdin embeds the next of ROUNDS slices and prints its JSON line.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from benchmarks.common import (
    POLLED,
    REPO,
    Row,
    log,
    median,
    proc_status,
    query,
    run_measured,
    shown,
    tidings_cmd,
    tidings_env,
)
from benchmarks.corpus import Article, load_docs, plan_articles
from benchmarks.newsweb import SECTIONS, FixtureWeb, PageTemplate, Route, addresses, outlet_name, page_route, rss
from benchmarks.profile import Profile, profile_command, read_profile

BATCH = 64  # analyse_backlog's batch
ROUNDS = 3
NO_DELAY = {"TIDINGS_HOST_DELAY": "0", "TIDINGS_HOST_JITTER": "0"}
_IMPORTED = re.compile(r"imported (\d+), updated (\d+), unchanged (\d+), skipped (\d+) bad line\(s\); analysed (\d+)")


@dataclass
class IngestResult:
    """Rows for the table, plus what the load and footprint benchmarks reuse."""

    rows: list[Row]
    db: Path
    articles: int
    poll_max_rss: int  # peak RSS of the `tidings poll --all` that ingested everything
    model_rss: int  # the model-only process with Tidings and a warm model, before reading any text
    profile: Profile | None = None
    notes: list[str] = field(default_factory=list)


def build_web(web: FixtureWeb, articles: list[Article], feeds: int) -> list[tuple[str, str]]:
    """Routes for every feed and page; returns (feed URL, section) per feed."""
    hosts = web.hosts
    templates = [PageTemplate(outlet_name(h), web.base[addr], seed=h) for h, addr in enumerate(hosts)]
    by_feed: dict[int, list[Article]] = {f: [] for f in range(feeds)}
    for a in articles:
        by_feed[a.feed].append(a)
    out = []
    for f, items in by_feed.items():
        addr = hosts[f % len(hosts)]
        section = SECTIONS[f % len(SECTIONS)]
        site = web.base[addr]
        for n, a in enumerate(items):
            related = items[n + 1:n + 11] or items[:10]
            web.add(addr, a.path, page_route(templates[a.host], a, related, edition=n))
        title = f"{outlet_name(f % len(hosts))} - {section} {f}"
        out.append((web.add(addr, f"/rss/{f}.xml", Route(rss(title, site, items), "application/rss+xml")), section))
    return out


class FloorHelper:
    """The model-only process, kept running so each round measures embedding, not loading."""

    def __init__(self, articles: list[Article], work: Path, rounds: int = ROUNDS,
                 env: dict[str, str] | None = None) -> None:
        texts = work / "floor.json"
        texts.write_text(json.dumps([[a.title, a.text] for a in articles]), encoding="utf-8")
        cmd = [sys.executable, "-m", "benchmarks.ingest", "--embed-floor", str(texts), str(rounds)]
        self.proc = subprocess.Popen(cmd, env=tidings_env(**{"TIDINGS_EMBEDDER": None, **(env or {})}),
                                     cwd=REPO, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.ready = self._answer()
        self.rounds: list[tuple[int, float, float]] = []  # texts, wall seconds, CPU seconds

    def _answer(self) -> dict[str, Any]:
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            raise RuntimeError(f"the model-only process ended early (exit status {self.proc.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def round(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("next\n")
        self.proc.stdin.flush()
        answer = self._answer()
        self.rounds.append((int(answer["texts"]), float(answer["seconds"]), float(answer["cpu"])))

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    @property
    def rates(self) -> list[float]:
        return [texts / seconds for texts, seconds, _ in self.rounds if seconds > 0]

    @property
    def cpu_per_text(self) -> float:
        return median([cpu / texts for texts, _, cpu in self.rounds if texts])


def _add_sources(db: Path, feeds: list[tuple[str, str]]) -> float:
    env = tidings_env(**NO_DELAY)
    total = 0.0
    for url, section in feeds:
        m = run_measured(tidings_cmd("--db", str(db), "sources", "add", url, "--section", section), env)
        m.check(f"tidings sources add {url}")
        total += m.seconds
    return total


def _counts(db: Path) -> tuple[int, int, int]:
    """Articles stored, of them with text from their page (no extraction error), and analysed."""
    row = query(db, "SELECT COUNT(*), COALESCE(SUM(extraction_error = ''), 0), COALESCE(SUM(analysed), 0) "
                    "FROM articles")[0]
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)


def _extraction_errors(db: Path) -> str:
    rows = query(db, "SELECT extraction_error, COUNT(*) FROM articles WHERE extraction_error != '' "
                     "GROUP BY extraction_error ORDER BY 2 DESC LIMIT 3")
    return "; ".join(f"{n} x {error}" for error, n in rows)


def _write_jsonl(articles: list[Article], web: FixtureWeb, path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for a in articles:
            fh.write(json.dumps({"title": a.title, "text": a.text, "source": outlet_name(a.host),
                                 "url": web.base[web.hosts[a.host]] + a.path,
                                 "published": a.published.isoformat().replace("+00:00", "Z")}) + "\n")


def run_ingest(data: Path, work: Path, *, feeds: int, per_feed: int, hosts: int, profile: bool,
               profile_feeds: int = 0, rerun: str = "python -m benchmarks --only ingest") -> IngestResult:
    """The ingest, model-only and import runs over ``feeds`` x ``per_feed`` articles; see the module doc."""
    articles = plan_articles(load_docs(data), feeds, per_feed, hosts)
    n = len(articles)
    db = work / "ingest.db"
    env = tidings_env(TIDINGS_EMBEDDER=None, **NO_DELAY)
    with FixtureWeb(addresses(hosts, "127.0.0.2")) as web:
        feed_urls = build_web(web, articles, feeds)
        log(f"ingest: {n} articles in {feeds} feeds on {hosts} hosts; the model alone, round 1")
        floor = FloorHelper(articles, work)
        try:
            floor.round()
            log("ingest: tidings sources add, one per feed")
            add_seconds = _add_sources(db, feed_urls)
            log("ingest: tidings poll --all")
            polled = run_measured(tidings_cmd("--db", str(db), "poll", "--all"), env)
            polled.check("tidings poll --all")
            statuses, _, _ = web.totals()
            first_wait = max(s.max_first_wait for s in web.stats.values())
            timeouts = sum(s.timeouts for s in web.stats.values())
            connections = sum(s.connections for s in web.stats.values())
            log("ingest: the model alone, round 2")
            floor.round()
            log("ingest: tidings import of the same articles")
            jsonl = work / "articles.jsonl"
            _write_jsonl(articles, web, jsonl)
            imported = run_measured(tidings_cmd("--db", str(work / "import.db"), "import", str(jsonl)),
                                    tidings_env(TIDINGS_EMBEDDER=None))
            imported.check("tidings import")
            log("ingest: the model alone, round 3")
            floor.round()
        finally:
            floor.close()
        prof = _profile(work, feed_urls[: profile_feeds or len(feed_urls)], env) if profile else None

    stored, extracted, analysed = _counts(db)
    polled_counts = POLLED.search(polled.stdout)
    import_counts = _IMPORTED.search(imported.stdout)
    floor_rate = median(floor.rates)
    end_to_end = n / (add_seconds + polled.seconds)
    import_rate = n / imported.seconds
    cmd = f"{rerun}  # {shown(['tidings', '--db', 'ingest.db', 'poll', '--all'], env, list(NO_DELAY))}"
    import_cmd = f"{rerun}  # tidings --db import.db import articles.jsonl"
    rounds = ", ".join(f"{r:.2f}" for r in floor.rates)
    rows = [
        Row(f"ingest: articles stored with text from their page ({feeds} feeds, {hosts} hosts)", extracted,
            "articles", f"= {n}" + (f"; {_extraction_errors(db)}" if extracted < n else ""), cmd,
            met=extracted == n,
            error="" if stored == n and analysed == n else f"{stored} stored, {analysed} analysed of {n}"),
        Row("ingest: HTTP requests served (feeds, robots.txt, pages)", sum(statuses.values()), "requests",
            "", cmd, error="" if set(statuses) <= {200} else f"statuses {dict(statuses)}"),
        Row("ingest: longest stall between opening a connection and sending its request", first_wait, "s",
            "", cmd),
        Row("ingest: connections the fixture server closed after 60 s without a request", timeouts,
            "connections", "0", cmd, met=timeouts == 0),
        Row("ingest: TCP connections opened (sources add and poll)", connections,
            f"for {sum(statuses.values()):,} requests", "", cmd),
        Row(f"ingest: sources add x{feeds} (one process each)", add_seconds, "s", "", cmd),
        Row("ingest: poll --all (fetch, extract, embed, link, stories)", polled.seconds, "s", "", cmd,
            error="" if polled_counts and polled_counts.group(4) == "0" else polled.stdout.strip()[-300:]),
        Row("ingest: end to end (sources add + poll)", end_to_end, "articles/s", "", cmd),
        Row("ingest: poll --all alone", n / polled.seconds, "articles/s", "", cmd),
        Row(f"embedding model alone, same texts (median of rounds {rounds})", floor_rate, "texts/s", "", rerun),
        Row("ingest/model ratio (end to end)", end_to_end / floor_rate, "x", ">= 0.8", cmd,
            met=end_to_end / floor_rate >= 0.8),
        Row("poll/model ratio (poll --all alone)", (n / polled.seconds) / floor_rate, "x", "", cmd),
        Row("ingest/model ratio by CPU time (poll --all; steadier on a busy machine)",
            floor.cpu_per_text / (polled.cpu / n), "x", "", cmd),
        Row("import: tidings import of the same articles", import_rate, "articles/s", "", import_cmd,
            error="" if import_counts and int(import_counts.group(1)) == n else imported.stdout.strip()[-300:]),
        Row("import/model ratio", import_rate / floor_rate, "x", "", import_cmd),
        Row("import/model ratio by CPU time", floor.cpu_per_text / (imported.cpu / n), "x", "", import_cmd),
    ]
    notes = [f"Ingest ran with {' '.join(f'{k}={v}' for k, v in NO_DELAY.items())} (the per-host limit of 2 "
             f"requests stays); the model load ({floor.ready['load']:.1f} s in the model-only process) is inside "
             "the poll and import times and outside the model-only rounds."]
    return IngestResult(rows, db, n, polled.max_rss, int(floor.ready["baseline_rss"]), prof, notes)


def _profile(work: Path, feeds: list[tuple[str, str]], env: dict[str, str]) -> Profile | None:
    """Sample a second ingest (a fresh database, ``feeds`` only) with py-spy; the measured run is never sampled."""
    db = work / "profile.db"
    log(f"ingest: profiling poll --all over {len(feeds)} feed(s) with py-spy")
    _add_sources(db, feeds)
    out = work / "ingest-profile.txt"
    cmd = profile_command(out, tidings_cmd("--db", str(db), "poll", "--all"))
    if cmd is None:
        log("ingest: py-spy is not installed; no profile")
        return None
    run = run_measured(cmd, env)
    run.check("py-spy record")
    articles = query(db, "SELECT COUNT(*) FROM articles")[0][0]
    return read_profile(out, what=f"tidings poll --all ({articles} articles from {len(feeds)} feeds, "
                                  f"{run.seconds:.0f} s), py-spy {cmd[cmd.index('--rate') + 1]} Hz")


def embed_floor(path: Path, rounds: int, commands: IO[str], answers: IO[str]) -> None:
    """The model alone on the texts in ``path``, batched as the pipeline batches, one slice per command."""
    import tidings.jobs  # noqa: F401  (what a poller has loaded, so this process's memory is a fair baseline)
    from tidings.analysis.embeddings import EMBED_WORDS, embedding_text, get_embedder

    embedder = get_embedder()
    started = time.perf_counter()
    filler = " ".join(f"word{i}" for i in range(EMBED_WORDS))
    embedder.embed([f"Headline {i}. {filler}" for i in range(BATCH)])  # loads the model, one full batch
    load = time.perf_counter() - started
    baseline = peak_rss_self()  # before the texts are read: Tidings and a warm model, nothing else
    texts = [embedding_text(title, "", text) for title, text in json.loads(path.read_text(encoding="utf-8"))]
    print(json.dumps({"load": load, "baseline_rss": baseline, "texts": len(texts)}), file=answers, flush=True)
    size = -(-len(texts) // rounds)
    for r in range(rounds):
        if not commands.readline():
            return
        part = texts[r * size:(r + 1) * size]
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(part), BATCH):
            embedder.embed(part[i:i + BATCH])
        print(json.dumps({"texts": len(part), "seconds": time.perf_counter() - started,
                          "cpu": time.process_time() - cpu}), file=answers, flush=True)


def peak_rss_self() -> int:
    """This process's peak resident memory in bytes (Linux /proc; 0 elsewhere)."""
    return proc_status("self", "VmHWM")


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "--embed-floor":
        answers, sys.stdout = sys.stdout, sys.stderr  # a library's stray print must not garble the answers
        embed_floor(Path(argv[1]), int(argv[2]), sys.stdin, answers)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
