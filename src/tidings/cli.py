"""The `tidings` command: a thin layer, each subcommand calls the same use-case function the web and jobs call."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from tidings import __version__
from tidings.config import database
from tidings.errors import UserError
from tidings.storage import Store, open_store

log = logging.getLogger("tidings")


def _db(args: argparse.Namespace) -> str:
    return database(args.db)


def _store(args: argparse.Namespace, *, create: bool = False) -> Store:
    """The database named by --db (or its default); only commands that store something may create it, so a
    typo in a command that only reads creates nothing."""
    return open_store(_db(args), create=create)


def cmd_import(args: argparse.Namespace) -> int:
    from tidings.ingest.pipeline import bounded_lines, describe_tally, report_progress
    from tidings.usecases import analyse_pending, import_articles

    store = _store(args, create=True)
    if args.progress:
        report_progress(sys.stdout)
    try:
        fh = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8", errors="replace")  # noqa: SIM115
    except OSError as exc:
        raise UserError(f"cannot read {args.file}: {exc.strerror}") from None
    with fh:
        report = import_articles(store, bounded_lines(fh))
    for number, message in report.errors:
        print(f"line {number}: skipped: {message}", file=sys.stderr)
    # the backlog too: a run stopped during analysis leaves stored articles waiting
    waiting = report.imported or report.updated or store.backlog(1)
    analysed = analyse_pending(store) if waiting else 0
    print(f"imported {report.imported}, updated {report.updated}, unchanged {report.unchanged}, "
          f"skipped {len(report.errors)} bad line(s); analysed {analysed}")
    if report.adjusted:
        print(f"stored with changes: {describe_tally(report.adjusted)}")
    return 0 if (report.imported or report.updated or report.unchanged) else 1


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
    report = poll(store, include_all=args.all)
    for source_id, error in report.failed:
        print(f"source {source_id}: {error}", file=sys.stderr)
    print(f"polled {report.sources} source(s): {report.new} new, {report.updated} updated, "
          f"{len(report.failed)} failed, items skipped {describe_tally(report.skipped)}; analysed {report.analysed}")
    if report.adjusted:
        print(f"stored with changes: {describe_tally(report.adjusted)}")
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
                                             fulltext=args.fulltext, every_minutes=args.every)

    row, new = asyncio.run(run())
    print(f"source {row['id']}: {row['name']} <{row['feed_url']}>" + ("" if new else " (already there)"))
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

    print(f"analysed {analyse_pending(_store(args))} article(s)")
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
    figures = run_eval(root, only=only, progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(format_table(figures, markdown=args.markdown))
    below = [f for f in figures if not f.ok]
    if below and args.check:
        print(f"{len(below)} figure(s) below their floor", file=sys.stderr)
        return 1
    return 0


def serve_app(store: Store, host: str, port: int, *, analyse: bool = True,
              analyse_elsewhere: Callable[[], object] | None = None) -> None:
    from tidings.config import ServerLimits, public_base_url
    from tidings.web.app import create_app
    from tidings.web.auth import load_admin_secret
    from tidings.web.server import serve, trusted_networks

    limits = ServerLimits.from_env()
    trusted_networks(limits.trusted_proxies)  # a bad TIDINGS_TRUSTED_PROXIES stops here, before anything starts
    secret = load_admin_secret(store.target)
    print(f"Admin secret (to add and change sources at /admin): {secret.where}; "
          "`tidings admin-token` prints it", flush=True)
    app = create_app(store, secret.value, analyse=analyse, analyse_elsewhere=analyse_elsewhere,
                     base_url=public_base_url(host, port))
    serve(app, host, port, limits=limits)


def cmd_serve(args: argparse.Namespace) -> int:
    store = _store(args, create=True)
    print(f"Tidings on http://{args.host}:{args.port}/ (database {store.describe()})", flush=True)
    serve_app(store, args.host, args.port)
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


def _first_run(store: Store) -> None:
    from tidings.ingest.pipeline import import_opml

    if not store.sources():
        opml = resources.files("tidings").joinpath("data/default-sources.opml").read_bytes()
        added, _ = import_opml(store, opml)
        print(f"first run: added {added} default news sources")


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

    store = _store(args, create=True)
    _first_run(store)
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
        serve_app(store, args.host, args.port, analyse=False,
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tidings", description="Tidings: a self-hosted news aggregator.")
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
        s.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
        if name == "run":
            s.add_argument("--tick", type=float, default=30.0, help="seconds between checks for due sources")
        s.set_defaults(func=func)

    s = sub.add_parser("worker", help="take jobs (polling, extraction, analysis, stories) from the queue of a"
                       " PostgreSQL database; run any number, on any machines")
    s.add_argument("--concurrency", type=int, default=4, help="jobs this worker runs at once (default 4)")
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
    s.add_argument("--limit", type=int, default=10, help="how many items at most (default 10)")
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
    s.set_defaults(func=cmd_sources_add)
    src.add_parser("list", help="list sources and their health").set_defaults(func=cmd_sources_list)
    s = src.add_parser("import", help="import feeds from an OPML file (categories become sections)")
    s.add_argument("file", help="an OPML file, as feed readers export them")
    s.set_defaults(func=cmd_sources_import)
    s = src.add_parser("export", help="export sources as OPML")
    s.add_argument("file", nargs="?", help="where to write it (default: standard output)")
    s.set_defaults(func=cmd_sources_export)
    s = src.add_parser("remove", help="remove a source and its articles")
    s.add_argument("id", type=int, help="the source's number, as `tidings sources list` shows it")
    s.set_defaults(func=cmd_sources_remove)
    for leaf in _leaves(sub):  # --db and -v work after the command too ("tidings sources list --db x.db")
        leaf.add_argument("--db", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        leaf.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


def _leaves(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> list[argparse.ArgumentParser]:
    out: list[argparse.ArgumentParser] = []
    for parser in sub.choices.values():
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        out += _leaves(nested[0]) if nested else [parser]
    return out


def main(argv: list[str] | None = None) -> int:
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
