"""The `tidings` command: a thin layer, each subcommand calls the same use-case function the web and jobs call."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from tidings import __version__
from tidings.config import database
from tidings.errors import UserError
from tidings.storage import Store, open_store

if TYPE_CHECKING:
    from tidings.progress import Progress

log = logging.getLogger("tidings")


def _db(args: argparse.Namespace) -> str:
    return database(args.db)


def _store(args: argparse.Namespace, *, create: bool = False) -> Store:
    """The database named by --db (or its default); only commands that store something may create it, so a
    typo in a command that only reads creates nothing."""
    return open_store(_db(args), create=create)


STEPS = {"import": "lines read", "analyse": "articles analysed", "stories": "stories settled",
         "poll": "sources polled", "sets": "evaluation sets"}


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A progress bar on stderr, one row per step the work reports, when stderr is a terminal; else nothing at
    all, so that logs and pipes get only the summary line. The bar is gone once the work ends."""
    from tidings.progress import quiet

    if not sys.stderr.isatty():
        yield quiet
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    rows: dict[str, TaskID] = {}
    with Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
             TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:

        def show(step: str, done: int, total: int | None) -> None:
            if step not in rows:
                rows[step] = bar.add_task(STEPS.get(step, step), total=total)
            bar.update(rows[step], completed=done, total=total)

        yield show


def _count_lines(path: str) -> int | None:
    """Lines in a file, for the bar's total (None for standard input, a pipe or anything else read only once)."""
    if path == "-" or not Path(path).is_file():
        return None
    try:
        with open(path, "rb") as fh:
            lines = ends = 0
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                lines += chunk.count(b"\n")
                ends = chunk[-1]
            return lines + (ends not in (0, 10))  # a last line without a newline counts too
    except OSError:
        return None


def cmd_import(args: argparse.Namespace) -> int:
    from tidings.ingest.pipeline import bounded_lines, describe_tally, report_progress
    from tidings.jobs import BacklogWorker
    from tidings.usecases import import_articles

    try:
        fh = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8", errors="replace")  # noqa: SIM115
    except OSError as exc:
        raise UserError(f"cannot read {args.file}: {exc.strerror}") from None
    store = _store(args, create=True)
    if args.progress:
        report_progress(sys.stdout)
    with fh, progress_bar() as progress:
        total = _count_lines(args.file) if sys.stderr.isatty() else None
        # Whole batches are analysed (and the model loaded) while later lines are still being stored, the rest
        # at the end; the backlog too: a run stopped during analysis leaves stored articles waiting.
        alongside = BacklogWorker(store, max_wait=math.inf, progress=progress)
        alongside.start()
        try:
            report = import_articles(store, bounded_lines(fh), total=total, progress=progress)
        finally:
            analysed = alongside.finish()
    for number, message in report.errors:
        print(f"line {number}: skipped: {message}", file=sys.stderr)
    changed = f"; stored with changes: {describe_tally(report.adjusted)}" if report.adjusted else ""
    ruled = f", left out by the sources' rules: {describe_tally(report.skipped)}" if report.skipped else ""
    print(f"imported {report.imported}, updated {report.updated}, unchanged {report.unchanged}, "
          f"skipped {len(report.errors)} bad line(s){ruled}; analysed {analysed}{changed}")
    return 0 if (report.imported or report.updated or report.unchanged or report.skipped) else 1


def cmd_poll(args: argparse.Namespace) -> int:
    from tidings.ingest.pipeline import describe_tally, report_progress
    from tidings.jobs import poll

    if args.every is not None and (args.all or args.every <= 0):
        raise UserError("--every takes a number of seconds above 0, and polls what is due (not --all)")
    store = _store(args, create=True)
    if args.progress:
        report_progress(sys.stdout)
    if args.every is not None:
        return _poll_on_schedule(store, args.every)
    with progress_bar() as progress:
        report = poll(store, include_all=args.all, progress=progress)
    for source_id, error in report.failed:
        print(f"source {source_id}: {error}", file=sys.stderr)
    changed = f"; stored with changes: {describe_tally(report.adjusted)}" if report.adjusted else ""
    print(f"polled {report.sources} source(s): {report.new} new, {report.updated} updated, "
          f"{len(report.failed)} failed, items skipped {describe_tally(report.skipped)}; "
          f"analysed {report.analysed}{changed}")
    return 0


