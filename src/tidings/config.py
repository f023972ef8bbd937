"""Settings in one place: defaults, overridden by TIDINGS_* environment variables, overridden by CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_db_path() -> Path:
    """TIDINGS_DB, else tidings.db in the user's data folder (XDG_DATA_HOME or ~/.local/share)."""
    if os.environ.get("TIDINGS_DB"):
        return Path(os.environ["TIDINGS_DB"]).expanduser()
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "tidings" / "tidings.db"


def admin_secret_path(db_path: str | Path) -> Path:
    """Where the admin secret lives: a file beside the database, so each database has its own."""
    return Path(db_path).expanduser().resolve().parent / "admin-secret"


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass
class PollSettings:
    """How Tidings turns feed entries into articles."""

    fulltext_min_words: int = 150   # feeds whose items are shorter than this are summaries: fetch the pages
    max_entries: int = 200          # per feed and poll
    page_fetch_limit: int = 100     # article pages fetched per source and poll
    max_page_bytes: int = 2 * 1024 * 1024  # an article page larger than this is not read
    pass_timeout: float = 600.0     # seconds one source may take in a poll pass (feed, pages and storing)
