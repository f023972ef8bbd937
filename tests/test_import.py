"""Bulk import from JSON Lines, through the use-case function and the CLI contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tidings.cli import main
from tidings.ingest.pipeline import import_jsonl
from tidings.storage.sqlite import SQLiteStore
from tidings.storage.store import Store


def line(**fields: object) -> str:
    return json.dumps(fields)


GOOD = line(url="https://a.example/1", title="Senate passes budget", source="Alpha News",
            text="The Senate in Washington passed the budget late on Friday. " * 5, published="2024-03-01T10:00:00Z",
            section="Politics")


def test_bad_lines_are_reported_by_number_and_good_ones_kept(store: Store) -> None:
    lines = [
        GOOD,
        "{not json",
        line(url="not a url", title="x", source="A"),
        line(url="https://a.example/2", title="", source="A"),
        line(url="https://a.example/3", title="t", source="A", published="yesterday-ish"),
        "[1, 2]",
        "",
        line(url="https://a.example/4", title="Second", source="Beta"),
    ]
    report = import_jsonl(store, lines)
    assert report.imported == 2
    assert [n for n, _ in report.errors] == [2, 3, 4, 5, 6]
    assert "http(s) URL" in dict(report.errors)[3]
    assert store.article_count() == 2


def test_reimport_stores_nothing_twice_and_an_edit_updates_in_place(store: Store) -> None:
    import_jsonl(store, [GOOD])
    first = store.article_by_url("https://a.example/1")
    again = import_jsonl(store, [GOOD])
    assert (again.imported, again.unchanged) == (0, 1)
    edited = json.loads(GOOD) | {"title": "Senate passes amended budget"}
    report = import_jsonl(store, [json.dumps(edited)])
    after = store.article_by_url("https://a.example/1")
    assert report.updated == 1 and first and after
    assert after["id"] == first["id"] and after["title"] == "Senate passes amended budget"
    assert store.article_count() == 1


def test_sections_come_from_the_line_and_from_the_content(store: Store) -> None:
    import_jsonl(store, [GOOD])
    art = store.article_by_url("https://a.example/1")
    assert art is not None
    assert art["sections"][0] == "Politics"
    assert "United States" in art["sections"]
    assert [r["id"] for r in store.latest_articles(section="United States")] == [art["id"]]


def test_cli_import_reports_the_bad_line_and_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDINGS_EMBEDDER", "hashing")
    f = tmp_path / "in.jsonl"
    f.write_text(GOOD + "\n" + '{"url": "not a url", "title": ""}\n', encoding="utf-8")
    assert main(["--db", str(tmp_path / "t.db"), "import", str(f)]) == 0
    out = capsys.readouterr()
    assert "line 2" in out.err
    assert "imported 1" in out.out
    # Nothing imported at all is a failure, and says why.
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{}\n", encoding="utf-8")
    assert main(["--db", str(tmp_path / "t2.db"), "import", str(bad)]) == 1


def test_cli_reports_a_missing_file_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(tmp_path / "t.db"), "import", str(tmp_path / "nope.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_tidings_db_env_stands_in_for_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDINGS_EMBEDDER", "hashing")
    monkeypatch.setenv("TIDINGS_DB", str(tmp_path / "env.db"))
    f = tmp_path / "in.jsonl"
    f.write_text(GOOD + "\n", encoding="utf-8")
    assert main(["import", str(f)]) == 0
    assert SQLiteStore(tmp_path / "env.db").article_count() == 1