def _poll_on_schedule(store: Store, every: float) -> int:
    """Poll what is due every ``every`` seconds until stopped, one model and index for the whole run. SIGUSR1
    starts a pass at once: the site beside it (``tidings run``) sends it when an admin has added articles."""
    import signal

    from tidings.jobs import run_scheduler

    logging.getLogger("tidings.passes").setLevel(logging.INFO)
    stop, wake = threading.Event(), threading.Event()
    if hasattr(signal, "SIGUSR1"):  # not on Windows
        signal.signal(signal.SIGUSR1, lambda *_: wake.set())
    run_scheduler(store, stop, tick=every, wake=wake)
    return 0


def cmd_sources_add(args: argparse.Namespace) -> int:
    from tidings import usecases
    from tidings.ingest.fetch import Fetcher
    from tidings.jobs import fetch_settings_from_env

    store = _store(args, create=True)

    async def run() -> tuple[dict[str, Any], bool]:
        async with Fetcher(fetch_settings_from_env()) as fetcher:
            return await usecases.add_source(store, fetcher, args.url, section=args.section, name=args.name,
                                             fulltext=args.fulltext, every_minutes=args.every,
                                             keep=args.keep or (), block=args.block or ())

    row, new = asyncio.run(run())
    print(f"source {row['id']}: {row['name']} <{row['feed_url']}>" + ("" if new else " (already there)"))
    return 0


def cmd_sources_edit(args: argparse.Namespace) -> int:
    from tidings.errors import NotFound
    from tidings.ingest.rules import split_rules
    from tidings.usecases import edit_source

    try:
        row = edit_source(_store(args), args.id, name=args.name, section=args.section, fulltext=args.fulltext,
                          every_minutes=args.every, keep=args.keep, block=args.block)
    except NotFound:
        raise UserError(f"no source with id {args.id}") from None
    rules = [f"{kind} {', '.join(map(repr, split_rules(row[kind + '_rules'])))}" for kind in ("keep", "block")
             if row[kind + "_rules"]]
    print(f"source {row['id']}: {row['name']}" + (f"; {'; '.join(rules)}" if rules else ""))
    return 0


def cmd_sources_list(args: argparse.Namespace) -> int:
    sources = _store(args).sources()
    if not sources:
        print("no sources yet: add one with `tidings sources add URL` or `tidings sources import FILE.opml`")
    for s in sources:
        status = s["last_error"] or (f"HTTP {s['last_status']}" if s["last_status"] else "not polled yet")
        print(f"{s['id']:>4}  {s['name'][:40]:<40}  {s['section'][:16]:<16}  {s['article_count']:>6}  {status}")
    return 0


def cmd_sources_import(args: argparse.Namespace) -> int:
    from tidings.usecases import import_sources

    try:
        content = Path(args.file).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {args.file}: {exc.strerror}") from None
    added, existing = import_sources(_store(args, create=True), content)
    print(f"added {added} source(s), {existing} already present")
    return 0


def cmd_sources_export(args: argparse.Namespace) -> int:
    from tidings.ingest.pipeline import export_opml

    text = export_opml(_store(args))
    if args.file:
        try:
            Path(args.file).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write {args.file}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
    return 0


def cmd_sources_remove(args: argparse.Namespace) -> int:
    from tidings.errors import NotFound
    from tidings.usecases import remove_source

    try:
        remove_source(_store(args), args.id)
    except NotFound:
        raise UserError(f"no source with id {args.id}") from None
    print(f"removed source {args.id}")
    return 0


