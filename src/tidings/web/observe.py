"""/metrics for a Prometheus scraper, and the time each request takes, by route template.

The gauges are read from the database at each scrape (``Store.counts``, and the workers' queue on PostgreSQL), so
they hold across every process; the counters and histograms of ``tidings.metrics`` are this process's own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from tidings import metrics
from tidings.storage.store import Store
from tidings.web.pages import METRICS


class StoreGauges(Collector):
    """What the database holds now: the counts /healthz gives, and the jobs waiting for workers."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        counts = self.store.counts()
        for name, help_, key in METRICS:
            yield GaugeMetricFamily(name, f"{help_[0].upper()}{help_[1:]} (in the database: every process).",
                                    value=int(counts[key]))
        queued = GaugeMetricFamily("tidings_queue_jobs", "Jobs in the workers' queue (PostgreSQL), by task and"
                                   " status: todo (waiting) or doing (running).", labels=["task", "status"])
        for (task, status), n in sorted(self.store.queued_jobs().items()):
            queued.add_metric([task, status], n)
        yield queued


class _ThisProcess(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from metrics.REGISTRY.collect()


def exposition(store: Store) -> bytes:
    """The whole text a scrape gets: this process's counters, then the database's gauges."""
    registry = CollectorRegistry()
    registry.register(_ThisProcess())
    registry.register(StoreGauges(store))
    return generate_latest(registry)


class RequestTimer:
    """Pure ASGI middleware: the seconds to answer each request go to ``tidings_request_duration_seconds``,
    labelled with the template of the route that answers it ("/article/{article_id}", "/static"), never the raw
    path, so the series stay few whatever addresses are asked for."""

    KNOWN = 2048  # (method, path) pairs whose route is remembered: matching every route costs ~60 µs a request

    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app, self.router = app, router
        self._known: dict[tuple[str, str], str] = {}

    def route_of(self, scope: Scope) -> str:
        key = (scope["method"], scope.get("path", ""))
        route = self._known.get(key)
        if route is None:
            if len(self._known) >= self.KNOWN:  # addresses are endless (ids, pages): start again, bounded
                self._known.clear()
            route = self._known[key] = self._match(scope)
        return route

    def _match(self, scope: Scope) -> str:
        partial = ""
        for route in self.router.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return str(getattr(route, "path", "")) or "other"
            if match == Match.PARTIAL and not partial:
                partial = str(getattr(route, "path", ""))  # the path is there, not for this method (405)
        return partial or "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            metrics.REQUEST_SECONDS.labels(self.route_of(scope), scope["method"]).observe(
                time.perf_counter() - started)
