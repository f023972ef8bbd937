"""What this process counts for /metrics, with the Prometheus client library.

Counters and histograms here count what happened in this process since it started: feeds polled and how long
each took, failed polls by reason, articles stored, and how long the site took to answer, by route. They are not
shared between processes: under PostgreSQL the workers poll in processes of their own, so the site's counters
see only what the site did itself. The gauges /metrics reads from the database at each scrape (articles, the
analysis backlog, feeds, queued jobs: ``web.observe``) are the truth across all processes.
"""

from __future__ import annotations

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

prometheus_client.disable_created_metrics()  # a *_created series for every counter only doubles the output

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

POLLS = Counter("tidings_polls", "Feeds polled by this process (each poll once, whatever its outcome).",
                registry=REGISTRY)
POLL_FAILURES = Counter("tidings_poll_failures", "Feed polls of this process that failed, by reason.", ["reason"],
                        registry=REGISTRY)
POLL_SECONDS = Histogram("tidings_poll_duration_seconds", "Seconds one feed poll took in this process (the feed and"
                         " the pages fetched for it).", registry=REGISTRY,
                         buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
ARTICLES_STORED = Counter("tidings_articles_stored", "Articles this process stored, by how they came (poll or"
                          " import) and whether they were new or updated.", ["how", "outcome"], registry=REGISTRY)
REQUEST_SECONDS = Histogram("tidings_request_duration_seconds", "Seconds this process took to answer a request, by"
                            " route template (e.g. /article/{article_id}) and method.", ["route", "method"],
                            registry=REGISTRY, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

for _how in ("poll", "import"):
    for _outcome in ("new", "updated"):
        ARTICLES_STORED.labels(_how, _outcome)  # shown as 0 before the first one

# Why a poll failed, as a few stable labels (the error text itself names hosts and varies without end).
_REASONS = (("timeout", "timeout"), ("connection failed", "connection"), ("unreadable feed", "unreadable feed"),
            ("response larger than", "too large"), ("too many redirects", "redirects"),
            ("bad redirect location", "redirects"), ("disallowed by robots.txt", "robots.txt"),
            ("internal error", "internal error"), ("protocol error", "protocol error"),
            ("could not decode body", "decoding"), ("refused:", "refused address"))


def failure_reason(status: int, error: str) -> str:
    """A poll failure's label: "HTTP 4xx", "HTTP 5xx", "timeout", "connection"..., else "other"."""
    if status >= 400:
        return f"HTTP {status // 100}xx"
    for prefix, reason in _REASONS:
        if error.startswith(prefix):
            return reason
    return "other"


def polled(status: int, error: str, new: int, updated: int, seconds: float) -> None:
    """Count one feed poll of this process."""
    POLLS.inc()
    POLL_SECONDS.observe(seconds)
    if error:
        POLL_FAILURES.labels(failure_reason(status, error)).inc()
    stored("poll", new, updated)


def stored(how: str, new: int, updated: int) -> None:
    if new:
        ARTICLES_STORED.labels(how, "new").inc(new)
    if updated:
        ARTICLES_STORED.labels(how, "updated").inc(updated)