def cmd_analyse(args: argparse.Namespace) -> int:
    from tidings.usecases import analyse_pending

    store = _store(args)
    with progress_bar() as progress:
        analysed = analyse_pending(store, progress=progress)
    print(f"analysed {analysed} article(s)")
    return 0


def cmd_recluster(args: argparse.Namespace) -> int:
    from tidings.usecases import recluster

    print(f"{recluster(_store(args), since=args.since)} article(s) changed story")
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    from tidings.web.pages import NotFound, api_similar

    try:
        data = api_similar(_store(args), args.url, args.limit)
    except NotFound:
        raise UserError(f"no article with URL {args.url}") from None
    print(json.dumps(data, indent=2, ensure_ascii=False))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from tidings.evaluation.datasets import data_dir
    from tidings.evaluation.run import SETS, format_table, run_eval

    root = data_dir(args.data)
    if root is None:
        raise UserError("no evaluation data found: pass --data DIR or set TIDINGS_EVAL_DATA "
                        "(the shared/data folder beside the checkout is used when present)")
    only = tuple(args.only.split(",")) if args.only else SETS
    unknown = set(only) - set(SETS)
    if unknown:
        raise UserError(f"unknown evaluation set(s): {', '.join(sorted(unknown))}; choose from {', '.join(SETS)}")
    start = time.perf_counter()
    with progress_bar() as progress:
        figures = run_eval(root, only=only, progress=progress)
    print(format_table(figures, markdown=args.markdown))
    below = [f for f in figures if not f.ok]
    # stdout is the table (for a file or a pull request); the summary goes beside it
    print(f"evaluated {len(only)} set(s) in {time.perf_counter() - start:.1f} s: {len(figures)} figure(s), "
          f"{len(below)} below their floor", file=sys.stderr)
    return 1 if below and args.check else 0


def _listen(args: argparse.Namespace) -> socket.socket:
    """The site's socket, bound before anything starts: an address in use is one line, and nothing ran."""
    from tidings.web.server import listen

    return listen(args.host, args.port)


def serve_app(store: Store, sock: socket.socket, host: str, port: int, *, analyse: bool = True,
              analyse_elsewhere: Callable[[], object] | None = None) -> None:
    from tidings.config import ServerLimits, display_zone, public_base_url
    from tidings.web.app import create_app, warm
    from tidings.web.auth import load_admin_secret
    from tidings.web.server import serve, trusted_networks

    limits = ServerLimits.from_env()
    trusted_networks(limits.trusted_proxies)  # a bad TIDINGS_TRUSTED_PROXIES stops here, before anything starts
    display_zone()  # and so does a bad TIDINGS_TIMEZONE
    secret = load_admin_secret(store.target)
    print(f"Admin secret (to add and change sources at /admin): {secret.where}; "
          "`tidings admin-token` prints it", flush=True)
    app = create_app(store, secret.value, analyse=analyse, analyse_elsewhere=analyse_elsewhere,
                     base_url=public_base_url(host, port))
    warm(store)
    serve(app, sock, limits=limits)


def cmd_serve(args: argparse.Namespace) -> int:
    sock = _listen(args)
    store = _store(args, create=True)
    print(f"Tidings on http://{args.host}:{args.port}/ (database {store.describe()})", flush=True)
    serve_app(store, sock, args.host, args.port)
    return 0


