"""A page cannot stall the poller: per-page time and memory budgets in killable workers, caps on what is parsed,
fair turns between sources, and cancellation that frees the worker.

Nothing here asserts on wall-clock time: the order in which pages finish, worker process ids (a killed worker
is replaced by another process) and the dispatcher's own counts prove the behaviour. The functions at module
level run inside the workers (spawned processes import this module by name to find them).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import html as lxml_html

from tidings.ingest import extract
from tidings.models import ExtractedPage

PAGES = Path(__file__).parent / "fixtures" / "pages"
ARTICLE = (PAGES / "article.html").read_bytes()
URL = "https://www.coastcourier.example/news/2024/04/lighthouse-keepers-return"
# The shapes trafilatura is slowest on: 50,000 one-cell tables (1.7 MB) still take seconds once cut to
# MAX_NODES; 200,000 paragraphs (1.6 MB) took minutes whole.
TABLES = "<html><body>" + "<table><tr><td>w</td></tr></table>" * 50_000 + "</body></html>"
PARAGRAPHS = "<html><body>" + "<p>w</p>" * 200_000 + "</body></html>"
SLOWISH = "<html><body>" + "<p>word word word</p>" * 1_000 + "</body></html>"  # a fraction of a second


def allocate(size: int) -> int:
    """Runs in a worker: hold ``size`` bytes at once."""
    return len(bytearray(size))


def die_once_logged(html: bytes | str, url: str, full_metadata: bool = True) -> ExtractedPage:
    """Runs in a worker in place of extract_page: note this worker's pid in the file ``url``, then die."""
    with open(url, "a", encoding="ascii") as log:
        log.write(f"{os.getpid()}\n")
    os._exit(3)


