from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from newsserver import NewsServer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SEED = DATA.parent / "seed"  # the page that describes the product

# Tests reach only servers they start on loopback; the fetcher must be allowed to go there.
os.environ["TIDINGS_ALLOW_PRIVATE_NETWORKS"] = "1"


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


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    from tidings.storage.sqlite import SQLiteStore

    s = SQLiteStore(tmp_path / "tidings.db")
    yield s
    s.close()
