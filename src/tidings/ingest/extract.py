"""Full text and metadata of an article page, by trafilatura plus a few HTML head lookups."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import copy
import functools
import itertools
import math
import multiprocessing
import os
import re
import threading
import unicodedata
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

from pebble import ProcessExpired, ProcessFuture, ProcessPool

from tidings.config import extract_memory_mb, extract_timeout
from tidings.ingest.normalize import absolute_http_url, canonical_url, parse_datetime
from tidings.models import ExtractedPage

T = TypeVar("T")

# trafilatura settings chosen on benchmarks/extraction.py: favor_precision without comments scores best on the
# article-extraction-benchmark (mean token F1 0.965, defaults 0.948). Its rare failure (it keeps a stub of a
# long article) is caught the way trafilatura's own balanced mode escalates: a short text covering a small
# share of the page is retried in balanced mode, and the retry is kept when clearly longer (F1 0.970).
# ``fast`` skips trafilatura's second opinion from its fallback extractors: 35.8 -> 47.7 pages/s, F1 0.9695 ->
# 0.9716 on the same benchmark (extraction is the largest cost of ingest beside the model).
EXTRACT_OPTIONS: dict[str, Any] = {"favor_precision": True, "include_comments": False, "include_tables": True,
                                   "fast": True}
RETRY_OPTIONS: dict[str, Any] = {"include_comments": False, "include_tables": True}
RETRY_BELOW_CHARS = 3000
RETRY_BELOW_PAGE_SHARE = 0.2
RETRY_KEEP_RATIO = 2.0
MIN_ARTICLE_PARAGRAPHS = 3  # see _main_part
# Caps on a page before trafilatura sees it. Of the 218 real article pages in shared/data (the extraction
# benchmark, the readability and newspaper4k test pages) the largest is 1.49 million characters and the most
# nodes in one is 2,234 (median 765); the fetcher stops at 2 MiB anyway (PollSettings.max_page_bytes).
# trafilatura's time grows with the node count, faster than linearly for some shapes (many small tables: 7,500
# nodes 7.7 s, 15,000 nodes 20 s), so a page is cut to its first MAX_NODES: the slowest shape measured then takes
# 5 s (4,000 divs holding a paragraph each), half the time budget. Real pages are untouched: benchmark F1 0.9716
# before and after (python -m benchmarks.extraction).
MAX_HTML_CHARS = 3_000_000  # characters of a page parsed (2x the largest real page); the rest is dropped
MAX_NODES = 5_000           # elements and comments kept of a parsed page, in document order (2.2x the most seen)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
_DECLARED_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)|<\?xml[^>]+encoding=["']([\w.:-]+)""", re.IGNORECASE
)
_PUBLISHED_KEYS = (
    "article:published_time", "og:article:published_time", "og:published_time", "published_time",
    "datepublished", "article.published", "pubdate", "publishdate", "publish-date", "publish_date",
    "parsely-pub-date", "sailthru.date", "dc.date.issued", "dcterms.issued", "dcterms.created", "date",
)
_LANGUAGE = re.compile(r"^([a-zA-Z]{2,3})(?:[-_][\w-]*)?$")


def _declared_charset(head: bytes) -> str:
    match = _DECLARED_CHARSET.search(head)
    if not match:
        return ""
    name = (match.group(1) or match.group(2)).decode("ascii", "ignore")
    try:
        return codecs.lookup(name).name
    except LookupError:
        return ""


