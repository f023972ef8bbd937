"""What a person or a schedule can ask of Tidings, one function each: add, change, remove and refresh a source
(or all of them), import articles or sources, analyse what waits, settle the stories. Input is checked here,
once: the command line and the web both come through these functions (the scheduler runs the same pipeline and
analysis on what is stored), and a bad value gets the same clear message everywhere (UserError, or NotFound for
an id that names nothing)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tidings.errors import NotFound, UserError
from tidings.ingest import pipeline
from tidings.progress import Progress, quiet
from tidings.text import one_line

if TYPE_CHECKING:
    from tidings.config import PollSettings
    from tidings.ingest.fetch import Fetcher
    from tidings.jobs import Analyser
    from tidings.storage.store import Store

Row = dict[str, Any]

FULLTEXT_CHOICES = ("auto", "always", "never")
MAX_NAME = 200
MAX_SECTION = 100
MAX_URL = 2000
EVERY_MINUTES = (5, 1440)  # an interval an operator may set for a source: from 5 minutes to a day


def clean_field(value: str, label: str, limit: int) -> str:
    text = one_line(value)
    if len(text) > limit:
        raise UserError(f"{label} is too long (at most {limit} characters)")
    return text


def check_fulltext(value: str) -> str:
    if value not in FULLTEXT_CHOICES:
        raise UserError("full text must be auto, always or never")
    return value


def check_every(minutes: int) -> int | None:
    """A poll interval in minutes as stored (seconds), or None for 0: adapt to how often the source publishes."""
    low, high = EVERY_MINUTES
    if minutes == 0:
        return None
    if not low <= minutes <= high:
        raise UserError(f"poll every {low} to {high} minutes, or 0 to adapt to how often the source publishes")
    return minutes * 60


def check_rules(patterns: Iterable[str] | None, kind: str) -> str | None:
    """A list of keep or block patterns as stored (one a line; blank ones dropped), None when not given; a
    pattern RE2 cannot take, or too many or too long, is a UserError naming it."""
    from tidings.ingest.rules import MAX_RULES, pattern_error

    if patterns is None:
        return None
    if isinstance(patterns, str):
        raise UserError(f"{kind} rules: give a list of patterns")
    kept = [p.strip() for p in patterns if isinstance(p, str) and p.strip()]
    if len(kept) > MAX_RULES:
        raise UserError(f"{kind} rules: at most {MAX_RULES} patterns")
    for pattern in kept:
        error = pattern_error(pattern)
        if error:
            raise UserError(f"{kind} rule {_cut(pattern, 60)!r}: {error}")
    return "\n".join(dict.fromkeys(kept))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sooner(source: Row, every: int) -> str | None:
    """The next poll once a source is to be polled every ``every`` seconds: no later than that after its last."""
    from datetime import timedelta

    from tidings.clock import iso, parse_iso, utcnow

    due = (parse_iso(source.get("last_polled_at")) or utcnow()) + timedelta(seconds=every)
    planned = parse_iso(source.get("next_poll_at"))
    return iso(min(due, planned) if planned else due)


def source_or_error(store: Store, source_id: int) -> Row:
    row = store.source(source_id)
    if row is None:
        raise NotFound(f"There is no source {source_id}.")
    return row


async def add_source(store: Store, fetcher: Fetcher, url: str, *, section: str = "", name: str = "",
                     fulltext: str = "auto", every_minutes: int = 0, keep: Iterable[str] = (),
                     block: Iterable[str] = ()) -> tuple[Row, bool]:
    """Add a feed by feed URL or site URL, polled every ``every_minutes`` (0: as often as it publishes), its
    items filtered by ``keep`` and ``block`` rules (see ``ingest.rules``); returns the source and whether it is
    new (False: it was there, and is left as it was)."""
    url = url.strip()
    if not url or len(url) > MAX_URL:
        raise UserError(f"give the address of a feed or of a news site (at most {MAX_URL} characters)")
    section, name = clean_field(section, "section", MAX_SECTION), clean_field(name, "name", MAX_NAME)
    fulltext, every = check_fulltext(fulltext), check_every(every_minutes)
    rules = {"keep_rules": check_rules(keep, "keep"), "block_rules": check_rules(block, "block")}
    existing = store.source_by_feed_url(url)
    if existing:
        return existing, False
    row = await pipeline.add_source(store, fetcher, url, section=section, name=name, fulltext=fulltext)
    changes: dict[str, Any] = {k: v for k, v in rules.items() if v}
    if every:
        changes.update(poll_every=every, poll_interval=every)
    if changes:
        store.update_source(row["id"], **changes)
        row = source_or_error(store, row["id"])
    return row, True


def edit_source(store: Store, source_id: int, *, name: str | None = None, section: str | None = None,
                fulltext: str | None = None, every_minutes: int | None = None, keep: Iterable[str] | None = None,
                block: Iterable[str] | None = None) -> Row:
    """Change a source's name, section, full-text setting, poll interval (minutes; 0: adapt) and keep or block
    rules (an empty list: none); only the fields given change. Rules apply to items stored from then on."""
    source_or_error(store, source_id)
    fields: dict[str, str] = {}
    if name is not None:
        fields["name"] = clean_field(name, "name", MAX_NAME)
        if not fields["name"]:
            raise UserError("a source needs a name")
    if section is not None:
        fields["section"] = clean_field(section, "section", MAX_SECTION)
    if fulltext is not None:
        fields["fulltext"] = check_fulltext(fulltext)
    changes: dict[str, Any] = dict(fields)
    if every_minutes is not None:
        every = check_every(every_minutes)
        changes["poll_every"] = every  # None: adapt again, from the next poll on
        if every:
            changes.update(poll_interval=every, next_poll_at=_sooner(source_or_error(store, source_id), every))
    for column, value in (("keep_rules", check_rules(keep, "keep")), ("block_rules", check_rules(block, "block"))):
        if value is not None:
            changes[column] = value
    if not changes:
        raise UserError("nothing to change: give a name, a section, a full-text setting, a poll interval or rules")
    store.update_source(source_id, **changes)
    return source_or_error(store, source_id)


def remove_source(store: Store, source_id: int) -> Row:
    """Remove a source and its articles; the stories they were in are told again from the members left (an
    emptied story goes). Returns the source as it was."""
    from tidings.linking.apply import refresh_story

    row = source_or_error(store, source_id)
    stories = store.stories_of_source(source_id)
    with store.transaction():
        store.remove_source(source_id)
        for story_id in stories:
            refresh_story(store, story_id)
    return row


def _pollable(store: Store, source_id: int) -> Row:
    row = source_or_error(store, source_id)
    if not row.get("feed_url"):
        raise UserError(f"“{row['name']}” holds imported articles and has no feed to poll")
    return row


async def refresh_source(store: Store, fetcher: Fetcher, source_id: int) -> pipeline.RefreshResult:
    """Poll one feed now, whether due or not."""
    return await pipeline.refresh_feed(store, fetcher, _pollable(store, source_id))


def queue_refresh(store: Store, source_id: int) -> pipeline.RefreshResult:
    """Where workers poll (PostgreSQL): make one feed due now; the next scheduling pass, within seconds, hands it
    to a worker."""
    _pollable(store, source_id)
    store.refresh_now(source_id)
    return pipeline.RefreshResult(source_id=source_id, queued=True)


async def refresh_all(store: Store, fetcher: Fetcher, settings: PollSettings | None = None,
                      progress: Progress = quiet) -> list[pipeline.RefreshResult]:
    """Poll every feed now, due or not (``tidings poll --all``, and the site's "Poll all now" on SQLite)."""
    sources = store.due_sources("", include_all=True)
    return await pipeline.refresh_sources(store, fetcher, sources, settings, progress)


def queue_refresh_all(store: Store) -> int:
    """Where workers poll (PostgreSQL): make every feed due now, for the next scheduling pass to hand them to
    the workers; returns how many feeds that is."""
    return store.refresh_all_now()


def import_sources(store: Store, opml: bytes) -> tuple[int, int]:
    """Sources from an OPML document (categories become sections): (added, already there)."""
    return pipeline.import_opml(store, opml)


def import_articles(store: Store, lines: Iterable[str], *, total: int | None = None,
                    progress: Progress = quiet) -> pipeline.ImportReport:
    """Articles from JSON Lines; a line that cannot be stored is reported with its number, the rest go in.
    ``progress`` hears the lines read of ``total`` (when known)."""
    return pipeline.import_jsonl(store, lines, total=total, progress=progress)


def analyse_pending(store: Store, analyser: Analyser | None = None, *, progress: Progress = quiet) -> int:
    """Embed, link and file into stories every article waiting for it; the stories then settle. Returns how
    many were analysed; ``progress`` hears the articles analysed of those waiting."""
    from tidings.jobs import Analyser, analyse_backlog

    return analyse_backlog(store, analyser or Analyser.open(store), progress=progress)


def recluster(store: Store, analyser: Analyser | None = None, *, since: str | None = None) -> int:
    """Settle the stories of the articles from ``since`` on (ISO date or time; the most recent when None)
    again; returns how many articles changed story."""
    from tidings.clock import parse_iso
    from tidings.jobs import Analyser
    from tidings.jobs import recluster as settle

    if since is not None and parse_iso(since) is None:
        raise UserError(f"{since!r} is not a date or time (e.g. 2026-12-01 or 2026-12-01T08:00:00Z)")
    return settle(store, analyser or Analyser.open(store), since=since)


def copy_archive(source: Store, target_db: str) -> dict[str, int]:
    """Copy everything in ``source`` (e.g. an SQLite archive) into the empty database ``target_db`` (e.g. a new
    PostgreSQL database), every link, story and redirect kept; returns the rows copied per table."""
    from tidings.storage import open_store
    from tidings.storage.store import copy_into

    if target_db.strip() == source.target:
        raise UserError("the database to copy into is the one copied from")
    target = open_store(target_db)
    try:
        return copy_into(source, target)
    finally:
        target.close()
