"""Whole responses to anonymous reads, kept until the database changes, or at most ``stale_for`` seconds after.

Every reader without a session sees the same home, section and article pages, and they change only when the
poller or an admin commits. SQLite's ``PRAGMA data_version`` changes on a connection whenever another
connection, in any process, has committed (PostgreSQL: a counter the writers bump); checking it costs
microseconds, so each request checks it. An entry also expires after ``max_age`` seconds, since pages say how
long ago things happened.

A poller commits several times a second while it stores and analyses articles. Were every change to empty the
cache, nearly every read during a poll pass would render its page, on the cores the poller needs. So an entry
made before the latest change is still served (``x-tidings-cache: stale``) for ``stale_for`` seconds counted
from that change, and such a read starts one re-render of its page in the background (one at a time per page,
and not before the entry is ``refresh_every`` seconds old), whose answer the next reader gets. No anonymous
reader is sent a page more than ``stale_for`` seconds out of date: a change is dated, conservatively, at the last
check that still saw the version before it; past the bound the reader waits for a fresh render. Pages of readers
with a session (admins) are never cached, hence never stale, and a change made through the site (a POST...)
empties the cache at once. ``stale_for=0`` gives the older rule: a change empties the cache.

Not cached: requests with a cookie or an Authorization header (admins), conditional requests (the app answers
those, with a 304 where the ETag matches), anything but GET, answers other than 200, answers that set a cookie
or say ``no-store``/``private`` or ``Vary: *``, pictures (web.images keeps its own), and bodies over a sixteenth
of the cache.

An entry is found by everything that can change the bytes of an answer: the method, scheme, Host, path and
query, and the request headers the answer names in ``Vary`` (an entry whose Vary'd headers differ from the new
request's is a miss, and that answer replaces it). So no reader is ever sent bytes made for another Host.
A request with a method that may change something (POST, PUT, PATCH, DELETE) empties the cache, so a change made
through the site shows at once.

An entry of ``GZIP_MIN`` bytes or more is compressed once, when it is stored, and kept beside its plain bytes: a
reader whose browser accepts gzip gets those, the others the plain ones, and both are told ``Vary:
Accept-Encoding``. Answers not kept here are compressed on the way out by ``web.compress``, which leaves alone
what this cache has already compressed.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_AGE = 60.0
DEFAULT_STALE_FOR = 1.0  # seconds a page may be served after the database changed (TIDINGS_PAGE_STALE_S)
REFRESH_EVERY = 0.25  # the least age of an entry re-rendered because it is stale: at most 4 renders/s a page
CACHE_HEADER = b"x-tidings-cache"  # "hit", "stale" or "miss", for operators and benchmarks
CONDITIONAL = (b"if-none-match", b"if-modified-since")  # left to the app, which answers 304 where it can
GZIP_MIN = 1024  # smaller answers are sent as they are: gzip's own header and the round trip outweigh the saving
GZIP_LEVEL = 6   # zlib's default: level 9's saving within 1% on a page, in less time (docs/performance.md)


@dataclass
class _Entry:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    stored: float
    varies: tuple[tuple[bytes, bytes | None], ...] = ()  # (request header, its value then) for each Vary'd one
    gzipped: bytes | None = None  # the body compressed once, for readers that accept gzip (None: sent plain)
    epoch: int = 0  # the cache's count of database changes when its rendering began

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"")


Headers = list[tuple[bytes, bytes]]


def _request_header(headers: Headers, name: bytes) -> bytes | None:
    values = [v for k, v in headers if k.lower() == name]
    return b", ".join(values) if values else None


def accepts_gzip(headers: Headers) -> bool:
    """Whether the request's Accept-Encoding takes gzip (and does not refuse it with q=0)."""
    for part in (_request_header(headers, b"accept-encoding") or b"").lower().split(b","):
        coding, _, params = part.partition(b";")
        if coding.strip() in (b"gzip", b"x-gzip"):
            q = params.strip().removeprefix(b"q=")
            try:
                return not params.strip().startswith(b"q=") or float(q) > 0
            except ValueError:
                return False
    return False


def _compressible(headers: Headers) -> bool:
    kind = (_request_header(headers, b"content-type") or b"").lower()
    return kind.startswith((b"text/", b"application/")) and _request_header(headers, b"content-encoding") is None


def with_vary(headers: Headers, name: bytes) -> Headers:
    """``headers`` with ``name`` in Vary (added to a Vary that names others)."""
    current = _request_header(headers, b"vary")
    if current is None:
        return [*headers, (b"vary", name)]
    if name.lower() in (part.strip().lower() for part in current.split(b",")):
        return headers
    return [(k, v) for k, v in headers if k.lower() != b"vary"] + [(b"vary", current + b", " + name)]


