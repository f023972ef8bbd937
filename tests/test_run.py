"""`tidings run` on SQLite: the site in one process and the poller in another beside it. The site serves what
the poller stores, an admin's "refresh now" is analysed by the poller at once (not on its next tick), and the
poller ends with the run however the run ends (SIGTERM, or kill -9)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from newsserver import NewsServer, _free_port, story_feed, wait_for

ENV = {"TIDINGS_EMBEDDER": "hashing", "TIDINGS_HOST_DELAY": "0", "TIDINGS_HOST_JITTER": "0",
       "TIDINGS_ALLOW_PRIVATE_NETWORKS": "1"}
HOUR = "3600"  # the poller's tick: a test that sees a second pass within it saw the site's nudge

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the poller's end is tied to run's on Linux")




def alive(pid: int) -> bool:
    """Running (a zombie has ended: only its exit status waits to be collected)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def tidings(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tidings", "--db", str(db), *args], capture_output=True, text=True,
                          env={**os.environ, **ENV}, timeout=300, check=False)


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    base: str
    log: Path

    @property
    def poller(self) -> int:
        """The poller's process id, as `run` announces it."""
        found = re.search(r"with a poller \(pid (\d+)\)", self.log.read_text())
        assert found, self.log.read_text()
        return int(found.group(1))

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(self.base + path, params=params, timeout=10)

    def similar(self, url: str) -> list[object]:
        """The article's Similar News as the site serves it; [] until the article is stored and analysed."""
        try:
            r = self.get("/api/similar", url=url)
        except httpx.HTTPError:
            return []
        return list(r.json()["similar"]) if r.status_code == 200 else []


@contextmanager
def running(db: Path, folder: Path) -> Iterator[Run]:
    port = _free_port()
    log = folder / "run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tidings", "--db", str(db), "run", "--port", str(port),
                                 "--tick", HOUR], env={**os.environ, **ENV}, stdout=out, stderr=subprocess.STDOUT)
    try:
        run = Run(proc, f"http://127.0.0.1:{port}", log)
        wait_for(lambda: "with a poller" in log.read_text() or proc.poll() is not None, "run starts")
        assert proc.poll() is None, log.read_text()
        yield run
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


@pytest.fixture
def news(tmp_path: Path) -> Iterator[tuple[NewsServer, Path]]:
    """Three outlets reporting the same few events, added as sources of a new database."""
    db = tmp_path / "run.db"
    with NewsServer() as server:
        for n in range(3):
            url = story_feed(server, n, 4)
            assert tidings(db, "sources", "add", url, "--fulltext", "never", "--name", f"Outlet {n}").returncode == 0
        yield server, db


def test_run_serves_what_its_poller_stores_and_an_admin_refresh_is_analysed_at_once(
        news: tuple[NewsServer, Path], tmp_path: Path) -> None:
    server, db = news
    with running(db, tmp_path) as run:
        poller = run.poller
        assert poller != run.proc.pid and alive(poller)
        cmdline = Path(f"/proc/{poller}/cmdline").read_bytes().split(b"\0")
        assert cmdline[-4:] == [b"poll", b"--every", HOUR.encode(), b""], cmdline
        first = server.url("/f0/0")
        wait_for(lambda: bool(run.similar(first)), "the poller's first pass stored and analysed the feeds")
        article = run.get("/api/similar", url=first).json()["article"]
        page = run.get(f"/article/{article['id']}")
        assert page.status_code == 200 and "report 0-0" in page.text

        story_feed(server, 0, 6)  # two more items in the first outlet's feed
        sources = {s["name"]: s["id"] for s in run.get("/api/sources").json()["sources"]}
        token = (db.parent / "admin-secret").read_text().strip()
        r = httpx.post(f"{run.base}/api/sources/{sources['Outlet 0']}/refresh",
                       headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["refresh"]["new"] == 2 and r.json()["analysis"] == "queued"
        new = server.url("/f0/5")
        wait_for(lambda: bool(run.similar(new)), "the poller analysed the refreshed items, long before its tick")
        assert alive(poller), "the nudge did not end the poller"
    wait_for(lambda: not alive(poller), "the poller ends with the run (SIGTERM)", timeout=60)


def test_the_poller_ends_when_run_is_killed(news: tuple[NewsServer, Path], tmp_path: Path) -> None:
    _, db = news
    with running(db, tmp_path) as run:
        poller = run.poller
        assert alive(poller)
        os.kill(run.proc.pid, signal.SIGKILL)
        run.proc.wait()
        wait_for(lambda: not alive(poller), "the poller ends when run is killed with -9", timeout=60)


def test_poll_every_needs_seconds_and_not_all(tmp_path: Path) -> None:
    done = tidings(tmp_path / "t.db", "poll", "--every", "0")
    assert done.returncode == 2 and "--every" in done.stderr and "Traceback" not in done.stderr
    done = tidings(tmp_path / "t.db", "poll", "--all", "--every", "5")
    assert done.returncode == 2 and "--every" in done.stderr
