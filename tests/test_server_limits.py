"""The server bounds what a client can make it hold, and the login limit keys on the real client.

A real server (uvicorn with tidings.web.server's settings, in a thread) on a free port of 127.0.0.1, and a bounded
loopback client: a fixed, small number of sockets and bytes, each socket with a timeout, so a server that does not
bound something makes a test fail (a recv timing out) instead of hang. One test goes through `tidings serve`.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from test_admin import form_token
from tidings.config import ServerLimits
from tidings.errors import UserError
from tidings.storage.sqlite import SQLiteStore
from tidings.storage.store import Store
from tidings.web.app import create_app
from tidings.web.server import make_config, trusted_networks

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.load import serving

SECRET = "limits-secret-limits-secret-0123"
WRONG = "not-the-secret-not-the-secret"
PATH = "/api/stories?limit=1"
TIMEOUT = 15.0  # seconds any one socket operation may take: what bounds a test against a server that holds on
MB = 1024 * 1024


@dataclass
class Live:
    port: int
    counts: Any  # the protocol class's ConnectionCounts: open connections, in all and by client address

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def live(store: Store, limits: ServerLimits) -> Iterator[Live]:
    """The site over ``store`` served as `tidings serve` serves it, in a thread; stopped on exit."""
    config = make_config(create_app(store, SECRET, analyse=False), "127.0.0.1", 0, limits=limits)
    config.timeout_keep_alive = 60  # idle keep-alive sockets stay open while a test holds them
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="limits-server", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), "the server to start")
        assert server.started, "the server did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield Live(port, config.http_protocol_class.counts)  # type: ignore[attr-defined]
    finally:
        server.should_exit = True
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "the server did not stop"


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


def get(path: str = PATH, *headers: str, keep_alive: bool = False) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def until_closed(sock: socket.socket, limit: int = MB) -> bytes:
    """What the server sends until it closes the connection (a reset counts as closed); a server that keeps it
    open makes recv time out."""
    got = b""
    try:
        while len(got) < limit:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
    except ConnectionResetError:
        pass
    return got


def one_response(sock: socket.socket) -> tuple[int, bytes]:
    """Status and body of one response on a kept-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a whole response: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    assert length, head
    while len(body) < int(length.group(1)):
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return int(head.split(b" ", 2)[1]), body


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split(b" ", 2)[1])


def still_serves(srv: Live) -> None:
    r = httpx.get(srv.base + PATH, timeout=TIMEOUT, trust_env=False)
    assert r.status_code == 200


# -- request heads: size, fields, time ---------------------------------------------------------------------


def test_a_megabyte_of_unfinished_headers_is_cut_off(store: Store) -> None:
    with live(store, ServerLimits()) as srv:
        with connect(srv.port) as sock:
            try:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: ")
                for _ in range(16):  # 16 × 64 KiB: 1 MiB of one header that never ends
                    sock.sendall(b"a" * 65536)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server closed while we were still sending
            answer = until_closed(sock)
        assert answer == b"" or status_of(answer) == 431
        wait_until(lambda: srv.counts.total == 0, "the connection to be gone")
        still_serves(srv)


