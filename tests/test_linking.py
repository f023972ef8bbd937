"""Decisions about what is the same: copy, same story, related, unrelated; stories and Similar News ranking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tidings.analysis.embeddings import HashingEmbedder
from tidings.ingest.pipeline import import_jsonl
from tidings.jobs import Analyser, analyse_backlog
from tidings.similarity.lexical import content_words
from tidings.similarity.neardup import fingerprint, resemblance
from tidings.similarity.ranking import rank_similar
from tidings.similarity.relate import relate
from tidings.stories.cluster import choose_story, describe

WIRE = (
    "MARLOW, England (Wirepress) — Floodwater from the swollen River Thames forced the evacuation of 400 homes in "
    "Marlow on Tuesday after three days of heavy rain, the Environment Agency said. Emergency crews used boats to "
    "reach elderly residents trapped on upper floors, and a temporary shelter opened at the town's leisure centre. "
    "The agency issued 12 severe flood warnings along the Thames valley and said river levels would keep rising "
    "until Thursday. Network Rail closed the line between Maidenhead and Marlow as water covered the tracks. "
    "Local councillor Anne Hughes said the town had not seen flooding on this scale since 2014 and urged people "
    "to follow police advice. Forecasters expect another 40 millimetres of rain across southern England by the "
    "weekend, raising fears for villages further downstream."
)
COPY = (
    "By Staff Reporter | Published 10:42 | " + WIRE.replace("Wirepress", "Wirepress/Daily Echo")
    .rsplit(" Forecasters", 1)[0] + " Copyright Daily Echo. All rights reserved."
)
OWN_REPORT = (
    "Hundreds of families left their homes in Marlow as the Thames burst its banks after days of rain. Boats "
    "ferried pensioners from flooded houses while the leisure centre became an emergency shelter. Severe flood "
    "warnings cover much of the Thames valley, and trains between Maidenhead and Marlow have stopped running. "
    "Councillor Anne Hughes called it the worst flooding the town has faced in a decade."
)
OTHER_FLOOD = (
    "Heavy monsoon rain flooded parts of Mumbai on Monday, halting suburban trains and closing schools, as the "
    "weather office warned of more downpours over the coming days in Maharashtra."
)
SPORT = (
    "The home side clinched the league title with a 3-1 win on Saturday, their striker scoring twice in the "
    "second half before a record crowd at the stadium."
)

T0 = datetime(2024, 2, 6, 9, tzinfo=UTC).timestamp()


def test_a_syndicated_copy_with_byline_and_trimmed_ending_is_a_duplicate() -> None:
    w, c = fingerprint(WIRE), fingerprint(COPY)
    link = relate(0.95, content_words("Thames floods Marlow", WIRE), content_words("Town evacuated", COPY), w, c,
                  T0, T0 + 3600)
    assert resemblance(w, c) >= 0.6
    assert link.relation == "duplicate"


def test_an_independent_report_of_the_event_is_same_story_not_a_copy() -> None:
    link = relate(0.72, content_words("Thames floods Marlow", WIRE), content_words("Marlow families flee", OWN_REPORT),
                  fingerprint(WIRE), fingerprint(OWN_REPORT), T0, T0 + 7200)
    assert resemblance(fingerprint(WIRE), fingerprint(OWN_REPORT)) < 0.2
    assert link.relation == "same_story"


def test_same_subject_elsewhere_is_related_and_far_apart_in_time_is_not_same_story() -> None:
    flood = relate(0.56, content_words("Thames floods", WIRE), content_words("Mumbai floods", OTHER_FLOOD),
                   fingerprint(WIRE), fingerprint(OTHER_FLOOD), T0, T0)
    assert flood.relation == "related"
    later = relate(0.72, content_words("a", WIRE), content_words("b", OWN_REPORT), b"", b"", T0, T0 + 30 * 86400)
    assert later.relation == "related"
    undated = relate(0.72, content_words("a", WIRE), content_words("b", OWN_REPORT), b"", b"", T0, None)
    assert undated.relation == "same_story", "an undated article is not treated as published now"


def test_unrelated_articles_are_not_linked() -> None:
    link = relate(0.12, content_words("Thames floods", WIRE), content_words("Title win", SPORT),
                  fingerprint(WIRE), fingerprint(SPORT), T0, T0)
    assert link.relation is None


def test_choose_story_weighs_agreeing_members_over_one_stray_match() -> None:
    assert choose_story([(1, 0.9, "same_story"), (2, 0.6, "same_story"), (2, 0.6, "same_story")]) == 2
    assert choose_story([(1, 0.9, "related")]) is None
    assert choose_story([]) is None


def test_describe_names_the_first_report() -> None:
    members = [
        {"id": 5, "title": "First", "published_at": "2024-01-01T10:00:00Z", "fetched_at": "x", "outlet": "a"},
        {"id": 7, "title": "Second", "published_at": "2024-01-02T10:00:00Z", "fetched_at": "x", "outlet": "b"},
    ]
    d = describe(members)
    assert (d.title, d.lead_article_id, d.size, d.outlets) == ("First", 5, 2, 2)
    assert d.first_published_at == "2024-01-01T10:00:00Z" and d.last_published_at == "2024-01-02T10:00:00Z"


def test_rank_similar_puts_same_story_first_collapses_copies_and_spreads_outlets() -> None:
    rows = [
        {"id": 1, "outlet": "a", "source": "A", "score": 0.95, "relation": "duplicate"},
        {"id": 2, "outlet": "b", "source": "B", "score": 0.93, "relation": "duplicate"},
        {"id": 3, "outlet": "c", "source": "C", "score": 0.70, "relation": "same_story"},
        {"id": 4, "outlet": "c", "source": "C", "score": 0.69, "relation": "same_story"},
        {"id": 5, "outlet": "d", "source": "D", "score": 0.80, "relation": "related"},
    ]
    shown = rank_similar(rows, limit=5)
    assert [r["id"] for r in shown] == [1, 3, 5]
    assert shown[0]["also_carried_by"] == ["B"]


def _line(url: str, source: str, title: str, text: str, published: datetime) -> str:
    import json

    return json.dumps({"url": url, "source": source, "title": title, "text": text, "published": published.isoformat()})


def test_linking_is_incremental_and_stored_both_ways(store) -> None:  # type: ignore[no-untyped-def]
    t = datetime(2024, 2, 6, 9, tzinfo=UTC)
    analyser = Analyser.open(store, HashingEmbedder())
    import_jsonl(store, [_line("https://wire.example/a", "Wirepress", "Thames floods Marlow", WIRE, t)])
    analyse_backlog(store, analyser)
    import_jsonl(store, [
        _line("https://echo.example/b", "Daily Echo", "Town evacuated as river rises", COPY, t + timedelta(hours=1)),
        _line("https://sport.example/c", "Sport Daily", "Title decided", SPORT, t),
    ])
    analyse_backlog(store, analyser)
    first = store.article_by_url("https://wire.example/a")
    copy = store.article_by_url("https://echo.example/b")
    sport = store.article_by_url("https://sport.example/c")
    assert first and copy and sport
    older_sees_newer = store.similar_to(first["id"])
    assert [(r["id"], r["relation"]) for r in older_sees_newer] == [(copy["id"], "duplicate")]
    assert store.similar_to(copy["id"])[0]["id"] == first["id"]
    assert first["story_id"] is not None
    assert store.article_by_url("https://echo.example/b")["story_id"] == first["story_id"]  # type: ignore[index]
    assert sport["story_id"] not in (None, first["story_id"])
    assert store.similar_to(sport["id"]) == []


def test_a_fresh_analyser_rebuilds_its_index_from_the_store(store) -> None:  # type: ignore[no-untyped-def]
    t = datetime(2024, 2, 6, 9, tzinfo=UTC)
    import_jsonl(store, [_line("https://wire.example/a", "Wirepress", "Thames floods Marlow", WIRE, t)])
    analyse_backlog(store, Analyser.open(store, HashingEmbedder()))
    later = Analyser.open(store, HashingEmbedder())
    assert len(later.index) == 1
    import_jsonl(store, [_line("https://echo.example/b", "Daily Echo", "Evacuation", COPY, t)])
    analyse_backlog(store, later)
    copy = store.article_by_url("https://echo.example/b")
    assert copy is not None and store.similar_to(copy["id"])[0]["url"] == "https://wire.example/a"
