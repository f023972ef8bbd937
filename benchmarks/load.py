"""Pages under load: N concurrent clients for T seconds against a running `tidings serve`.

    python -m benchmarks --only load [--quick] [--clients 32] [--seconds 30]

Reusable pieces (another database, another server, the same measurement):

``serving(db) -> Served``
    A context manager that starts `tidings --db DB serve` on a free port of 127.0.0.1 and waits for the
    first 200 from ``/api/stories?limit=1``; ``Served.cold_start`` is the seconds from process start to that
    answer, ``Served.base_url`` where it listens, ``Served.proc`` the process. Stopped on exit.

``paths_from_db(db, sample=300) -> dict[str, list[str]]``
    Paths to request, by kind: ``article`` (/article/ID), ``section`` (/section/NAME), ``home`` (/) and
    ``similar`` (/api/similar?url=...), sampled from the database.

``await run_load(base_url, paths, clients=32, seconds=10.0, weights=None, until=None, writes=()) -> dict[str, Stats]``
    The one load client of benchmarks and tests (tests/test_load.py uses it too): ``clients`` concurrent
    clients (one asyncio task and one connection each), each requesting a random path of a random kind
    (``weights`` by kind, default WEIGHTS) one after another until ``seconds`` have passed or ``until()`` is
    true (with ``think``, each client pauses between requests as a reader does); optionally one more client
    POSTing admin ``writes``. Returns a ``Stats`` per kind plus ``"all"``:
    requests, ``rate`` (req/s), ``p50``/``p99`` latency in seconds, ``statuses`` (0: no answer), ``errors``
    (any non-2xx answer or no answer) and a few error samples.

``pages_under_load(db, clients=32, seconds=30, label=..., rerun=...) -> list[Row]``
    Each kind of page on its own, with `tidings serve`'s page cache on (as it runs) and off (every request
    rendered: the worst case, a reader population too spread out for any cache). The load comes from wrk (C,
    two threads) when it is installed, else from ``run_load``: on a small machine the client shares the CPU
    with the server, and the asyncio client took most of it (measured: 253 req/s with it against 787 with wrk
    on the same server), so its figures are a floor for what the server can do.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import quote

import httpx

from benchmarks.common import Row, log, query, tidings_cmd, tidings_env

WEIGHTS = {"article": 0.45, "section": 0.2, "home": 0.2, "similar": 0.15}
READY_PATH = "/api/stories?limit=1"
LABELS = {"article": "article pages /article/ID", "section": "section pages /section/NAME", "home": "home page /",
          "similar": "JSON /api/similar?url=URL", "all": "all requests"}


@dataclass
class Stats:
    """Latencies (seconds), statuses and errors of one kind of request over a run of ``seconds``."""

    kind: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)  # 0: no answer came (timeout, refused, reset)
    ok: tuple[int, int] = (200, 300)  # statuses that are not errors: [low, high)
    cache: list[str] = field(default_factory=list)  # each request's x-tidings-cache ("" when not said)

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def unanswered_or_5xx(self) -> int:
        """Requests that got no answer or a server error (what no load may ever cause)."""
        return sum(n for status, n in self.statuses.items() if status == 0 or status >= 500)

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the latencies (0 when there are none)."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
        return ordered[int(rank) - 1]

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    def record(self, latency: float, status: int, error: str | None = None, cache: str = "") -> None:
        """One request: its latency, its status (0: no answer, ``error`` says why), what the page cache did."""
        self.latencies.append(latency)
        self.cache.append(cache)
        self.statuses[status] += 1
        if error is not None or not self.ok[0] <= status < self.ok[1]:
            self.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(error or f"HTTP {status}")

    def add(self, other: Stats) -> None:
        self.latencies += other.latencies
        self.cache += other.cache
        self.errors += other.errors
        self.statuses.update(other.statuses)
        self.error_samples += other.error_samples[: max(0, 5 - len(self.error_samples))]

    def slowest(self, q: float = 99) -> Counter[str]:
        """What the page cache did for the requests at or above the ``q`` percentile: why the slow ones were."""
        edge = self.percentile(q)
        return Counter(c or "uncached" for t, c in zip(self.latencies, self.cache, strict=True) if t >= edge)

    def summary(self) -> str:
        slow = ", ".join(f"{state} {n}" for state, n in self.slowest().most_common())
        return (f"requests {self.requests} ({self.rate:.0f}/s), errors {self.errors}, statuses "
                f"{dict(sorted(self.statuses.items()))}, p50 {self.p50 * 1000:.0f} ms, p99 {self.p99 * 1000:.0f} ms, "
                f"max {max(self.latencies, default=0) * 1000:.0f} ms; slowest 1%: {slow or 'none'}")


async def _request(client: httpx.AsyncClient, method: str, path: str, stats: Stats) -> None:
    t0 = time.perf_counter()
    cache = ""
    try:
        response = await client.request(method, path)
        status, cache = response.status_code, response.headers.get("x-tidings-cache", "")
        error = None if stats.ok[0] <= status < stats.ok[1] else f"HTTP {status} {path}"
    except httpx.HTTPError as exc:
        status, error = 0, f"{type(exc).__name__}: {exc!r} {path}"
    stats.record(time.perf_counter() - t0, status, error, cache)


async def run_load(base_url: str, paths: dict[str, list[str]], clients: int = 32, seconds: float = 10.0,
                   *, weights: dict[str, float] | None = None, timeout: float = 30.0, seed: int = 1,
                   until: Callable[[], bool] | None = None, think: float = 0.0, writes: Sequence[str] = (),
                   token: str = "", write_every: float = 1.0) -> dict[str, Stats]:
    """See the module doc. Kinds without paths are left out; a request still running at the end is counted.
    Each client has its own connection, as separate browsers would (one shared pool of a hundred connections
    costs the client more CPU than the server spends answering). The run ends after ``seconds`` or as soon as
    ``until()`` is true. With ``think``, each client pauses between its requests (0.5 to 1.5 times ``think``
    seconds, as a person reads a page), and its first request comes at a random moment of the first ``think``
    seconds; without, each asks at once and again as soon as it has its answer. With ``writes``,
    one more client POSTs those paths in turn every ``write_every`` seconds with the admin ``token``, so the
    server writes too; its figures are under ``"write"`` (an answer other than 200 is an error), not in
    ``"all"``."""
    kinds = [k for k in paths if paths[k]]
    chosen = weights or WEIGHTS
    kind_weights = [chosen.get(k, 0.1) for k in kinds]
    stats = {k: Stats(k, seconds) for k in kinds}
    written = Stats("write", seconds, ok=(200, 201))
    # One TLS context for every client: httpx builds one per client otherwise (about 29 ms each, loading the CA
    # bundle), and while 32 clients were made one after another, the first requests' answers waited on this loop:
    # every request of a run's first 0.7 s took 0.6 to 0.8 s, the reader's own start counted as the server's.
    tls = ssl.create_default_context()
    started = time.perf_counter()
    deadline = started + seconds

    def going() -> bool:
        return time.perf_counter() < deadline and not (until and until())

    async def one_client(n: int) -> None:
        rnd = random.Random(seed * 1000 + n)
        async with httpx.AsyncClient(base_url=base_url, timeout=timeout, trust_env=False, verify=tls) as client:
            if think:  # a reader arrives at a time of its own, as people do, not all 32 in the same millisecond
                await asyncio.sleep(think * rnd.uniform(0.0, 1.0))
            while going():
                kind = rnd.choices(kinds, kind_weights)[0]
                await _request(client, "GET", rnd.choice(paths[kind]), stats[kind])
                if think:
                    await asyncio.sleep(think * rnd.uniform(0.5, 1.5))

    async def writer() -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(base_url=base_url, timeout=timeout, headers=headers, trust_env=False,
                                     verify=tls) as client:
            n = 0
            while writes and going():
                await _request(client, "POST", writes[n % len(writes)], written)
                n += 1
                await asyncio.sleep(write_every)

    await asyncio.gather(writer(), *(one_client(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    total = Stats("all", elapsed)
    for s in stats.values():
        s.seconds = elapsed
        total.add(s)
    written.seconds = elapsed
    return {**stats, "all": total, **({"write": written} if writes else {})}


def paths_from_db(db: Path, sample: int = 300, seed: int = 3) -> dict[str, list[str]]:
    """Request paths by kind, sampled from the articles and sections in ``db``."""
    rnd = random.Random(seed)
    articles = query(db, "SELECT id, url FROM articles ORDER BY id")
    picked = rnd.sample(articles, min(sample, len(articles)))
    sections = [str(r[0]) for r in query(db, "SELECT DISTINCT section FROM article_sections ORDER BY section")]
    return {
        "article": [f"/article/{r[0]}" for r in picked],
        "section": [f"/section/{quote(s, safe='')}" for s in sections],
        "home": ["/"],
        "similar": [f"/api/similar?url={quote(str(r[1]), safe='')}" for r in picked],
    }


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    base_url: str
    cold_start: float


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(db: Path, *, timeout: float = 120.0, env: dict[str, str | None] | None = None) -> Iterator[Served]:
    """`tidings --db DB serve` on 127.0.0.1, ready (first 200 from READY_PATH) before this yields; ``env`` adds
    variables (None removes one)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: a chatty server must never block on it
        started = time.perf_counter()
        proc = subprocess.Popen(tidings_cmd("--db", str(db), "serve", "--host", "127.0.0.1", "--port", str(port)),
                                env=tidings_env(**(env or {})), stdout=subprocess.DEVNULL, stderr=err)
        try:
            cold = _wait_ready(proc, base + READY_PATH, started, timeout, err)
            yield Served(proc, base, cold)
        finally:
            stop_process(proc, 10)


