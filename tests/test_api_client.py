"""A client generated from /openapi.json works: openapi-python-client builds one from the document Tidings serves
on 127.0.0.1, and its calls come back as typed objects that carry the stored values."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from newsserver import serve
from tidings.clock import iso
from tidings.models import ArticleIn, Neighbour
from tidings.similarity.relate import Link
from tidings.storage import open_store
from tidings.storage.store import Store
from tidings.web.app import create_app

SECRET = "generated-client-secret-0123456789-abcdef"
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
PACKAGE = "tidings_client"
# The import routes take documents (OPML, JSON Lines) as they are: the generator sends such bodies as bytes.
DOCUMENT_TYPES = ("application/xml", "text/xml", "text/x-opml", "application/x-ndjson", "application/jsonl",
                  "text/plain")
EVIDENCE = Link(score=0.81, relation="same_story", cosine=0.83, lexical=0.35, containment=0.0, gap_days=0.5,
                shared=["Harbour Bridge"])


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    s = open_store(database)
    yield s
    s.close()


def stored(store: Store) -> dict[str, Any]:
    """Three outlets on one story: the lead, another outlet's report of the same event, and a related piece."""
    ids: dict[str, int] = {}
    urls: dict[str, str] = {}
    for n, (key, outlet, title) in enumerate([("lead", "Harbour Times", "Harbour bridge reopens"),
                                              ("same", "Coast Courier", "Bridge open again after repairs"),
                                              ("related", "City Desk", "Traffic returns to the harbour")]):
        urls[key] = f"https://{outlet.lower().replace(' ', '-')}.example/2024/05/{key}"
        article = ArticleIn(url=urls[key], title=title, source_id=store.import_source(outlet),
                            published=T0 + timedelta(hours=12 * n), text=f"{title}. The harbour bridge reopened.")
        ids[key] = store.insert_article(article, content_hash=key)
    store.save_neighbours([
        Neighbour(ids["lead"], ids["same"], 0.81, "same_story", why=json.dumps(EVIDENCE.why())),
        Neighbour(ids["lead"], ids["related"], 0.42, "related"),
    ])
    story = store.create_story("Harbour bridge reopens")
    for key in ("lead", "same"):
        store.set_story(ids[key], story)
    store.update_story(story, title="Harbour bridge reopens", lead_article_id=ids["lead"], first=iso(T0),
                       last=iso(T0 + timedelta(hours=12)), size=2, outlets=2)
    return {"ids": ids, "urls": urls, "story": story}


def generate(base: str, folder: Path) -> Path:
    """openapi-python-client's command line, reading the live document; a warning (a route it could not make)
    fails it."""
    config = folder / "generator.json"
    config.write_text(json.dumps({"post_hooks": [], "package_name_override": PACKAGE,
                                  "content_type_overrides": dict.fromkeys(DOCUMENT_TYPES, "application/octet-stream")}))
    out = folder / PACKAGE
    done = subprocess.run([sys.executable, "-m", "openapi_python_client", "generate", "--url", f"{base}/openapi.json",
                           "--meta", "none", "--output-path", str(out), "--config", str(config), "--fail-on-warning"],
                          cwd=folder, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return out


@pytest.fixture
def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A function that generates the client from a live Tidings and imports it (removed again afterwards)."""
    pytest.importorskip("openapi_python_client", reason="openapi-python-client is in the dev extra")

    def load(base: str) -> ModuleType:
        generate(base, tmp_path)
        monkeypatch.syspath_prepend(str(tmp_path))
        return importlib.import_module(PACKAGE)

    yield load
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def test_a_generated_client_reads_typed_answers(store: Store, generated: Any) -> None:
    world = stored(store)
    with serve(create_app(store, SECRET, analyse=False)) as base:
        client_package = generated(base)
        from tidings_client.api.admin import api_import_jsonl
        from tidings_client.api.contract import api_similar, api_stories
        from tidings_client.models import (
            ErrorBody,
            JsonlImported,
            SimilarNews,
            SimilarNewsItem,
            Stories,
            StoryArticle,
            Why,
        )
        from tidings_client.types import File

        client = client_package.Client(base_url=base, raise_on_unexpected_status=True)
        similar = api_similar.sync(client=client, url_query=world["urls"]["lead"])
        stories = api_stories.sync(client=client)
        missing = api_similar.sync_detailed(client=client, url_query="https://nowhere.example/x")
        admin = client_package.AuthenticatedClient(base_url=base, token=SECRET)
        line = json.dumps({"url": "https://wire.example/1", "title": "Ferry timetable", "source": "Wire"})
        imported = api_import_jsonl.sync(client=admin, body=File(payload=line.encode()))

    assert isinstance(similar, SimilarNews) and similar.article.url == world["urls"]["lead"]
    assert similar.article.id == world["ids"]["lead"] and similar.article.source == "Harbour Times"
    assert all(isinstance(item, SimilarNewsItem) for item in similar.similar)
    same, related = similar.similar
    assert (same.url, same.title, same.source, same.relation, same.score) == (
        world["urls"]["same"], "Bridge open again after repairs", "Coast Courier", "same_story", 0.81)
    assert same.published == "2024-05-01T20:00:00Z" and same.also_carried_by == []
    assert isinstance(same.why, Why) and same.why.to_dict() == EVIDENCE.why()
    assert (related.url, related.relation, related.score, related.why) == (world["urls"]["related"], "related", 0.42,
                                                                           None)
    assert isinstance(stories, Stories) and [s.id for s in stories.stories] == [world["story"]]
    articles = stories.stories[0].articles
    assert all(isinstance(a, StoryArticle) for a in articles)
    assert [(a.url, a.source, a.copy_of) for a in articles] == [
        (world["urls"]["lead"], "Harbour Times", None), (world["urls"]["same"], "Coast Courier", None)]
    assert missing.status_code == 404 and isinstance(missing.parsed, ErrorBody)
    assert "nowhere.example" in missing.parsed.error
    assert isinstance(imported, JsonlImported) and (imported.imported, imported.skipped) == (1, 0)
    assert imported.analysis == ("queued" if store.dialect == "postgresql" else "deferred")
