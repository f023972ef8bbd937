"""A page cannot stall the poller: extraction of pathological pages before and after the budgets, and a normal
source's page while another source's pathological pages are queued.

    python -m benchmarks.extract_budget [--budget S] [--before-limit S] [--queued N] [--data DIR]
                                        [--memory-sweep 64,96,128]

Figures, each measured in this run:
- the issue's page (800 KB of ``<p>w</p>``, 100,000 paragraphs) and 50,000 one-cell tables (1.7 MB): extracted
  whole in this process as before the caps (in a child process stopped at --before-limit seconds), then with
  the caps in this process, then through ``extract_page_elsewhere`` with the default budget and with a budget
  of 1 s (it must come back at the budget with the budget's error);
- a normal page of source B (tests/fixtures/pages/article.html) while source A has --queued pathological pages
  waiting: with owners (round-robin), with no owner (one queue, first come first served: how every page waited
  before), and when A's poll is cancelled while its page runs;
- a normal feed's refresh (3 items, their pages fetched and extracted) alone and while another feed's refresh
  extracts --queued pathological pages, over HTTP on loopback with the pipeline as it is;
- the slowest of the real article pages in the shared data folder, in this process (what the time budget must
  leave room for), when the folder is there;
- with --memory-sweep, for each memory budget (MiB) how many real pages extract differently from an unbounded
  worker (slow: the real pages once per budget).
Timings depend on the machine; compare the rows of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:  # run from a checkout without installing Tidings
    sys.path.insert(0, str(REPO / "src"))

from tidings.ingest import extract  # noqa: E402
from tidings.ingest.fetch import Fetcher  # noqa: E402
from tidings.ingest.pipeline import refresh_feed  # noqa: E402
from tidings.models import ExtractedPage  # noqa: E402
from tidings.storage.sqlite import SQLiteStore  # noqa: E402

sys.path.insert(0, str(REPO / "tests"))
from newsserver import NewsServer, fast, rss  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data"
ARTICLE = (REPO / "tests" / "fixtures" / "pages" / "article.html").read_bytes()
PATHOLOGICAL = {
    "100,000 <p>w</p> (800 KB)": "<html><body>" + "<p>w</p>" * 100_000 + "</body></html>",
    "50,000 one-cell tables (1.7 MB)": "<html><body>" + "<table><tr><td>w</td></tr></table>" * 50_000
                                       + "</body></html>",
}
_UNCUT = """
import sys, time
sys.path.insert(0, {src!r})
from tidings.ingest import extract
extract.MAX_HTML_CHARS = extract.MAX_NODES = 10**12  # as before the caps
page = sys.stdin.read()
start = time.perf_counter()
extract.extract_page(page)
print(time.perf_counter() - start)
"""


def row(what: str, value: str) -> None:
    print(f"{what:<84} {value}", flush=True)


def before(page: str, limit: float) -> str:
    """Seconds ``extract_page`` took on the whole page before the caps, in a child process stopped at ``limit``."""
    code = _UNCUT.format(src=str(REPO / "src"))
    try:
        done = subprocess.run([sys.executable, "-c", code], input=page, capture_output=True, text=True,
                              timeout=limit, check=True)
    except subprocess.TimeoutExpired:
        return f"> {limit:g} s (stopped there)"
    return f"{float(done.stdout):.1f} s"


def timed(page: str | bytes) -> tuple[float, ExtractedPage]:
    start = time.perf_counter()
    result = extract.extract_page(page)
    return time.perf_counter() - start, result


async def elsewhere(page: str | bytes, owner: object) -> tuple[float, ExtractedPage]:
    start = time.perf_counter()
    result = await extract.extract_page_elsewhere(page, "https://a.example/page", owner=owner)
    return time.perf_counter() - start, result


def outcome(result: ExtractedPage) -> str:
    return result.error or f"{len(result.text):,} chars of text"


async def pages_through_workers(budget: float) -> None:
    await extract.run_in_worker(os.getpid)  # start the worker before timing
    for name, page in PATHOLOGICAL.items():
        seconds, result = await elsewhere(page, "a")
        row(f"  {name}: in a worker, {budget:g} s budget", f"{seconds:.1f} s, {outcome(result)}")
        os.environ["TIDINGS_EXTRACT_TIMEOUT"] = "1"
        seconds, result = await elsewhere(page, "a")
        os.environ["TIDINGS_EXTRACT_TIMEOUT"] = str(budget)
        row(f"  {name}: in a worker, 1 s budget", f"{seconds:.1f} s, {outcome(result)}")


async def normal_page_behind(queued: int, page: str, fair: bool) -> tuple[float, float]:
    """Seconds source B's normal page took, and A's whole queue took, with A's pages queued first."""
    await extract.run_in_worker(os.getpid)
    start = time.perf_counter()
    a = [asyncio.ensure_future(elsewhere(page, "a" if fair else None)) for _ in range(queued)]
    await asyncio.sleep(0)  # A's pages are queued (the first one running) before B's page comes
    seconds, _ = await elsewhere(ARTICLE, "b" if fair else None)
    await asyncio.gather(*a)
    return seconds, time.perf_counter() - start