def test_a_whole_head_over_the_limit_gets_431_and_bodies_do_not_count(store: Store) -> None:
    with live(store, ServerLimits(max_header_bytes=4096)) as srv:
        with connect(srv.port) as sock:
            sock.sendall(get(PATH, "X-Filler: " + "a" * 8000))
            assert status_of(until_closed(sock)) == 431
        with connect(srv.port) as sock:
            sock.sendall(get(PATH, "X-Filler: " + "a" * 3000))
            assert status_of(until_closed(sock)) == 200
        with connect(srv.port) as sock:  # head and a 20 KB body in one go: only the head is a head
            body = b"x" * 20_000
            sock.sendall(b"POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                         b"Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            assert status_of(until_closed(sock)) != 431


def test_more_than_100_header_fields_get_431(store: Store) -> None:
    with live(store, ServerLimits()) as srv:
        with connect(srv.port) as sock:  # Host, Connection and 98 more: 100 fields
            sock.sendall(get(PATH, *(f"X-Field-{n}: {n}" for n in range(98))))
            assert status_of(until_closed(sock)) == 200
        with connect(srv.port) as sock:  # Host, Connection and 99 more: 101
            sock.sendall(get(PATH, *(f"X-Field-{n}: {n}" for n in range(99))))
            assert status_of(until_closed(sock)) == 431
        still_serves(srv)


def test_a_head_that_stops_arriving_is_closed(store: Store) -> None:
    with live(store, ServerLimits(header_timeout=1.0)) as srv, ExitStack() as stack:
        silent = stack.enter_context(connect(srv.port))  # connects, sends nothing
        half = stack.enter_context(connect(srv.port))  # sends half a header line and stops
        half.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
        after = stack.enter_context(connect(srv.port))  # one whole request, then half of the next
        after.sendall(get(keep_alive=True))
        assert one_response(after)[0] == 200
        after.sendall(b"GET / HTTP/1.1\r\nHo")
        for sock in (silent, half, after):
            assert until_closed(sock) == b""
        wait_until(lambda: srv.counts.total == 0, "the connections to be gone")
        still_serves(srv)


# -- connections per client --------------------------------------------------------------------------------


def test_connections_beyond_64_from_one_client_are_closed_at_once(store: Store) -> None:
    with live(store, ServerLimits(header_timeout=60.0)) as srv, ExitStack() as stack:
        held = [stack.enter_context(connect(srv.port)) for _ in range(64)]
        wait_until(lambda: srv.counts.by_client["127.0.0.1"] == 64, "64 connections to be open")
        extra = [stack.enter_context(connect(srv.port)) for _ in range(6)]
        for sock in extra:
            assert until_closed(sock) == b""
        assert srv.counts.by_client["127.0.0.1"] == 64 and srv.counts.total == 64
        held[0].sendall(get(keep_alive=True))  # the ones within the cap are served
        assert one_response(held[0])[0] == 200
        stack.close()
        wait_until(lambda: srv.counts.total == 0, "the connections to be gone")
        still_serves(srv)


def test_trusted_proxies_are_not_capped_per_client(store: Store) -> None:
    limits = ServerLimits(max_connections_per_client=2, trusted_proxies=("127.0.0.0/8",))
    with live(store, limits) as srv, ExitStack() as stack:
        for _ in range(4):
            stack.enter_context(connect(srv.port))
        wait_until(lambda: srv.counts.total == 4, "4 connections to be open")
        assert not srv.counts.by_client


def test_connections_beyond_the_global_cap_are_closed_at_once(store: Store) -> None:
    with live(store, ServerLimits(max_connections=3)) as srv, ExitStack() as stack:
        for _ in range(3):
            stack.enter_context(connect(srv.port))
        wait_until(lambda: srv.counts.total == 3, "3 connections to be open")
        assert until_closed(stack.enter_context(connect(srv.port))) == b""


# -- forwarded headers and the login limit -----------------------------------------------------------------


def login_attempts(base: str, forwarded_for: list[str | None], secret: str = WRONG) -> list[int]:
    """Statuses of a login try per entry, each sending that X-Forwarded-For (None: none)."""
    with httpx.Client(base_url=base, timeout=TIMEOUT, trust_env=False) as client:
        token = form_token(client.get("/login").text)
        statuses = []
        for n, xff in enumerate(forwarded_for):
            headers = {"X-Forwarded-For": xff} if xff else {}
            r = client.post("/login", headers=headers, follow_redirects=False,
                            data={"secret": secret if n == len(forwarded_for) - 1 else WRONG, "csrf_token": token})
            statuses.append(r.status_code)
            if r.status_code in (401, 429):
                token = form_token(r.text)
        return statuses


def test_forged_forwarded_for_does_not_reset_the_login_limit(store: Store) -> None:
    with live(store, ServerLimits()) as srv:
        statuses = login_attempts(srv.base, [f"198.51.100.{n}" for n in range(11)], secret=SECRET)
    assert statuses == [401] * 10 + [429]


def test_forwarded_for_is_believed_from_a_trusted_proxy(store: Store) -> None:
    with live(store, ServerLimits(trusted_proxies=("127.0.0.1",))) as srv:
        assert login_attempts(srv.base, ["203.0.113.5"] * 11) == [401] * 10 + [429]
        assert login_attempts(srv.base, ["203.0.113.6"], secret=SECRET) == [303]  # another client behind it
        assert login_attempts(srv.base, [None]) == [401]  # the proxy itself, its own address


def test_tidings_serve_ignores_forged_forwarded_for(tmp_path: Path) -> None:
    db = tmp_path / "serve.db"
    SQLiteStore(db).close()
    with serving(db, env={"TIDINGS_EMBEDDER": "hashing", "TIDINGS_ADMIN_SECRET": SECRET,
                          "TIDINGS_TRUSTED_PROXIES": None, "FORWARDED_ALLOW_IPS": None}) as served:
        statuses = login_attempts(served.base_url, [f"198.51.100.{n}" for n in range(11)], secret=SECRET)
    assert statuses == [401] * 10 + [429]


# -- settings ----------------------------------------------------------------------------------------------


def test_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TIDINGS_MAX_HEADER_BYTES", "TIDINGS_HEADER_TIMEOUT", "TIDINGS_MAX_CONNECTIONS_PER_CLIENT",
                 "TIDINGS_MAX_CONNECTIONS", "TIDINGS_TRUSTED_PROXIES"):
        monkeypatch.delenv(name, raising=False)
    assert ServerLimits.from_env() == ServerLimits()
    monkeypatch.setenv("TIDINGS_MAX_HEADER_BYTES", "32768")
    monkeypatch.setenv("TIDINGS_HEADER_TIMEOUT", "2.5")
    monkeypatch.setenv("TIDINGS_MAX_CONNECTIONS_PER_CLIENT", "junk")
    monkeypatch.setenv("TIDINGS_MAX_CONNECTIONS", "0")
    monkeypatch.setenv("TIDINGS_TRUSTED_PROXIES", " 10.0.0.0/8, ::1 ,")
    limits = ServerLimits.from_env()
    assert (limits.max_header_bytes, limits.header_timeout) == (32768, 2.5)
    assert (limits.max_connections_per_client, limits.max_connections) == (64, 1000)  # unusable: the defaults
    assert limits.trusted_proxies == ("10.0.0.0/8", "::1")
    config = make_config(object(), "127.0.0.1", 0, limits=limits)
    assert config.proxy_headers and config.forwarded_allow_ips == ["10.0.0.0/8", "::1/128"]
    config = make_config(object(), "127.0.0.1", 0, limits=ServerLimits())
    assert not config.proxy_headers and config.forwarded_allow_ips == []


def test_a_trusted_proxy_must_be_an_address_or_a_network() -> None:
    for bad in ("*", "proxy.example", "10.0.0.0/33"):
        with pytest.raises(UserError, match="TIDINGS_TRUSTED_PROXIES"):
            trusted_networks((bad,))
