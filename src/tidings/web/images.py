"""Article pictures and source icons served by Tidings itself, so readers' browsers never ask the outlets (or
whatever address a feed names) for anything.

``/image/{article_id}?w=320`` serves the picture the article's feed or page named, at one of a fixed set of
widths (``IMAGE_WIDTHS``; without ``w`` the largest), and ``/icon/{source_id}`` the icon of the source's site
(its page's ``<link rel="icon">`` or apple-touch-icon, else /favicon.ico) as a 32-pixel PNG. Neither takes a URL,
so Tidings is no open proxy. Everything is fetched by a ``Fetcher`` of its own (the same address guard as
polling: public addresses only unless TIDINGS_ALLOW_PRIVATE_NETWORKS is set; a size cap; a time limit), must
prove by its first bytes to be a raster picture (never SVG, which can carry scripts, nor whatever the outlet's
Content-Type claims), and is decoded within a pixel budget, scaled down and encoded again (``web.pictures``):
what readers get is a small WebP or PNG without the outlet's metadata, with ``nosniff``. A source whose site has
no usable icon gets a letter badge that Tidings draws itself.

Pictures are kept on disk, in the data folder beside the database (``config.picture_cache_path``), bounded by
TIDINGS_IMAGE_CACHE_MB (256 MB by default; least recently used first out) and shared by every process serving
the same database (``web.diskcache``): a scaled picture costs a fetch and a decode, far more than a file read,
and a restart or a second server process would otherwise pay them again for every picture on every page. Each
picture is fetched once for all its widths. A picture that cannot be had is answered 404 and remembered for ten
minutes, so a broken address is not fetched again for every reader; readers asking for the same picture at
once share one fetch. Where each source's icon was found is kept in the database (``Store.source_icon``), so the
site's page is read again only weekly (daily when it had none).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Query
from fastapi import Path as PathParam
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tidings.clock import iso, parse_iso, utcnow
from tidings.config import env_float, picture_cache_path
from tidings.ingest.discover import favicon_url, find_icon_links
from tidings.ingest.fetch import Fetcher, FetchSettings, allow_private_from_env
from tidings.storage.store import Store
from tidings.web import pictures
from tidings.web.diskcache import DiskCache, cache_key
from tidings.web.pages import http_url
from tidings.web.pictures import ICON_SIZE, IMAGE_WIDTHS, sniff_icon, sniff_image

__all__ = ["IMAGE_WIDTHS", "MAX_IMAGE_BYTES", "Image", "ImageProxy", "close_images", "install_images",
           "sniff_image"]

T = TypeVar("T")
log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_ICON_BYTES = 512 * 1024
MAX_HOME_PAGE_BYTES = 512 * 1024  # icons are announced in the <head>, near the top
MAX_ICON_TRIES = 3  # icons a site's page names that are tried before /favicon.ico
DEFAULT_CACHE_MB = 256.0
FAILURE_TTL = 600.0  # seconds a picture that could not be had is answered 404 without a new fetch
MAX_FAILURES = 10_000  # remembered failures, oldest forgotten first
ICON_RECHECK = timedelta(days=7)  # a site's page is read again for its icon this often...
NO_ICON_RECHECK = timedelta(days=1)  # ...and this often when it had none Tidings could use
WORKERS = 2  # threads that decode and scale pictures, apart from the ones that make pages
BROWSER_MAX_AGE = 86_400
FAILURE_MAX_AGE = int(FAILURE_TTL)
MAX_ID = 2**63 - 1


def image_fetch_settings() -> FetchSettings:
    """Like a browser loading a page's pictures: no spacing between requests, a few at a time per host, and
    shorter limits than polling."""
    return FetchSettings(allow_private=allow_private_from_env(), max_bytes=MAX_IMAGE_BYTES, connect_timeout=5.0,
                         read_timeout=10.0, total_timeout=20.0, max_redirects=3, per_host=4, min_delay=0.0,
                         jitter=0.0)


@dataclass(frozen=True)
class Image:
    media_type: str
    body: bytes
    fallback: bool = False  # a stand-in (a letter badge): browsers keep it briefly, so the real one shows later


def site_home(source: dict[str, Any], article_url: str = "") -> str:
    """The page a source's icon is looked for on: its site URL, else the root of its feed's host, else the
    root of one of its articles' host (imported sources have neither); "" when none is http(s)."""
    site = http_url(source.get("site_url"))
    if site:
        return site
    for url in (http_url(source.get("feed_url")), http_url(article_url)):
        if url:
            parts = urlsplit(url)
            return f"{parts.scheme.lower()}://{parts.netloc.lower()}/"
    return ""


