"""No server-side request forgery: Tidings fetches only from addresses its policy allows, on every hop.

The suite runs with TIDINGS_ALLOW_PRIVATE_NETWORKS=1 (conftest), so every test here builds its FetchSettings
with ``allow_private`` spelled out. Each refusal is checked twice: the error says why, and the server behind the
address saw no request. Controls with the policy relaxed show the same URL does reach that server.
"""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpcore
import pytest

from newsserver import NewsServer
from tidings.cli import main
from tidings.ingest.fetch import (
    AddressPolicy,
    Fetcher,
    FetchResult,
    FetchSettings,
    IPAddress,
    address_kind,
    literal_address,
    public_only,
)
from tidings.ingest.pipeline import refresh_feed
from tidings.storage.sqlite import SQLiteStore
from tidings.storage.store import Store

HINT = "set TIDINGS_ALLOW_PRIVATE_NETWORKS=1 to allow private networks"


def settings(allow_private: bool = False, **kw: Any) -> FetchSettings:
    return FetchSettings(allow_private=allow_private, min_delay=0.0, jitter=0.0, connect_timeout=2.0,
                         read_timeout=3.0, total_timeout=5.0, **kw)


def fetch(s: FetchSettings, *urls: str) -> list[FetchResult]:
    async def run() -> list[FetchResult]:
        async with Fetcher(s) as f:
            return [await f.fetch(u) for u in urls]

    return asyncio.run(run())


def only(*allowed: str) -> AddressPolicy:
    """A policy for tests: the named loopback addresses count as public, everything else as the default says."""
    def policy(ip: IPAddress) -> str | None:
        return None if str(ip) in allowed else (address_kind(ip) or None)

    return policy


def can_bind(host: str) -> bool:
    try:
        with socket.socket() as s:
            s.bind((host, 0))
    except OSError:
        return False
    return True


@pytest.fixture
def second_host() -> Iterator[NewsServer]:
    """A server on 127.0.0.2: another loopback address on Linux; skipped where it cannot be bound."""
    if not can_bind("127.0.0.2"):
        pytest.skip("cannot bind 127.0.0.2 on this system")
    with NewsServer("127.0.0.2") as server:
        yield server


# --- which addresses are refused -------------------------------------------------------------------------

