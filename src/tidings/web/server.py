"""The HTTP server: uvicorn with its httptools parser, plus bounds on what one client can make it hold.

uvicorn's httptools protocol (0.55) bounds neither the size of a request head nor the number of its header fields
(its ``h11_max_incomplete_event_size`` applies to h11 only: 4 sockets × 96 MB of unfinished headers took the
server from 133 to 600 MB), nor the time a head may take to arrive (``timeout_keep_alive`` runs only between
requests and the first byte stops it: a slowloris socket is held for ever), nor connections per client
(``limit_concurrency`` is global and answers 503 to everyone once full). ``LimitedProtocol`` is a small
subclass of uvicorn's protocol that adds those bounds (ServerLimits: TIDINGS_MAX_HEADER_BYTES and the rest),
so parsing, keep-alive, pipelining and ASGI stay uvicorn's, kept fast.

Forwarded headers (X-Forwarded-For, X-Forwarded-Proto) are believed only from TIDINGS_TRUSTED_PROXIES (uvicorn's
default believes them from 127.0.0.1, so a forged header got fresh login attempts and could lock the admin out
by naming the admin's address); uvicorn's own ProxyHeadersMiddleware does the rewriting, which takes IPs and
networks (CIDR).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections import Counter
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from tidings.config import ServerLimits
from tidings.errors import UserError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
STARTUP_FAILURE = 3  # uvicorn.run's exit status when the server did not start


def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """TIDINGS_TRUSTED_PROXIES as networks; anything but an IP or a CIDR network is refused (uvicorn would take
    it silently as a literal that never matches)."""
    nets = []
    for entry in entries:
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise UserError(f"TIDINGS_TRUSTED_PROXIES: {entry!r} is neither an IP address nor a network "
                            "(e.g. 10.0.0.0/8)") from None
    return tuple(nets)


def _within(host: str, nets: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(ip in net for net in nets)


def _head_size(protocol: HttpToolsProtocol) -> int:
    """The URL and header fields of the head just parsed (without the method, version and line ends' slack)."""
    return len(protocol.url) + sum(len(name) + len(value) + 4 for name, value in protocol.headers)


class _HeadRefused(Exception):
    """Raised from a parser callback to stop parsing a request head that is over a limit."""


class ConnectionCounts:
    """Open connections of one server: in all, and by client address (trusted proxies are not counted there)."""

    def __init__(self) -> None:
        self.total = 0
        self.by_client: Counter[str] = Counter()


def limited_protocol(limits: ServerLimits) -> type[HttpToolsProtocol]:
    """A protocol class for one server: the class holds that server's connection counts (all on its one loop)."""
    proxies = trusted_networks(limits.trusted_proxies)

    class LimitedProtocol(HttpToolsProtocol):
        # What runs per request is kept to a few attribute updates: this sits on every request's path.
        counts = ConnectionCounts()

        def __init__(self, config: uvicorn.Config, server_state: ServerState, app_state: dict[str, Any],
                     _loop: asyncio.AbstractEventLoop | None = None) -> None:
            super().__init__(config, server_state, app_state, _loop)
            self._counted_as: str | None = None  # the address this connection is counted under ("" for a proxy)
            self._head_deadline: float | None = None  # when the awaited head must be complete; None: none awaited
            self._head_timer: asyncio.TimerHandle | None = None
            self._in_head = True  # (the rest of) a request line and headers is awaited
            self._unparsed = 0    # bytes received since this head began, while it was still incomplete
            self._chunk = 0       # the size of the chunk being parsed
            self._refusal: tuple[int, str] | None = None

        # -- connections per client, and in all

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            host = self.client[0] if self.client else ""
            key = "" if not host or _within(host, proxies) else host
            counts = self.counts
            if counts.total >= limits.max_connections or (
                    key and counts.by_client[key] >= limits.max_connections_per_client):
                self.transport.close()  # refused before reading a byte; connection_lost tidies up
                return
            counts.total += 1
            if key:
                counts.by_client[key] += 1
            self._counted_as = key
            self._expect_head()

        def connection_lost(self, exc: Exception | None) -> None:
            key, self._counted_as = self._counted_as, None
            if key is not None:
                self.counts.total -= 1
                if key:
                    self.counts.by_client[key] -= 1
                    if self.counts.by_client[key] <= 0:
                        del self.counts.by_client[key]
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
            super().connection_lost(exc)

        # -- the time a head may take: from the connection, or the previous response, to the end of the headers.
        # One timer per connection that re-arms itself, rather than a timer made and cancelled per request.

        def _expect_head(self) -> None:
            self._head_deadline = self.loop.time() + limits.header_timeout
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(limits.header_timeout, self._check_head)

        def _check_head(self) -> None:
            self._head_timer = None
            if self._head_deadline is None or self.transport.is_closing():
                return  # a request is being answered: its response's end sets the next deadline
            left = self._head_deadline - self.loop.time()
            if left > 0:
                self._head_timer = self.loop.call_later(left, self._check_head)
            else:
                self.transport.close()  # as uvicorn's keep-alive timeout does: no answer, just closed

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # Waiting for the next head, unless a pipelined one has already arrived (and is now running).
            if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
                self._expect_head()

        # -- the size of a head, and its number of fields

        def data_received(self, data: bytes) -> None:
            if self.transport.is_closing():
                return
            self._chunk = len(data)
            super().data_received(data)
            # httptools buffers a header until it is complete, out of sight: bound it by what has arrived.
            # Counted after parsing, so a chunk whose head completes (followed by a body) is not counted; when a
            # pipelined request begins mid-chunk the previous one's tail is counted too, which errs on the safe side.
            if self._in_head and not self.transport.is_closing():
                self._unparsed += len(data)
                if self._unparsed > limits.max_header_bytes:
                    self._send_refusal(431, "Request header fields too large")

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head, self._unparsed = True, 0

        def on_headers_complete(self) -> None:
            self._in_head, self._head_deadline = False, None
            if len(self.headers) > limits.max_headers:
                self._refuse_in_parser(431, "Too many header fields")
            # A head that arrived whole within one chunk escaped the count above: measure it, when it could be big.
            if self._unparsed + self._chunk > limits.max_header_bytes and _head_size(self) > limits.max_header_bytes:
                self._refuse_in_parser(431, "Request header fields too large")
            super().on_headers_complete()

        def _refuse_in_parser(self, status: int, text: str) -> None:
            # httptools turns an exception in a callback into a parser error, which uvicorn answers with
            # send_400_response (below): the refusal noted here picks the answer.
            self._refusal = (status, text)
            raise _HeadRefused(text)

        def send_400_response(self, msg: str) -> None:
            refusal, self._refusal = self._refusal, None
            if refusal is None:
                super().send_400_response(msg)
            else:
                self._send_refusal(*refusal)

        def _send_refusal(self, status: int, text: str) -> None:
            self._head_deadline = None
            body = text.encode("ascii")
            head = [STATUS_LINE[status]]
            head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
            head += [b"content-type: text/plain; charset=utf-8\r\n",
                     b"content-length: %d\r\n" % len(body), b"connection: close\r\n\r\n"]
            self.transport.write(b"".join(head) + body)
            self.transport.close()

    return LimitedProtocol


def make_config(app: Any, host: str, port: int, *, limits: ServerLimits | None = None,
                log_level: str = "warning") -> uvicorn.Config:
    """uvicorn's settings for serving ``app``: the limited protocol, and forwarded headers only from trusted proxies."""
    limits = limits or ServerLimits.from_env()
    proxies = [str(net) for net in trusted_networks(limits.trusted_proxies)]
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level,
        http=limited_protocol(limits),
        ws="none",  # no WebSockets here; an upgraded connection would leave the protocol and its counts
        proxy_headers=bool(proxies), forwarded_allow_ips=proxies,  # a list, so FORWARDED_ALLOW_IPS is not read
        # limit_concurrency is left off: the protocol caps connections itself (refusing new ones instead of
        # answering every request 503 once full), and each connection runs at most one request at a time.
    )


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound here so that an address in use or a host that does not resolve is one clear
    line (uvicorn would log it and exit); options as uvicorn's own."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def serve(app: Any, sock: socket.socket, *, limits: ServerLimits | None = None) -> None:
    """Serve ``app`` on ``sock`` (see ``listen``) until stopped (Ctrl-C, SIGTERM), as uvicorn.run would."""
    host, port = sock.getsockname()[:2]
    server = uvicorn.Server(make_config(app, host, port, limits=limits))
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)
