"""The benchmark suite: its pieces on small inputs, and `python -m benchmarks --quick` end to end.

The end-to-end run checks that the table comes out with every row and no errors, never how fast anything was.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from conftest import shared_data

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import run_measured  # noqa: E402
from benchmarks.load import Stats, run_load  # noqa: E402
from benchmarks.newsweb import FixtureWeb, Route, addresses, etag_of, own_page  # noqa: E402
from benchmarks.profile import CUT, NATIVE, STARTUP, summarise  # noqa: E402

from tidings.ingest.extract import extract_page  # noqa: E402

RAW_PROFILE = """\
process 7:"tidings poll";<module> (tidings/__main__.py:3);<module> (tidings/cli.py:1) 5
process 7:"tidings poll";<module> (tidings/__main__.py:3);main (tidings/cli.py:300);cmd_poll (tidings/cli.py:57);\
poll (tidings/jobs.py:200);_run (asyncio/events.py:80);refresh_feed (tidings/ingest/pipeline.py:250);\
extract_page (tidings/ingest/extract.py:40);extract (trafilatura/core.py:10) 30
process 7:"tidings poll";<module> (tidings/__main__.py:3);main (tidings/cli.py:300);cmd_poll (tidings/cli.py:57);\
poll (tidings/jobs.py:200);analyse_backlog (tidings/jobs.py:70);\
MiniLMEmbedder.embed (tidings/analysis/embeddings.py:50);\
Linear.forward (torch/nn/modules/linear.py:5) 40
process 7:"tidings poll";<module> (tidings/__main__.py:3);main (tidings/cli.py:300);cmd_poll (tidings/cli.py:57);\
poll (tidings/jobs.py:200);analyse_backlog (tidings/jobs.py:70);\
MiniLMEmbedder.embed (tidings/analysis/embeddings.py:51);\
Linear.forward (torch/nn/modules/linear.py:9) 10
process 7:"tidings poll";<module> (tidings/__main__.py:3);main (tidings/cli.py:300);cmd_poll (tidings/cli.py:57);\
poll (tidings/jobs.py:200);analyse_backlog (tidings/jobs.py:70);_link (tidings/jobs.py:90);\
Store.execute (tidings/storage/store.py:12) 10
process 7:"tidings poll" 5
process 7:"tidings poll";AsyncClient.send (httpx/_client.py:1600);connect (httpcore/_sync.py:3) 2
not a stack line
"""


def test_profile_summary_counts_self_time_areas_and_phases() -> None:
    p = summarise(RAW_PROFILE, "test")
    assert p.samples == 102
    assert p.self_time[0] == ("Linear.forward (torch/nn/modules/linear.py)", 50)  # lines of one function add up
    areas = dict(p.areas)
    assert areas["embedding model (ONNX Runtime or torch)"] == 50
    assert areas["page extraction (trafilatura, lxml, htmldate)"] == 30
    assert areas["SQLite (tidings storage)"] == 10
    assert areas[NATIVE] == 5  # stacks with only the process frame
    phases = dict(p.phases)
    assert phases[STARTUP] == 5  # before any cmd_ function ran; native-only samples are no phase
    assert phases["analyse backlog (analyse_backlog)"] == 60
    assert phases["  embed (sentence model, load included)"] == 50
    assert phases["  extract_page (synchronous, on the event loop)"] == 30
    assert phases["fetch, extract and store, per feed (refresh_feed)"] == 30
    assert phases["  _link (Similar News, copies, stories)"] == 10
    assert phases[CUT] == 2  # a stack cut at a coroutine: counted, but given to no phase
    assert areas["HTTP client and event loop (httpx, httpcore, asyncio)"] == 2


def test_stats_percentiles_are_nearest_rank() -> None:
    s = Stats("x", seconds=2.0, latencies=[float(i) for i in range(1, 101)])
    assert (s.p50, s.p99, s.percentile(100), s.rate) == (50.0, 99.0, 100.0, 50.0)
    assert Stats("y", 1.0).p99 == 0.0


def test_fixture_web_answers_conditional_gets_and_records_limits() -> None:
    when = format_datetime(datetime(2024, 5, 1, tzinfo=UTC), usegmt=True)
    tag = etag_of("feed", 1)
    with FixtureWeb(addresses(1, "127.0.0.1")) as web:
        host = web.hosts[0]
        url = web.add(host, "/feed.xml", Route(b"<rss/>", "application/rss+xml", etag=tag, last_modified=when))
        with httpx.Client(trust_env=False) as client:
            first = client.get(url)
            time.sleep(0.25)
            by_tag = client.get(url, headers={"If-None-Match": tag})
            gap = web.stats[host].min_gap
            stale_tag = client.get(url, headers={"If-None-Match": '"other"', "If-Modified-Since": when})
            by_date = client.get(url, headers={"If-Modified-Since": when})
            missing = client.get(web.base[host] + "/nothing")
        assert (first.status_code, first.content, first.headers["etag"]) == (200, b"<rss/>", tag)
        assert (by_tag.status_code, by_tag.content) == (304, b"")
        assert stale_tag.status_code == 200  # If-None-Match wins over If-Modified-Since
        assert by_date.status_code == 304
        assert missing.status_code == 404
        stats = web.stats[host]
        assert stats.requests == 5 and stats.max_in_flight == 1 and stats.connections == 1  # kept alive
        assert 0.25 <= gap < 5 and stats.min_gap < gap  # the later requests came back to back
        assert dict(stats.statuses) == {200: 2, 304: 2, 404: 1}


def test_run_load_counts_errors_per_kind() -> None:
    with FixtureWeb(addresses(1, "127.0.0.1")) as web:
        host = web.hosts[0]
        web.add(host, "/ok", Route(b"fine"))
        stats = asyncio.run(run_load(web.base[host], {"good": ["/ok"], "bad": ["/missing"]}, clients=4,
                                     seconds=0.5, weights={"good": 1.0, "bad": 1.0}))
    assert stats["good"].requests > 0 and stats["good"].errors == 0
    assert stats["bad"].requests > 0 and stats["bad"].errors == stats["bad"].requests
    assert "HTTP 404" in stats["bad"].error_samples[0]
    assert stats["all"].requests == stats["good"].requests + stats["bad"].requests
    assert stats["all"].errors == stats["bad"].errors



def test_run_load_stops_when_told_and_counts_writes_and_unanswered_requests_apart() -> None:
    with FixtureWeb(addresses(1, "127.0.0.1")) as web:
        host = web.hosts[0]
        web.add(host, "/ok", Route(b"fine"))
        closed = f"http://127.0.0.1:{_closed_port()}"
        asked = itertools.count()
        stats = asyncio.run(run_load(web.base[host], {"page": ["/ok"]}, clients=2, seconds=600,
                                     until=lambda: next(asked) >= 40, writes=["/ok"], write_every=0.01))
        gone = asyncio.run(run_load(closed, {"page": ["/"]}, clients=1, seconds=0.2, timeout=1))
    assert stats["page"].requests + stats["write"].requests <= 40, "until() ended the run, not its 600 seconds"
    assert stats["page"].requests > 0 and stats["page"].unanswered_or_5xx == 0
    assert stats["write"].statuses == {501: stats["write"].requests} and stats["write"].errors > 0  # no POST there
    assert stats["all"].requests == stats["page"].requests, "writes are not readers"
    assert gone["all"].unanswered_or_5xx == gone["all"].requests > 0 and set(gone["all"].statuses) == {0}


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

EXPECTED_ROWS = [
    "ingest: articles stored with text from their page (10 feeds, 5 hosts)",
    "ingest: HTTP requests served",
    "ingest: longest stall between opening a connection and sending its request",
    "ingest: connections the fixture server closed after 60 s without a request",
    "ingest: TCP connections opened (sources add and poll)",
    "ingest: sources add x10",
    "ingest: poll --all (fetch, extract, embed, link, stories)",
    "ingest: end to end (sources add + poll)",
    "ingest: poll --all alone",
    "embedding model alone, same texts",
    "ingest/model ratio (end to end)",
    "poll/model ratio",
    "ingest/model ratio by CPU time",
    "import: tidings import of the same articles",
    "import/model ratio",
    "import/model ratio by CPU time",
    "load, 500 articles: article pages /article/ID, 32 clients x 4 s, page cache on",
    "load, 500 articles: section pages /section/NAME, 32 clients x 4 s, page cache on",
    "load, 500 articles: home page /, 32 clients x 4 s, page cache on",
    "load, 500 articles: JSON /api/similar?url=URL, 32 clients x 4 s, page cache on",
    "load, 500 articles: article pages /article/ID, 32 clients x 4 s, page cache off",
    "load, 500 articles: section pages /section/NAME, 32 clients x 4 s, page cache off",
    "load, 500 articles: home page /, 32 clients x 4 s, page cache off",
    "load, 500 articles: JSON /api/similar?url=URL, 32 clients x 4 s, page cache off",
    "serve cold start",
    "serve RSS after warm-up, 500 articles",
    "serve RSS after warm-up, empty database",
    "serve RSS per 100k articles",
    "poller peak RSS, tidings poll --all ingesting 500 articles",
    "poller baseline",
    "poller vector index",
    "poller peak RSS on a 100k archive",
    "database main file + WAL",
    "database per 100k articles",
    "database bytes per article",
    "polling: sources (40 hosts x 25 feeds)",
    "polling: first pass, priming",
    "polling: timed pass, mostly 304",
    "polling: lower bound from per-host limits",
    "polling: timed pass / lower bound",
    "polling: responses in the timed pass",
    "polling: new articles in the timed pass",
    "polling: most requests in flight at once on one host",
    "polling: shortest gap between request starts on one host",
    "polling: request starts under 1 s after the previous on their host",
    "polling: longest stall between opening a connection and sending its request",
    "polling: TCP connections opened in the timed pass",
    "polling: peak RSS of the timed tidings poll",
    "scale 3,000: build, tidings import (in process)",
    "scale 3,000: build, analyse backlog",
    "scale 3,000: vector index memory per article",
    "scale 3,000: analyser resident memory per article",
    "scale 3,000: analyser open",
    "scale 3,000: recall@10 of the index vs exact search",
    "scale 3,000: same-event neighbours (exact top 10, cosine >= 0.5) among the linker's candidates",
    "scale 3,000: exact brute-force search p50",
    "scale 3,000: index search p50 / p99",
    "scale 3,000: GET /api/similar over HTTP p50",
    "scale 3,000: GET /api/similar over HTTP p99",
    "scale 3,000: tidings serve cold start to first 200",
    "scale 3,000: tidings serve RSS after the requests",
    "scale 3,000: database main file + WAL per 100k articles",
]


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_quick_benchmarks_print_every_row_without_errors() -> None:
    data = shared_data("basil").parent
    env = {k: v for k, v in os.environ.items() if k != "TIDINGS_EMBEDDER"}
    run = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--data", str(data)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=1400)
    out = run.stdout
    assert run.returncode == 0, f"exit {run.returncode}\n{out}\n{run.stderr[-3000:]}"
    lines = out.splitlines()
    assert lines[0].startswith("Machine: ") and "cores" in lines[0] and "SQLite" in lines[0]
    missing = [row for row in EXPECTED_ROWS if not any(line.startswith(row) for line in lines)]
    assert not missing, f"rows missing from the table: {missing}\n{out}"
    assert "errors: 0;" in out and "ERROR" not in out
    load_rows = [line for line in lines if line.startswith("load, ")]
    assert len(load_rows) == 8 and all(", 0 errors" in line for line in load_rows), "\n".join(load_rows)
    recall = next(line for line in lines if "recall@10 of the index" in line)
    assert "(met)" in recall, recall  # exact search below 20k articles: the index must agree with it


def test_real_pages_are_served_as_their_own_url() -> None:
    raw = (b'<html><HEAD><link href="https://news.example/a" rel="canonical"><meta property="og:url" '
           b'content="https://news.example/a"></head><body><p>Text.</p></body></html>')
    url = "http://127.0.0.2:8000/news/1/a.html"
    page = own_page(raw, url, edition=3)
    assert b"news.example" not in page and page.endswith(b"<!-- edition 3 -->\n")
    assert extract_page(page, url).canonical_url == url


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from Linux /proc")
def test_peak_memory_is_the_childs_own() -> None:
    grow = "x = bytearray(150 * 2**20); x[::4096] = b'1' * len(x[::4096]); import time; time.sleep(0.2)"
    big = run_measured([sys.executable, "-c", grow], dict(os.environ))
    assert big.rc == 0 and big.max_rss >= 150 * 2**20
    ballast = bytearray(300 * 2**20)  # Linux's ru_maxrss would carry this into the next child's figure
    ballast[::4096] = b"1" * len(ballast[::4096])
    small = run_measured([sys.executable, "-c", "import time; time.sleep(0.2)"], dict(os.environ))
    assert small.rc == 0 and 0 < small.max_rss < 100 * 2**20
    del ballast
