from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from newsserver import NewsServer, PostgresServer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SEED = DATA.parent / "seed"  # the page that describes the product

# Tests reach only servers they start on loopback; the fetcher must be allowed to go there.
os.environ["TIDINGS_ALLOW_PRIVATE_NETWORKS"] = "1"
# Tests read a page right after writing to the database themselves: a page a second out of date (the site's
# default bound) would be what a reader may get, not what such a test checks. tests/test_page_cache.py tests
# the bound itself.
os.environ.setdefault("TIDINGS_PAGE_STALE_S", "0")


def shared_data(sub: str, *, root: Path = DATA) -> Path:
    """A folder of the real-data collection (or of ``root`` beside it), or skip the test with the reason when it
    is not there."""
    path = root / sub
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (it sits beside the project checkout)")
    return path


@pytest.fixture
def news_server() -> Iterator[NewsServer]:
    with NewsServer() as server:
        yield server


STORES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server, started on first use. Without PostgreSQL's programs this fails (the
    PostgreSQL half of the tests is never skipped silently), unless TIDINGS_TEST_POSTGRES=skip says to skip it."""
    if os.environ.get("TIDINGS_TEST_POSTGRES", "").lower() == "skip":
        pytest.skip("TIDINGS_TEST_POSTGRES=skip: the PostgreSQL half of the tests is not run")
    server = PostgresServer().start()
    yield server
    server.stop()


def new_database(kind: str, folder: Path, request: pytest.FixtureRequest) -> str:
    """A new, empty Tidings database of ``kind``: an SQLite file in ``folder``, or a database on the session's
    PostgreSQL server."""
    if kind == "sqlite":
        return str(folder / "tidings.db")
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()


@pytest.fixture(params=STORES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new database on each store in turn: an SQLite path, then a postgresql:// URL."""
    return new_database(request.param, tmp_path, request)


@pytest.fixture(scope="module", params=STORES)
def module_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A new database on each store in turn, shared by the tests of one module."""
    return new_database(request.param, tmp_path_factory.mktemp("db"), request)


@pytest.fixture
def store(database: str):  # type: ignore[no-untyped-def]
    from tidings.storage import open_store

    s = open_store(database)
    yield s
    s.close()


@pytest.fixture
def quick_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Polls without the per-host pause, the hashing embedder instead of the model, no admin secret from the
    environment: for tests of the site and its admin that poll fixture feeds."""
    from tidings.web.auth import ADMIN_SECRET_ENV

    monkeypatch.setenv("TIDINGS_HOST_DELAY", "0")
    monkeypatch.setenv("TIDINGS_HOST_JITTER", "0")
    monkeypatch.setenv("TIDINGS_EMBEDDER", "hashing")
    monkeypatch.delenv(ADMIN_SECRET_ENV, raising=False)
