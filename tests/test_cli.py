"""The command line on bad input: one clear line on stderr and a non-zero exit, never a traceback, and nothing
created by a command that only reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidings.cli import main


def _fails(capsys: pytest.CaptureFixture[str], *argv: str, says: str) -> None:
    assert main(list(argv)) != 0
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_a_database_that_cannot_be_used_is_named_in_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "no" / "such" / "t.db"
    _fails(capsys, "--db", str(missing), "sources", "list", says="there is no database at")
    _fails(capsys, "--db", str(missing), "similar", "https://a.example/1", says="there is no database at")
    assert not (tmp_path / "no").exists()  # a command that only reads creates nothing
    _fails(capsys, "--db", str(tmp_path), "sources", "list", says="is a folder")
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database at all, just some words " * 50)
    _fails(capsys, "--db", str(junk), "sources", "list", says="is not a Tidings database")


def test_global_options_work_after_the_command(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "t.db"
    opml = tmp_path / "feeds.opml"
    opml.write_text('<opml version="2.0"><body><outline text="World" title="World">'
                    '<outline type="rss" text="Globe" xmlUrl="https://globe.example/feed.xml"/></outline></body></opml>')
    assert main(["sources", "import", str(opml), "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["sources", "list", "--db", str(db)]) == 0
    assert "Globe" in capsys.readouterr().out


def test_an_empty_list_says_so_and_an_export_to_nowhere_is_refused(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = str(tmp_path / "t.db")
    opml = tmp_path / "empty.opml"
    opml.write_text('<opml version="2.0"><body></body></opml>')
    main(["--db", db, "sources", "import", str(opml)])  # makes the database (no feeds in it)
    capsys.readouterr()
    assert main(["--db", db, "sources", "list"]) == 0
    assert "no sources yet" in capsys.readouterr().out
    _fails(capsys, "--db", db, "sources", "export", str(tmp_path / "no" / "dir" / "x.opml"), says="cannot write")


def test_every_argument_has_help_and_import_lists_its_fields(capsys) -> None:  # type: ignore[no-untyped-def]
    import argparse

    from tidings.cli import _leaves, build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for leaf in _leaves(sub):
        for action in leaf._actions:
            if action.help != argparse.SUPPRESS and not isinstance(action, argparse._HelpAction):
                assert action.help, f"{leaf.prog}: {action.dest} has no help"
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    shown = capsys.readouterr().out
    for field in ("url", "title", "source", "summary", "text", "section", "language", "published"):
        assert f"\n  {field} " in shown, field
