"""What a client can make `tidings serve` hold: memory under unfinished headers, sockets under slowloris.

    python -m benchmarks.server_limits [--header-timeout 10] [--src DIR]

Starts `tidings serve` on an empty database on 127.0.0.1 (``--src DIR``: the Tidings sources in DIR instead of
this checkout's, e.g. ``git archive <commit> src | tar -x -C DIR`` for the figures before a change), then, from
loopback only, with every socket bounded (a timeout, a fixed number of bytes):

1. 4 sockets each send up to 96 MB of one header line that never ends, stopping when the server closes them;
   the server's resident memory (VmRSS) before, at its peak (sampled every 50 ms) and after;
2. 1,000 slowloris sockets from 16 loopback addresses (127.0.0.2-17, so a per-client cap of 64 is not what
   stops them), each sending half a request head and then a byte a second: how many the server closed at once
   and how many are still open when the header timeout plus 2 s has passed;
3. the same 1,000 from one address: how many the server holds and how many it closes at once.

Prints one line per figure, then stops the server (by its pid) and exits. Linux (loopback addresses, /proc).
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import select
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import MIB, proc_status, rss_of
from benchmarks.load import serving
from benchmarks.newsweb import addresses

HEAD = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: "
CHUNK = b"a" * 65536
SOCKET_TIMEOUT = 30.0


def fill(port: int, limit: int, deadline: float) -> tuple[int, bool]:
    """Send one unfinished header of up to ``limit`` bytes; returns the bytes sent and whether the server closed."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT) as sock:
        try:
            sock.sendall(HEAD)
            while sent < limit and time.monotonic() < deadline:
                sock.sendall(CHUNK)
                sent += len(CHUNK)
            return sent, closed(sock, wait=1.0)
        except OSError:  # reset, broken pipe, or the server stopped reading (timeout)
            return sent, True


def closed(sock: socket.socket, wait: float = 0.0) -> bool:
    """Whether the server has closed this socket (end of stream or reset); waits up to ``wait`` seconds."""
    try:
        readable, _, _ = select.select([sock], [], [], wait)
        if not readable:
            return False
        return sock.recv(65536, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def memory(port: int, pid: int, sockets: int = 4, each: int = 96 * MIB, seconds: float = 300.0) -> str:
    before = rss_of(pid)
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_of(pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    deadline = time.monotonic() + seconds
    with ThreadPoolExecutor(sockets) as pool:
        results = list(pool.map(lambda _: fill(port, each, deadline), range(sockets)))
    time.sleep(0.5)
    done.set()
    sampler.join()
    after = rss_of(pid)
    sent = sum(r[0] for r in results)
    shut = sum(r[1] for r in results)
    return (f"{sockets} sockets x {each // MIB} MB unfinished headers: {sent / MIB:.1f} MB sent in all, "
            f"{shut} of {sockets} closed by the server; RSS before {before / MIB:.0f} MB, peak {peak / MIB:.0f} MB, "
            f"after {after / MIB:.0f} MB (VmHWM {proc_status(pid, 'VmHWM') / MIB:.0f} MB)")


def slowloris(port: int, sources: list[str], count: int, header_timeout: float) -> str:
    socks: list[socket.socket] = []
    refused = 0
    try:
        for n in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(SOCKET_TIMEOUT)
            try:
                sock.bind((sources[n % len(sources)], 0))
                sock.connect(("127.0.0.1", port))
                sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            except OSError:
                sock.close()
                refused += 1
                continue
            socks.append(sock)
        opened = time.monotonic()
        time.sleep(0.5)
        at_once = sum(closed(s) for s in socks) + refused
        check_at = opened + header_timeout + 2.0
        while time.monotonic() < check_at:  # a byte a second on every socket the server has not closed
            for sock in socks:
                with contextlib.suppress(OSError):
                    sock.send(b"a")
            time.sleep(min(1.0, max(0.0, check_at - time.monotonic())))
        still_open = sum(not closed(s) for s in socks)
    finally:
        for sock in socks:
            sock.close()
    where = f"{len(sources)} loopback addresses" if len(sources) > 1 else "one address"
    return (f"slowloris, {count} sockets from {where}: {count - at_once} held, {at_once} closed at once, "
            f"{still_open} still open "
            f"{header_timeout + 2:g} s after connecting (TIDINGS_HEADER_TIMEOUT={header_timeout:g})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--header-timeout", type=float, default=10.0, help="TIDINGS_HEADER_TIMEOUT for the server")
    p.add_argument("--src", type=Path, help="serve the Tidings sources in this folder instead of this checkout's")
    args = p.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:  # 1,000 sockets here, as many in the server (which inherits the limit)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    env: dict[str, str | None] = {"TIDINGS_EMBEDDER": "hashing", "TIDINGS_HEADER_TIMEOUT": str(args.header_timeout),
                                  "TIDINGS_TRUSTED_PROXIES": None, "FORWARDED_ALLOW_IPS": None}
    if args.src:
        env["PYTHONPATH"] = str(args.src.resolve())
    with tempfile.TemporaryDirectory(prefix="tidings-limits-") as tmp, \
            serving(Path(tmp) / "limits.db", env=env) as served:
        port = int(served.base_url.rsplit(":", 1)[1])
        print(f"tidings serve from {args.src or 'this checkout'}, pid {served.proc.pid}", flush=True)
        print(memory(port, served.proc.pid), flush=True)
        print(slowloris(port, addresses(16), 1000, args.header_timeout), flush=True)
        print(slowloris(port, ["127.0.0.1"], 1000, args.header_timeout), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
