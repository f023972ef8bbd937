"""Settings in one place: defaults, overridden by TIDINGS_* environment variables, overridden by CLI flags."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, tzinfo
from pathlib import Path
from urllib.parse import urlsplit


def user_data_folder() -> Path:
    """Tidings' folder in the user's data folder (XDG_DATA_HOME or ~/.local/share)."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "tidings"


def database(given: str | None = None) -> str:
    """The database to use: ``given`` (--db), else TIDINGS_DB, else tidings.db in the user's data folder. A
    ``postgresql://`` URL is kept as it is; a path has ``~`` expanded."""
    target = (given or os.environ.get("TIDINGS_DB", "")).strip()
    if not target:
        return str(user_data_folder() / "tidings.db")
    if "://" in target:
        return target
    return str(Path(target).expanduser())


DATA_DIR_ENV = "TIDINGS_DATA_DIR"


def data_dir(db: str | Path) -> Path | None:
    """The folder of Tidings' own files (admin secret, vector indexes): TIDINGS_DATA_DIR, else the database
    file's folder, else (a database on a server) Tidings' folder in the user's data folder; None for a database
    in memory."""
    if os.environ.get(DATA_DIR_ENV, "").strip():
        return Path(os.environ[DATA_DIR_ENV].strip()).expanduser().resolve()
    text = str(db)
    if text == ":memory:":
        return None
    if "://" in text:
        return user_data_folder()
    return Path(text).expanduser().resolve().parent


def models_folder() -> Path:
    """Where what is derived from the shipped model is kept (its ONNX graph, vectors of fixed texts): under
    TIDINGS_DATA_DIR, else Tidings' folder in the user's data folder; shared by every database."""
    folder = os.environ.get(DATA_DIR_ENV, "").strip()
    return (Path(folder).expanduser() if folder else user_data_folder()) / "models"


def admin_secret_path(db: str | Path) -> Path:
    """Where the admin secret lives: a file in the data folder, so each database has its own."""
    folder = data_dir(db)
    if folder is None:
        raise ValueError(f"no folder for the admin secret of {db}: set {DATA_DIR_ENV}")
    return folder / "admin-secret"


def index_path(db: str | Path, model: str) -> Path | None:
    """Where the vector index of ``model`` is kept in the data folder (None: kept in memory only)."""
    folder = data_dir(db)
    if folder is None:
        return None
    slug = re.sub(r"[^A-Za-z0-9]+", "-", model).strip("-").lower()
    return folder / f"{database_slug(db)}.{slug}.usearch"  # each database has its own index files


def picture_cache_path(db: str | Path) -> Path | None:
    """The folder of the pictures Tidings serves (article thumbnails, source icons) in the data folder, one per
    database; None for a database in memory."""
    folder = data_dir(db)
    return None if folder is None else folder / f"{database_slug(db)}.pictures"


def database_slug(db: str | Path) -> str:
    """A file-name-safe name for one database: its file name, or a server database's host, port and name."""
    text = str(db)
    if "://" not in text:
        return Path(text).name
    parts = urlsplit(text)
    name = f"{parts.hostname or 'local'}-{parts.port or 5432}-{parts.path.strip('/') or 'postgres'}"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name)


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
    pages_in_hand: int = 4          # per source: pages fetched and not yet extracted (bounds the poller's memory)


BASE_URL_ENV = "TIDINGS_BASE_URL"


def clean_base_url(value: str, where: str = BASE_URL_ENV) -> str:
    """An absolute http(s) URL for readers to reach the site at, without a trailing slash (a path prefix such as
    https://example.org/news is kept); UserError naming ``where`` for anything else."""

    from tidings.errors import UserError

    text = value.strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        parts = None
    if (parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname or parts.username
            or parts.password or parts.query or parts.fragment or any(ord(c) <= 0x20 for c in text)):
        raise UserError(f"{where} must be an http(s) address such as https://news.example.org, not {value!r}")
    return text.rstrip("/")


def public_base_url(host: str = "127.0.0.1", port: int = 8080) -> str:
    """Where readers reach the site, for absolute links (Atom feeds): TIDINGS_BASE_URL if set, else the address
    the server listens on. A wildcard listen address (0.0.0.0, ::) names no host a reader could use; it becomes
    this machine's loopback name, right for a reader on the same machine only: set TIDINGS_BASE_URL when others
    read the site."""
    configured = os.environ.get(BASE_URL_ENV, "").strip()
    if configured:
        return clean_base_url(configured)
    name = host.strip().strip("[]")
    if name in ("", "0.0.0.0"):
        name = "127.0.0.1"
    elif name == "::":
        name = "localhost"
    if ":" in name:
        name = f"[{name}]"
    return f"http://{name}" if port == 80 else f"http://{name}:{port}"