def stop_process(proc: subprocess.Popen[bytes], patience: float = 30.0) -> None:
    """SIGTERM, and SIGKILL if it has not ended after ``patience`` seconds."""
    proc.terminate()
    try:
        proc.wait(patience)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], url: str, started: float, timeout: float, err: IO[bytes]) -> float:
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.perf_counter() - started < timeout:
            if proc.poll() is not None:
                err.seek(0)
                tail = err.read().decode("utf-8", "replace")[-600:]
                raise RuntimeError(f"tidings serve exited with {proc.returncode}: {tail}")
            try:
                if client.get(url).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
    raise RuntimeError(f"tidings serve did not answer {url} within {timeout:g} s")


def warm_up(base_url: str, paths: dict[str, list[str]], per_kind: int = 10) -> None:
    """A few requests of every kind, one at a time, so caches, templates and lazy imports are loaded."""
    with httpx.Client(base_url=base_url, timeout=60.0, trust_env=False) as client:
        for kind_paths in paths.values():
            for path in kind_paths[:per_kind]:
                client.get(path)


@dataclass
class PageLoad:
    """One kind of page under load, from wrk or from run_load."""

    kind: str
    tool: str
    requests: int
    rate: float
    p50: float  # seconds
    p99: float
    errors: int
    error_samples: list[str] = field(default_factory=list)

    def cell(self) -> str:
        return (f"{self.rate:,.0f} req/s, p50 {self.p50 * 1000:.1f} ms, p99 {self.p99 * 1000:.1f} ms, "
                f"{self.requests:,} requests, {self.errors} errors")


