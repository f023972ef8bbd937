"""The use cases: checked once whoever calls them (command line or web), and what they leave behind."""

from __future__ import annotations

import json

import pytest

from newsserver import FEED_TYPE, GOOD, NewsServer
from tidings.analysis.embeddings import HashingEmbedder
from tidings.cli import main
from tidings.errors import NotFound, UserError
from tidings.ingest.pipeline import import_jsonl
from tidings.jobs import Analyser
from tidings.usecases import analyse_pending, edit_source, remove_source

LEAD = ("Floodwater from the swollen river forced the evacuation of 400 homes in Marlow on Tuesday after three days "
        "of heavy rain, the Environment Agency said.")


def _story_of_two_outlets(store) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    import_jsonl(store, [
        json.dumps({"url": "https://a.example/1", "source": "Alpha News", "title": "Thames floods Marlow",
                    "summary": LEAD, "published": "2024-02-06T09:00:00Z"}),
        json.dumps({"url": "https://b.example/1", "source": "Beta Post", "title": "Marlow evacuated as Thames rises",
                    "summary": LEAD.replace("Tuesday", "Tuesday morning"), "published": "2024-02-06T10:00:00Z"}),
    ])
    analyse_pending(store, Analyser.open(store, HashingEmbedder()))
    a, b = store.article_by_url("https://a.example/1"), store.article_by_url("https://b.example/1")
    assert a and b and a["story_id"] == b["story_id"]
    return a["source_id"], b["source_id"], a["story_id"]


def test_removing_a_source_tells_its_stories_again_from_what_is_left(store) -> None:  # type: ignore[no-untyped-def]
    alpha, beta, story = _story_of_two_outlets(store)
    assert store.story(story)["size"] == 2  # type: ignore[index]
    removed = remove_source(store, alpha)
    assert removed["name"] == "Alpha News"
    left = store.story(story)
    assert left is not None and left["size"] == 1 and left["title"] == "Marlow evacuated as Thames rises"
    remove_source(store, beta)
    assert store.story(story) is None  # nothing left: the story goes too
    with pytest.raises(NotFound):
        remove_source(store, beta)


def test_a_source_is_checked_the_same_way_on_every_path(store, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    alpha, _, _ = _story_of_two_outlets(store)
    with pytest.raises(UserError, match="name is too long"):
        edit_source(store, alpha, name="x" * 201)
    with pytest.raises(UserError, match="full text must be auto, always or never"):
        edit_source(store, alpha, fulltext="sometimes")
    assert edit_source(store, alpha, name="Alpha\x07 News\n Desk")["name"] == "Alpha News Desk"
    # The command line refuses what the web refuses, before it fetches anything.
    db = str(tmp_path / "cli.db")
    assert main(["--db", db, "sources", "add", "http://127.0.0.1:9/feed.xml", "--name", "x" * 201]) == 2  # bad input
    assert "name is too long" in capsys.readouterr().err


def test_adding_a_feed_twice_says_it_was_there(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    with NewsServer() as server:
        url = server.add("/feed.xml", GOOD, FEED_TYPE)
        db = str(tmp_path / "t.db")
        assert main(["--db", db, "sources", "add", url]) == 0
        first = capsys.readouterr().out
        assert main(["--db", db, "sources", "add", url]) == 0
        again = capsys.readouterr().out
    assert "already there" not in first and "already there" in again
    assert first.split(":")[0] == again.split(":")[0]  # the same source id


def test_an_article_is_found_by_the_url_as_people_paste_it(store) -> None:  # type: ignore[no-untyped-def]
    from tidings.web.pages import NotFound as PageNotFound
    from tidings.web.pages import api_similar, search_page

    import_jsonl(store, [json.dumps({"url": "https://news.example/world/floods?id=7", "source": "Alpha News",
                                     "title": "Thames floods Marlow", "summary": LEAD})])
    for pasted in ("https://news.example/world/floods?id=7&utm_source=twitter#comments",
                   "HTTPS://NEWS.Example/world/floods?id=7", "http://news.example/world/floods?id=7",
                   "https://news.example/world/floods/?id=7", " https://news.example/world/floods?id=7 "):
        assert api_similar(store, pasted)["article"]["url"] == "https://news.example/world/floods?id=7", pasted
        found = search_page(store, pasted)  # pasted into the search box, it finds the article itself
        assert found["matches"] == 1 and [r["url"] for r in found["results"]] == [
            "https://news.example/world/floods?id=7"], pasted
    with pytest.raises(PageNotFound):
        api_similar(store, "https://news.example/world/floods?id=8")  # another query is another page
    assert search_page(store, "https://news.example/world/floods?id=8")["matches"] == 0


def test_an_operator_sets_how_often_a_source_is_polled(database, capsys) -> None:  # type: ignore[no-untyped-def]
    from newsserver import refresh
    from tidings.clock import parse_iso
    from tidings.ingest.schedule import DEFAULT_INTERVAL
    from tidings.storage import open_store

    with NewsServer() as server:
        url = server.add("/feed.xml", GOOD, FEED_TYPE)
        db = database
        assert main(["--db", str(db), "sources", "add", url, "--every", "15", "--fulltext", "never"]) == 0
        capsys.readouterr()
        assert main(["--db", str(db), "sources", "add", server.add("/b.xml", GOOD, FEED_TYPE), "--every", "3"]) == 2
        assert "poll every 5 to 1440 minutes" in capsys.readouterr().err
        store = open_store(db)
        source = store.sources()[0]
        assert source["poll_every"] == 900
        refresh(store, source["id"])  # a successful poll keeps the operator's interval, whatever the feed's pace
        row = store.source(source["id"]) or {}
        due, last = parse_iso(row["next_poll_at"]), parse_iso(row["last_polled_at"])
        assert due and last and (due - last).total_seconds() == 900
        edit_source(store, source["id"], every_minutes=0)  # back to adapting
        refresh(store, source["id"])
        row = store.source(source["id"]) or {}
        assert row["poll_every"] is None and row["poll_interval"] == DEFAULT_INTERVAL
        with pytest.raises(UserError, match="poll every"):
            edit_source(store, source["id"], every_minutes=2000)
