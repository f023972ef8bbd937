"""Several analysers on one store (the server and a cron poll, or several workers): each article is analysed once,
and each analyser decides from what the store holds now, not from what its own memory last saw."""

from __future__ import annotations

import json
import threading

import pytest

from tidings.analysis.embeddings import HashingEmbedder
from tidings.ingest.pipeline import import_jsonl
from tidings.jobs import Analyser, analyse_backlog
from tidings.storage import open_store

WIRE = ("Floodwater from the swollen River Thames forced the evacuation of 400 homes in Marlow on Tuesday after "
        "three days of heavy rain, the Environment Agency said. Emergency crews used boats to reach elderly "
        "residents trapped on upper floors, and a temporary shelter opened at the town's leisure centre. The agency "
        "issued 12 severe flood warnings along the Thames valley.")


def _line(n: int, source: str, title: str = "", text: str = "") -> str:
    return json.dumps({"url": f"https://{source.lower().replace(' ', '')}.example/{n}", "source": source,
                       "title": title or f"Harbour bridge report {n}",
                       "text": text or f"Report {n} on the harbour bridge repairs, part {n}. " * 8,
                       "published": "2024-02-06T09:00:00Z"})


def test_a_claimed_article_is_not_handed_to_another_analyser(database: str) -> None:
    one, two = open_store(database), open_store(database)  # two processes' connections
    import_jsonl(one, [_line(n, "Outlet A") for n in range(5)])
    stamp, mine = one.claim_backlog(3)
    _, theirs = two.claim_backlog(10)
    assert len(mine) == 3 and len(theirs) == 2 and not {r["id"] for r in mine} & {r["id"] for r in theirs}
    assert two.backlog_size(10) == 0 and len(two.backlog(10)) == 5  # all wait; none is free to take
    one.mark_analysed([r["id"] for r in mine], stamp)
    assert len(two.backlog(10)) == 2


def test_an_article_changed_while_claimed_stays_waiting(database: str) -> None:
    store = open_store(database)
    import_jsonl(store, [_line(1, "Outlet A")])
    stamp, (row,) = store.claim_backlog(5)
    import_jsonl(store, [_line(1, "Outlet A", text="A corrected report on the harbour bridge. " * 8)])
    store.mark_analysed([row["id"]], stamp)  # the analysis was of the old text
    assert [r["id"] for r in store.backlog(5)] == [row["id"]]


def test_a_claim_of_an_analyser_that_died_is_taken_again(database: str) -> None:
    one, two = open_store(database), open_store(database)
    import_jsonl(one, [_line(n, "Outlet A") for n in range(2)])
    old, _ = one.claim_backlog(5)
    assert two.claim_backlog(5)[1] == []
    stamp, again = two.claim_backlog(5, lease=0.0)  # as if the lease had run out
    assert len(again) == 2
    one.mark_analysed([r["id"] for r in again], old)  # the first analyser wakes up late: its claim is gone
    assert len(two.backlog(5)) == 2
    two.mark_analysed([r["id"] for r in again], stamp)
    assert two.backlog(5) == []


def test_a_failed_batch_goes_back_to_the_backlog_at_once(database: str) -> None:
    class Broken(HashingEmbedder):
        def embed(self, texts: list[str]):  # type: ignore[no-untyped-def]
            raise RuntimeError("model failed")

    store = open_store(database)
    import_jsonl(store, [_line(n, "Outlet A") for n in range(3)])
    with pytest.raises(RuntimeError, match="model failed"):
        analyse_backlog(store, Analyser.open(store, Broken()))
    assert store.backlog_size(10) == 3