async def normal_page_after_cancel(page: str) -> float:
    """Seconds from cancelling A (its page running, with the budget far off) to B's page done."""
    await extract.run_in_worker(os.getpid)
    a = asyncio.ensure_future(elsewhere(page, "a"))
    while not extract._dispatcher.started("a"):
        await asyncio.sleep(0.01)
    start = time.perf_counter()
    a.cancel()
    await asyncio.gather(a, return_exceptions=True)
    await elsewhere(ARTICLE, "b")
    return time.perf_counter() - start


async def refreshes(server: NewsServer, workdir: Path, pathological: int) -> tuple[float, float]:
    """Seconds feed B's refresh took, and feed A's, with A's refresh started first (its first page in a worker
    before B begins) when A has ``pathological`` pages."""
    store = SQLiteStore(workdir / "tidings.db")
    try:
        a = store.add_source(server.url("/a.xml"), "A", fulltext="always")[0]
        b = store.add_source(server.url("/b.xml"), "B", fulltext="always")[0]

        async def refresh(source_id: int) -> float:
            start = time.perf_counter()
            async with Fetcher(fast(max_bytes=4 * 1024 * 1024)) as fetcher:
                await refresh_feed(store, fetcher, store.source(source_id) or {})
            return time.perf_counter() - start

        await extract.run_in_worker(os.getpid)
        a_done = asyncio.ensure_future(refresh(a)) if pathological else None
        while a_done is not None and not any(extract._dispatcher.started(o) for o in (None, a)):
            await asyncio.sleep(0.01)
        b_seconds = await refresh(b)
        return b_seconds, await a_done if a_done is not None else 0.0
    finally:
        store.close()


def refresh_rows(queued: int, page: str) -> None:
    with NewsServer() as server, tempfile.TemporaryDirectory() as tmp:
        for i in range(queued):
            server.add(f"/a/{i}", page)
        for i in range(3):
            server.add(f"/b/{i}", ARTICLE)
        server.add("/a.xml", rss([(f"a{i}", server.url(f"/a/{i}"), f"A {i}") for i in range(queued)]),
                   "application/rss+xml")
        server.add("/b.xml", rss([(f"b{i}", server.url(f"/b/{i}"), f"B {i}") for i in range(3)]),
                   "application/rss+xml")
        scenarios = [("alone", 0, 10.0), (f"while A extracts {queued} pathological pages", queued, 10.0),
                     (f"while A extracts {queued} pathological pages", queued, 1.0)]
        for n, (scenario, pathological, budget) in enumerate(scenarios):
            os.environ["TIDINGS_EXTRACT_TIMEOUT"] = f"{budget:g}"
            workdir = Path(tmp) / str(n)  # a new database each time: every page is fetched and extracted anew
            workdir.mkdir()
            b, a = asyncio.run(refreshes(server, workdir, pathological))
            row(f"refresh of normal feed B {scenario}, {budget:g} s budget",
                f"{b:.1f} s" + (f" (A's refresh {a:.1f} s)" if pathological else ""))


