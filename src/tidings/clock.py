"""Time in one format: aware UTC datetimes in code, ISO 8601 strings ending in Z in storage (they sort as text)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str | None) -> datetime | None:
    """Parse a stored or user-given ISO 8601 timestamp; naive values are taken as UTC. None if unparseable."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def date_only(dt: datetime) -> bool:
    """Whether a stored time is really a date: feeds that give only a day are stored at midnight UTC, and no
    report is published at 00:00:00 to the second often enough to tell them apart otherwise."""
    return dt.hour == 0 and dt.minute == 0 and dt.second == 0
