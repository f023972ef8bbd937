"""Polite HTTP fetching of feeds and article pages.

One ``Fetcher`` is shared by everything that polls the web. It keeps a small number of requests in flight per
host, spaces request starts to one host, honours robots.txt on request, sends conditional GETs, caps body size
and never raises for network trouble: every failure comes back as a ``FetchResult`` with ``error`` set.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType

import httpx
from protego import Protego

log = logging.getLogger(__name__)

USER_AGENT = "Tidings/0.1 (+https://github.com/tidings-news/tidings; self-hosted news aggregator)"

_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
    "text/xml;q=0.9, text/html;q=0.8, */*;q=0.5"
)
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_ROBOTS_MAX_BYTES = 512 * 1024  # the first 500 KiB of a robots.txt is all crawlers are expected to read
_ROBOTS_TTL = 24 * 3600.0  # RFC 9309: do not trust a cached robots.txt for longer than a day


def allow_private_from_env() -> bool:
    """Whether ``TIDINGS_ALLOW_PRIVATE_NETWORKS`` asks to let fetches reach private and loopback addresses."""
    value = os.environ.get("TIDINGS_ALLOW_PRIVATE_NETWORKS", "")
    return value.strip().lower() in {"1", "true", "yes"}


@dataclass
class FetchResult:
    """The outcome of one fetch. ``status`` is 0 when no usable response was had (see ``error``)."""

    url: str
    final_url: str
    status: int
    content: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    retry_after: float | None = None
    max_age: float | None = None
    error: str | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 and self.error is None


@dataclass
class FetchSettings:
    user_agent: str = USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    per_host: int = 2
    min_delay: float = 1.0
    jitter: float = 0.5
    allow_private: bool = False


class HostLimiter:
    """Per-host politeness: at most ``per_host`` holders of a slot, and request starts spaced by a delay.

    The delay is ``min_delay`` plus a random 0..``jitter`` seconds, counted between the moments two slots for
    the same host were granted. Different keys never wait on each other.
    """

    def __init__(
        self,
        per_host: int,
        min_delay: float,
        jitter: float,
        rand: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self._per_host = max(1, per_host)
        self._min_delay = max(0.0, min_delay)
        self._jitter = max(0.0, jitter)
        self._rand = rand
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._turns: dict[str, asyncio.Lock] = {}
        self._next_start: dict[str, float] = {}

    @asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        slots = self._slots.setdefault(key, asyncio.Semaphore(self._per_host))
        async with slots:
            await self._wait_turn(key)
            yield

    async def _wait_turn(self, key: str) -> None:
        # The lock queues waiters so each one sees the start time booked by the one before it.
        async with self._turns.setdefault(key, asyncio.Lock()):
            loop = asyncio.get_running_loop()
            wait = self._next_start.get(key, 0.0) - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            gap = self._min_delay + (self._rand(0.0, self._jitter) if self._jitter else 0.0)
            self._next_start[key] = loop.time() + gap


@dataclass
class _Response:
    """One HTTP exchange, reduced to what a FetchResult needs."""

    status: int
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    content: bytes = b""
    error: str | None = None


@dataclass
class _Robots:
    rules: Protego | None  # None: everything allowed
    expires: float


class Fetcher:
    """Shared HTTP client for feeds and pages; use as ``async with Fetcher() as f: await f.fetch(url)``."""

    def __init__(
        self, settings: FetchSettings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings or FetchSettings()
        s = self.settings
        self._limiter = HostLimiter(s.per_host, s.min_delay, s.jitter)
        self._client = httpx.AsyncClient(
            transport=transport,
            headers={"User-Agent": s.user_agent, "Accept": _ACCEPT},
            timeout=httpx.Timeout(
                connect=s.connect_timeout, read=s.read_timeout, write=s.read_timeout, pool=s.connect_timeout
            ),
            follow_redirects=False,  # followed by hand so every hop goes through the host limiter
        )
        self._robots: dict[str, _Robots] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._robot_token = _product_token(s.user_agent)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        check_robots: bool = False,
    ) -> FetchResult:
        """GET ``url`` politely. ``elapsed`` is the whole call, waits for the host's turn included."""
        started = time.monotonic()
        result = await self._fetch(url, etag, last_modified, check_robots)
        result.elapsed = time.monotonic() - started
        return result

    async def robots_allows(self, url: str) -> bool:
        """Whether robots.txt lets Tidings fetch ``url``; a missing or unreadable robots.txt allows all."""
        target = _parse_url(url)
        if target is None:
            return True
        origin = f"{target.scheme}://{_host_key(target)}"
        async with self._robots_locks.setdefault(origin, asyncio.Lock()):
            cached = self._robots.get(origin)
            if cached is None or cached.expires < time.monotonic():
                cached = _Robots(await self._load_robots(origin), time.monotonic() + _ROBOTS_TTL)
                self._robots[origin] = cached
        return cached.rules is None or cached.rules.can_fetch(str(target), self._robot_token)

    async def _load_robots(self, origin: str) -> Protego | None:
        robots_url = f"{origin}/robots.txt"
        res = await self._get(robots_url, {}, min(self.settings.max_bytes, _ROBOTS_MAX_BYTES), False)
        if res.ok:
            return Protego.parse(res.content.decode("utf-8", errors="replace"))
        if 400 <= res.status < 500:
            return None
        log.warning("robots.txt unreadable, treating %s as allowed: %s", robots_url, res.error)
        return None

    async def _fetch(
        self, url: str, etag: str | None, last_modified: str | None, check_robots: bool
    ) -> FetchResult:
        headers: dict[bytes, bytes] = {}
        for name, value in ((b"If-None-Match", etag), (b"If-Modified-Since", last_modified)):
            raw = _header_bytes(value)
            if raw:
                headers[name] = raw
        result = await self._get(url, headers, self.settings.max_bytes, check_robots)
        if result.status == 304:
            result.etag = result.etag or etag
            result.last_modified = result.last_modified or last_modified
        return result

    async def _get(
        self, url: str, headers: dict[bytes, bytes], max_bytes: int, check_robots: bool
    ) -> FetchResult:
        """Follow redirects by hand; ``total_timeout`` bounds the network time of all hops together."""
        target = _parse_url(url)
        if target is None:
            scheme_ok = url.strip().lower().startswith(("http://", "https://"))
            return FetchResult(url, url, 0, error="invalid URL" if scheme_ok else "unsupported URL scheme")
        budget = self.settings.total_timeout
        status = 0
        for _ in range(max(0, self.settings.max_redirects) + 1):
            if check_robots and not await self.robots_allows(str(target)):
                return FetchResult(url, str(target), 0, error="disallowed by robots.txt")
            started = time.monotonic()
            response = await self._hop(target, headers, max_bytes, budget)
            budget -= time.monotonic() - started
            status = response.status
            location = response.headers.get("location") if response.status in _REDIRECT_CODES else None
            if not location:
                return _to_result(url, str(target), response)
            try:
                following = _parse_url(str(target.join(location.strip())))
            except (httpx.InvalidURL, ValueError):
                following = None
            if following is None:
                return FetchResult(url, str(target), response.status, error="bad redirect location")
            target = following
        return FetchResult(url, str(target), status, error="too many redirects")

    async def _hop(
        self, target: httpx.URL, headers: dict[bytes, bytes], max_bytes: int, budget: float
    ) -> _Response:
        async with self._limiter.slot(_host_key(target)):
            try:
                return await asyncio.wait_for(self._exchange(target, headers, max_bytes), max(budget, 0.0))
            except (TimeoutError, httpx.TimeoutException):
                return _Response(0, error="timeout")
            except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, ValueError, OSError) as exc:
                return _Response(0, error=_describe(exc))

    async def _exchange(self, target: httpx.URL, headers: dict[bytes, bytes], max_bytes: int) -> _Response:
        request = self._client.build_request("GET", target, headers=headers)
        response = await self._client.send(request, stream=True)
        try:
            if not response.is_success:
                return _Response(response.status_code, response.headers)
            content = await _read_capped(response, max_bytes)
            if content is None:
                return _Response(0, response.headers, error=f"response larger than {_size(max_bytes)}")
            return _Response(response.status_code, response.headers, content)
        finally:
            await response.aclose()


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes | None:
    """The decoded body, or None as soon as it grows past ``max_bytes`` (a small gzip can inflate hugely)."""
    declared = response.headers.get("content-length", "")
    if _is_digits(declared) and "content-encoding" not in response.headers and int(declared) > max_bytes:
        return None
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _to_result(url: str, final_url: str, response: _Response) -> FetchResult:
    status = response.status
    h = response.headers
    result = FetchResult(
        url=url,
        final_url=final_url,
        status=status,
        content=response.content,
        content_type=h.get("content-type", ""),
        etag=h.get("etag"),
        last_modified=h.get("last-modified"),
        not_modified=status == 304,
        error=response.error,
    )
    if status in (429, 503):
        result.retry_after = parse_retry_after(h.get("retry-after"))
    if 200 <= status < 300 or status == 304:
        result.max_age = parse_max_age(h.get("cache-control"))
    # A 304 answers a conditional GET as hoped: not_modified says so, it is no error.
    if result.error is None and status and not 200 <= status < 300 and status != 304:
        result.error = f"HTTP {status}"
    return result


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP-date (past dates give 0)."""
    value = (value or "").strip()
    if _is_digits(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def parse_max_age(value: str | None) -> float | None:
    """The ``max-age`` of a Cache-Control header in seconds, or None when absent or malformed."""
    if not value:
        return None
    for directive in value.split(","):
        name, _, arg = directive.strip().partition("=")
        if name.strip().lower() == "max-age":
            arg = arg.strip().strip('"')
            return float(arg) if _is_digits(arg) else None
    return None


def _header_bytes(value: str | None) -> bytes | None:
    """A stored validator as header bytes; None for one that cannot be sent (a fetch without it still works).

    Servers sometimes send non-ASCII validators; UTF-8 gives back the bytes httpx decoded them from.
    """
    if not value or any(c in value for c in "\r\n\0"):
        return None
    return value.encode("utf-8")


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _parse_url(url: str) -> httpx.URL | None:
    """An absolute http(s) URL with a host, or None."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return None
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return None  # the socket layer would raise OverflowError, which is no network error
    return parsed


def _host_key(url: httpx.URL) -> str:
    port = url.port or (443 if url.scheme == "https" else 80)
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{host}:{port}"


def _product_token(user_agent: str) -> str:
    """The robots.txt name of a User-Agent: ``Tidings/0.1 (...)`` -> ``Tidings``."""
    words = user_agent.split()
    return words[0].split("/")[0] if words else ""


def _describe(exc: BaseException) -> str:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed: {detail}"
    if isinstance(exc, httpx.DecodingError):
        return f"could not decode body: {detail}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"protocol error: {detail}"
    return f"{type(exc).__name__}: {detail}"


def _size(n: int) -> str:
    mb = 1024 * 1024
    if n >= mb and n % mb == 0:
        return f"{n // mb} MB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KB"
    return f"{n} bytes"
