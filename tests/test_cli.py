"""The command line: on bad input one clear line on stderr and a non-zero exit, never a traceback, and nothing
created by a command that only reads; long work draws a progress bar on a terminal and nothing but its summary
line in logs and pipes."""

from __future__ import annotations

import json
import os
import pty
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from newsserver import FEED_TYPE, NewsServer, rss
from tidings.cli import main
from tidings.ingest.pipeline import import_jsonl
from tidings.storage.sqlite import SQLiteStore


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


# -- progress: a bar on a terminal, one summary line in logs and pipes -------------------------------------

RICH_ENV = ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # anything but tab and newline: no \r, no escape sequences


def tidings(cwd: Path, *args: str, tty: bool = False) -> tuple[int, str, str]:
    """Run the command line in a process of its own (hashing embedder: no model), its stderr on a
    pseudo-terminal when ``tty``; returns (exit status, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if k not in RICH_ENV}
    env.update(TIDINGS_EMBEDDER="hashing", TIDINGS_HOST_DELAY="0", TIDINGS_HOST_JITTER="0", TERM="xterm",
               COLUMNS="120")
    cmd = [sys.executable, "-m", "tidings", *args]
    if not tty:
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
        return done.returncode, done.stdout, done.stderr
    main_end, child_end = pty.openpty()
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=child_end) as proc:
        os.close(child_end)
        drawn = b""
        while True:
            try:
                data = os.read(main_end, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not data:
                break
            drawn += data
        os.close(main_end)
        out = proc.stdout.read() if proc.stdout else b""
        return proc.wait(timeout=60), out.decode(), drawn.decode(errors="replace")


def _articles(n: int) -> list[str]:
    return [json.dumps({"url": f"https://o{i % 3}.example/{i}", "source": f"Outlet {i % 3}",
                        "title": f"Harbour bridge {i} reopens", "summary": f"The harbour bridge reopened, report {i}.",
                        "published": "2026-03-01T08:00:00Z"}) for i in range(n)]


@pytest.fixture
def work(tmp_path: Path, news_server: NewsServer) -> Path:
    """A folder with what each command works on: a JSON Lines file, a database with a polled-to-be feed and five
    articles waiting for analysis, and a tiny labelled set (WikiRef's layout)."""
    (tmp_path / "articles.jsonl").write_text("\n".join(_articles(5)) + "\n")
    feed = news_server.add("/feed.xml", rss([(f"g{i}", f"http://news.test/{i}", f"Story {i}") for i in range(3)]),
                           FEED_TYPE)
    store = SQLiteStore(tmp_path / "waiting.db")
    store.add_source(feed, "Feed", fulltext="never")
    import_jsonl(store, _articles(5))
    store.close()
    wiki = tmp_path / "eval" / "wikiref" / "WikiRef220"
    wiki.mkdir(parents=True)
    for label, words in (("HarbourBridge", "harbour bridge reopens repairs deck"),
                         ("CityFloods", "river floods city streets evacuated")):
        for n in range(3):
            (wiki / f"{label} ({n}).txt").write_text(f"{words.title()} {n}\n{words} report number {n}. " * 3)
    return tmp_path


COMMANDS = {  # command line, what the summary line starts with, the bar's row and its last count
    "import": (["--db", "new.db", "import", "articles.jsonl"], "imported 5,", "lines read", "5/5"),
    "poll": (["--db", "waiting.db", "poll", "--all"], "polled 1 source(s): 3 new", "sources polled", "1/1"),
    "analyse": (["--db", "waiting.db", "analyse"], "analysed 5 article(s)", "articles analysed", "5/5"),
    "eval": (["eval", "--data", "eval", "--only", "wikiref"], "evaluated 1 set(s)", "evaluation sets", "1/1"),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_without_a_terminal_a_command_prints_one_summary_line_and_no_control_characters(
        work: Path, command: str) -> None:
    args, summary, _, _ = COMMANDS[command]
    rc, out, err = tidings(work, *args)
    assert rc == 0, err
    assert not CONTROL.search(out + err), (out, err)
    # eval's table is its output; its summary goes to stderr beside it
    lines = (err if command == "eval" else out).splitlines()
    assert len(lines) == 1 and lines[0].startswith(summary), (out, err)
    if command == "eval":
        assert out.splitlines()[0].split() == ["set", "figure", "value", "floor", "goal"]
    else:
        assert err == ""


@pytest.mark.parametrize("command", list(COMMANDS))
def test_on_a_terminal_a_command_draws_a_progress_bar_and_still_prints_its_summary(work: Path, command: str) -> None:
    args, summary, row, count = COMMANDS[command]
    rc, out, drawn = tidings(work, *args, tty=True)
    assert rc == 0, drawn
    assert "━" in drawn and "%" in drawn, drawn  # rich's bar, and how far it got
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn)
    assert re.search(rf"{row}\s.*\s{count}\s", plain), plain  # the real count of the work, as it ended
    said = plain.split("\r") if command == "eval" else out.splitlines()  # eval's summary follows its bar
    assert any(line.strip().startswith(summary) for line in said), (out, drawn)


# -- bad input: one clear line and a non-zero exit, for every command ----------------------------------------

BAD = [  # (arguments, what the one line says); {tmp} is a fresh folder, {file} a file in it, {db} a database
    (["--db", "{tmp}/t.db", "import", "{tmp}/missing.jsonl"], "cannot read"),
    (["--db", "{tmp}/t.db", "import", "{tmp}"], "cannot read"),
    (["--db", "{tmp}", "import", "{file}"], "is a folder"),
    (["--db", "{tmp}", "poll"], "is a folder"),
    (["--db", "{tmp}", "analyse"], "is a folder"),
    (["--db", "{file}/t.db", "poll"], "a file is in the way"),
    (["--db", "{tmp}/no/t.db", "analyse"], "there is no database at"),
    (["--db", "{db}", "sources", "add", "not a url"], "not an http(s) URL"),
    (["--db", "{db}", "sources", "add", "ftp://example.com/feed"], "not an http(s) URL"),
    (["--db", "{db}", "sources", "add", "https://news.example/", "--every", "3"], "poll every 5 to 1440"),
    (["--db", "{tmp}/t.db", "sources", "add", "https://news.example/", "--every", "many"], "--every"),
    (["--db", "{tmp}/t.db", "sources", "import", "{tmp}/missing.opml"], "cannot read"),
    (["--db", "{db}", "sources", "import", "{file}"], "no feeds found"),
    (["--db", "{tmp}/t.db", "sources", "remove", "0"], "give a whole number from 1 up"),
    (["--db", "{tmp}/t.db", "sources", "remove", "abc"], "give a whole number from 1 up"),
    (["--db", "{db}", "sources", "remove", "99"], "no source with id 99"),
    (["--db", "{db}", "sources", "export", "{file}/x.opml"], "cannot write"),
    (["--db", "{db}", "sources", "export", "{tmp}"], "cannot write"),
    (["--db", "{tmp}/t.db", "similar", "https://a.example/1", "--limit", "0"], "give a whole number from 1 up"),
    (["--db", "{db}", "similar", "https://a.example/1"], "no article with URL"),
    (["--db", "{db}", "recluster", "--since", "last tuesday"], "is not a date or time"),
    (["eval", "--data", "{tmp}/missing"], "no evaluation data found"),
    (["eval", "--data", "{tmp}", "--only", "nope"], "unknown evaluation set(s): nope"),
    (["eval", "--data", "{tmp}", "--only", "wikiref"], "no data for the wikiref set"),
    (["eval", "--data", "{tmp}", "--only", "basil"], "no data for the basil set"),
    (["--db", "{tmp}/t.db", "serve", "--port", "99999"], "give a whole number from 1 to 65535"),
    (["--db", "{tmp}/t.db", "serve", "--host", "no-such-host.invalid", "--port", "8089"], "cannot listen on"),
    (["--db", "{tmp}/t.db", "run", "--tick", "-1"], "give a positive number of seconds"),
    (["--db", "{tmp}/t.db", "run", "--tick", "nan"], "give a positive number of seconds"),
    (["--db", "{tmp}/t.db", "run", "--opml", "{tmp}/missing.opml"], "cannot read"),
    (["--db", "{tmp}/t.db", "run", "--opml", "{file}"], "no feeds found in"),
    (["--db", "{tmp}/t.db", "worker", "--concurrency", "0"], "give a whole number from 1 to 1000"),
    (["--db", "{tmp}/t.db", "worker"], "workers share a PostgreSQL database"),
    (["--db", "{db}", "migrate", "{db}"], "the database to copy into is the one copied from"),
    (["--db", "{db}", "migrate", "{file}/new.db"], "a file is in the way"),
    (["--db", "{tmp}/t.db", "migrate", "{tmp}/new.db"], "there is no database at"),
    (["--db", "{tmp}/t.db", "frobnicate"], "invalid choice"),
]


@pytest.mark.parametrize(("argv", "says"), BAD, ids=[" ".join(a[2:] if a[0] == "--db" else a) for a, _ in BAD])
def test_bad_input_is_one_clear_line_and_a_failing_exit(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       argv: list[str], says: str) -> None:
    (tmp_path / "notes.txt").write_text("not JSON, not OPML, not a folder")
    SQLiteStore(tmp_path / "have.db").close()
    where = {"{tmp}": str(tmp_path), "{file}": str(tmp_path / "notes.txt"), "{db}": str(tmp_path / "have.db")}
    args = [re.sub(r"\{\w+\}", lambda m: where[m.group()], a) for a in argv]
    try:
        status = main(args)
    except SystemExit as exc:  # argparse's refusals end the process (status 2) after their one line
        status = int(exc.code or 0)
    captured = capsys.readouterr()
    assert status != 0
    assert says in captured.err and "Traceback" not in captured.err, captured.err
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert not (tmp_path / "t.db").exists() and not (tmp_path / "new.db").exists()  # refused before making one


def test_a_port_in_use_is_refused_before_anything_starts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for command in ("serve", "run"):
            _fails(capsys, "--db", str(tmp_path / f"{command}.db"), command, "--port", port, says="cannot listen on")
    assert not (tmp_path / "serve.db").exists() and not (tmp_path / "run.db").exists()  # bound before anything


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="a read-only folder is writable for root")
def test_a_read_only_folder_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(_articles(1)[0] + "\n")
    try:
        _fails(capsys, "--db", str(folder / "t.db"), "import", str(jsonl), says="cannot use the database")
        _fails(capsys, "--db", str(folder / "sub" / "t.db"), "poll", says="cannot make the database folder")
    finally:
        folder.chmod(0o755)
