"""Article pictures served by Tidings itself, so readers' browsers never ask the outlets (or whatever address a
feed names) for anything.

``/image/{article_id}`` serves the picture the article's feed named, and nothing else: it takes no URL, so it is
no open proxy. The picture is fetched by a ``Fetcher`` of its own (the same address guard as polling: public
addresses only unless TIDINGS_ALLOW_PRIVATE_NETWORKS is set; a size cap; a time limit), and served only when its
first bytes say it is a JPEG, PNG, GIF, WebP or AVIF image (never SVG, which can carry scripts, nor whatever the
outlet's Content-Type claims), with that type and ``nosniff``.

Pictures are kept in a bounded in-memory LRU (TIDINGS_IMAGE_CACHE_MB, 64 MB by default) rather than on disk:
nothing to clean up when sources go, no disk that fills, and a restart costs one fetch per picture, which
browsers (told to keep them for a day) rarely ask again. A picture that cannot be had is answered 404 and
remembered for ten minutes, so a broken address is not fetched again for every reader. Readers asking for the
same picture at once share one fetch.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tidings.config import env_float
from tidings.ingest.fetch import Fetcher, FetchSettings, allow_private_from_env
from tidings.storage.store import Store
from tidings.web.pages import http_url

MAX_IMAGE_BYTES = 5 * 1024 * 1024
DEFAULT_CACHE_MB = 64.0
FAILURE_TTL = 600.0  # seconds a picture that could not be had is answered 404 without a new fetch
MAX_FAILURES = 10_000  # remembered failures, oldest forgotten first
BROWSER_MAX_AGE = 86_400
FAILURE_MAX_AGE = int(FAILURE_TTL)
MAX_ID = 2**63 - 1

Key = tuple[int, str]  # article id, the image URL it names (a changed URL is a new picture)


def sniff_image(data: bytes) -> str | None:
    """The media type the first bytes prove, among the raster formats browsers show; None for anything else
    (SVG, HTML, text, truncated data)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if len(data) >= 16 and data[4:8] == b"ftyp":
        size = int.from_bytes(data[:4], "big")
        box = data[8:max(16, min(size, 4096))]
        brands = {box[i:i + 4] for i in range(0, len(box) - 3, 4)}  # major brand, minor version, compatibles
        if brands & {b"avif", b"avis"}:
            return "image/avif"
    return None


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


class ImageProxy:
    """Finds an article's picture, fetches it once, checks it and keeps it; ``get`` gives None when there is none
    to show."""

    def __init__(self, store: Store, *, cache_bytes: int | None = None, max_bytes: int = MAX_IMAGE_BYTES,
                 failure_ttl: float = FAILURE_TTL, settings: Callable[[], FetchSettings] = image_fetch_settings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if cache_bytes is None:
            cache_bytes = int(env_float("TIDINGS_IMAGE_CACHE_MB", DEFAULT_CACHE_MB) * 2**20)
        self.store, self.cache_bytes, self.max_bytes = store, cache_bytes, max_bytes
        self.failure_ttl, self._settings, self._clock = failure_ttl, settings, clock
        self._images: OrderedDict[Key, Image] = OrderedDict()
        self._size = 0
        self._failed: OrderedDict[Key, float] = OrderedDict()
        self._pending: dict[Key, asyncio.Task[Image | None]] = {}
        self._fetcher: Fetcher | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.fetches = 0

    async def get(self, article_id: int) -> Image | None:
        row = await run_in_threadpool(self.store.article, article_id, with_text=False)
        url = http_url(row.get("image_url")) if row else ""
        if not url:
            return None
        key = (article_id, url)
        kept = self._images.get(key)
        if kept is not None:
            self._images.move_to_end(key)
            return kept
        failed_at = self._failed.get(key)
        if failed_at is not None and self._clock() - failed_at < self.failure_ttl:
            return None
        self._same_loop()
        task = self._pending.get(key)
        if task is None:
            task = asyncio.ensure_future(self._load(key))
            self._pending[key] = task
        return await asyncio.shield(task)  # a reader who leaves does not cancel the fetch for the others

    async def _load(self, key: Key) -> Image | None:
        try:
            self.fetches += 1
            result = await self._client().fetch(key[1], max_bytes=self.max_bytes)
            media_type = sniff_image(result.content) if result.ok else None
            if media_type is None:
                self._remember_failure(key)
                return None
            image = Image(media_type, result.content)
            self._keep(key, image)
            return image
        finally:
            self._pending.pop(key, None)

    def _keep(self, key: Key, image: Image) -> None:
        self._failed.pop(key, None)
        if len(image.body) > self.cache_bytes // 4:
            return
        self._images[key] = image
        self._size += len(image.body)
        while self._size > self.cache_bytes and self._images:
            _, dropped = self._images.popitem(last=False)
            self._size -= len(dropped.body)

    def _remember_failure(self, key: Key) -> None:
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


def install_images(app: FastAPI, store: Store) -> None:
    """Serve ``/image/{article_id}``; the proxy is ``app.state.images`` (closed by ``close_images``)."""
    proxy = ImageProxy(store)
    app.state.images = proxy
    router = APIRouter(include_in_schema=False)

    @router.get("/image/{article_id}")
    async def image(article_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
        found = await proxy.get(article_id)
        if found is None:
            return Response(b"No picture here.\n", status_code=404, media_type="text/plain",
                            headers={"Cache-Control": f"public, max-age={FAILURE_MAX_AGE}",
                                     "X-Content-Type-Options": "nosniff"})
        return Response(found.body, media_type=found.media_type, headers={
            "Cache-Control": f"public, max-age={BROWSER_MAX_AGE}",
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Resource-Policy": "same-origin",  # other sites cannot use Tidings to fetch pictures
            "Content-Disposition": "inline",
        })

    app.include_router(router)


async def close_images(app: FastAPI) -> None:
    proxy: Any = getattr(app.state, "images", None)
    if isinstance(proxy, ImageProxy):
        await proxy.aclose()
