"""Hostile sources cannot touch another outlet's articles, items are never dropped silently, input is bounded.

Every feed and page is served by the fixture server on 127.0.0.1 and goes through the real ``refresh_feed``;
imports go through ``import_jsonl`` and the CLI.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from newsserver import FEED_TYPE, NewsServer, add, refresh, rss
from tidings.cli import main
from tidings.clock import parse_iso, utcnow
from tidings.ingest.pipeline import (
    CUT_MARK,
    FIELD_LIMITS,
    FOREIGN_URL,
    bounded_lines,
    import_jsonl,
    same_site,
)
from tidings.storage.sqlite import SQLiteStore
from tidings.storage.store import Store

VICTIM_URL = "https://victim.example/politics/budget-vote"
VICTIM = json.dumps({"url": VICTIM_URL, "title": "Senate passes the budget", "source": "Victim Daily",
                     "text": "The Senate passed the budget on Friday after a long debate. " * 8,
                     "published": "2025-03-01T10:00:00Z", "section": "Politics"})


def snapshot(store: Store, url: str) -> dict[str, Any]:
    """Everything stored about one article: its row, byte for byte, and its sections."""
    row = store.stored_article(url)
    assert row is not None, url
    return {**row, "sections": store.sections_of(int(row["id"]))}


def page(title: str, body: str, *, canonical: str = "", og_title: str = "") -> str:
    head = f"<title>{title}</title>"
    head += f'<link rel="canonical" href="{canonical}">' if canonical else ""
    head += f'<meta property="og:title" content="{og_title}">' if og_title else ""
    return f"<html><head>{head}</head><body><article><p>{body}</p></article></body></html>"


LONG_BODY = "Hostile text replaces the report in every paragraph of this page. " * 40


# --- 1. an article belongs to the source that published it ------------------------------------------------


def test_feed_item_linking_to_another_outlets_article_leaves_it_untouched(store: Store,
                                                                          news_server: NewsServer) -> None:
    assert import_jsonl(store, [VICTIM]).imported == 1
    before = snapshot(store, VICTIM_URL)
    feed = rss([("h1", VICTIM_URL, "Hijacked headline"), ("h2", news_server.url("/own/1"), "Own story")])
    source = add(store, news_server.add("/feed", feed, FEED_TYPE), "Hostile Feed")

    result = refresh(store, source)

    assert snapshot(store, VICTIM_URL) == before
    assert (result.new, result.skipped) == (1, {FOREIGN_URL: 1})
    assert json.loads(store.source(source)["last_skipped"]) == {FOREIGN_URL: 1}  # type: ignore[index]


@pytest.mark.parametrize("same_host", [False, True], ids=["canonical-on-another-host", "canonical-same-host"])
def test_page_declaring_another_outlets_canonical_url_leaves_it_untouched(
        store: Store, news_server: NewsServer, same_host: bool) -> None:
    if same_host:  # two sources on one host: a canonical URL still names only the declaring source's articles
        victim_url = news_server.add("/victim/1", page("Victim", "The real report."))
        other = add(store, news_server.add("/victim-feed", rss([("v1", victim_url, "Victim report")]), FEED_TYPE))
        refresh(store, other)
    else:
        import_jsonl(store, [VICTIM])
        victim_url = VICTIM_URL
    before = snapshot(store, victim_url)
    own = news_server.add("/hostile/1", page("Hijack", LONG_BODY, canonical=victim_url))
    feed = news_server.add("/hostile-feed", rss([("x1", own, "Hijacked headline")]), FEED_TYPE)
    source = store.add_source(feed, "Hostile", fulltext="always")[0]

    result = refresh(store, source)

    assert snapshot(store, victim_url) == before
    assert result.new == 1
    stored = snapshot(store, own)
    assert stored["source_id"] == source and "Hostile text" in stored["text"]
    if not same_host:
        assert stored["canonical_url"] != victim_url  # another host's claim is not kept as identity


def test_import_line_with_another_sources_url_is_refused_and_the_rest_stored(store: Store) -> None:
    import_jsonl(store, [VICTIM])
    before = snapshot(store, VICTIM_URL)
    hostile = json.dumps({"url": VICTIM_URL, "title": "Hijacked", "source": "Hostile Wire", "text": LONG_BODY})
    good = json.dumps({"url": "https://hostile.example/own", "title": "Own story", "source": "Hostile Wire"})

    report = import_jsonl(store, [hostile, good])

    assert snapshot(store, VICTIM_URL) == before
    assert report.imported == 1 and [n for n, _ in report.errors] == [1]
    assert "another source" in report.errors[0][1]


def test_a_source_still_updates_its_own_article_by_url_and_canonical_url(store: Store,
                                                                         news_server: NewsServer) -> None:
    story = news_server.add("/s/1", page("Story", LONG_BODY))
    feed = news_server.add("/feed", rss([("a", story, "First headline")]), FEED_TYPE)
    source = add(store, feed)
    refresh(store, source)
    news_server.add("/feed", rss([("a", story, "Corrected headline")]), FEED_TYPE)

    result = refresh(store, source)

    assert (result.updated, result.skipped) == (1, {})
    assert snapshot(store, story)["title"] == "Corrected headline"


def test_same_site() -> None:
    assert same_site("https://www.paper.example/a", "https://paper.example/b")
    assert not same_site("https://other.example/a", "https://paper.example/a")
    assert not same_site("", "https://paper.example/a")


# --- 2. items are never silently dropped ------------------------------------------------------------------


def untitled_feed(items: list[tuple[str, str, str]]) -> str:
    """RSS with items (guid, link, description) and no titles; an empty link leaves <link> out."""
    body = "".join(f"<item><guid isPermaLink='false'>{g}</guid>{f'<link>{u}</link>' if u else ''}"
                   f"<description>{d}</description><pubDate>Mon, 03 Mar 2025 10:00:00 GMT</pubDate></item>"
                   for g, u, d in items)
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>F</title>{body}</channel></rss>"


def test_item_without_title_takes_the_pages_title_or_its_first_sentence(store: Store,
                                                                       news_server: NewsServer) -> None:
    with_page = news_server.add("/p/1", page("Harbour ferry resumes service | The Gazette", LONG_BODY))
    og_page = news_server.add("/p/2", page("Site", LONG_BODY, og_title="Council approves sea wall"))
    no_page = news_server.url("/p/missing")  # 404: the description must do
    feed = untitled_feed([
        ("1", with_page, "A short note."),
        ("2", og_page, "Another note."),
        ("3", no_page, "Rail strike called off after late talks. Unions welcomed the offer."),
        ("4", "", "An item with no link at all."),
    ])
    source = add(store, news_server.add("/feed", feed, FEED_TYPE))  # summaries, and pages never fetched for text

    result = refresh(store, source)

    assert (result.new, result.skipped) == (3, {"no link": 1})
    titles = {r["url"]: r["title"] for r in store.latest_articles(source_id=source)}
    assert titles == {with_page: "Harbour ferry resumes service", og_page: "Council approves sea wall",
                      no_page: "Rail strike called off after late talks."}


def test_poll_summary_and_source_page_name_what_was_skipped(tmp_path: Path, news_server: NewsServer,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from tidings.web.app import create_app

    monkeypatch.setenv("TIDINGS_EMBEDDER", "hashing")
    monkeypatch.setenv("TIDINGS_HOST_DELAY", "0")
    db = tmp_path / "t.db"
    feed = untitled_feed([("1", news_server.url("/a"), "A report."), ("2", "", "No link here.")])
    store = SQLiteStore(db)
    source = store.add_source(news_server.add("/feed", feed, FEED_TYPE), "Skippy", fulltext="never")[0]

    assert main(["--db", str(db), "poll", "--all"]) == 0

    assert "items skipped 1 (no link: 1)" in capsys.readouterr().out
    with TestClient(create_app(store, "s" * 32, analyse=False)) as client:
        html = client.get(f"/source/{source}").text
    assert "1 × no link" in html
    store.close()


# --- 7. bounded input everywhere --------------------------------------------------------------------------


def test_deeply_nested_line_is_skipped_and_the_lines_around_it_stored(store: Store) -> None:
    nested = '{"url": "https://a.example/x", "title": "t", "source": "S", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    lines = [json.dumps({"url": f"https://a.example/{i}", "title": f"Story {i}", "source": "S"}) for i in range(2)]

    report = import_jsonl(store, [lines[0], nested, lines[1]])

    assert report.imported == 2 and [n for n, _ in report.errors] == [2]
    assert "nested too deeply" in report.errors[0][1]


def test_long_fields_are_cut_with_a_marker_and_counted(store: Store) -> None:
    line = json.dumps({"url": "https://a.example/big", "title": "T" * 100_000, "source": "S",
                       "summary": "s " * 200_000, "text": "word " * 200_000})

    report = import_jsonl(store, [line])

    row = snapshot(store, "https://a.example/big")
    for name in ("title", "summary", "text"):
        assert len(row[name]) <= FIELD_LIMITS[name] and row[name].endswith(CUT_MARK), name
    assert report.adjusted == {f"{n} cut to {FIELD_LIMITS[n]:,} characters": 1 for n in ("title", "summary", "text")}


def test_an_overlong_line_is_refused_before_parsing_and_never_held_whole(store: Store) -> None:
    good = json.dumps({"url": "https://a.example/ok", "title": "Fine", "source": "S"})
    huge = json.dumps({"url": "https://a.example/huge", "title": "x" * 5_000, "source": "S"})
    stream = io.StringIO("\n".join([good, huge, good.replace("/ok", "/ok2")]) + "\n")

    lines = list(bounded_lines(stream, max_chars=1_000))

    assert [len(x) for x in lines] == [len(good) + 1, 1_001, len(good) + 2]  # the huge one read only so far
    report = import_jsonl(store, lines)
    assert report.imported == 2 and [n for n, _ in report.errors] == [2]


def test_cli_import_refuses_an_overlong_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import tidings.ingest.pipeline as pipeline

    monkeypatch.setenv("TIDINGS_EMBEDDER", "hashing")
    monkeypatch.setattr(pipeline, "MAX_LINE_CHARS", 2_000)
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"url": "https://a.example/1", "title": "Fine", "source": "S"}) + "\n"
                    + json.dumps({"url": "https://a.example/2", "title": "y" * 10_000, "source": "S"}) + "\n")

    assert main(["--db", str(tmp_path / "t.db"), "import", str(path)]) == 0

    captured = capsys.readouterr()
    assert "line 2: skipped: line longer than 2,000 characters" in captured.err
    assert "imported 1," in captured.out


def test_dates_in_the_future_are_clamped_to_the_time_seen(store: Store, news_server: NewsServer) -> None:
    report = import_jsonl(store, [json.dumps({"url": "https://a.example/f", "title": "From the future",
                                              "source": "S", "published": "9999-12-31T00:00:00Z"})])
    feed = rss([("f", news_server.url("/f"), "Pinned forever")], when="Fri, 31 Dec 9999 23:59:59 GMT")
    refresh(store, add(store, news_server.add("/feed", feed, FEED_TYPE)))

    assert report.adjusted == {"date in the future set to the time seen": 1}
    for url in ("https://a.example/f", news_server.url("/f")):
        published = parse_iso(snapshot(store, url)["published_at"])
        assert published is not None and published <= utcnow() + timedelta(seconds=1)