def icon_is_fresh(record: dict[str, Any] | None, home: str, now: Any) -> bool:
    """Whether what was found for the source's icon still stands: found on the same page, recently enough."""
    if record is None or record.get("site_url") != home:
        return False
    checked = parse_iso(record.get("checked_at"))
    if checked is None:
        return False
    return bool(now - checked < (ICON_RECHECK if record.get("icon_url") else NO_ICON_RECHECK))


class ImageProxy:
    """Finds an article's picture or a source's icon, fetches it once, checks, scales and keeps it; ``get`` and
    ``icon`` give None when there is nothing to show."""

    def __init__(self, store: Store, *, folder: Path | None = None, cache_bytes: int | None = None,
                 max_bytes: int = MAX_IMAGE_BYTES, failure_ttl: float = FAILURE_TTL,
                 settings: Callable[[], FetchSettings] = image_fetch_settings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if cache_bytes is None:
            cache_bytes = int(env_float("TIDINGS_IMAGE_CACHE_MB", DEFAULT_CACHE_MB) * 2**20)
        self.store, self.max_bytes = store, max_bytes
        self.cache = DiskCache(folder if folder is not None else picture_cache_path(store.target), cache_bytes)
        self.failure_ttl, self._settings, self._clock = failure_ttl, settings, clock
        self._failed: OrderedDict[str, float] = OrderedDict()
        self._pending: dict[str, asyncio.Task[Any]] = {}
        self._fetcher: Fetcher | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.fetches = 0

    # -- article pictures ---------------------------------------------------------------------------------

    async def get(self, article_id: int, width: int = IMAGE_WIDTHS[-1]) -> Image | None:
        """The article's picture at ``width`` (one of IMAGE_WIDTHS)."""
        if width not in IMAGE_WIDTHS:
            raise ValueError(f"width must be one of {IMAGE_WIDTHS}")
        row = await run_in_threadpool(self.store.article, article_id, with_text=False)
        url = http_url(row.get("image_url")) if row else ""
        if not url:
            return None
        kept = self._kept(cache_key("image", url, str(width)))
        if kept is not None:
            return kept
        made = await self._shared(f"image\x1f{url}", lambda: self._load_image(url))
        return made.get(width) if made else None

    async def _load_image(self, url: str) -> dict[int, Image] | None:
        self.fetches += 1
        result = await self._client().fetch(url, max_bytes=self.max_bytes)
        if not result.ok or sniff_image(result.content) is None:
            return None
        return await self._work(self._scale_and_keep, url, result.content)

    def _scale_and_keep(self, url: str, data: bytes) -> dict[int, Image] | None:
        made = pictures.thumbnails(data, IMAGE_WIDTHS)
        if made is None:
            return None
        for width, body in made.items():
            self.cache.put(cache_key("image", url, str(width)), body)
        return {width: Image(sniff_image(body) or "application/octet-stream", body) for width, body in made.items()}

    # -- source icons -------------------------------------------------------------------------------------

    async def icon(self, source_id: int) -> Image | None:
        """The source's icon, or its letter badge; None only when there is no such source."""
        facts = await run_in_threadpool(self._icon_facts, source_id)
        if facts is None:
            return None
        name, home, record = facts
        known = ""
        if icon_is_fresh(record, home, utcnow()):
            known = str(record["icon_url"]) if record else ""
            if not known:
                return self._badge(name)
            kept = self._kept(cache_key("icon", known, str(ICON_SIZE)))
            if kept is not None:
                return kept
        if not home:
            return self._badge(name)
        found = await self._shared(f"icon\x1f{source_id}", lambda: self._load_icon(source_id, home, known))
        return found or self._badge(name)

    def _icon_facts(self, source_id: int) -> tuple[str, str, dict[str, Any] | None] | None:
        source = self.store.source(source_id)
        if source is None:
            return None
        named = http_url(source.get("site_url")) or http_url(source.get("feed_url"))
        home = site_home(source, "" if named else self.store.source_article_url(source_id))
        return str(source["name"]), home, self.store.source_icon(source_id)

    async def _load_icon(self, source_id: int, home: str, known: str) -> Image | None:
        if known and (found := await self._fetch_icon(known)):
            return found
        self.fetches += 1
        page = await self._client().fetch(home, max_bytes=MAX_HOME_PAGE_BYTES)
        where = page.final_url or home
        named = await self._work(find_icon_links, page.content, where) if page.ok else []
        for url in dict.fromkeys([*named[:MAX_ICON_TRIES], favicon_url(where)]):
            if url and url != known and (found := await self._fetch_icon(url)):
                await self._record_icon(source_id, home, url)
                return found
        if page.status:  # the site answered and has no icon Tidings can use; a network failure is not recorded
            await self._record_icon(source_id, home, "")
        return None

    async def _record_icon(self, source_id: int, home: str, icon_url: str) -> None:
        await run_in_threadpool(self.store.save_source_icon, source_id, home, icon_url, iso(utcnow()) or "")

    async def _fetch_icon(self, url: str) -> Image | None:
        self.fetches += 1
        result = await self._client().fetch(url, max_bytes=MAX_ICON_BYTES)
        if not result.ok or sniff_icon(result.content) is None:
            return None
        body = await self._work(pictures.icon, result.content)
        if body is None:
            return None
        await self._work(self.cache.put, cache_key("icon", url, str(ICON_SIZE)), body)
        return Image("image/png", body)

    @staticmethod
    def _badge(name: str) -> Image:
        return Image("image/svg+xml", pictures.letter_badge(name), fallback=True)

    # -- shared machinery ---------------------------------------------------------------------------------

    def _kept(self, key: str) -> Image | None:
        """A picture kept on disk (a small file: read here rather than handed to a thread)."""
        body = self.cache.get(key)
        media_type = sniff_image(body) if body else None
        return Image(media_type, body) if body and media_type else None

    async def _shared(self, key: str, load: Callable[[], Awaitable[T | None]]) -> T | None:
        """``load()`` once for all the readers asking for ``key`` at once; a failure is remembered a while."""
        failed_at = self._failed.get(key)
        if failed_at is not None and self._clock() - failed_at < self.failure_ttl:
            return None
        self._same_loop()
        task = self._pending.get(key)
        if task is None:
            task = asyncio.ensure_future(self._settle(key, load))
            self._pending[key] = task
        return await asyncio.shield(task)  # a reader who leaves cancels nothing

    async def _settle(self, key: str, load: Callable[[], Awaitable[T | None]]) -> T | None:
        try:
            try:
                found = await load()
            except Exception:  # a bug must cost this picture, never the reader's page
                log.exception("picture %r could not be made", key.split("\x1f", 1)[-1])
                found = None
            if found is None:
                self._remember_failure(key)
            else:
                self._failed.pop(key, None)
            return found
        finally:
            self._pending.pop(key, None)

    async def _work(self, fn: Callable[..., T], *args: Any) -> T:
        """Decoding, scaling, parsing and disk writes, in threads of their own: never in the event loop, and
        never taking the threads that make pages."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="tidings-pictures")
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _remember_failure(self, key: str) -> None:
        self._failed.pop(key, None)
        self._failed[key] = self._clock()
        while len(self._failed) > MAX_FAILURES:
            self._failed.popitem(last=False)

    def _same_loop(self) -> None:
        """The fetcher's connections and the shared fetches belong to one event loop (the server has one)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._fetcher = loop, None
            self._pending.clear()

    def _client(self) -> Fetcher:
        if self._fetcher is None:
            self._fetcher = Fetcher(self._settings())
        return self._fetcher

    async def aclose(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
        fetcher, self._fetcher = self._fetcher, None
        if fetcher is not None and self._loop is asyncio.get_running_loop():
            await fetcher.aclose()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        self.cache.close()


def _headers(found: Image) -> dict[str, str]:
    return {"Cache-Control": f"public, max-age={FAILURE_MAX_AGE if found.fallback else BROWSER_MAX_AGE}",
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Resource-Policy": "same-origin",  # other sites cannot use Tidings to fetch pictures
            "Content-Disposition": "inline"}


def _plain(text: str, status: int) -> Response:
    return Response(text, status_code=status, media_type="text/plain", headers={
        "Cache-Control": f"public, max-age={FAILURE_MAX_AGE}", "X-Content-Type-Options": "nosniff"})


def install_images(app: FastAPI, store: Store) -> None:
    """Serve ``/image/{article_id}`` and ``/icon/{source_id}``; the proxy is ``app.state.images`` (closed by
    ``close_images``)."""
    proxy = ImageProxy(store)
    app.state.images = proxy
    router = APIRouter(include_in_schema=False)
    widths = ", ".join(map(str, IMAGE_WIDTHS))

    @router.get("/image/{article_id}")
    async def image(article_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
                    w: Annotated[int | None, Query()] = None) -> Response:
        width = IMAGE_WIDTHS[-1] if w is None else w
        if width not in IMAGE_WIDTHS:
            return _plain(f"w must be one of {widths}.\n", 400)
        found = await proxy.get(article_id, width)
        if found is None:
            return _plain("No picture here.\n", 404)
        return Response(found.body, media_type=found.media_type, headers=_headers(found))

    @router.get("/icon/{source_id}")
    async def icon(source_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]) -> Response:
        found = await proxy.icon(source_id)
        if found is None:
            return _plain("No such source.\n", 404)
        return Response(found.body, media_type=found.media_type, headers=_headers(found))

    app.include_router(router)


async def close_images(app: FastAPI) -> None:
    proxy: Any = getattr(app.state, "images", None)
    if isinstance(proxy, ImageProxy):
        await proxy.aclose()
