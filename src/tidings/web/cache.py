"""Whole responses to anonymous reads, kept until the database changes.

Every reader without a session sees the same home, section and article pages, and they change only when the
poller or an admin commits. SQLite's ``PRAGMA data_version`` changes on a connection whenever another
connection, in any process, has committed; checking it costs microseconds, so each request checks it and a
change empties the cache. Pages are never stale, and a busy site renders each page once per change instead of
once per reader. An entry also expires after ``max_age`` seconds, since pages say how long ago things happened.

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

import gzip
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_AGE = 60.0
CACHE_HEADER = b"x-tidings-cache"  # "hit" or "miss", for operators and benchmarks
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
    """Pure ASGI middleware; ``version`` returns the database's data version (called on the event loop)."""

    def __init__(self, app: ASGIApp, version: Callable[[], int], max_bytes: int = DEFAULT_MAX_BYTES,
                 max_age: float = DEFAULT_MAX_AGE) -> None:
        self.app, self.version, self.max_bytes, self.max_age = app, version, max_bytes, max_age
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._size = 0
        self._seen: int | None = None
        self.hits = self.misses = 0

    def clear(self) -> None:
        self._entries.clear()
        self._size = 0

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
        self._check_version()
        key = cache_key(scope)
        entry = self._entries.get(key)
        if entry is not None and time.monotonic() - entry.stored < self.max_age and self._matches(entry, scope):
            self._entries.move_to_end(key)
            self.hits += 1
            await _answer(entry, scope, send, b"hit")
            return
        self.misses += 1
        await self._fill(key, scope, receive, send)

    @staticmethod
    def _matches(entry: _Entry, scope: Scope) -> bool:
        headers = scope.get("headers") or []
        return all(_request_header(headers, name) == value for name, value in entry.varies)

    def _check_version(self) -> None:
        current = self.version()
        if current != self._seen:
            self.clear()
            self._seen = current

    async def _fill(self, key: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a miss and keep the answer. The start of the answer is held until its body comes: a body sent
        whole (every page) that is kept goes out as a hit would (compressed for a reader who accepts it)."""
        seen = self._seen
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
                entry = self._entry(scope, start, message.get("body", b""))
                if entry is not None:
                    if seen == self._seen:
                        self._keep(key, entry)
                    await _answer(entry, scope, send, b"miss")
                    return
            if not streaming:  # an answer not kept, or sent in parts: as the app sends it
                streaming = True
                await send({**start, "headers": [*start.get("headers", []), (CACHE_HEADER, b"miss")]})
            chunks.append(message.get("body", b""))
            if not more and seen == self._seen and (entry := self._entry(scope, start, b"".join(chunks))):
                self._keep(key, entry)
            await send(message)

        await self.app(scope, receive, capture)
        if start is not None and not streaming and not chunks:  # a start and no body at all: send the start
            await send({**start, "headers": [*start.get("headers", []), (CACHE_HEADER, b"miss")]})

    def _entry(self, scope: Scope, start: Message, body: bytes) -> _Entry | None:
        """The entry an answer makes, compressed where worth it; None when it must not be kept."""
        headers = [(bytes(k).lower(), bytes(v)) for k, v in start.get("headers", [])]
        names = _vary_names(headers)
        if (start.get("status") != 200 or len(body) > self.max_bytes // 16 or not _shareable(headers)
                or names is None):
            return None
        request = scope.get("headers") or []
        varies = tuple((name, _request_header(request, name)) for name in names)
        packed = gzip.compress(body, GZIP_LEVEL, mtime=0) if len(body) >= GZIP_MIN and _compressible(headers) else None
        return _Entry(int(start["status"]), headers, body, time.monotonic(), varies, packed)

    def _keep(self, key: str, entry: _Entry) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
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
