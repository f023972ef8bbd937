"""Storage: the one ``Store`` every other layer talks to, on SQLite (a file path) or PostgreSQL (a URL)."""

from __future__ import annotations

from pathlib import Path

from tidings.storage.store import Store


def open_store(target: str | Path, *, create: bool = True) -> Store:
    """The store named by ``target``: a ``postgresql://`` URL means PostgreSQL, anything else an SQLite file.
    Failures to reach or use it are UserErrors that say what to fix. ``create`` False: a command that only reads
    does not make a new SQLite file."""
    from tidings.storage.postgres import PostgresStore, is_postgres_url
    from tidings.storage.sqlite import SQLiteStore

    text = str(target)
    if is_postgres_url(text):
        return PostgresStore.open(text, create=create)
    return SQLiteStore.open(text, create=create)


__all__ = ["Store", "open_store"]