KINDS = [
    ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("::1", "loopback"),
    ("10.0.0.1", "private"), ("172.16.5.4", "private"), ("172.31.255.255", "private"),
    ("192.168.1.1", "private"), ("fc00::1", "private"), ("fd12:3456::1", "private"),
    ("169.254.169.254", "cloud metadata"), ("fd00:ec2::254", "cloud metadata"),
    ("169.254.1.1", "link-local"), ("fe80::1", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"), ("100.127.255.254", "carrier-grade NAT"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"), ("192.0.2.1", "reserved"),
    ("198.18.0.1", "reserved"), ("2001:db8::1", "reserved"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.1.2.3", "private"), ("::ffff:169.254.169.254", "cloud metadata"),
    ("64:ff9b::a9fe:a9fe", "cloud metadata"), ("2002:c0a8:0101::1", "private"),
    ("8.8.8.8", None), ("93.184.216.34", None), ("172.32.0.1", None), ("100.128.0.1", None),
    ("2606:4700:4700::1111", None), ("::ffff:8.8.8.8", None),
]


@pytest.mark.parametrize(("address", "kind"), KINDS)
def test_address_kinds(address: str, kind: str | None) -> None:
    assert address_kind(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(("address", "kind"), [k for k in KINDS if k[1] is not None])
def test_literal_ip_urls_are_refused(address: str, kind: str) -> None:
    host = f"[{address}]" if ":" in address else address
    [res] = fetch(settings(), f"http://{host}:8080/feed.xml")
    article = "an" if kind[0] in "aeiou" else "a"
    expected = f"refused: {address} is {article} {kind} address"
    assert res.status == 0 and not res.ok
    assert res.error is not None and res.error.startswith(expected)
    assert res.error.endswith(HINT) == (kind in ("loopback", "private", "carrier-grade NAT"))


def test_allow_private_opens_private_kinds_only() -> None:
    policy = public_only(allow_private=True)
    allowed = {a for a, k in KINDS if k in (None, "loopback", "private", "carrier-grade NAT")}
    assert {a for a, _ in KINDS if policy(ipaddress.ip_address(a)) is None} == allowed


# Every IPv6 form that carries an IPv4 address is judged by that address; Teredo carries two (server, and the
# client XOR 0xffffffff) and the stricter counts. Deprecated site-local fec0::/10 is never fetched from.
TEREDO = "2001:0:4136:e378:8000:63bf:"  # Teredo prefix, server 65.54.227.120, flags and port; client follows
EMBEDDED = [
    # IPv4-compatible ::a.b.c.d (RFC 4291, deprecated); :: and ::1 are in KINDS
    ("::127.0.0.1", "loopback"), ("::10.1.2.3", "private"), ("::100.64.0.1", "carrier-grade NAT"),
    ("::169.254.169.254", "cloud metadata"), ("::169.254.0.1", "link-local"), ("::224.0.0.1", "multicast"),
    ("::0.0.0.2", "reserved"), ("::8.8.8.8", None),
    # IPv4-translated ::ffff:0:a.b.c.d (RFC 2765)
    ("::ffff:0:127.0.0.1", "loopback"), ("::ffff:0:192.168.0.1", "private"),
    ("::ffff:0:169.254.169.254", "cloud metadata"), ("::ffff:0:8.8.8.8", None),
    # IPv4-mapped ::ffff:a.b.c.d, beyond the ones in KINDS
    ("::ffff:169.254.1.1", "link-local"), ("::ffff:100.64.0.1", "carrier-grade NAT"),
    # NAT64, well-known prefix 64:ff9b::/96 (RFC 6052)
    ("64:ff9b::127.0.0.1", "loopback"), ("64:ff9b::10.0.0.1", "private"), ("64:ff9b::169.254.1.1", "link-local"),
    ("64:ff9b::8.8.8.8", None),
    # NAT64, local-use prefix 64:ff9b:1::/48 (RFC 8215): read as /96 when bits 48-95 are zero, else every layout
    ("64:ff9b:1::127.0.0.1", "loopback"), ("64:ff9b:1::172.16.0.1", "private"),
    ("64:ff9b:1::169.254.169.254", "cloud metadata"), ("64:ff9b:1::8.8.8.8", None),
    ("64:ff9b:1:a9fe:a9:fe00::", "cloud metadata"),  # a /48 layout: 169.254.169.254 in bits 48-63 and 72-87
    ("64:ff9b:1:808:8:808:808:808", None),  # 8.8.8.8 in every layout
    # 6to4 2002::/16 (RFC 3056): the IPv4 address in bits 16-47
    ("2002:7f00:1::1", "loopback"), ("2002:a00:1::", "private"), ("2002:a9fe:a9fe::1", "cloud metadata"),
    ("2002:808:808::1", None),
    # Teredo 2001::/32 (RFC 4380): server in bits 32-63, client XOR 0xffffffff in the last 32 bits
    (TEREDO + "80ff:fffe", "loopback"), (TEREDO + "f5ff:fffe", "private"),
    (TEREDO + "5601:5601", "cloud metadata"), ("2001:0:a00:1::f7f7:f7f7", "private"),
    ("2001:0:a9fe:a9fe::f7f7:f7f7", "cloud metadata"), ("2001:0:a00:1::5601:fefe", "link-local"),
    (TEREDO + "f7f7:f7f7", None),
    # site-local fec0::/10 (RFC 3879, deprecated)
    ("fec0::1", "site-local"), ("fec0::a9fe:a9fe", "site-local"), ("feff:ffff::1", "site-local"),
]
PRIVATE = ("loopback", "private", "carrier-grade NAT")


def refused_kind(kind: str | None, allow_private: bool) -> str | None:
    return None if kind is None or (allow_private and kind in PRIVATE) else kind


def expected_dial(address: str) -> str:
    """Where a connection to ``address`` should go: the IPv4 address for the forms no IPv6 route leads to."""
    return address.rsplit(":", 1)[1] if address.startswith("::") else str(ipaddress.ip_address(address))


@pytest.fixture
def dialled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The addresses the fetcher opens sockets to. None is opened: every attempt fails at once (no network)."""
    calls: list[str] = []

    async def connect_tcp(self: object, host: str, port: int, **kw: object) -> httpcore.AsyncNetworkStream:
        calls.append(host)
        raise httpcore.ConnectError(f"test: no connection to {host}")

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", connect_tcp)
    return calls


@pytest.mark.parametrize(("address", "kind"), EMBEDDED)
def test_embedded_ipv4_forms_are_judged_by_the_ipv4_address(address: str, kind: str | None) -> None:
    assert address_kind(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("allow", [False, True], ids=["private-refused", "private-allowed"])
@pytest.mark.parametrize(("address", "kind"), EMBEDDED)
def test_embedded_forms_are_refused_before_any_connection(
        dialled: list[str], address: str, kind: str | None, allow: bool) -> None:
    """Each form twice: as a literal in the URL, and as what DNS returns for a name."""
    async def resolver(host: str, port: int) -> list[str]:
        return [address]

    s = settings(allow_private=allow, resolver=resolver)
    literal, named = fetch(s, f"http://[{address}]:8080/feed.xml", "http://embedded.test:8080/feed.xml")
    refused = refused_kind(kind, allow)
    if refused is None:  # allowed: the socket goes to the vetted address (here it fails at once, by the fixture)
        assert dialled == [expected_dial(address)] * 2
        for res in (literal, named):
            assert res.error is not None and res.error.startswith("connection failed: test: no connection")
        return
    what = f"{'an' if refused[0] in 'aeiou' else 'a'} {refused} address"
    resolved = f"embedded.test resolves to {ipaddress.ip_address(address)},"
    for res, shown in ((literal, f"{address} is"), (named, resolved)):
        assert res.status == 0 and res.error is not None and res.error.startswith(f"refused: {shown} {what}")
        assert res.error.endswith(HINT) == (refused in PRIVATE)
    assert dialled == []


@pytest.mark.parametrize(
    ("address", "error"),
    [("64:ff9b::a9fe:a9fe", "refused: 64:ff9b::a9fe:a9fe is a cloud metadata address (it embeds 169.254.169.254)"),
     ("::ffff:169.254.169.254", "refused: ::ffff:169.254.169.254 is a cloud metadata address"),
     ("2002:a9fe:a9fe::1", "refused: 2002:a9fe:a9fe::1 is a cloud metadata address (it embeds 169.254.169.254)"),
     (TEREDO + "5601:5601", f"refused: {TEREDO}5601:5601 is a cloud metadata address (it embeds 169.254.169.254)"),
     ("2001:0:a00:1::5601:fefe", "refused: 2001:0:a00:1::5601:fefe is a link-local address (it embeds 169.254.1.1)"),
     ("fec0::1", "refused: fec0::1 is a site-local address")],
)
def test_refusals_name_the_embedded_address_even_with_private_networks_allowed(
        dialled: list[str], address: str, error: str) -> None:
    [res] = fetch(settings(allow_private=True), f"http://[{address}]/feed.xml")
    assert res.error == error and dialled == []


@pytest.mark.parametrize("form", ["::127.0.0.1", "::ffff:0:127.0.0.1"])
def test_ipv4_compatible_loopback_is_refused_up_front_and_dialled_as_ipv4_when_allowed(
        news_server: NewsServer, form: str) -> None:
    news_server.add("/feed.xml", "<rss/>", "application/rss+xml")
    port = news_server.httpd.server_address[1]
    [refused] = fetch(settings(), f"http://[{form}]:{port}/feed.xml")
    assert refused.error == f"refused: {form} is a loopback address; {HINT}"  # a reason, not a connect timeout
    assert news_server.requests == []
    # allowed, it reaches the server on 127.0.0.1: the socket goes to the IPv4 address the form stands for
    [allowed] = fetch(settings(allow_private=True), f"http://[{form}]:{port}/feed.xml")
    assert allowed.ok and allowed.content == b"<rss/>" and news_server.hits("/feed.xml") == 1


def test_a_name_resolving_to_an_ipv4_compatible_loopback(news_server: NewsServer) -> None:
    news_server.add("/feed.xml", "<rss/>", "application/rss+xml")
    port = news_server.httpd.server_address[1]

    async def resolver(host: str, port: int) -> list[str]:
        return ["::7f00:1"]

    url = f"http://compat.test:{port}/feed.xml"
    [refused] = fetch(settings(resolver=resolver), url)
    assert refused.error == (
        f"refused: compat.test resolves to ::7f00:1, a loopback address (it embeds 127.0.0.1); {HINT}")
    assert news_server.requests == []
    [allowed] = fetch(settings(allow_private=True, resolver=resolver), url)
    assert allowed.ok and allowed.content == b"<rss/>"
    [(_, _, headers)] = news_server.requests
    assert headers["Host"] == f"compat.test:{port}"


@pytest.mark.parametrize(
    ("host", "address"),
    [("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("0x7f000001", "127.0.0.1"),
     ("0177.0.0.1", "127.0.0.1"), ("017700000001", "127.0.0.1"), ("127.1", "127.0.0.1"),
     ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"), ("10.1", "10.0.0.1"), ("[::1]", "::1"),
     ("example.com", None), ("cafe.be", None), ("0x7f.example", None)],
)
def test_literal_address_forms(host: str, address: str | None) -> None:
    found = literal_address(host)
    assert (str(found) if found else None) == address


def test_octal_dotted_form_is_not_even_a_url(news_server: NewsServer) -> None:
    port = news_server.httpd.server_address[1]
    for allow in (False, True):
        [res] = fetch(settings(allow_private=allow), f"http://0177.0.0.1:{port}/feed.xml")
        assert res.error == "invalid URL"  # httpx rejects a leading-zero octet before any lookup
    assert news_server.requests == []


@pytest.mark.parametrize("form", ["127.0.0.1", "2130706433", "0x7f.1", "0x7f000001", "017700000001", "127.1",
                                  "[::ffff:127.0.0.1]", "[::127.0.0.1]", "[::ffff:0:127.0.0.1]", "localhost"])
def test_every_spelling_of_loopback_is_refused_and_reaches_nothing(news_server: NewsServer, form: str) -> None:
    news_server.add("/feed.xml", "<rss/>", "application/rss+xml")
    port = news_server.httpd.server_address[1]
    url = f"http://{form}:{port}/feed.xml"  # the IPv6 forms are dialled as 127.0.0.1: no IPv6 route needed
    [refused] = fetch(settings(), url)
    assert refused.error is not None and refused.error.startswith(f"refused: {form.strip('[]')}")
    assert "loopback address" in refused.error and refused.error.endswith(HINT)
    assert news_server.hits("/feed.xml") == 0
    # control: with private networks allowed the very same URL reaches the server
    [allowed] = fetch(settings(allow_private=True), url)
    assert allowed.ok and news_server.hits("/feed.xml") == 1


def test_name_resolving_to_loopback_is_refused_with_the_address(news_server: NewsServer) -> None:
    news_server.add("/feed.xml", "<rss/>", "application/rss+xml")
    [res] = fetch(settings(), news_server.url("/feed.xml").replace("127.0.0.1", "localhost"))
    assert res.error is not None and res.error.startswith("refused: localhost resolves to ")
    assert "loopback address" in res.error and news_server.hits("/feed.xml") == 0


def test_a_name_with_one_private_address_among_public_ones_is_refused() -> None:
    calls: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["93.184.216.34", "10.0.0.7"]

    [res] = fetch(settings(resolver=resolver), "http://mixed.test/feed")
    assert res.error == f"refused: mixed.test resolves to 10.0.0.7, a private address; {HINT}"
    assert calls == ["mixed.test"]


# --- redirects: every hop is checked ---------------------------------------------------------------------


def test_redirect_to_a_private_address_is_refused(news_server: NewsServer, second_host: NewsServer) -> None:
    second_host.add("/secret", "internal data", "text/plain")
    target = second_host.url("/secret")
    news_server.add("/go", "", status=302, Location=target)
    news_server.add("/go-by-name", "", status=302, Location=target.replace("127.0.0.2", "intranet.test"))

    async def resolver(host: str, port: int) -> list[str]:
        return {"intranet.test": ["127.0.0.2"]}.get(host, [])

    s = settings(address_policy=only("127.0.0.1"), resolver=resolver)
    first, by_name = fetch(s, news_server.url("/go"), news_server.url("/go-by-name"))
    assert first.error == "refused: 127.0.0.2 is a loopback address; " + HINT
    assert first.final_url == target and not first.content
    assert by_name.error == "refused: intranet.test resolves to 127.0.0.2, a loopback address; " + HINT
    assert news_server.hits("/go") == 1 and second_host.hits("/secret") == 0
    # control: a policy that allows the second address follows the same redirect to it
    [followed] = fetch(settings(address_policy=only("127.0.0.1", "127.0.0.2")), news_server.url("/go"))
    assert followed.ok and followed.content == b"internal data" and second_host.hits("/secret") == 1


def test_feed_pages_on_private_addresses_are_not_fetched(
        store: Store, news_server: NewsServer, second_host: NewsServer) -> None:
    page = second_host.add("/story.html", "<html><body><p>internal</p></body></html>")
    item = f"<item><title>Inside job</title><link>{page}</link><description>short</description></item>"
    feed = news_server.add("/feed.xml", f"<rss version='2.0'><channel><title>T</title>{item}</channel></rss>",
                           "application/rss+xml")
    source_id, _ = store.add_source(feed, "Feed", fulltext="always")

    async def run() -> None:
        async with Fetcher(settings(address_policy=only("127.0.0.1"))) as f:
            await refresh_feed(store, f, store.source(source_id) or {})

    asyncio.run(run())
    [row] = store.latest_articles(source_id=source_id)
    assert row["url"] == page and row["extraction_error"].startswith("refused: 127.0.0.2 is a loopback address")
    assert second_host.requests == [] and news_server.hits("/feed.xml") == 1


# --- DNS rebinding: connect to the address that was checked ---------------------------------------------


@pytest.fixture
def twin_servers() -> Iterator[tuple[NewsServer, NewsServer, int]]:
    """Servers on 127.0.0.2 (stands for a public host) and 127.0.0.1 (the internal one) on one port."""
    if not can_bind("127.0.0.2"):
        pytest.skip("cannot bind 127.0.0.2 on this system")
    for _ in range(20):
        public = NewsServer("127.0.0.2")
        port = public.httpd.server_address[1]
        try:
            internal = _news_server_on("127.0.0.1", port)
        except OSError:
            public.httpd.server_close()
            continue
        with public, internal:
            yield public, internal, port
        return
    pytest.skip("no port free on both 127.0.0.1 and 127.0.0.2")


def _news_server_on(host: str, port: int) -> NewsServer:
    server = NewsServer(host)
    server.httpd.server_close()
    server.httpd = ThreadingHTTPServer((host, port), server.httpd.RequestHandlerClass)
    server.httpd.daemon_threads = True
    server.base = f"http://{host}:{port}"
    server.thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    return server


def test_rebinding_after_the_check_cannot_steer_the_connection(
        twin_servers: tuple[NewsServer, NewsServer, int]) -> None:
    public, internal, port = twin_servers
    public.add("/feed.xml", "public feed", "text/plain")
    internal.add("/feed.xml", "internal secret", "text/plain")
    answers = iter([["127.0.0.2"], ["127.0.0.1"], ["127.0.0.1"]])
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)  # public while being checked, internal on any later lookup

    s = settings(address_policy=only("127.0.0.2"), resolver=rebinding)
    url = f"http://rebind.test:{port}/feed.xml"
    first, second = fetch(s, url, url)
    assert first.ok and first.content == b"public feed"
    assert calls == ["rebind.test", "rebind.test"]  # one lookup per connection, none between check and connect
    [(_, _, headers)] = public.requests
    assert headers["Host"] == f"rebind.test:{port}"  # the name, not the address, goes to the server
    assert second.error == f"refused: rebind.test resolves to 127.0.0.1, a loopback address; {HINT}"
    assert internal.requests == []


# --- TLS is verified for the name while the socket goes to the vetted address ---------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: cannot make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=news.test", "-addext", "subjectAltName=DNS:news.test"],
                   check=True, capture_output=True)
    return cert, key


class _Hello(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.hosts.append(self.headers["Host"])  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[tuple[ThreadingHTTPServer, list[str]]]:
    names: list[str] = []
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*certificate)
    ctx.sni_callback = lambda sock, name, c: names.append(name or "")  # type: ignore[assignment,misc,func-returns-value]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    httpd.hosts = []  # type: ignore[attr-defined]
    httpd.daemon_threads = True
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, names
    httpd.shutdown()
    httpd.server_close()


def test_tls_verifies_the_name_not_the_address(
        tls_server: tuple[ThreadingHTTPServer, list[str]], certificate: tuple[Path, Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    httpd, names = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # trust the test certificate
    port = httpd.server_address[1]

    async def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    s = settings(allow_private=True, resolver=resolver)
    good, wrong_name = fetch(s, f"https://news.test:{port}/", f"https://other.test:{port}/")
    assert good.ok and good.content == b"hello"
    assert names[0] == "news.test" and httpd.hosts == [f"news.test:{port}"]  # type: ignore[attr-defined]
    assert not wrong_name.ok and wrong_name.error is not None and "certificate" in wrong_name.error.lower()


# --- the CLI and the poller say why ----------------------------------------------------------------------


def test_sources_add_refuses_loopback_without_the_setting(
        news_server: NewsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    feed = news_server.add("/feed.xml", "<rss version='2.0'><channel><title>T</title></channel></rss>",
                           "application/rss+xml")
    db = str(tmp_path / "t.db")
    monkeypatch.delenv("TIDINGS_ALLOW_PRIVATE_NETWORKS")
    assert main(["--db", db, "sources", "add", feed]) == 2
    assert f"refused: 127.0.0.1 is a loopback address; {HINT}" in capsys.readouterr().err
    assert news_server.hits("/feed.xml") == 0 and SQLiteStore(db).sources() == []
    monkeypatch.setenv("TIDINGS_ALLOW_PRIVATE_NETWORKS", "1")
    assert main(["--db", db, "sources", "add", feed]) == 0 and news_server.hits("/feed.xml") == 1


def test_polling_records_the_refusal_on_the_source(store: Store, news_server: NewsServer) -> None:
    from tidings.jobs import poll

    feed = news_server.add("/feed.xml", "<rss/>", "application/rss+xml")
    source_id, _ = store.add_source(feed, "Local")
    report = poll(store, include_all=True, fetch_settings=settings(allow_private=False))
    row = store.source(source_id) or {}
    assert report.failed == [(source_id, f"refused: 127.0.0.1 is a loopback address; {HINT}")]
    assert row["last_error"] == report.failed[0][1] and row["error_count"] == 1 and row["last_status"] == 0
    assert news_server.hits("/feed.xml") == 0


def test_settings_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIDINGS_ALLOW_PRIVATE_NETWORKS")
    assert FetchSettings().allow_private is False
    monkeypatch.setenv("TIDINGS_ALLOW_PRIVATE_NETWORKS", "1")
    assert FetchSettings().allow_private is True