def decode_html(raw: bytes) -> str:
    """Text of an HTML byte string: BOM, else valid UTF-8, else the declared charset, else Windows-1252.

    Valid UTF-8 wins over a declaration because mislabelled UTF-8 pages are common and the reverse is not.
    """
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            return raw.decode(codec, "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for codec in (_declared_charset(raw[:8192]), "cp1252"):
        if codec:
            try:
                return raw.decode(codec)
            except (UnicodeDecodeError, LookupError):
                continue
    return raw.decode("utf-8", "replace")


def _meta_map(tree: Any) -> dict[str, str]:
    """First content of each <meta> by lower-cased property/name/itemprop, plus <time itemprop> values."""
    found: dict[str, str] = {}
    for meta in tree.iter("meta"):
        content = (meta.get("content") or "").strip()
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = (meta.get(attr) or "").strip().lower()
            if key and content:
                found.setdefault(key, content)
    for time_el in tree.iter("time"):
        key = (time_el.get("itemprop") or "").strip().lower()
        if key and time_el.get("datetime"):
            found.setdefault(key, time_el.get("datetime", "").strip())
    return found


def _canonical(tree: Any, meta: dict[str, str], page_url: str) -> str:
    href = ""
    for link in tree.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and (link.get("href") or "").strip():
            href = link.get("href", "").strip()
            break
    href = href or meta.get("og:url", "")
    if not href:
        return ""
    try:
        absolute = urljoin(page_url, href) if page_url else href
    except ValueError:
        return ""
    return canonical_url(absolute) if absolute.lower().startswith(("http://", "https://")) else ""


_IMAGE_KEYS = ("og:image:secure_url", "og:image", "og:image:url", "twitter:image", "twitter:image:src", "image",
               "thumbnailurl")


def _image(tree: Any, meta: dict[str, str], found: str, page_url: str) -> str:
    """The page's picture as an absolute http(s) URL: trafilatura's pick (Open Graph, Twitter card, JSON-LD),
    else the first of the page's own picture meta tags, else <link rel="image_src">; "" when none is usable."""
    candidates = [found, *(meta.get(k, "") for k in _IMAGE_KEYS)]
    candidates += [link.get("href") or "" for link in tree.iter("link")
                   if "image_src" in (link.get("rel") or "").lower().split()]
    return next((url for c in candidates if (url := absolute_http_url(c, page_url))), "")


def _language(tree: Any, meta: dict[str, str]) -> str:
    """Primary language subtag ("en", "pt") from <html lang>, Content-Language or og:locale."""
    candidates = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    keys = ("content-language", "og:locale", "language", "dc.language", "inlanguage")
    candidates += [meta.get(k) for k in keys]
    for value in candidates:
        match = _LANGUAGE.match((value or "").split(",")[0].strip())
        if match:
            return match.group(1).lower()
    return ""


def _published(meta: dict[str, str], found: str | None) -> datetime | None:
    """htmldate's pick when it knows the time of day (it weighs JSON-LD and original dates), else the page's
    own published-time meta, else htmldate's bare day."""
    day = parse_datetime(found)
    if day and "T00:00:00" not in (found or ""):
        return day
    for key in _PUBLISHED_KEYS:
        when = parse_datetime(meta.get(key))
        if when:
            return when
    return day


def _authors(value: str | None) -> str:
    """trafilatura joins authors with "; " and sometimes repeats one in capitals: tidy into "A, B"."""
    names: dict[str, str] = {}
    for name in re.split(r"\s*;\s*", value or ""):
        name = " ".join(name.split())
        if name:
            names.setdefault(name.lower(), name)
    return ", ".join(names.values())


def _text(doc: Any) -> str:
    text = unicodedata.normalize("NFC", getattr(doc, "text", None) or "")
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _date_params() -> dict[str, Any]:
    from trafilatura.settings import set_date_params

    # Ask htmldate for the time of day too, not just the day, when the page gives it.
    return {**set_date_params(True), "outputformat": "%Y-%m-%dT%H:%M:%S%z"}


def _light_metadata(tree: Any) -> Any:
    """trafilatura's metadata less its searches for the headline and the date (htmldate's walk over the page is
    the dearest part) and for categories, tags and licence: the page's meta tags and JSON-LD, then a byline or
    site name found in the page where those have none, tidied as ``trafilatura.extract_metadata`` does."""
    from trafilatura.metadata import examine_meta, extract_author, extract_meta_json, extract_sitename

    doc = examine_meta(tree)
    if doc.author and " " not in doc.author:  # a single word is a handle more often than a name
        doc.author = None
    with contextlib.suppress(Exception):  # trafilatura's JSON-LD reader on a malformed block
        doc = extract_meta_json(tree, doc)
    doc.author = doc.author or extract_author(tree)
    doc.sitename = (doc.sitename or extract_sitename(tree) or "").lstrip("@")
    if doc.sitename and "." not in doc.sitename and not doc.sitename[0].isupper():
        doc.sitename = doc.sitename.title()
    doc.clean_and_trim()  # entities, spaces, control characters
    return doc


def _main_part(tree: Any) -> Any:
    """The page's one <article> in a document of its own where it holds at least MIN_ARTICLE_PARAGRAPHS
    paragraphs and a third of the page's; else the page itself.

    trafilatura's cost grows with the nodes it prunes, cleans and copies, most of them navigation, teasers and
    footers around the article; where the page marks its article, the text is found in it alone. Of the 181
    pages of the article-extraction benchmark 89 qualify: their text costs about a third less, and F1 went
    from 0.9716 to 0.9726 (a stub <article> holding the headline only fails the paragraph test and the whole
    page is read, as before)."""
    from lxml.html import Element

    articles = tree.xpath("//article")
    if len(articles) != 1:
        return tree
    paragraphs = len(articles[0].xpath(".//p"))
    if paragraphs < MIN_ARTICLE_PARAGRAPHS or 3 * paragraphs < len(tree.xpath("//p")):
        return tree
    page, body = Element("html"), Element("body")
    page.append(body)
    body.append(copy.deepcopy(articles[0]))  # the page's tree stays whole for the lookups after this one
    return page


def _extract(tree: Any, url: str, full_metadata: bool = True) -> tuple[str, Any]:
    """Main text (precise pass, retried in balanced mode when very short) and the metadata document."""
    import trafilatura

    if full_metadata:
        doc = trafilatura.extract_metadata(tree, default_url=url or None, date_config=_date_params())
    else:
        doc = _light_metadata(tree)
    part = _main_part(tree)
    text = _text(trafilatura.bare_extraction(part, url=url or None, **EXTRACT_OPTIONS))
    if len(text) < RETRY_BELOW_CHARS and len(text) < RETRY_BELOW_PAGE_SHARE * len(trafilatura.html2txt(part)):
        retry = _text(trafilatura.bare_extraction(part, url=url or None, **RETRY_OPTIONS))
        text = retry if len(retry) >= RETRY_KEEP_RATIO * len(text) else text
    return text, doc


def _cut(tree: Any, keep: int) -> Any:
    """``tree`` less every node after the first ``keep`` in document order (the root counts as the first)."""
    node = next(itertools.islice(tree.iter(), keep, None), None)
    while node is not None and (parent := node.getparent()) is not None:
        while node is not None:  # this node and its following siblings
            following = node.getnext()
            parent.remove(node)
            node = following
        while parent is not None and parent.getnext() is None:  # then those of the nearest ancestor with some
            parent = parent.getparent()
        node = None if parent is None else parent.getnext()
    return tree


def _load_tree(html: bytes | str) -> Any:
    from trafilatura.utils import load_html

    source = decode_html(html) if isinstance(html, bytes) else html
    if not source.strip():
        return None
    tree = load_html(source[:MAX_HTML_CHARS])
    return None if tree is None else _cut(tree, MAX_NODES)


def _site_name(doc: Any, url: str) -> str:
    """og:site_name or the like; trafilatura's stand-in of the URL's host name is not a find."""
    name = _field(doc, "sitename")
    host = (urlsplit(url).hostname or "") if url else ""
    return "" if host and name.lower() in (host, host.removeprefix("www.")) else name


def _field(doc: Any, name: str) -> str:
    value = getattr(doc, name, None)
    return " ".join(value.split()) if isinstance(value, str) else ""


def extract_page(html: bytes | str, url: str = "", full_metadata: bool = True) -> ExtractedPage:
    """Main text (paragraphs separated by "\\n") and metadata of an article page fetched from ``url``.

    ``full_metadata=False`` is for a page whose feed item already gave its headline and date: the title and
    published date then come from the page's meta tags and JSON-LD only, without trafilatura's and htmldate's
    searches of the whole page, which cost about as much as a third of the text extraction (docs/performance.md).
    The text and the other fields are the same either way. Returns an empty ExtractedPage for anything
    unreadable; never raises.
    """
    try:
        tree = _load_tree(html)
        if tree is None:
            return ExtractedPage()
        meta = _meta_map(tree)
        text, doc = _extract(tree, url, full_metadata)
        return ExtractedPage(
            text=text,
            title=_field(doc, "title"),
            author=_authors(_field(doc, "author")),
            published=_published(meta, _field(doc, "date")),
            image_url=_image(tree, meta, _field(doc, "image"), url),
            language=_language(tree, meta),
            canonical_url=_canonical(tree, meta, url),
            site_name=_site_name(doc, url),
            description=_field(doc, "description"),
        )
    except MemoryError:  # in a worker: the page wanted more than its memory budget (see _start_worker)
        return ExtractedPage(error=_memory_error())
    except Exception:  # trafilatura, htmldate and lxml raise assorted errors on hostile pages
        return ExtractedPage()


# -- extraction beside the model, within a budget ----------------------------------------------------------
# Extraction is pure Python (trafilatura, lxml) and would hold the interpreter lock the model's thread needs;
# in a worker process it runs on another core while this process embeds. Measured in docs/performance.md.
#
# A page may not stall the poller (docs/reliability.md): each page has a time budget (pebble kills its worker
# past it and starts another) and a memory budget (an RLIMIT_DATA set in each worker once it has loaded the
# extractor, so the page's own allocations raise MemoryError there). Pages wait here, one queue per owner (the
# source), and go to the pool round-robin across owners, never more at once than there are workers: a source
# with a hundred pages delays another source's page by about one page's budget at most. A caller that is
# cancelled (a poll pass timing out) takes its queued pages back and has its running page's worker killed.
#
# With one core, or TIDINGS_EXTRACT_IN_PROCESS=1, pages are extracted in the calling process as before: there
# no budget can be enforced (nothing can stop trafilatura mid-page from the same thread), only the size caps.

MAX_WORKERS = 4
WORKER_PAGES = 500  # a worker is replaced after this many pages, so what it keeps (caches, heap) stays bounded
_WARM_UP_PAGE = "<html><head><title>t</title></head><body><article><p>Warm up.</p></article></body></html>"
_memory_budget_mb = 0.0  # in a worker: its memory budget, for the error message


def _memory_error() -> str:
    if _memory_budget_mb:
        return f"extraction stopped: over the {_memory_budget_mb:g} MiB memory budget"
    return "extraction stopped: out of memory"


def _data_size() -> int:
    """This process's data segment (heap and private writable mappings) in bytes: what RLIMIT_DATA counts."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmData in /proc/self/status")


def _start_worker(memory_mb: float) -> None:
    """Pool initializer: load the extractor, then let a page allocate at most ``memory_mb`` on top of it.

    RLIMIT_DATA rather than RLIMIT_AS: the address space also counts shared libraries and reserved but unused
    mappings, so a limit on it fails on how the process is laid out rather than on what a page allocates. Linux
    only (elsewhere, or where it cannot be read, no limit is set). Never raises: a failing initializer would
    make pebble see every new worker die.
    """
    global _memory_budget_mb
    try:
        extract_page(_WARM_UP_PAGE, "https://warm.up/")  # imports trafilatura, lxml, htmldate and their data
        if memory_mb > 0 and math.isfinite(memory_mb):
            import resource

            limit = _data_size() + int(memory_mb * 1024 * 1024)
            _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
            if hard != resource.RLIM_INFINITY:
                limit = min(limit, hard)
            resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
            _memory_budget_mb = memory_mb
    except Exception:
        pass


class _Job:
    """One call waiting for a worker, or running in one."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], owner: object, timeout: float) -> None:
        self.fn, self.args, self.owner, self.timeout = fn, args, owner, timeout
        self.result: Future[Any] = Future()  # what the caller awaits; never set running, so it can be cancelled
        self.running: ProcessFuture[Any] | None = None
        self.pool: ProcessPool | None = None
        self.tries = 0
        self.cancelled = False


def _settle(future: Future[Any], value: Any = None, error: BaseException | None = None) -> None:
    """Give the caller its result or exception, unless it has gone (cancelled)."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
    except InvalidStateError:
        pass


def _retried(error: BaseException | None) -> bool:
    """A worker that died under the job (or a pool whose workers all did) gets the job once more."""
    return isinstance(error, ProcessExpired | BrokenProcessPool)


class _Dispatcher:
    """Round-robin across owners onto a pebble ProcessPool (created lazily, spawn context: the parent may hold
    threads and a torch model), with no more jobs in the pool than it has workers. Thread-safe: callers may run
    in several event loops, and pebble settles futures in its own threads."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._queues: dict[object, deque[_Job]] = {}
        self._in_pool: set[_Job] = set()
        self._running: dict[object, int] = {}  # owner -> its jobs in the pool
        self._served: dict[object, int] = {}   # owner -> when it last got a worker (kept while it has jobs)
        self._ticket = itertools.count()
        self._pool: ProcessPool | None = None
        self._slots = 1

    @staticmethod
    def in_process() -> bool:
        return (os.cpu_count() or 1) == 1 or os.environ.get("TIDINGS_EXTRACT_IN_PROCESS", "") == "1"

    def queued(self, owner: object) -> int:
        """How many of ``owner``'s jobs wait for a worker."""
        with self._lock:
            return len(self._queues.get(owner, ()))

    def started(self, owner: object) -> int:
        """How many of ``owner``'s jobs a worker has begun."""
        with self._lock:
            return sum(1 for job in self._in_pool
                       if job.owner == owner and job.running is not None and job.running.running())

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...], owner: object, timeout: float) -> _Job:
        job = _Job(fn, args, owner, timeout)
        with self._lock:
            self._queues.setdefault(owner, deque()).append(job)
        self._pump()
        return job

    def cancel(self, job: _Job) -> None:
        """Take a job back: out of its queue, or out of its worker (pebble kills the worker and starts another)."""
        with self._lock:
            job.cancelled = True
            queue = self._queues.get(job.owner)
            if queue is not None and job in queue:
                queue.remove(job)
                if not queue:
                    del self._queues[job.owner]
                self._forget(job.owner)
            running = job.running
        job.result.cancel()
        if running is not None:
            running.cancel()  # its done callback frees the slot and dispatches the next job

    def shutdown(self) -> None:
        """Stop the pool and fail what waits for it (BrokenProcessPool); the next job starts a new pool."""
        with self._lock:
            pool, self._pool = self._pool, None
            waiting = [job for queue in self._queues.values() for job in queue] + list(self._in_pool)
            self._queues.clear()
            for job in waiting:
                job.cancelled = True  # no retry
        for job in waiting:
            _settle(job.result, error=BrokenProcessPool("extraction workers shut down"))
            if job.running is not None:
                job.running.cancel()  # a stopped pool never settles its running tasks
        if pool is not None:
            pool.stop()
            pool.join()

    def _forget(self, owner: object) -> None:
        if not self._running.get(owner) and owner not in self._queues:
            self._served.pop(owner, None)
            self._running.pop(owner, None)

    def _pool_now(self) -> ProcessPool:
        if self._pool is None:
            self._slots = max(1, min(MAX_WORKERS, (os.cpu_count() or 2) - 1))
            self._pool = ProcessPool(max_workers=self._slots, max_tasks=WORKER_PAGES, initializer=_start_worker,
                                     initargs=(extract_memory_mb(),), context=multiprocessing.get_context("spawn"))
        return self._pool

    def _drop(self, pool: ProcessPool) -> None:
        """Forget a broken pool and stop it aside (this may run in one of its own threads, which cannot join it)."""
        with self._lock:
            if self._pool is pool:
                self._pool = None

        def stop() -> None:
            pool.stop()
            pool.join()

        threading.Thread(target=stop, name="tidings-extract-stop", daemon=True).start()

    def _next(self) -> _Job:
        """The first job of the owner with the fewest jobs in the pool and, of those, served longest ago (an owner
        new to the queue first)."""
        owner = min(self._queues, key=lambda o: (self._running.get(o, 0), self._served.get(o, -1)))
        queue = self._queues[owner]
        job = queue.popleft()
        if not queue:
            del self._queues[owner]
        self._served[owner] = next(self._ticket)
        self._running[owner] = self._running.get(owner, 0) + 1
        self._in_pool.add(job)
        job.tries += 1
        return job

    def _pump(self) -> None:
        """Move queued jobs into the pool while it has an idle worker."""
        while True:
            with self._lock:
                if not self._queues:
                    return
                pool = self._pool_now()
                if len(self._in_pool) >= self._slots:
                    return
                job = self._next()
                job.pool = pool
            try:
                future = pool.schedule(job.fn, args=job.args, timeout=job.timeout)
            except (RuntimeError, OSError) as error:  # the pool broke (all its workers died) or could not start
                self._drop(pool)
                self._finish(job, None, BrokenProcessPool(f"extraction workers failed: {error}"))
                continue
            with self._lock:
                job.running = future
                cancelled = job.cancelled
            if cancelled:
                future.cancel()
            future.add_done_callback(functools.partial(self._done, job))

    def _done(self, job: _Job, future: ProcessFuture[Any]) -> None:
        if future.cancelled():
            self._finish(job, None, None)
            return
        error = future.exception()
        if isinstance(error, BrokenProcessPool) and job.pool is not None:
            self._drop(job.pool)
        self._finish(job, None if error else future.result(), error)

    def _finish(self, job: _Job, value: Any, error: BaseException | None) -> None:
        """The job left the pool: retry it once where its worker died, else settle it; then fill the slot."""
        with self._lock:
            if job not in self._in_pool:
                return  # already accounted for
            self._in_pool.discard(job)
            self._running[job.owner] -= 1
            job.running = None
            retry = _retried(error) and job.tries < 2 and not job.cancelled
            if retry:
                self._queues.setdefault(job.owner, deque()).appendleft(job)
            self._forget(job.owner)
        if not retry and not job.cancelled:
            _settle(job.result, value, error)
        self._pump()


