"""Decisions about what is the same: copy, same story, related, unrelated; stories and Similar News ranking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tidings.analysis.embeddings import HashingEmbedder
from tidings.ingest.pipeline import import_jsonl
from tidings.jobs import Analyser, _candidate_evidence, analyse_backlog, evidence
from tidings.similarity.neardup import containment, exact_containment, fingerprint
from tidings.similarity.ranking import flatten, rank_similar
from tidings.similarity.relate import relate
from tidings.stories.cluster import choose_story, describe, stories_to_merge

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
    assert containment(w, c) >= 0.8, "the MinHash estimate finds the copy"
    copied = exact_containment(WIRE, COPY)
    assert copied >= 0.8
    link = relate(0.95, evidence("Thames floods Marlow", WIRE, T0), evidence("Town evacuated", COPY, T0 + 3600),
                  containment=copied)
    assert link.relation == "duplicate"
    assert "marlow" in link.shared and "environment agency" in link.shared


def test_an_independent_report_of_the_event_is_same_story_not_a_copy() -> None:
    assert containment(fingerprint(WIRE), fingerprint(OWN_REPORT)) < 0.2
    link = relate(0.72, evidence("Thames floods Marlow", WIRE, T0), evidence("Marlow families flee", OWN_REPORT, T0),
                  containment=exact_containment(WIRE, OWN_REPORT))
    assert link.relation == "same_story"
    assert link.why()["hours_apart"] == 0.0 and "marlow" in link.why()["shared"]  # type: ignore[operator]


def test_same_subject_elsewhere_is_related_and_far_apart_in_time_is_not_same_story() -> None:
    flood = relate(0.56, evidence("Thames floods", WIRE, T0), evidence("Mumbai floods", OTHER_FLOOD, T0))
    assert flood.relation == "related"
    later = relate(0.72, evidence("a", WIRE, T0), evidence("b", OWN_REPORT, T0 + 30 * 86400))
    assert later.relation == "related"
    undated = relate(0.72, evidence("a", WIRE, T0), evidence("b", OWN_REPORT, None))
    assert undated.relation == "same_story", "an undated article is not treated as published now"


def test_unrelated_articles_are_not_linked() -> None:
    link = relate(0.12, evidence("Thames floods", WIRE, T0), evidence("Title win", SPORT, T0))
    assert link.relation is None


def test_short_texts_are_never_called_copies() -> None:
    assert not fingerprint("Floods hit Marlow as the Thames bursts its banks.")
    assert containment(fingerprint(WIRE), fingerprint("Floods hit Marlow.")) == 0.0


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


def _row(i: int, outlet: str, score: float, relation: str, group: int | None = None,
         published: str = "2024-01-01T10:00:00Z") -> dict[str, object]:
    return {"id": i, "outlet": outlet, "source": outlet.title(), "score": score, "relation": relation,
            "copy_group": group, "published_at": published}


def test_rank_similar_collapses_a_copy_group_into_its_earliest_publication() -> None:
    # Three outlets ran one wire text (group 9); one outlet wrote its own report; one is merely related.
    rows = [
        _row(1, "a", 0.80, "same_story", 9, "2024-01-01T12:00:00Z"),
        _row(2, "b", 0.82, "same_story", 9, "2024-01-01T09:00:00Z"),
        _row(3, "c", 0.78, "same_story", 9, "2024-01-01T13:00:00Z"),
        _row(4, "d", 0.75, "same_story"),
        _row(5, "e", 0.95, "related"),
    ]
    shown = rank_similar(rows, limit=5)
    assert [r["id"] for r in shown] == [2, 4, 5]
    assert shown[0]["also_carried_by"] == ["A", "C"] and shown[0]["score"] == 0.82
    assert [r["id"] for r in flatten(shown)] == [2, 4, 5, 1, 3]


def test_rank_similar_prefers_a_spread_of_outlets_but_keeps_strong_repeats() -> None:
    rows = [_row(1, "a", 0.90, "same_story"), _row(2, "a", 0.84, "same_story"), _row(3, "b", 0.86, "same_story"),
            _row(4, "a", 0.70, "same_story"), _row(5, "c", 0.68, "same_story")]
    assert [r["id"] for r in rank_similar(rows, limit=5)] == [1, 3, 2, 5, 4]
    assert [r["id"] for r in rank_similar(rows, limit=2)] == [1, 3]


def test_copies_of_this_article_are_one_item() -> None:
    rows = [_row(1, "a", 0.95, "duplicate", 7), _row(2, "b", 0.94, "duplicate", 7), _row(3, "c", 0.6, "same_story")]
    shown = rank_similar(rows)
    expected = [(1, "duplicate", ["B"]), (3, "same_story", [])]
    assert [(r["id"], r["relation"], r["also_carried_by"]) for r in shown] == expected


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


def test_an_article_joins_only_a_story_most_of_whose_members_it_agrees_with() -> None:
    # Story 1 has four members; one link of 0.6 to it is weak support (0.15 of its size): start a new story.
    assert choose_story([(1, 0.6, "same_story")], {1: 4}, min_support=0.35) is None
    # Links to three of its four members: joins.
    assert choose_story([(1, 0.6, "same_story")] * 3, {1: 4}, min_support=0.35) == 1
    # A big story counts at most size_cap members: a few strong links suffice.
    assert choose_story([(2, 0.7, "same_story")] * 3, {2: 200}, min_support=0.35, size_cap=5) == 2


def test_stories_to_merge_needs_a_strong_same_event_link() -> None:
    links = [(1, 0.9, "same_story"), (2, 0.8, "same_story"), (3, 0.6, "same_story"), (4, 0.95, "related")]
    assert stories_to_merge(links, chosen=1, min_score=0.75) == [2]


def test_the_evidence_kept_for_candidates_is_what_the_text_gives(store) -> None:  # type: ignore[no-untyped-def]
    t = datetime(2024, 2, 6, 9, tzinfo=UTC)
    import_jsonl(store, [_line("https://wire.example/a", "Wirepress", "Thames floods Marlow", WIRE, t),
                         _line("https://sport.example/c", "Sport Daily", "Title decided", SPORT, t)])
    analyse_backlog(store, Analyser.open(store, HashingEmbedder()))
    fresh = Analyser.open(store, HashingEmbedder())  # an empty cache: the evidence comes from the store
    ids = sorted(int(r["id"]) for r in store.latest_articles(limit=100))
    kept = _candidate_evidence(store, fresh, [fresh.index.get(i) for i in ids])  # type: ignore[misc]
    for i in ids:
        row = store.article(i)
        assert row is not None
        computed = evidence(row["title"], row["text"], None, fingerprint(row["text"]))
        assert kept[i].words == computed.words and computed.words
        assert kept[i].terms == computed.terms and kept[i].fingerprint == computed.fingerprint
    assert "marlow" in kept[ids[0]].terms or "thames" in kept[ids[0]].terms


def _flood_reports(n: int) -> list[str]:
    """n reports of the Marlow floods and other news, from n outlets, an hour apart."""
    t = datetime(2024, 2, 6, 9, tzinfo=UTC)
    texts = [WIRE, COPY, OWN_REPORT, OTHER_FLOOD, SPORT]
    return [_line(f"https://outlet{i}.example/{i}", f"Outlet {i}", f"Report {i} on the day's news",
                  texts[i % len(texts)], t + timedelta(hours=i)) for i in range(n)]


def _links(store) -> set[tuple[str, str, str, float]]:  # type: ignore[no-untyped-def]
    return {(a["url"], b["url"], b["relation"], b["score"]) for a in store.latest_articles(limit=100)
            for b in store.similar_to(a["id"])}


def test_the_evidence_cache_keeps_a_bounded_window_and_the_store_gives_the_rest(  # type: ignore[no-untyped-def]
        store, tmp_path, monkeypatch) -> None:
    from tidings import jobs
    from tidings.storage import open_store

    lines = _flood_reports(12)
    roomy = open_store(str(tmp_path / "roomy.db"))
    try:
        import_jsonl(roomy, lines)
        analyse_backlog(roomy, Analyser.open(roomy, HashingEmbedder()))
        expected = _links(roomy)
    finally:
        roomy.close()
    monkeypatch.setattr(jobs, "EVIDENCE_CACHE", 3)
    analyser = Analyser.open(store, HashingEmbedder())
    import_jsonl(store, lines)
    analyse_backlog(store, analyser, batch=4)
    assert len(analyser.evidence_cache) == 3, "the cache never holds more than its bound"
    assert expected and _links(store) == expected, "evicted evidence read back from the store links the same"