def test_the_next_batch_is_embedded_while_this_one_is_linked(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The model is never idle while a batch is linked: the next batch's embedding has begun before the first
    batch's links are decided (it waits for that, so without the overlap this test fails instead of hanging)."""
    import tidings.jobs as jobs

    second_embedding = threading.Event()
    linking_waited: list[bool] = []

    class Watched(HashingEmbedder):
        calls = 0

        def embed(self, texts: list[str]):  # type: ignore[no-untyped-def]
            Watched.calls += 1
            if Watched.calls == 2:
                second_embedding.set()
            return super().embed(texts)

    link_batch = jobs._analyse_batch

    def watched_link(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not linking_waited:
            linking_waited.append(second_embedding.wait(timeout=60))
        return link_batch(*args, **kwargs)

    monkeypatch.setattr(jobs, "_analyse_batch", watched_link)
    store = open_store(database)
    import_jsonl(store, [_line(n, f"Outlet {n % 3}") for n in range(10)])
    assert analyse_backlog(store, Analyser.open(store, Watched()), batch=4) == 10
    assert linking_waited == [True] and Watched.calls == 3
    assert store.backlog_size(10) == 0


def test_a_batch_claimed_ahead_goes_back_when_its_embedding_fails(database: str) -> None:
    class FailsSecond(HashingEmbedder):
        calls = 0

        def embed(self, texts: list[str]):  # type: ignore[no-untyped-def]
            FailsSecond.calls += 1
            if FailsSecond.calls == 2:
                raise RuntimeError("model failed")
            return super().embed(texts)

    store = open_store(database)
    import_jsonl(store, [_line(n, "Outlet A") for n in range(6)])
    with pytest.raises(RuntimeError, match="model failed"):
        analyse_backlog(store, Analyser.open(store, FailsSecond()), batch=3)
    assert store.backlog_size(10) == 3  # the first batch was analysed; the second is free again at once


def test_two_analysers_at_once_analyse_every_article_once(database: str) -> None:
    db = database
    setup = open_store(db)
    import_jsonl(setup, [_line(n, f"Outlet {n % 5}") for n in range(300)])
    counts: list[int] = []

    def work() -> None:
        store = open_store(db)
        counts.append(analyse_backlog(store, Analyser.open(store, HashingEmbedder()), batch=16))
        store.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 300 and setup.backlog(1) == []
    seqs = [r["analysed_seq"] for r in setup.analysed_after(0, HashingEmbedder.name, limit=1000)]
    assert len(set(seqs)) == 300  # each analysis numbered once


def test_an_analyser_sees_what_another_analysed_and_decided(database: str) -> None:
    db = database
    one, two = open_store(db), open_store(db)
    first, second = Analyser.open(one, HashingEmbedder()), Analyser.open(two, HashingEmbedder())  # both empty
    import_jsonl(one, [_line(1, "Wire Service", "Thames floods Marlow", WIRE)])
    analyse_backlog(one, first)
    import_jsonl(one, [_line(2, "Daily Echo", "Thames floods Marlow | Daily Echo", WIRE)])
    analyse_backlog(two, second)  # the other process: its index never saw article 1 being analysed
    a, b = one.article_by_url("https://wireservice.example/1"), one.article_by_url("https://dailyecho.example/2")
    assert a and b and b["story_id"] == a["story_id"] and b["copy_group"] == a["copy_group"] is not None
    import_jsonl(one, [_line(9, "Sport Daily", "Title decided", "The home side clinched the league title. " * 6)])
    analyse_backlog(one, first, settle=False)  # the first process has caught up with both by now
    # Another process re-files the story (as a re-clustering does); then the first meets a third copy: the story
    # it joins is the one stored, not the one it last held in memory.
    moved = one.create_story("moved elsewhere")
    one.set_story(a["id"], moved)
    one.set_story(b["id"], moved)
    import_jsonl(one, [_line(3, "Valley News", "Thames floods Marlow", WIRE)])
    analyse_backlog(one, first, settle=False)
    c = one.article_by_url("https://valleynews.example/3")
    assert c and c["story_id"] == moved and c["copy_group"] == a["copy_group"]


def test_claims_of_an_analyser_killed_on_this_machine_are_freed_at_once(database: str) -> None:
    import socket
    import subprocess

    store = open_store(database)
    import_jsonl(store, [_line(n, "Outlet A") for n in range(4)])
    gone = subprocess.Popen(["true"])
    gone.wait()  # a process that has ended, as one killed with -9 has
    store.claim_backlog(2, by=f"{socket.gethostname()}/{gone.pid}/1")
    store.claim_backlog(1, by="another-machine/1/1")  # elsewhere: only its lease can free it
    assert analyse_backlog(store, Analyser.open(store, HashingEmbedder())) == 3
    assert len(store.backlog(10)) == 1
