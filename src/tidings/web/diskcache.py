"""A folder of files named by key, bounded in total size, that several processes may share.

Every write is a new file renamed into place (``os.replace``), so a reader in any process meets a whole file or
none. Reading a file stamps its modification time (at most once a minute), and when the folder grows past its
bound the files least recently used go first, down to nine tenths of it, whoever notices. Each process adds what
it wrote to the size it last counted, and counts again once it has written a tenth of the bound (or
``RESCAN_WRITES`` files), so what other processes wrote is seen too: together they overshoot by at most a tenth
of the bound each. A file another process removed is simply a miss.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

LOW_WATER = 0.9  # a trim stops at this share of the bound, so it does not run again at the next write
RESCAN_WRITES = 100
TOUCH_AFTER = 60.0  # seconds: a file read again sooner keeps its stamp (one write per read would be wasteful)
STALE_TMP = 3600.0  # seconds after which a half-written file (a process killed mid-write) is removed
_KEY = re.compile(r"^[0-9a-f]{64}$")


def cache_key(*parts: str) -> str:
    """A file name for what ``parts`` name together (a kind, an address, a size)."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


class DiskCache:
    """``get``/``put`` by key (see ``cache_key``) under ``folder``, at most ``max_bytes`` in all; one file at most
    a quarter of that. With no folder, a temporary one of this process, removed by ``close``."""

    def __init__(self, folder: Path | None, max_bytes: int) -> None:
        self._folder = folder
        self._own_folder = folder is None
        self.max_bytes = max(0, max_bytes)
        self._lock = threading.Lock()
        self._counted: int | None = None  # bytes found at the last count (None: not counted yet)
        self._added = 0  # bytes written since
        self._writes = 0

    @property
    def folder(self) -> Path:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="tidings-pictures-"))
        return self._folder

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.folder / key[:2] / key

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            data = path.read_bytes()
            if time.time() - path.stat().st_mtime > TOUCH_AFTER:
                os.utime(path)  # used now: the last to be evicted
        except OSError:  # absent, or removed by another process's trim meanwhile
            return None
        return data

    def put(self, key: str, data: bytes) -> bool:
        """Keep ``data`` under ``key``; False when it is not kept (too large, or the disk refused)."""
        if len(data) > self.max_bytes // 4:
            return False
        path = self._path(key)
        tmp_dir = self.folder / "tmp"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=tmp_dir)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:  # a full or read-only disk: pictures are made again on the next request
            log.warning("picture cache: cannot write %s: %s", path, exc)
            return False
        with self._lock:
            self._added += len(data)
            self._writes += 1
            due = (self._counted is None or self._counted + self._added > self.max_bytes
                   or self._added > self.max_bytes * (1 - LOW_WATER) or self._writes >= RESCAN_WRITES)
        if due:
            self.trim()
        return True

    def _entries(self) -> list[tuple[float, int, Path]]:
        """(last use, size, path) of every kept file; half-written files left by a killed process go."""
        found: list[tuple[float, int, Path]] = []
        now = time.time()
        try:
            folders = list(os.scandir(self.folder))
        except OSError:
            return found
        for sub in folders:
            try:
                for entry in os.scandir(sub.path):
                    stat = entry.stat()
                    if _KEY.match(entry.name):
                        found.append((stat.st_mtime, stat.st_size, Path(entry.path)))
                    elif sub.name == "tmp" and now - stat.st_mtime > STALE_TMP:
                        Path(entry.path).unlink(missing_ok=True)
            except OSError:  # not a folder, or gone meanwhile
                continue
        return found

    def usage(self) -> int:
        """Bytes kept now (counted on disk)."""
        return sum(size for _, size, _ in self._entries())

    def trim(self) -> None:
        """Count what is kept and, when over the bound, remove the least recently used files."""
        with self._lock:
            entries = self._entries()
            total = sum(size for _, size, _ in entries)
            if total > self.max_bytes:
                entries.sort()
                for _, size, path in entries:
                    if total <= self.max_bytes * LOW_WATER:
                        break
                    try:
                        path.unlink(missing_ok=True)
                    except OSError:
                        continue
                    total -= size
            self._counted, self._added, self._writes = total, 0, 0

    def close(self) -> None:
        """Remove the folder if it was a temporary one of this process."""
        if self._own_folder and self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
