"""What the benchmark modules share: table rows, the machine line, and running `tidings` as a measured subprocess."""

from __future__ import annotations

import os
import platform
import re
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
MIB = 1024 * 1024
# The summary line of `tidings poll` (what it skipped, if anything, sits between "failed" and "; analysed").
POLLED = re.compile(r"polled (\d+) source\(s\): (\d+) new, (\d+) updated, (\d+) failed[^;]*; analysed (\d+)")
PER = 100_000  # footprint figures are given per this many articles


@dataclass
class Row:
    """One line of the results table. ``met`` is None for figures without a goal; ``error`` marks a failure."""

    what: str
    value: float | int | str
    unit: str = ""
    goal: str = ""
    command: str = ""
    met: bool | None = None
    error: str = ""


def failed(what: str, error: str, command: str = "") -> Row:
    return Row(what, "ERROR", "", "", command, None, error)


def machine_line() -> str:
    """CPU model, cores, memory, Python and SQLite versions, and the load when the run began."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        ram = f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB RAM"
    except (ValueError, OSError, AttributeError):
        ram = "RAM unknown"
    load = ""
    if hasattr(os, "getloadavg"):
        load = f", load {os.getloadavg()[0]:.2f} at start"
    return (f"{cpu}, {os.cpu_count()} cores, {ram}, Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}, {platform.system()} {platform.release()}{load}")


def tidings_env(**overrides: str | None) -> dict[str, str]:
    """The environment for a `tidings` subprocess: this checkout's sources first; None removes a variable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "src"), env.get("PYTHONPATH", "")) if p)
    env["TIDINGS_ALLOW_PRIVATE_NETWORKS"] = "1"  # the fixture web is on loopback
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def tidings_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "tidings", *args]


def shown(cmd: Sequence[str], env: Mapping[str, str] | None = None, keys: Sequence[str] = ()) -> str:
    """A command line as a person would type it: `tidings ...` for the CLI, the named variables in front."""
    words = list(cmd)
    if words[:3] == [sys.executable, "-m", "tidings"]:
        words = ["tidings", *words[3:]]
    elif words and words[0] == sys.executable:
        words = ["python", *words[1:]]
    prefix = [f"{k}={env[k]}" for k in keys if env and k in env]
    return shlex.join(prefix + words)


@dataclass
class Measured:
    """A finished subprocess: exit status, wall seconds, CPU seconds (user + system, all threads), peak resident
    memory (bytes) and its output."""

    rc: int
    seconds: float
    cpu: float
    max_rss: int
    stdout: str
    stderr: str

    def check(self, what: str) -> None:
        if self.rc != 0:
            tail = (self.stderr.strip() or self.stdout.strip())[-600:]
            raise RuntimeError(f"{what} exited with {self.rc}: {tail}")


def run_measured(cmd: Sequence[str], env: Mapping[str, str], *, timeout: float = 3600.0,
                 cwd: Path | None = None) -> Measured:
    """Run ``cmd`` to the end: wall time from start to exit, CPU time from wait4, peak RSS.

    The peak is the process's own high-water mark (VmHWM), sampled from /proc while it runs. The kernel's
    ru_maxrss is no good here: Linux carries the parent's resident size at fork into the child's figure, so
    every child of a large benchmark process would seem at least that large. Without /proc, ru_maxrss it is.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), env=dict(env), stdout=out, stderr=err, cwd=cwd)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        peak = _HighWater(proc.pid)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            peak.stop()
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
        return Measured(proc.returncode, seconds, usage.ru_utime + usage.ru_stime,
                        peak.value or usage.ru_maxrss * scale,
                        out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))


class _HighWater:
    """Samples a running process's VmHWM (its peak resident memory) every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval, self.value = pid, interval, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            self.value = max(self.value, proc_status(self.pid, "VmHWM"))
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def proc_status(pid: int | str, field: str) -> int:
    """A memory field of /proc/PID/status (VmRSS, VmHWM, ...) in bytes; 0 where it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def rss_of(pid: int) -> int:
    """Resident memory of a running process in bytes (Linux /proc), or 0 where that cannot be read."""
    return proc_status(pid, "VmRSS")


def db_bytes(db: Path) -> tuple[int, int]:
    """Sizes of the main database file and of its write-ahead log (0 when there is none)."""
    wal = db.with_name(db.name + "-wal")
    return (db.stat().st_size if db.exists() else 0), (wal.stat().st_size if wal.exists() else 0)


def query(db: Path, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    """Read-only query of a Tidings database (for counts and sample paths, never for what is measured)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, tuple(params)).fetchall()
    finally:
        con.close()


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