def cache_key(scope: Scope) -> str:
    """Method, scheme, Host, path and query: what every answer may depend on."""
    host = _request_header(scope.get("headers") or [], b"host") or b""
    return "\n".join((scope.get("method", ""), scope.get("scheme", "http"), host.decode("latin-1").lower(),
                      scope.get("path", ""), scope.get("query_string", b"").decode("latin-1")))


def _vary_names(headers: Headers) -> list[bytes] | None:
    """The request headers an answer says it varies on; None for ``Vary: *`` (it cannot be shared)."""
    names: list[bytes] = []
    for name, value in headers:
        if name == b"vary":
            for part in value.split(b","):
                part = part.strip().lower()
                if part == b"*":
                    return None
                if part and part not in names:
                    names.append(part)
    return names


class PageCache:
    """Pure ASGI middleware; ``version`` returns the database's data version (called on the event loop), ``clock``
    the time in seconds (monotonic; tests pass their own)."""

    def __init__(self, app: ASGIApp, version: Callable[[], int], max_bytes: int = DEFAULT_MAX_BYTES,
                 max_age: float = DEFAULT_MAX_AGE, stale_for: float = DEFAULT_STALE_FOR,
                 refresh_every: float = REFRESH_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.app, self.version, self.max_bytes, self.max_age = app, version, max_bytes, max_age
        self.stale_for, self.refresh_every, self.clock = max(0.0, stale_for), refresh_every, clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._size = 0
        self._seen: int | None = None
        self._checked = 0.0  # when the version was last read
        self._epoch = 0  # database changes seen (and emptyings): an entry of an older epoch is stale
        self._ended: dict[int, float] = {}  # epoch -> when it ended, for those that ended within stale_for
        self._refreshing: set[str] = set()  # keys being re-rendered in the background
        self._tasks: set[asyncio.Task[None]] = set()
        self.hits = self.misses = self.stale = 0

    def clear(self) -> None:
        """Empty the cache: nothing rendered before now is served again, not even while a render is running."""
        self._entries.clear()
        self._size = 0
        self._ended.clear()
        self._epoch += 1

    async def _change(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A method that may change something empties the cache once it has succeeded (status below 400): a
        refused request (401, 403, 405...) must not let anyone flush every reader's pages at will."""
        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and int(message["status"]) < 400:
                self.clear()
            await send(message)

        await self.app(scope, receive, watch)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "GET":
            if scope["method"] in ("HEAD", "OPTIONS"):
                await self.app(scope, receive, send)
            else:
                await self._change(scope, receive, send)
            return
        if any(name in (b"cookie", b"authorization", *CONDITIONAL) for name, _ in scope.get("headers") or []):
            await self.app(scope, receive, send)
            return
        now = self._check_version()
        key = cache_key(scope)
        entry = self._entries.get(key)
        if entry is not None and now - entry.stored < self.max_age and self._matches(entry, scope):
            if entry.epoch == self._epoch:
                self._entries.move_to_end(key)
                self.hits += 1
                await _answer(entry, scope, send, b"hit")
                return
            ended = self._ended.get(entry.epoch)
            if ended is not None and now - ended <= self.stale_for:
                self._entries.move_to_end(key)
                self.stale += 1
                if key not in self._refreshing and now - entry.stored >= self.refresh_every:
                    self._refresh(key, dict(scope))  # scope as it came, before the app adds to it
                await _answer(entry, scope, send, b"stale")
                return
        self.misses += 1
        await self._fill(key, scope, receive, send)

    @staticmethod
    def _matches(entry: _Entry, scope: Scope) -> bool:
        headers = scope.get("headers") or []
        return all(_request_header(headers, name) == value for name, value in entry.varies)

    def _check_version(self) -> float:
        """Read the version; on a change, the epoch before it ends, dated at the last read that still saw it
        (the change came after that read: the staleness of its entries is never understated). Returns now."""
        current, now = self.version(), self.clock()
        if current != self._seen:
            if self.stale_for <= 0:
                self.clear()
            elif self._seen is not None:
                self._ended[self._epoch] = self._checked
                self._epoch += 1
            self._seen = current
            for epoch, ended in list(self._ended.items()):  # in the order they ended: the oldest first
                if now - ended <= self.stale_for:
                    break
                del self._ended[epoch]
        self._checked = now
        return now

    async def settled(self) -> None:
        """Wait for the background re-renders started so far."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _refresh(self, key: str, scope: Scope) -> None:
        """Render ``key`` again in the background, its answer kept for the readers after this one."""
        self._refreshing.add(key)
        task = asyncio.get_running_loop().create_task(self._rerender(key, scope, self._epoch))
        self._tasks.add(task)  # held until done: the loop keeps only a weak reference
        task.add_done_callback(self._tasks.discard)

    async def _rerender(self, key: str, scope: Scope, epoch: int) -> None:
        """``epoch``: the one when the re-render was asked for (the task may start after an emptying)."""
        start: Message | None = None
        chunks: list[bytes] = []
        done = asyncio.Event()
        asked = False

        async def receive() -> Message:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()  # no one is there to disconnect before the answer is complete
            return {"type": "http.disconnect"}

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()

        try:
            await self.app(scope, receive, capture)
            if start is not None and done.is_set() and (entry := self._entry(scope, start, b"".join(chunks), epoch)):
                self._keep(key, entry)
        except Exception:  # the reader was served already; the next one renders the page itself
            log.exception("re-rendering %s for the page cache failed", scope.get("path"))
        finally:
            done.set()
            self._refreshing.discard(key)

    async def _fill(self, key: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a miss and keep the answer. The start of the answer is held until its body comes: a body sent
        whole (every page) that is kept goes out as a hit would (compressed for a reader who accepts it)."""
        epoch = self._epoch
        start: Message | None = None
        chunks: list[bytes] = []
        streaming = False

        async def capture(message: Message) -> None:
            nonlocal start, streaming
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            more = bool(message.get("more_body", False))
            if not streaming and not more:
                entry = self._entry(scope, start, message.get("body", b""), epoch)
                if entry is not None:
                    self._keep(key, entry)
                    await _answer(entry, scope, send, b"miss")
                    return
            if not streaming:  # an answer not kept, or sent in parts: as the app sends it
                streaming = True
                await send({**start, "headers": [*start.get("headers", []), (CACHE_HEADER, b"miss")]})
            chunks.append(message.get("body", b""))
            if not more and (entry := self._entry(scope, start, b"".join(chunks), epoch)):
                self._keep(key, entry)
            await send(message)

        await self.app(scope, receive, capture)
        if start is not None and not streaming and not chunks:  # a start and no body at all: send the start
            await send({**start, "headers": [*start.get("headers", []), (CACHE_HEADER, b"miss")]})

    def _entry(self, scope: Scope, start: Message, body: bytes, epoch: int) -> _Entry | None:
        """The entry an answer rendered in ``epoch`` makes, compressed where worth it; None when it must not be
        kept."""
        headers = [(bytes(k).lower(), bytes(v)) for k, v in start.get("headers", [])]
        names = _vary_names(headers)
        if (start.get("status") != 200 or len(body) > self.max_bytes // 16 or not _shareable(headers)
                or names is None):
            return None
        request = scope.get("headers") or []
        varies = tuple((name, _request_header(request, name)) for name in names)
        packed = gzip.compress(body, GZIP_LEVEL, mtime=0) if len(body) >= GZIP_MIN and _compressible(headers) else None
        return _Entry(int(start["status"]), headers, body, self.clock(), varies, packed, epoch)

    def _keep(self, key: str, entry: _Entry) -> None:
        """Keep ``entry`` unless it was rendered before a change it could no longer be served across (an emptying,
        or a change more than ``stale_for`` ago), or before the one held already."""
        if entry.epoch != self._epoch and entry.epoch not in self._ended:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            if old.epoch > entry.epoch:  # a slower render of an older state came back last: keep the newer
                self._entries[key] = old
                return
            self._size -= old.size
        self._entries[key] = entry
        self._size += entry.size
        while self._size > self.max_bytes and self._entries:
            _, dropped = self._entries.popitem(last=False)
            self._size -= dropped.size


async def _answer(entry: _Entry, scope: Scope, send: Send, state: bytes) -> None:
    """Send an entry: its gzip bytes to a reader who accepts them, else its plain bytes; the two differ, so
    either says Vary: Accept-Encoding."""
    headers = [(k, v) for k, v in entry.headers if k != b"content-length"]
    body = entry.body
    if entry.gzipped is not None:
        headers = with_vary(headers, b"Accept-Encoding")
        if accepts_gzip(scope.get("headers") or []):
            body = entry.gzipped
            headers.append((b"content-encoding", b"gzip"))
    headers += [(b"content-length", str(len(body)).encode()), (CACHE_HEADER, state)]
    await send({"type": "http.response.start", "status": entry.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _shareable(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"set-cookie":
            return False
        if name == b"cache-control" and (b"no-store" in value or b"private" in value):
            return False
        if name == b"content-type" and value.lower().startswith(b"image/"):
            return False
    return True