def real_pages(data: Path) -> list[bytes]:
    pages = [gzip.decompress(p.read_bytes()) for p in sorted((data / "article-extraction-benchmark" / "html")
                                                             .glob("*.html.gz"))]
    pages += [p.read_bytes() for p in sorted((data / "readability-test-pages").glob("*/source.html"))]
    pages += [p.read_bytes() for p in sorted((data / "newspaper4k-testdata").rglob("*.html"))]
    return pages


async def memory_sweep(pages: list[bytes], budgets: list[float]) -> None:
    want = [extract.extract_page(page).text for page in pages]
    for budget in budgets:
        os.environ["TIDINGS_EXTRACT_MEMORY_MB"] = f"{budget:g}"
        extract.shutdown_workers()
        got = [await extract.extract_page_elsewhere(page, "", owner=1) for page in pages]
        differ = sum(g.text != w for g, w in zip(got, want, strict=True))
        row(f"  real pages extracted differently with a {budget:g} MiB memory budget",
            f"{differ} of {len(pages)}")
    os.environ.pop("TIDINGS_EXTRACT_MEMORY_MB")
    extract.shutdown_workers()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--budget", type=float, default=10.0, help="TIDINGS_EXTRACT_TIMEOUT for the run")
    parser.add_argument("--before-limit", type=float, default=60.0, help="stop the uncapped extraction here")
    parser.add_argument("--queued", type=int, default=3, help="pathological pages source A has queued")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding the real pages")
    parser.add_argument("--memory-sweep", default="", help="memory budgets (MiB) to try on the real pages")
    args = parser.parse_args(argv)
    os.environ["TIDINGS_EXTRACT_TIMEOUT"] = f"{args.budget:g}"
    os.environ.pop("TIDINGS_EXTRACT_IN_PROCESS", None)
    if extract._Dispatcher.in_process():
        print("one core: pages are extracted in process, without budgets; nothing to measure", file=sys.stderr)
        return 2

    print(f"{os.cpu_count()} cores, {min(extract.MAX_WORKERS, (os.cpu_count() or 2) - 1)} extraction worker(s); "
          f"caps {extract.MAX_HTML_CHARS:,} characters, {extract.MAX_NODES:,} nodes")
    extract.extract_page(ARTICLE)  # imports
    for name, page in PATHOLOGICAL.items():
        row(f"{name}: whole, in process (before)", before(page, args.before_limit))
        seconds, result = timed(page)
        row(f"  {name}: cut, in process (after)", f"{seconds:.1f} s, {outcome(result)}")
    asyncio.run(pages_through_workers(args.budget))

    seconds, _ = timed(ARTICLE)
    row("normal page alone, in process", f"{seconds:.2f} s")
    page = PATHOLOGICAL["50,000 one-cell tables (1.7 MB)"]
    for fair in (False, True):
        b, a = asyncio.run(normal_page_behind(args.queued, page, fair))
        how = "owners, round-robin (after)" if fair else "one queue, first come first served (before)"
        row(f"normal page of B behind {args.queued} pathological pages of A, {how}",
            f"{b:.1f} s (A's pages {a:.1f} s)")
    os.environ["TIDINGS_EXTRACT_TIMEOUT"] = "300"
    row("normal page of B after cancelling A's running pathological page (300 s budget)",
        f"{asyncio.run(normal_page_after_cancel(page)):.1f} s (worker killed and replaced)")
    refresh_rows(args.queued, page)
    os.environ["TIDINGS_EXTRACT_TIMEOUT"] = f"{args.budget:g}"

    if (args.data / "article-extraction-benchmark" / "html").is_dir():
        pages = real_pages(args.data)
        times = sorted(timed(page)[0] for page in pages)
        row(f"real article pages ({len(pages)}), in process: median, slowest",
            f"{times[len(times) // 2]:.2f} s, {times[-1]:.2f} s")
        if args.memory_sweep:
            asyncio.run(memory_sweep(pages, [float(mb) for mb in args.memory_sweep.split(",")]))
    extract.shutdown_workers()
    return 0


if __name__ == "__main__":
    sys.exit(main())