_dispatcher = _Dispatcher()


def shutdown_workers() -> None:
    """Stop the extraction workers (the next page starts new ones, with the budgets then in force)."""
    _dispatcher.shutdown()


async def run_in_worker(fn: Callable[..., T], *args: Any, owner: object = None, timeout: float | None = None) -> T:
    """``fn(*args)`` in an extraction worker, in turn with the other owners' jobs, within ``timeout`` seconds
    (TIDINGS_EXTRACT_TIMEOUT by default; past it the worker is killed and TimeoutError raised). ``fn`` must be a
    module-level function. A worker that dies under it (ProcessExpired) gets it once more, then the error is
    raised. Run in this process, without any budget, where extraction is (see ``_Dispatcher.in_process``)."""
    if _Dispatcher.in_process():
        return fn(*args)
    job = _dispatcher.submit(fn, args, owner, extract_timeout() if timeout is None else timeout)
    try:
        result: T = await asyncio.wrap_future(job.result)
    except asyncio.CancelledError:
        _dispatcher.cancel(job)
        raise
    return result


async def extract_page_elsewhere(html: bytes | str, url: str = "", *, owner: object = None,
                                 full_metadata: bool = True) -> ExtractedPage:
    """``extract_page`` in a worker process, within the time and memory budgets, queued fairly by ``owner`` (the
    source's id). Never raises but for cancellation: a page over a budget, or one that kills its worker twice,
    gives an ExtractedPage with no text and ``error`` saying why; it costs a worker, never the poll.

    With a single core (or TIDINGS_EXTRACT_IN_PROCESS=1) the page is extracted in this process, as it always
    was: there nothing can stop it mid-page, so only the caps on its size (MAX_HTML_CHARS, MAX_NODES) hold."""
    if _Dispatcher.in_process():
        return extract_page(html, url, full_metadata)
    budget = extract_timeout()
    try:
        page = await run_in_worker(extract_page, html, url, full_metadata, owner=owner, timeout=budget)
    except TimeoutError:
        return ExtractedPage(error=f"extraction stopped: over the {budget:g} s budget")
    except ProcessExpired as died:
        return ExtractedPage(error=f"extraction stopped: the page killed its worker twice (exit code {died.exitcode})")
    except MemoryError:
        return ExtractedPage(error=f"extraction stopped: over the {extract_memory_mb():g} MiB memory budget")
    except BrokenProcessPool as broken:
        return ExtractedPage(error=f"extraction stopped: its workers failed twice ({broken})")
    except Exception as error:  # pebble's own trouble (pickling, a pool that could not start)
        return ExtractedPage(error=f"extraction failed: {type(error).__name__}")
    return page if isinstance(page, ExtractedPage) else ExtractedPage()