def cmd_admin_token(args: argparse.Namespace) -> int:
    from tidings.web.auth import load_admin_secret

    # The secret lives in the data folder, not in the database: no database is opened (or made) for it.
    print(load_admin_secret(_db(args)).value)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from tidings.usecases import copy_archive

    source = _store(args)
    copied = copy_archive(source, database(args.to))
    print("copied " + ", ".join(f"{n:,} {table}" for table, n in copied.items()) + f" into {args.to.split('@')[-1]}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from tidings.queue import run_worker

    target = _db(args)
    if "://" not in target:
        raise UserError("workers share a PostgreSQL database (--db postgresql://…); on SQLite, `tidings run`"
                        " polls and analyses in one process beside the site")
    logging.getLogger("tidings.passes").setLevel(logging.INFO)
    print(f"Tidings worker on {open_store(target).describe()}", flush=True)
    run_worker(target, concurrency=args.concurrency, wait=not args.until_idle)
    return 0


def _first_sources(args: argparse.Namespace) -> tuple[bytes, str]:
    """The OPML a first run starts from: ``--opml FILE``, else Tidings' default sources. Read before the
    database is made, so a file that cannot be read leaves nothing behind."""
    if not args.opml:
        return resources.files("tidings").joinpath("data/default-sources.opml").read_bytes(), "default news sources"
    from tidings.ingest.opml import parse_opml

    try:
        content = Path(args.opml).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {args.opml}: {exc.strerror}") from None
    if not parse_opml(content):
        raise UserError(f"no feeds found in {args.opml}")
    return content, f"sources from {args.opml}"


def _first_run(store: Store, opml: bytes, what: str) -> None:
    from tidings.usecases import import_sources

    if not store.sources():
        added, _ = import_sources(store, opml)
        print(f"first run: added {added} {what}", flush=True)


def _beside_the_site() -> None:
    """In the process `tidings run` starts beside the site (Linux): it is sent SIGTERM when `run` ends, however
    `run` ends; it ignores SIGUSR1 (the site's nudge) until it is ready for it; and it yields the CPU to the
    site's pages (nice 10), so readers are answered first while it extracts and embeds."""
    import ctypes
    import os
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    os.nice(NICE)


NICE = 10


def cmd_run(args: argparse.Namespace) -> int:
    """The site in this process, and the work in one process of its own beside it, so that pages never wait for
    extraction or the model: on SQLite the poller (`tidings poll --every TICK`), on PostgreSQL a worker (more
    join with `tidings worker` on any machine). Neither loads the model in the site's process."""
    import os
    import signal
    import subprocess

    first = _first_sources(args)
    sock = _listen(args)
    store = _store(args, create=True)
    _first_run(store, *first)
    postgres = store.dialect == "postgresql"
    work = ["worker"] if postgres else ["poll", "--every", f"{args.tick:g}"]
    verbose = ["-v"] if args.verbose else []
    proc = subprocess.Popen([sys.executable, "-m", "tidings", *verbose, "--db", store.target, *work],
                            preexec_fn=_beside_the_site if sys.platform == "linux" else None)

    # On SQLite the poller analyses what an admin adds through the site: a nudge starts its next pass at once
    # (on Linux, where the poller ignores it until it has a handler for it).
    def nudge() -> None:
        with contextlib.suppress(ProcessLookupError):  # a poller that has ended catches up when run again
            os.kill(proc.pid, signal.SIGUSR1)

    print(f"Tidings on http://{args.host}:{args.port}/ with a {'worker' if postgres else 'poller'} (pid {proc.pid})"
          f" polling {len(store.sources())} sources (database {store.describe()})", flush=True)
    try:
        linux = sys.platform == "linux"
        serve_app(store, sock, args.host, args.port, analyse=False,
                  analyse_elsewhere=nudge if linux and not postgres else None)
    finally:
        proc.terminate()
        proc.wait()
    return 0


IMPORT_FIELDS = """Import articles from JSON Lines: one JSON object per line, for example
  {"url": "https://news.example/a", "title": "Bridge reopens", "source": "Example News",
   "summary": "The bridge reopened on Monday.", "published": "2026-12-01T08:00:00Z"}

fields:
  url         required: the article's http(s) address (an article is stored once per address)
  title       required: its headline
  source      required: the outlet's name (a source of that name is made on first use)
  summary     optional: the lead or the feed's summary
  text        optional: the full text
  section     optional: a section to file it under, e.g. World
  language    optional: e.g. en
  published   optional: ISO 8601 date or time, e.g. 2026-12-01 or 2026-12-01T08:00:00Z

A line that cannot be stored is reported with its number and the reason; the others go in. Importing the same
line again changes nothing; a changed line updates the article."""


def _whole(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``, else a usage error that says so."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"give a whole number from {low}" + (f" to {high}" if high else " up")
                                             + f", not {text!r}")
        return value
    return parse


def _seconds(text: str) -> float:
    """An argparse type: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"give a positive number of seconds, not {text!r}")
    return value


class Parser(argparse.ArgumentParser):
    """argparse's parser, with a mistake told in one line (its usage is a --help away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = Parser(prog="tidings", description="Tidings: a self-hosted news aggregator.")
    p.add_argument("--db", help="SQLite database file, or a postgresql:// URL"
                   " (default: $TIDINGS_DB, else tidings.db in the user data folder)")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress")
    p.add_argument("--version", action="version", version=f"tidings {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    for name, func, help_ in (("run", cmd_run, "poll sources on a schedule and serve the site"),
                              ("serve", cmd_serve, "serve the web site and JSON API")):
        s = sub.add_parser(name, help=help_, description=help_)
        s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine"
                       " only; 0.0.0.0 for every network, with TIDINGS_BASE_URL set)")
        s.add_argument("--port", type=_whole(1, 65535), default=8080, help="port to listen on (default 8080)")
        if name == "run":
            s.add_argument("--tick", type=_seconds, default=30.0, help="seconds between checks for due sources")
            s.add_argument("--opml", metavar="FILE", help="on a first run (no sources yet), start from the feeds of"
                           " this OPML file instead of Tidings' default sources")
        s.set_defaults(func=func)

    s = sub.add_parser("worker", help="take jobs (polling, extraction, analysis, stories) from the queue of a"
                       " PostgreSQL database; run any number, on any machines")
    s.add_argument("--concurrency", type=_whole(1, 1000), default=4, help="jobs this worker runs at once (default 4)")
    s.add_argument("--until-idle", action="store_true", help="stop once the queue is empty")
    s.set_defaults(func=cmd_worker)

    s = sub.add_parser("migrate", help="copy this database (e.g. an SQLite archive) into a new, empty one (e.g."
                       " PostgreSQL), every link and story kept")
    s.add_argument("to", help="the database to copy into, e.g. postgresql://user@host/tidings (must be empty)")
    s.set_defaults(func=cmd_migrate)

    s = sub.add_parser("admin-token", help="print the admin secret (made beside the database on first use)")
    s.set_defaults(func=cmd_admin_token)

    s = sub.add_parser("poll", help="one pass over the sources that are due")
    s.add_argument("--all", action="store_true", help="poll every source now, due or not")
    s.add_argument("--every", type=float, metavar="SECONDS", help="keep polling: check for due sources every"
                   " SECONDS until stopped (what `tidings run` starts beside the site)")
    s.add_argument("--progress", action="store_true", help="print 'stored <url>' as each article is committed")
    s.set_defaults(func=cmd_poll)

    s = sub.add_parser("import", help="import articles from a JSON Lines file ('-' for stdin)",
                       formatter_class=argparse.RawDescriptionHelpFormatter, description=IMPORT_FIELDS)
    s.add_argument("file", help="a JSON Lines file, one article per line, or - to read standard input")
    s.add_argument("--progress", action="store_true", help="print 'stored <url>' as each article is committed")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("analyse", help="bring Similar News and stories up to date for waiting articles")
    s.set_defaults(func=cmd_analyse)

    s = sub.add_parser("recluster", help="settle the stories again (runs after every analysis; this is for a"
                       " whole archive or after changing the thresholds)")
    s.add_argument("--since", help="only articles published from this time on, and four days before it"
                   " (default: the 20,000 most recent)")
    s.set_defaults(func=cmd_recluster)

    s = sub.add_parser("similar", help="print an article's Similar News as JSON")
    s.add_argument("url", help="the article's address, as pasted from a browser (tracking parameters and the"
                   " part after # do not matter)")
    s.add_argument("--limit", type=_whole(1), default=10, help="how many items at most (default 10)")
    s.set_defaults(func=cmd_similar)

    s = sub.add_parser("eval", help="measure Similar News, duplicates and stories on labelled news data")
    s.add_argument("--data", help="the data folder (default: $TIDINGS_EVAL_DATA or ../shared/data)")
    s.add_argument("--only", help="comma-separated sets (default all): basil, basil-same-day, basil-undated,"
                   " basil-headlines, allsides, allsides-headlines, semeval, syndication, copies-summaries,"
                   " copies-fulltext, wikiref")
    s.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    s.add_argument("--check", action="store_true", help="exit 1 when a figure is below its pinned floor")
    s.set_defaults(func=cmd_eval)

    src = sub.add_parser("sources", help="manage news sources").add_subparsers(dest="action", required=True)
    s = src.add_parser("add", help="add a feed by feed URL or site URL")
    s.add_argument("url", help="a feed's address, or a news site's (its page names its feed)")
    s.add_argument("--section", default="", help="section for its articles, e.g. World or Technology")
    s.add_argument("--name", default="", help="display name (default: the feed's title)")
    s.add_argument("--fulltext", choices=["auto", "always", "never"], default="auto",
                   help="fetch article pages for full text (default: detect)")
    s.add_argument("--every", type=int, default=0, metavar="MINUTES",
                   help="poll it every 5 to 1440 minutes (default 0: as often as it publishes)")
    _rule_options(s)
    s.set_defaults(func=cmd_sources_add)
    s = src.add_parser("edit", help="change a source: only the options given change")
    s.add_argument("id", type=int, help="the source's number, as `tidings sources list` shows it")
    s.add_argument("--name", help="display name")
    s.add_argument("--section", help="section for its articles ('' for none)")
    s.add_argument("--fulltext", choices=["auto", "always", "never"], help="fetch article pages for full text")
    s.add_argument("--every", type=int, metavar="MINUTES", help="poll it every 5 to 1440 minutes (0: adapt)")
    _rule_options(s, edit=True)
    s.set_defaults(func=cmd_sources_edit)
    src.add_parser("list", help="list sources and their health").set_defaults(func=cmd_sources_list)
    s = src.add_parser("import", help="import feeds from an OPML file (categories become sections)")
    s.add_argument("file", help="an OPML file, as feed readers export them")
    s.set_defaults(func=cmd_sources_import)
    s = src.add_parser("export", help="export sources as OPML")
    s.add_argument("file", nargs="?", help="where to write it (default: standard output)")
    s.set_defaults(func=cmd_sources_export)
    s = src.add_parser("remove", help="remove a source and its articles")
    s.add_argument("id", type=_whole(1), help="the source's number, as `tidings sources list` shows it")
    s.set_defaults(func=cmd_sources_remove)
    for leaf in _leaves(sub):  # --db and -v work after the command too ("tidings sources list --db x.db")
        leaf.add_argument("--db", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        leaf.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


def _rule_options(parser: argparse.ArgumentParser, *, edit: bool = False) -> None:
    then = "; given, they replace its keep rules ('' removes them)" if edit else ""
    parser.add_argument("--keep", action="append", metavar="PATTERN",
                        help="store only items whose headline or text matches a regular expression (RE2 syntax, case"
                        f" ignored); repeat for more{then}")
    then = then.replace("keep", "block")
    parser.add_argument("--block", action="append", metavar="PATTERN",
                        help=f"never store an item whose headline or text matches this regular expression; repeat for"
                        f" more{then}")


def _leaves(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> list[argparse.ArgumentParser]:
    out: list[argparse.ArgumentParser] = []
    for parser in sub.choices.values():
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        out += _leaves(nested[0]) if nested else [parser]
    return out


def main(argv: list[str] | None = None) -> int:
    from tidings.heap import return_freed_memory

    return_freed_memory()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except UserError as exc:
        print(f"tidings: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line, not a traceback; -v shows where it came from
        if args.verbose:
            raise
        print(f"tidings: {type(exc).__name__}: {exc} (run with -v for details)", file=sys.stderr)
        return 1