def env_int(name: str, default: int, minimum: int = 1) -> int:
    """An integer setting; a value that is not a number, or is below ``minimum``, leaves the default."""
    try:
        value = int(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value >= minimum else default


def env_list(name: str) -> tuple[str, ...]:
    """A comma-separated setting, blanks dropped."""
    return tuple(item.strip() for item in os.environ.get(name, "").split(",") if item.strip())


@dataclass(frozen=True)
class ServerLimits:
    """What a client can make `tidings serve` hold (docs/reliability.md), each overridable by a variable."""

    max_header_bytes: int = 64 * 1024  # TIDINGS_MAX_HEADER_BYTES: a request line and headers; more gets 431
    max_headers: int = 100             # header fields in one request; more gets 431
    header_timeout: float = 10.0       # TIDINGS_HEADER_TIMEOUT: seconds for a request's line and headers to arrive
    #                                    (from the connection, or the previous response, being made); then closed
    max_connections_per_client: int = 64  # TIDINGS_MAX_CONNECTIONS_PER_CLIENT: open connections from one address
    #                                       (trusted proxies exempt); more are closed at once
    max_connections: int = 1000        # TIDINGS_MAX_CONNECTIONS: open connections in all; more are closed at once
    trusted_proxies: tuple[str, ...] = ()  # TIDINGS_TRUSTED_PROXIES: IPs and networks whose X-Forwarded-For and
    #                                        X-Forwarded-Proto are believed; none by default

    @classmethod
    def from_env(cls) -> ServerLimits:
        d = cls()
        timeout = env_float("TIDINGS_HEADER_TIMEOUT", d.header_timeout)
        return cls(max_header_bytes=env_int("TIDINGS_MAX_HEADER_BYTES", d.max_header_bytes, minimum=1024),
                   max_headers=d.max_headers,
                   header_timeout=timeout if timeout > 0 else d.header_timeout,
                   max_connections_per_client=env_int("TIDINGS_MAX_CONNECTIONS_PER_CLIENT",
                                                      d.max_connections_per_client),
                   max_connections=env_int("TIDINGS_MAX_CONNECTIONS", d.max_connections),
                   trusted_proxies=env_list("TIDINGS_TRUSTED_PROXIES"))


# Article page extraction in worker processes (tidings.ingest.extract, docs/reliability.md): each page gets a
# time budget (its worker is killed and replaced past it) and a memory budget (what the worker may allocate on
# top of its loaded self; a page that needs more gets no text).
EXTRACT_TIMEOUT = 10.0     # TIDINGS_EXTRACT_TIMEOUT: seconds one page may take; real pages take well under one
EXTRACT_MEMORY_MB = 512.0  # TIDINGS_EXTRACT_MEMORY_MB: MiB one page may allocate in its worker; 0 sets no limit


def extract_timeout() -> float:
    """TIDINGS_EXTRACT_TIMEOUT, else EXTRACT_TIMEOUT; a value that is not above zero leaves the default."""
    value = env_float("TIDINGS_EXTRACT_TIMEOUT", EXTRACT_TIMEOUT)
    return value if value > 0 else EXTRACT_TIMEOUT


def extract_memory_mb() -> float:
    """TIDINGS_EXTRACT_MEMORY_MB, else EXTRACT_MEMORY_MB; 0 sets no limit, a negative value leaves the default."""
    value = env_float("TIDINGS_EXTRACT_MEMORY_MB", EXTRACT_MEMORY_MB)
    return value if value >= 0 else EXTRACT_MEMORY_MB


TIMEZONE_ENV = "TIDINGS_TIMEZONE"


def display_zone() -> tzinfo:
    """The time zone of the dates a page shows before its script runs, or with scripts off (TIDINGS_TIMEZONE, an
    IANA name such as Europe/Berlin; UTC when unset); with scripts on, each reader sees their own."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from tidings.errors import UserError

    name = os.environ.get(TIMEZONE_ENV, "").strip()
    if name in ("", "UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(f"{TIMEZONE_ENV}={name!r} is not a time zone name (e.g. Europe/Berlin or UTC)") from None