_WRK_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def parse_wrk(kind: str, out: str) -> PageLoad:
    """The figures of ``wrk --latency`` output: requests, rate, p50, p99, non-2xx answers and socket errors."""
    def latency(pct: str) -> float:
        m = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        if not m:
            raise RuntimeError(f"no {pct}% latency in wrk output: {out[-400:]}")
        return float(m.group(1)) * _WRK_UNITS[m.group(2)]

    total = re.search(r"^\s*(\d+) requests in", out, re.M)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    if not total or not rate:
        raise RuntimeError(f"unexpected wrk output: {out[-400:]}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(int(x) for x in sockets.groups()) if sockets else 0)
    samples = [line.strip() for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line]
    return PageLoad(kind, "wrk", int(total.group(1)), float(rate.group(1)), latency("50"), latency("99"), errors,
                    samples)


def wrk_load(base_url: str, kind: str, paths: list[str], clients: int, seconds: float) -> PageLoad:
    """wrk (C, two threads) with ``clients`` connections, each request a random one of ``paths``."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("local paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n"
                     "math.randomseed(7)\n"
                     "request = function() return wrk.format('GET', paths[math.random(#paths)]) end\n")
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--latency",
                              "--timeout", "30s", "-s", script.name, base_url],
                             capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    finally:
        Path(script.name).unlink()
    return parse_wrk(kind, out)


def measure_kinds(base_url: str, paths: dict[str, list[str]], clients: int, seconds: float) -> list[PageLoad]:
    """Each kind of page on its own for ``seconds``: wrk when installed (it takes little CPU from the server on
    a small machine), else this module's asyncio client."""
    out = []
    for kind, kind_paths in paths.items():
        if not kind_paths:
            continue
        if shutil.which("wrk"):
            out.append(wrk_load(base_url, kind, kind_paths, clients, seconds))
            continue
        s = asyncio.run(run_load(base_url, {kind: kind_paths}, clients, seconds))[kind]
        out.append(PageLoad(kind, "asyncio client", s.requests, s.rate, s.p50, s.p99, s.errors, s.error_samples))
    return out


def pages_under_load(db: Path, *, clients: int, seconds: float, label: str, rerun: str,
                     p99_goal_ms: float | None = None, sample: int = 2000) -> list[Row]:
    """Rows for each kind of page, with the page cache on (as served) and off (every request rendered)."""
    paths = paths_from_db(db, sample=sample)
    rows = []
    settings: list[tuple[str, dict[str, str | None]]] = [("page cache on", {}),
                                                         ("page cache off", {"TIDINGS_PAGE_CACHE_MB": "0"})]
    for cache, env in settings:
        with serving(db, env=env) as served:
            warm_up(served.base_url, paths)
            log(f"load: {clients} clients x {seconds:g} s per kind of page, {cache}, {label}")
            results = measure_kinds(served.base_url, paths, clients, seconds)
        for m in results:
            goal, met = "0 errors", m.errors == 0
            # The p99 goal is judged where every request renders its page: with the cache on, the p99 of a
            # short run is the first render of each sampled page, made while thousands of hits a second go by.
            if p99_goal_ms is not None and m.kind == "article" and env:
                goal, met = f"p99 < {p99_goal_ms:g} ms, 0 errors", met and m.p99 * 1000 < p99_goal_ms
            rows.append(Row(f"{label}: {LABELS.get(m.kind, m.kind)}, {clients} clients x {seconds:g} s, {cache} "
                            f"({m.tool})", m.cell(), "", goal, rerun, met=met,
                            error="; ".join(m.error_samples) if m.errors else ""))
    return rows


def run_load_benchmark(db: Path, *, clients: int, seconds: float, articles: int,
                       rerun: str = "python -m benchmarks --only load") -> list[Row]:
    """Pages under load on the ingest database."""
    return pages_under_load(db, clients=clients, seconds=seconds, label=f"load, {articles:,} articles",
                            rerun=rerun, sample=300)
