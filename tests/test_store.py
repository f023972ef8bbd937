"""The Store: migrations, WAL, identity of articles, full-text search, stories."""

from __future__ import annotations

from pathlib import Path

from tidings.models import ArticleIn
from tidings.storage.schema_sqlite import MIGRATIONS
from tidings.storage.sqlite import SQLiteStore
from tidings.storage.store import Store, outlet_key


def test_migrations_run_once_and_wal_is_on(tmp_path: Path) -> None:
    s = SQLiteStore(tmp_path / "a.db")
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = SQLiteStore(tmp_path / "a.db")
    versions = [r[0] for r in again.db.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))


def test_outlet_identity_ignores_section_suffixes_and_articles() -> None:
    assert outlet_key("The Guardian - World news") == outlet_key("the guardian") == "guardian"
    assert outlet_key("BBC News | Business") == "bbc news"
    assert outlet_key("Fox News") != outlet_key("HuffPost")


def test_articles_are_found_by_guid_then_url_then_canonical_url(store: Store) -> None:
    src, _ = store.add_source("https://x.example/feed", "X")
    a = ArticleIn(url="https://x.example/a?utm_source=rss", title="T", source_id=src, guid="g1",
                  canonical_url="https://x.example/a")
    aid = store.insert_article(a, "h")
    assert store.find_article(src, "g1", "https://other", "")["id"] == aid  # type: ignore[index]
    assert store.find_article(src, "", "https://x.example/a?utm_source=rss")["id"] == aid  # type: ignore[index]
    assert store.find_article(src, "g2", "https://nope", "https://x.example/a")["id"] == aid  # type: ignore[index]
    assert store.find_article(src, "g2", "https://nope", "https://nope") is None


def test_search_takes_words_not_query_syntax(store: Store) -> None:
    src = store.import_source("X")
    store.insert_article(ArticleIn(url="https://x.example/1", title="Volcano erupts in Iceland", source_id=src,
                                   text="Lava reached the town of Grindavik."), "h")
    assert [r["title"] for r in store.search("grindavik")] == ["Volcano erupts in Iceland"]
    assert store.search('" OR * NEAR(') == []
    assert store.search("") == []


def test_sections_of_many_keeps_each_articles_filing_order(store: Store) -> None:
    src = store.import_source("X")
    ids = [store.insert_article(ArticleIn(url=f"https://x.example/{i}", title=f"T{i}", source_id=src), "h")
           for i in range(3)]
    store.set_sections(ids[0], ["Local", "Russia", "United States", "World"])
    store.set_sections(ids[1], ["United States", "Politics"])
    store.set_sections(ids[0], ["Local", "United States", "Russia", "World"])  # filed again: the new order
    many = store.sections_of_many([ids[2], ids[0], ids[1], 999])
    assert many == {ids[2]: [], ids[0]: ["Local", "United States", "Russia", "World"],
                    ids[1]: ["United States", "Politics"], 999: []}
    assert all(many[i] == store.sections_of(i) for i in ids)
    assert store.sections_of_many([]) == {}


def test_where_a_source_icon_was_found_is_kept_and_goes_with_the_source(store: Store) -> None:
    src, _ = store.add_source("https://x.example/feed", "X")
    assert store.source_icon(src) is None and store.source_article_url(src) == ""
    store.save_source_icon(src, "https://x.example/", "https://x.example/icon.png", "2025-01-01T00:00:00Z")
    store.save_source_icon(src, "https://x.example/", "", "2025-01-02T00:00:00Z")  # looked again: none usable
    assert store.source_icon(src) == {"site_url": "https://x.example/", "icon_url": "",
                                      "checked_at": "2025-01-02T00:00:00Z"}
    store.insert_article(ArticleIn(url="https://x.example/a", title="A", source_id=src), "h")
    store.insert_article(ArticleIn(url="https://x.example/b", title="B", source_id=src), "h")
    assert store.source_article_url(src) == "https://x.example/b"
    store.save_source_icon(999, "https://y.example/", "", "2025-01-01T00:00:00Z")  # no such source: nothing
    assert store.source_icon(999) is None
    store.remove_source(src)
    assert store.source_icon(src) is None
