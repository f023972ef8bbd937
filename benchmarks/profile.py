"""Where the time goes: py-spy samples of a `tidings` process, summarised by self time, area and pipeline phase.

py-spy records collapsed stacks (``--format raw``: one ``frame;frame;...;leaf count`` line per distinct stack,
root first, each frame ``function (file:line)``). Self time is the samples whose leaf is the function; the
phases are inclusive (samples with the function anywhere on the stack). Idle threads are not sampled.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

# Innermost frame from a known library decides a sample's area (walking out from the leaf).
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("embedding model (ONNX Runtime or torch)", ("onnxruntime/", "tidings/analysis/embeddings.py", "torch/",
                                                "transformers/", "sentence_transformers/", "tokenizers")),
    ("page extraction (trafilatura, lxml, htmldate)", ("trafilatura/", "lxml", "justext/", "htmldate/",
                                                       "courlan/", "tidings/ingest/extract.py")),
    ("feed parsing (feedparser)", ("feedparser/", "tidings/ingest/feeds.py")),
    ("SQLite (tidings storage)", ("tidings/storage/", "sqlite3/")),
    ("similarity, copies, stories", ("tidings/similarity/", "tidings/stories/", "datasketch/",
                                     "tidings/analysis/terms.py")),
    ("regions (section detection)", ("tidings/analysis/regions.py", "pycountry/")),
    ("HTTP client and event loop (httpx, httpcore, asyncio)", ("httpx/", "httpcore/", "anyio/", "h11/",
                                                                "asyncio/", "ssl.py", "socket.py",
                                                                "selectors.py", "tidings/ingest/fetch.py")),
    ("imports and start-up", ("<frozen importlib", "importlib/", "pkg_resources/")),
)

# Pipeline phases: (label, function or Class.method, file it is in).
PHASES: tuple[tuple[str, str, str], ...] = (
    ("fetch, extract and store, per feed (refresh_feed)", "refresh_feed", "tidings/ingest/pipeline.py"),
    ("  extract_page (synchronous, on the event loop)", "extract_page", "tidings/ingest/extract.py"),
    ("  save_article (one transaction per article)", "save_article", "tidings/ingest/pipeline.py"),
    ("  Fetcher.fetch (HTTP)", "Fetcher.fetch", "tidings/ingest/fetch.py"),
    ("analyse backlog (analyse_backlog)", "analyse_backlog", "tidings/jobs.py"),
    ("  model load (imports and weights)", "_load", "tidings/analysis/embeddings.py"),
    ("  embed (sentence model, load included)", "embed", "tidings/analysis/embeddings.py"),
    ("  fingerprint (MinHash)", "fingerprint", "tidings/similarity/neardup.py"),
    ("  _link (Similar News, copies, stories)", "_link", "tidings/jobs.py"),
    ("Analyser.open (load the vector index)", "Analyser.open", "tidings/jobs.py"),
)
STARTUP = "start-up: imports before the command runs"
# py-spy often cuts a running coroutine's stack at the coroutine boundary (no frames above it): such samples
# count in the areas and in self time but cannot be given to the phases that awaited them.
CUT = "(samples whose stack starts inside a coroutine: phase unknown)"
ROOTS = frozenset({"<module>", "_run_module_as_main", "_run_code", "run_module", "_bootstrap", "_bootstrap_inner"})
NATIVE = "native threads with no Python frames (the model's worker threads, most likely)"


@dataclass
class Profile:
    """A summary of one py-spy recording."""

    what: str
    samples: int
    self_time: list[tuple[str, int]] = field(default_factory=list)  # "function (file)" -> samples, top first
    areas: list[tuple[str, int]] = field(default_factory=list)
    phases: list[tuple[str, int]] = field(default_factory=list)
    path: str = ""

    def lines(self, top: int = 15) -> list[str]:
        def pct(n: int) -> str:
            return f"{100 * n / self.samples:5.1f}%" if self.samples else "  n/a"

        out = [f"Profile: {self.what}; {self.samples} samples (raw stacks: {self.path})",
               "Top functions by self time:"]
        out += [f"  {pct(n)}  {name}" for name, n in self.self_time[:top]]
        out.append("Self time by area (innermost library frame):")
        out += [f"  {pct(n)}  {name}" for name, n in self.areas]
        out.append("Pipeline phases (inclusive):")
        out += [f"  {pct(n)}  {name}" for name, n in self.phases]
        return out


def parse_frame(frame: str) -> tuple[str, str]:
    """(function, file) of one collapsed-stack frame; the line number is dropped so lines of a function add up."""
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip(), ""
    return m.group("func"), m.group("file")


def summarise(raw: str, what: str = "") -> Profile:
    """A Profile from py-spy's raw (collapsed stack) output."""
    self_time: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        # --subprocesses puts a `process PID:"command"` frame at the root of every stack
        frames = [parse_frame(f) for f in stack.split(";") if f.strip() and not f.startswith("process ")]
        samples += count
        if not frames:
            self_time[NATIVE] += count
            areas[NATIVE] += count
            continue
        func, file = frames[-1]
        self_time[f"{func} ({file})" if file else func] += count
        areas[_area(frames)] += count
        for label, name, where in PHASES:
            if any((f == name or f.endswith("." + name)) and file.endswith(where) for f, file in frames):
                phases[label] += count
        rooted = frames[0][0] in ROOTS
        if not rooted:
            phases[CUT] += count
        elif not any(f.startswith("cmd_") and file.endswith("tidings/cli.py") for f, file in frames):
            phases[STARTUP] += count
    return Profile(what, samples, self_time.most_common(), areas.most_common(),
                   [(STARTUP, phases[STARTUP])] + [(label, phases[label]) for label, _, _ in PHASES]
                   + [(CUT, phases[CUT])])


def _area(frames: list[tuple[str, str]]) -> str:
    for _, file in reversed(frames):
        for area, marks in AREAS:
            if any(mark in file for mark in marks):
                return area
    return "other (Python runtime, tidings glue)"


def read_profile(path: Path, what: str) -> Profile:
    profile = summarise(path.read_text(encoding="utf-8", errors="replace"), what)
    profile.path = str(path)
    return profile


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.is_file() else shutil.which("py-spy")


def profile_command(out: Path, cmd: list[str], rate: int = 100) -> list[str] | None:
    """``cmd`` under py-spy (collapsed stacks into ``out``), or None when py-spy is not installed."""
    exe = py_spy()
    if exe is None:
        return None
    return [exe, "record", "--format", "raw", "--rate", str(rate), "--subprocesses", "--nonblocking",
            "-o", str(out), "--", *cmd]
