"""Whole responses to anonymous reads, kept until the database changes.

Every reader without a session sees the same home, section and article pages, and they change only when the
poller or an admin commits. SQLite's ``PRAGMA data_version`` changes on a connection whenever another
connection, in any process, has committed; checking it costs microseconds, so each request checks it and a
change empties the cache. Pages are never stale, and a busy site renders each page once per change instead of
once per reader. An entry also expires after ``max_age`` seconds, since pages say how long ago things happened.

Not cached: requests with a cookie or an Authorization header (admins), anything but GET, answers other than
200, answers that set a cookie or say ``no-store``/``private`` or ``Vary: *``, pictures (web.images keeps its
own), and bodies over a sixteenth of the cache.

An entry is found by everything that can change the bytes of an answer: the method, scheme, Host, path and
query, and the request headers the answer names in ``Vary`` (an entry whose Vary'd headers differ from the new
request's is a miss, and that answer replaces it). So no reader is ever sent bytes made for another Host.
A request with a method that may change something (POST, PUT, PATCH, DELETE) empties the cache, so a change made
through the site shows at once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_AGE = 60.0
CACHE_HEADER = b"x-tidings-cache"  # "hit" or "miss", for operators and benchmarks


@dataclass
class _Entry:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    stored: float
    varies: tuple[tuple[bytes, bytes | None], ...] = ()  # (request header, its value then) for each Vary'd one


Headers = list[tuple[bytes, bytes]]


def _request_header(headers: Headers, name: bytes) -> bytes | None:
    values = [v for k, v in headers if k.lower() == name]
    return b", ".join(values) if values else None


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
        if any(name in (b"cookie", b"authorization") for name, _ in scope.get("headers") or []):
            await self.app(scope, receive, send)
            return
        self._check_version()
        key = cache_key(scope)
        entry = self._entries.get(key)
        if entry is not None and time.monotonic() - entry.stored < self.max_age and self._matches(entry, scope):
            self._entries.move_to_end(key)
            self.hits += 1
            await send({"type": "http.response.start", "status": entry.status,
                        "headers": [*entry.headers, (CACHE_HEADER, b"hit")]})
            await send({"type": "http.response.body", "body": entry.body})
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
        seen = self._seen
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                message = {**message, "headers": [*message.get("headers", []), (CACHE_HEADER, b"miss")]}
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and seen == self._seen:
                    self._keep(key, scope, start, b"".join(chunks))
            await send(message)

        await self.app(scope, receive, capture)

    def _keep(self, key: str, scope: Scope, start: Message, body: bytes) -> None:
        headers = [(bytes(k).lower(), bytes(v)) for k, v in start.get("headers", [])]
        names = _vary_names(headers)
        if (start.get("status") != 200 or len(body) > self.max_bytes // 16 or not _shareable(headers)
                or names is None):
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._size -= len(old.body)
        request = scope.get("headers") or []
        varies = tuple((name, _request_header(request, name)) for name in names)
        self._entries[key] = _Entry(int(start["status"]), headers, body, time.monotonic(), varies)
        self._size += len(body)
        while self._size > self.max_bytes and self._entries:
            _, dropped = self._entries.popitem(last=False)
            self._size -= len(dropped.body)


def _shareable(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"set-cookie":
            return False
        if name == b"cache-control" and (b"no-store" in value or b"private" in value):
            return False
        if name == b"content-type" and value.lower().startswith(b"image/"):
            return False
    return True
