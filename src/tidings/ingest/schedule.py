"""When to poll a source next: adapt to how often it publishes, back off on errors, obey the server."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from statistics import median

MIN_INTERVAL = 5 * 60
MAX_INTERVAL = 24 * 3600
DEFAULT_INTERVAL = 30 * 60


def adaptive_interval(publish_times: list[datetime]) -> int:
    """Poll about twice per typical gap between a source's recent items, within [5 min, 24 h]."""
    times = sorted(publish_times, reverse=True)
    if len(times) < 3:
        return DEFAULT_INTERVAL
    gaps = [(a - b).total_seconds() for a, b in pairwise(times) if a > b]
    if not gaps:
        return DEFAULT_INTERVAL
    return int(min(MAX_INTERVAL, max(MIN_INTERVAL, median(gaps) / 2)))


FIRST_RETRY = 2 * 60  # a network back after a blip (or a first run offline) shows news within minutes
RETRY_FACTOR = 4      # then each failure waits four times longer: 2 min, 8, 32, about 2 h, 8.5 h, a day


def backoff(error_count: int, interval: int) -> int:
    """The wait after ``error_count`` failures in a row: a first retry within minutes, then exponentially
    longer, capped at a day (``interval``, the source's usual one, applies when all is well)."""
    if error_count <= 0:
        return interval
    return int(min(MAX_INTERVAL, FIRST_RETRY * RETRY_FACTOR ** min(error_count - 1, 10)))


def next_poll(now: datetime, interval: int, *, retry_after: float | None = None,
              max_age: float | None = None) -> datetime:
    """The next poll time: never before the server's Retry-After or the end of its Cache-Control max-age."""
    wait = float(interval)
    for floor in (retry_after, max_age):
        if floor is not None and floor > wait:
            wait = min(float(floor), 7 * 24 * 3600.0)
    return now + timedelta(seconds=wait)
