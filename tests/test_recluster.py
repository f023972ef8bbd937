"""Stories that converge: the re-clustering plan (pure), its stable ids, and what applying it does to a store;
copies found on summaries as well as on full texts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np

from tidings.analysis.embeddings import HashingEmbedder
from tidings.ingest.pipeline import import_jsonl
from tidings.jobs import Analyser, analyse_backlog, recluster
from tidings.linking.recluster import Member, stable_ids
from tidings.linking.recluster import recluster as plan_recluster

T0 = datetime(2024, 5, 6, 9, tzinfo=UTC)
DAY = 86400.0

# Two events told by several outlets each, and one loose piece: leads only, as most feeds give them.
QUAKE = [
    ("Quake of magnitude 6.1 shakes Crete, damaging old houses in Heraklion",
     "A magnitude 6.1 earthquake struck off Crete early on Monday, damaging old houses in Heraklion and sending "
     "residents into the streets, Greece's seismological institute said."),
    ("Strong earthquake hits Crete; Heraklion buildings damaged",
     "An earthquake measured at magnitude 6.1 hit the island of Crete on Monday morning, cracking walls of older "
     "buildings in Heraklion, the seismological institute in Athens said."),
    ("Crete earthquake: Heraklion residents flee homes after 6.1 tremor",
     "Residents of Heraklion ran into the streets after a 6.1 magnitude earthquake off Crete damaged older houses "
     "on Monday, according to Greek seismologists."),
]
BRIDGE = [
    ("Baltimore reopens rebuilt Key Bridge span to traffic",
     "Maryland officials reopened the rebuilt span of the Francis Scott Key Bridge in Baltimore to traffic on "
     "Monday, ending a detour that had cost commuters hours each week."),
    ("Key Bridge traffic returns as Baltimore span reopens",
     "Traffic returned to the Francis Scott Key Bridge on Monday as Maryland reopened the rebuilt Baltimore span, "
     "governor Wes Moore said at the ceremony."),
]
OUTLETS = ["Harbor Times", "Coast Herald", "Valley Post"]


def _lead(url: str, source: str, title: str, summary: str, when: datetime | None) -> str:
    return json.dumps({"url": url, "source": source, "title": title, "summary": summary,
                       "published": when.isoformat() if when else None})


def _member(i: int, outlet: str, words: str, published: float | None = 0.0, story: int | None = None) -> Member:
    return Member(i, outlet, published, story, frozenset(words.split()))


def _vectors(*rows: list[float]) -> np.ndarray:
    v = np.array(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _everyone(n: int) -> list[list[int]]:
    return [[j for j in range(n) if j != i] for i in range(n)]


def test_stable_ids_keep_the_majority_id_and_say_where_an_emptied_story_went() -> None:
    kept, absorbed = stable_ids([[7, 7, 9], [9], [None, None]])
    assert kept == [7, 9, None]  # the biggest cluster chooses first; 9 is left for the cluster holding its rest
    assert absorbed == {}
    kept, absorbed = stable_ids([[7, 7, 9, 9, 9], [7]])
    assert kept == [9, 7] and absorbed == {}
    kept, absorbed = stable_ids([[4, 4, 5, 5, 5, 6]])
    assert kept == [5] and absorbed == {4: 0, 6: 0}  # merged: 4 and 6 now answer with the kept story


def test_a_split_event_is_merged_and_another_event_stays_apart() -> None:
    event = "crete earthquake heraklion magnitude seismological"
    other = "baltimore bridge reopened maryland traffic"
    members = [_member(1, "A", event, story=10), _member(2, "B", event, story=10),
               _member(3, "C", event, story=11),  # filed apart when it came in
               _member(4, "A", other, story=12), _member(5, "B", other, story=12), _member(6, "C", other, story=12)]
    vecs = _vectors([1, 0.1, 0], [1, 0.12, 0.02], [0.98, 0.1, 0.05], [0, 1, 0.1], [0.05, 1, 0.1], [0, 0.98, 0.12])
    plan = plan_recluster(members, vecs, _everyone(6))
    clusters = sorted(sorted(c) for c in plan.clusters)
    assert clusters == [[1, 2, 3], [4, 5, 6]]
    assert sorted(i for i in plan.kept if i is not None) == [10, 12]
    assert plan.absorbed == {11: next(c for c, m in enumerate(plan.clusters) if 3 in m)}
    assert (1, 3) in plan.strong and (1, 4) not in plan.strong
    assert all(a != b for a, b in plan.found)  # links are found between other outlets only


def test_reports_of_one_subject_a_week_apart_are_not_one_story() -> None:
    words = "crete earthquake heraklion magnitude seismological"
    members = [_member(1, "A", words, 0.0), _member(2, "B", words, 0.1 * DAY),
               _member(3, "C", words, 8 * DAY), _member(4, "D", words, 8.1 * DAY)]
    vecs = _vectors([1, 0.1], [1, 0.11], [1, 0.12], [1, 0.1])
    clusters = sorted(sorted(c) for c in plan_recluster(members, vecs, _everyone(4)).clusters)
    assert clusters == [[1, 2], [3, 4]]
    undated = [_member(m.id, m.outlet, words, None) for m in members]
    assert [sorted(c) for c in plan_recluster(undated, vecs, _everyone(4)).clusters] == [[1, 2, 3, 4]]


def test_recluster_merges_split_stories_and_the_emptied_story_redirects(store) -> None:  # type: ignore[no-untyped-def]
    analyser = Analyser.open(store, HashingEmbedder())
    import_jsonl(store, [_lead(f"https://n{i}.example/quake", OUTLETS[i], title, lead, T0 + timedelta(hours=i))
                         for i, (title, lead) in enumerate(QUAKE)])
    import_jsonl(store, [_lead(f"https://n{i}.example/bridge", OUTLETS[i], title, lead, T0 + timedelta(hours=i))
                         for i, (title, lead) in enumerate(BRIDGE)])
    analyse_backlog(store, analyser)
    quake = [store.article_by_url(f"https://n{i}.example/quake") for i in range(3)]
    bridge = [store.article_by_url(f"https://n{i}.example/bridge") for i in range(2)]
    assert all(quake) and all(bridge)
    story = quake[0]["story_id"]  # type: ignore[index]
    assert {q["story_id"] for q in quake} == {story}  # type: ignore[index]
    assert {b["story_id"] for b in bridge}.isdisjoint({story})  # type: ignore[index]
    # Split the quake story the way an early online decision can: its last report alone in a story of its own.
    stray = store.create_story("stray")
    store.set_story(quake[2]["id"], stray)  # type: ignore[index]
    moved = recluster(store, analyser)
    assert moved == 1
    after = [store.article_by_url(f"https://n{i}.example/quake") for i in range(3)]
    assert {a["story_id"] for a in after} == {story}  # type: ignore[index]
    assert store.story_redirect(stray) == story
    assert recluster(store, analyser) == 0  # settled: a second pass changes nothing


def test_recluster_links_a_pair_that_stands_out_and_labels_it_by_the_story(store) -> None:  # type: ignore[no-untyped-def]
    analyser = Analyser.open(store, HashingEmbedder())
    import_jsonl(store, [_lead(f"https://n{i}.example/quake", OUTLETS[i], title, lead, None)
                         for i, (title, lead) in enumerate(QUAKE[:2])])
    import_jsonl(store, [_lead(f"https://n{i}.example/bridge", OUTLETS[1 - i], title, lead, None)
                         for i, (title, lead) in enumerate(BRIDGE)])  # other news around them
    analyse_backlog(store, analyser)
    a, b = (store.article_by_url(f"https://n{i}.example/quake") for i in range(2))
    assert a and b
    store.clear_neighbours(a["id"])
    store.clear_neighbours(b["id"])
    assert store.similar_to(a["id"]) == []
    recluster(store, analyser)
    link = store.similar_to(a["id"])[0]
    assert link["id"] == b["id"] and link["relation"] == "same_story"
    assert json.loads(link["why"])["similarity"] > 0.3


def test_a_copied_summary_is_a_duplicate_and_an_own_report_is_not(store) -> None:  # type: ignore[no-untyped-def]
    title, lead = QUAKE[0]
    import_jsonl(store, [
        _lead("https://wire.example/q", "Wire Service", title, lead, T0),
        # The republisher's edits: an outlet suffix on the headline, a dateline in front of the lead.
        _lead("https://paper.example/q", "Daily Paper", title + " | Daily Paper", "ATHENS (Wire) — " + lead,
              T0 + timedelta(hours=2)),
        _lead("https://own.example/q", "Island News", *QUAKE[1], T0 + timedelta(hours=3)),
    ])
    analyse_backlog(store, Analyser.open(store, HashingEmbedder()))
    wire, paper, own = (store.article_by_url(u) for u in
                        ("https://wire.example/q", "https://paper.example/q", "https://own.example/q"))
    assert wire and paper and own
    relation = {r["id"]: r["relation"] for r in store.similar_to(wire["id"])}
    assert relation[paper["id"]] == "duplicate"
    assert relation.get(own["id"]) != "duplicate"
    assert paper["copy_group"] is not None and paper["copy_group"] == wire["copy_group"]
    assert own["copy_group"] != wire["copy_group"] or own["copy_group"] is None


def test_matching_headlines_without_leads_are_not_called_copies(store) -> None:  # type: ignore[no-untyped-def]
    title = QUAKE[0][0]
    import_jsonl(store, [_lead("https://wire.example/h", "Wire Service", title, "", T0),
                         _lead("https://paper.example/h", "Daily Paper", title, "", T0 + timedelta(hours=1))])
    analyse_backlog(store, Analyser.open(store, HashingEmbedder()))
    wire = store.article_by_url("https://wire.example/h")
    assert wire
    relations = [r["relation"] for r in store.similar_to(wire["id"])]
    assert relations and "duplicate" not in relations


# One story told by four outlets: three name where it happens, the shortest report names no place at all.
BUDGET = [
    ("Senate passes budget bill as Washington averts a shutdown",
     "The Senate passed the budget bill late on Friday, 68 to 31, averting a government shutdown in Washington; "
     "the White House said the president would sign the spending package."),
    ("Budget bill clears the Senate, heads to the White House",
     "Senate Republicans and Democrats passed the budget bill 68-31 on Friday night, sending the spending "
     "package to the White House before the shutdown deadline."),
    ("White House welcomes Senate vote on the budget bill",
     "The White House welcomed the Senate's 68-31 vote on Friday to pass the budget bill, which keeps the "
     "government open and funds the spending package through September."),
    ("Senate passes the budget bill",
     "The chamber passed the budget bill 68-31 late on Friday, sending the spending package to the president "
     "before the shutdown deadline."),
]
LIBRARY = ("Library extends weekend opening hours",
           "The central library will open on Sundays from next month, the council said, after readers asked for "
           "more weekend hours.")
US = "United States"


def _budget_story(store, *, settle: bool) -> tuple[list[dict], dict]:  # type: ignore[no-untyped-def]
    outlets = [*OUTLETS, "Lake Ledger", "Town Crier"]
    import_jsonl(store, [_lead(f"https://n{i}.example/budget", outlets[i], title, lead, T0 + timedelta(hours=i))
                         for i, (title, lead) in enumerate(BUDGET)]
                 + [_lead("https://n4.example/library", outlets[4], *LIBRARY, T0)])
    quiet = store.article_by_url("https://n3.example/budget")
    assert quiet and US not in quiet["sections"]  # read alone, the short report is filed under no region
    analyse_backlog(store, Analyser.open(store, HashingEmbedder()), settle=settle)
    budget = [store.article_by_url(f"https://n{i}.example/budget") for i in range(4)]
    library = store.article_by_url("https://n4.example/library")
    assert all(budget) and library
    return budget, library  # type: ignore[return-value]


def test_a_report_naming_no_place_gets_its_story_region_as_it_joins(store) -> None:  # type: ignore[no-untyped-def]
    budget, _ = _budget_story(store, settle=False)  # online filing only: no re-clustering yet
    assert len({b["story_id"] for b in budget}) == 1
    assert budget[3]["sections"] == [US, "Politics"]
    assert [b["sections"] for b in budget[:3]] == [[US, "Politics"]] * 3


def test_recluster_files_a_member_naming_no_place_under_its_story_region(store) -> None:  # type: ignore[no-untyped-def]
    budget, library = _budget_story(store, settle=True)
    story, quiet = budget[0]["story_id"], budget[3]["id"]
    # Undo what the online filing did, and split the quiet report off the way an early decision can; the
    # unrelated piece was filed into the story by mistake.
    store.set_sections(quiet, ["Politics"])
    store.set_story(quiet, store.create_story("stray"))
    store.set_story(library["id"], story)
    lone = store.sections_of(library["id"])
    recluster(store, Analyser.open(store, HashingEmbedder()))
    assert store.article(quiet)["story_id"] == story  # type: ignore[index]
    assert store.sections_of(quiet) == [US, "Politics"]
    alone = store.article(library["id"])["story_id"]  # type: ignore[index]
    assert alone != story and len(store.story_members(alone)) == 1
    assert store.sections_of(library["id"]) == lone  # a one-article story: nothing to share, nothing changes


def test_the_recluster_command_settles_a_split_story(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from tidings.cli import main
    from tidings.storage.sqlite import SQLiteStore

    monkeypatch.setenv("TIDINGS_EMBEDDER", "hashing")
    db = tmp_path / "t.db"
    store = SQLiteStore(db)
    import_jsonl(store, [_lead(f"https://n{i}.example/quake", OUTLETS[i], title, lead, T0 + timedelta(hours=i))
                         for i, (title, lead) in enumerate(QUAKE)])
    analyse_backlog(store, Analyser.open(store, HashingEmbedder()))
    last = store.article_by_url("https://n2.example/quake")
    assert last is not None
    story = last["story_id"]
    store.set_story(last["id"], store.create_story("stray"))
    store.close()
    assert main(["--db", str(db), "recluster", "--since", "2024-05-06"]) == 0
    assert "1 article(s) changed story" in capsys.readouterr().out
    store = SQLiteStore(db)
    assert store.article_by_url("https://n2.example/quake")["story_id"] == story  # type: ignore[index]
    store.close()
    assert main(["--db", str(db), "recluster", "--since", "last tuesday"]) == 2  # bad input: usage status
    assert "is not a date" in capsys.readouterr().err


def test_a_component_too_big_to_cluster_keeps_its_stories(store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tidings.linking import recluster as window

    analyser = Analyser.open(store, HashingEmbedder())
    import_jsonl(store, [_lead(f"https://n{i}.example/quake", OUTLETS[i], title, lead, T0 + timedelta(hours=i))
                         for i, (title, lead) in enumerate(QUAKE)])
    analyse_backlog(store, analyser)
    last = store.article_by_url("https://n2.example/quake")
    assert last is not None
    stray = store.create_story("stray")
    store.set_story(last["id"], stray)
    monkeypatch.setattr(window, "MAX_COMPONENT", 2)  # the three reports are one component, now too big
    assert recluster(store, analyser) == 0
    assert store.article_by_url("https://n2.example/quake")["story_id"] == stray  # type: ignore[index]
    monkeypatch.undo()
    assert recluster(store, analyser) == 1  # clustered again once it fits