@pytest.fixture
def one_worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh pool of one worker (whatever the machine's cores), stopped after the test."""
    if (os.cpu_count() or 1) == 1:
        pytest.skip("a single core extracts in process, where no budget can be enforced")
    monkeypatch.delenv("TIDINGS_EXTRACT_IN_PROCESS", raising=False)
    monkeypatch.delenv("TIDINGS_EXTRACT_TIMEOUT", raising=False)
    monkeypatch.delenv("TIDINGS_EXTRACT_MEMORY_MB", raising=False)
    monkeypatch.setattr(extract, "MAX_WORKERS", 1)
    extract.shutdown_workers()
    yield
    extract.shutdown_workers()


def nodes(tree: object) -> int:
    return sum(1 for _ in tree.iter())  # type: ignore[attr-defined]


# -- caps on what is parsed ----------------------------------------------------------------------------------

def test_a_page_with_too_many_nodes_is_cut_before_trafilatura() -> None:
    tree = extract._load_tree(PARAGRAPHS)
    assert nodes(tree) == extract.MAX_NODES
    assert [p.text for p in tree.iter("p")][:3] == ["w", "w", "w"]  # the beginning is what is kept
    article = extract._load_tree(ARTICLE)
    assert nodes(article) < extract.MAX_NODES  # a real page is not touched


def test_a_page_longer_than_the_cap_is_parsed_only_up_to_it() -> None:
    words = "word " * ((extract.MAX_HTML_CHARS + 1_000_000) // 5)
    tree = extract._load_tree(f"<html><body><p>{words}</p></body></html>")
    assert tree is not None  # cut, not refused: the head and the start of the body still count
    assert extract.MAX_HTML_CHARS - 100 < len(tree.text_content()) < extract.MAX_HTML_CHARS


def test_the_cut_keeps_exactly_the_first_nodes_in_document_order() -> None:
    rnd = random.Random(7)

    def element(depth: int) -> str:
        tag = rnd.choice(["div", "p", "span", "table", "tr", "td", "ul", "li"])
        children = "".join(element(depth + 1) for _ in range(rnd.randint(0, 4 if depth < 4 else 0)))
        return f"<{tag}>{children}x</{tag}><!-- c -->"

    for _ in range(200):
        tree = lxml_html.fromstring("<html><body>" + "".join(element(0) for _ in range(rnd.randint(1, 6)))
                                    + "</body></html>")
        for i, node in enumerate(tree.iter()):  # number every element and comment in document order
            if isinstance(node.tag, str):
                node.set("n", str(i))
            else:
                node.text = str(i)
        keep = rnd.randint(1, nodes(tree))
        extract._cut(tree, keep)
        numbers = [node.get("n") if isinstance(node.tag, str) else node.text for node in tree.iter()]
        assert numbers == [str(i) for i in range(keep)]


def test_a_memory_error_in_extraction_gives_an_empty_page_that_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    def hungry(tree: object, url: str, full_metadata: bool = True) -> tuple[str, object]:
        raise MemoryError

    monkeypatch.setattr(extract, "_extract", hungry)
    assert extract.extract_page(ARTICLE, URL) == ExtractedPage(error="extraction stopped: out of memory")


# -- the time budget -----------------------------------------------------------------------------------------

def test_a_page_over_its_time_budget_is_stopped_and_its_worker_replaced(
        one_worker: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDINGS_EXTRACT_TIMEOUT", "0.5")

    async def run() -> tuple[int, ExtractedPage, int, ExtractedPage]:
        before = await extract.run_in_worker(os.getpid, owner="a")
        page = await extract.extract_page_elsewhere(TABLES, URL, owner="a")
        after = await extract.run_in_worker(os.getpid, owner="a")
        monkeypatch.delenv("TIDINGS_EXTRACT_TIMEOUT")
        return before, page, after, await extract.extract_page_elsewhere(ARTICLE, URL, owner="a")

    before, page, after, next_page = asyncio.run(run())
    assert page == ExtractedPage(error="extraction stopped: over the 0.5 s budget")
    assert after != before  # the overrunning worker was killed and another started, not abandoned
    assert next_page == extract.extract_page(ARTICLE, URL) and next_page.text


def test_a_page_that_kills_its_worker_is_tried_once_more_then_given_up(
        one_worker: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(extract, "extract_page", die_once_logged)
    log = tmp_path / "deaths"
    page = asyncio.run(extract.extract_page_elsewhere(b"<html></html>", str(log), owner="a"))
    assert page == ExtractedPage(error="extraction stopped: the page killed its worker twice (exit code 3)")
    pids = log.read_text().split()
    assert len(pids) == 2 and pids[0] != pids[1]  # a second worker, then given up
    monkeypatch.undo()
    assert asyncio.run(extract.extract_page_elsewhere(ARTICLE, URL, owner="a")).text  # and the pool goes on


# -- the memory budget ---------------------------------------------------------------------------------------

def test_a_page_over_its_memory_budget_is_contained(one_worker: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDINGS_EXTRACT_MEMORY_MB", "64")
    big = 256 * 1024 * 1024

    async def run() -> tuple[int, int, str, ExtractedPage]:
        pid = await extract.run_in_worker(os.getpid, owner="a")
        with pytest.raises(MemoryError):
            await extract.run_in_worker(allocate, big, owner="a")
        message = await extract.run_in_worker(extract._memory_error, owner="a")
        page = await extract.extract_page_elsewhere(ARTICLE, URL, owner="a")
        return pid, await extract.run_in_worker(os.getpid, owner="a"), message, page

    pid, same, message, page = asyncio.run(run())
    assert message == "extraction stopped: over the 64 MiB memory budget"
    assert same == pid and page.text  # the worker survived its MemoryError and goes on extracting

    extract.shutdown_workers()
    monkeypatch.setenv("TIDINGS_EXTRACT_MEMORY_MB", "0")  # no limit: the same allocation goes through
    assert asyncio.run(extract.run_in_worker(allocate, big, owner="a")) == big


# -- fairness and cancellation -------------------------------------------------------------------------------

def test_one_sources_queue_does_not_hold_back_another_source(one_worker: None) -> None:
    async def run() -> list[str]:
        finished: list[str] = []

        async def page(owner: str, html: str | bytes, name: str) -> None:
            await extract.extract_page_elsewhere(html, URL, owner=owner)
            finished.append(name)

        await asyncio.gather(*(page("a", SLOWISH, f"a{i}") for i in range(4)), page("b", ARTICLE, "b"))
        return finished

    # a0 had the worker when b's page came; b's page is next, not after all of a's.
    assert asyncio.run(run()) == ["a0", "b", "a1", "a2", "a3"]


def test_a_cancelled_caller_takes_its_pages_back_and_frees_the_worker(
        one_worker: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDINGS_EXTRACT_TIMEOUT", "300")  # far beyond the test's life: only cancelling stops it

    async def run() -> tuple[int, int]:
        first = await extract.run_in_worker(os.getpid, owner="b")
        running = asyncio.ensure_future(extract.extract_page_elsewhere(TABLES, URL, owner="a"))
        queued = [asyncio.ensure_future(extract.extract_page_elsewhere(ARTICLE, URL, owner="a")) for _ in range(3)]
        while not extract._dispatcher.started("a"):  # until a worker has begun the slow page
            await asyncio.sleep(0.01)
        assert extract._dispatcher.queued("a") == 3
        for task in [running, *queued]:  # as a poll pass that runs out of time cancels its source
            task.cancel()
        for task in [running, *queued]:
            with pytest.raises(asyncio.CancelledError):
                await task
        assert extract._dispatcher.queued("a") == 0
        return first, await extract.run_in_worker(os.getpid, owner="b")

    first, second = asyncio.run(run())
    assert second != first  # the slow page's worker was killed, and b's call ran on its replacement


def test_in_process_extraction_is_kept_for_a_single_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDINGS_EXTRACT_IN_PROCESS", "1")
    extract.shutdown_workers()
    page = asyncio.run(extract.extract_page_elsewhere(ARTICLE, URL, owner=1))
    assert page == extract.extract_page(ARTICLE, URL) and page.text
    assert asyncio.run(extract.run_in_worker(os.getpid, owner=1)) == os.getpid()  # no worker at all
    assert extract._dispatcher._pool is None
