"""Polling schedule: adapts to publishing rate, backs off on errors, honours Retry-After and max-age."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from tidings.ingest.schedule import DEFAULT_INTERVAL, MAX_INTERVAL, MIN_INTERVAL, adaptive_interval, backoff, next_poll

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_busy_sources_are_polled_often_and_quiet_ones_rarely() -> None:
    hourly = [NOW - timedelta(hours=i) for i in range(10)]
    daily = [NOW - timedelta(days=i) for i in range(10)]
    minutely = [NOW - timedelta(minutes=i) for i in range(10)]
    assert adaptive_interval(hourly) == 1800
    assert adaptive_interval(daily) == 12 * 3600
    assert adaptive_interval(minutely) == MIN_INTERVAL
    assert adaptive_interval([NOW - timedelta(days=30 * i) for i in range(5)]) == MAX_INTERVAL
    assert adaptive_interval([NOW]) == DEFAULT_INTERVAL


def test_a_failing_source_is_retried_within_minutes_then_less_and_less_often() -> None:
    assert backoff(0, 600) == 600  # all is well: the usual interval
    waits = [backoff(n, DEFAULT_INTERVAL) for n in range(1, 8)]
    assert waits[0] <= 5 * 60  # the first retry comes within minutes, not after an interval or more
    assert all(later > earlier for earlier, later in itertools.pairwise(waits[:-1]))
    assert waits[-1] == MAX_INTERVAL and backoff(50, 600) == MAX_INTERVAL


def test_next_poll_waits_for_retry_after_and_max_age() -> None:
    assert next_poll(NOW, 600) == NOW + timedelta(seconds=600)
    assert next_poll(NOW, 600, retry_after=3600) == NOW + timedelta(seconds=3600)
    assert next_poll(NOW, 600, max_age=60) == NOW + timedelta(seconds=600)
    assert next_poll(NOW, 600, max_age=7200) == NOW + timedelta(seconds=7200)


def test_a_poll_pass_is_told_in_one_line_with_the_commonest_failures() -> None:
    from tidings.jobs import PollReport, describe_pass

    failed = [(i, "connection failed: [Errno 111] refused") for i in range(58)] + [(58, "timeout"),
                                                                                  (59, "timeout"), (60, "HTTP 404")]
    line = describe_pass(PollReport(sources=61, new=0, failed=failed))
    assert line.startswith("polled 61 sources: 0 ok, 61 failing (connection failed 58, timeout 2, HTTP 404 1)")
    assert "\n" not in line
    assert describe_pass(PollReport(sources=3, new=12, updated=1, analysed=12)) == \
        "polled 3 sources: 3 ok; 12 new, 1 updated, 12 analysed"
