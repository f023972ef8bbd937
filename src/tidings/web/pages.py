"""One function per page: each reads the Store through its named queries and returns one plain dict.

The HTML route renders that dict with a template and the JSON route returns it unchanged, so the API never
drifts from what a reader sees. Times stay the stored ISO 8601 strings (or None); scores are finite or None.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from tidings.analysis.kind import KIND_LABELS, piece_kind
from tidings.clock import date_only, iso, parse_iso, utcnow
from tidings.errors import NotFound
from tidings.ingest.normalize import url_variants
from tidings.ingest.rules import split_rules
from tidings.similarity.ranking import own_credit, rank_similar
from tidings.storage.store import Store
from tidings.text import one_line
from tidings.web.redact import public_url, redacted_url, scrub

Row = dict[str, Any]
Folded = tuple[Row, list[Row]]  # a text's earliest publication and its copies

SIMILAR_ON_PAGE = 8
SIMILAR_FETCH = 30
SECTION_PAGE_SIZE = 30
SOURCE_LATEST = 30
SEARCH_LIMIT = 50
SEARCH_FOLD_ROOM = 3  # matches read per result shown, so folding copies still fills the page
HOME_LATEST = 30
LATEST_PATH = "/latest"
HOME_STORIES = 10
HOME_STORY_SCAN = 200
HOME_STORY_WINDOW = timedelta(hours=48)
CARD_HEADLINES = 3
SNIPPET_CHARS = 300
API_SIMILAR_DEFAULT = 10
API_SIMILAR_MAX = 100
API_STORIES_DEFAULT = 50
API_STORIES_MAX = 100_000
MEMBER_CHUNK = 500
STORY_PAGE_SIZE = 30
SOURCES_PAGE_SIZE = 50

RELATION_LABELS = {"same_story": "Same story", "duplicate": "Copy of this report", "related": "Related"}


class StoryMoved(LookupError):
    """The story was merged into another one: its address answers with a permanent redirect there."""

    def __init__(self, story_id: int, to_id: int) -> None:
        super().__init__(f"Story {story_id} is now story {to_id}.")
        self.story_id, self.to_id = story_id, to_id


# -- paths ------------------------------------------------------------------------------------------------


def article_path(article_id: int) -> str:
    return f"/article/{article_id}"


THUMB_WIDTH = 320  # the picture of an article in a list; one of web.pictures.IMAGE_WIDTHS
LEAD_WIDTH = 960  # the picture on the article's own page


def image_path(article_id: int, width: int = THUMB_WIDTH) -> str:
    """The article's picture as this site serves it, scaled (see web.images): readers' browsers never ask the
    outlet."""
    return f"/image/{article_id}?w={width}"


def icon_path(source_id: int) -> str:
    """The source's site icon as this site serves it (a letter badge when the site has none)."""
    return f"/icon/{source_id}"


def story_path(story_id: int) -> str:
    return f"/story/{story_id}"


def api_story_path(story_id: int) -> str:
    return f"/api/stories/{story_id}"


def story_feed_path(story_id: int) -> str:
    return f"/feeds/story/{story_id}.atom"


def source_path(source_id: int) -> str:
    return f"/source/{source_id}"


def section_path(name: str) -> str:
    return "/section/" + quote(name, safe="")


def section_feed_path(name: str) -> str:
    return "/feeds/section/" + quote(name, safe="") + ".atom"


LATEST_FEED_PATH = "/feeds/latest.atom"


def section_heading(name: str) -> str:
    return f"{name} Latest News, {name} Headlines"


# -- small pure helpers -----------------------------------------------------------------------------------

_URL_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")


def http_url(value: Any) -> str:
    """The URL itself if it is an absolute http(s) URL, else '' (no javascript:, data:, relative links, nor
    control characters, which browsers drop and so could hide a scheme)."""
    if not isinstance(value, str):
        return ""
    url = value.strip()
    if _URL_CONTROLS.search(url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


_SENTENCE_END = re.compile(r"[.!?…。！？]+[\"'”’)\]]*")
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "st", "jr", "sr", "gen", "capt", "col", "lt", "sgt", "maj", "adm", "sen", "rep",
    "gov", "pres", "prof", "rev", "inc", "corp", "co", "ltd", "no", "vs", "etc", "e.g", "i.e", "jan", "feb",
    "aug", "sept", "oct", "nov", "dec", "ft", "mt",
}
_LONG_FIRST_SENTENCE = 120


def _is_abbreviation(before: str) -> bool:
    """Whether the word ending at a full stop is an abbreviation ('Mr', 'U.S') rather than a sentence's end."""
    word = before.rsplit(None, 1)[-1].lstrip("\"'“‘([") if before.strip() else ""
    return bool(re.fullmatch(r"(?:[A-Za-z]\.)*[A-Za-z]", word)) or word.lower() in _ABBREVIATIONS


def _sentence_ends(flat: str) -> list[int]:
    ends: list[int] = []
    for m in _SENTENCE_END.finditer(flat):
        rest = flat[m.end():]
        if m.group()[0] in "。！？":
            ends.append(m.end())
            continue
        if rest and not rest[0].isspace():
            continue  # "3.5", "example.com"
        following = rest.lstrip().lstrip("\"'“‘([")
        if following[:1].islower():
            continue
        if m.group()[0] == "." and _is_abbreviation(flat[:m.start()]):
            continue
        ends.append(m.end())
    return ends


def cut_at_word(text: str, max_chars: int) -> str:
    """Shorten to at most ``max_chars`` (ellipsis included) at a word boundary."""
    if len(text) <= max_chars:
        return text
    head = text[: max_chars - 1]
    if " " in head:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,;:-–—") + "…"


def lead_snippet(summary: str, text: str = "", max_chars: int = SNIPPET_CHARS) -> str:
    """One or two opening sentences to show under a headline: the summary if it has any, else the text."""
    body = summary if summary and summary.strip() else (text or "")
    flat = " ".join(body.split())
    if not flat:
        return ""
    chosen = 0
    for count, end in enumerate(_sentence_ends(flat), start=1):
        if end > max_chars:
            break
        chosen = end
        if count >= 2 or end >= _LONG_FIRST_SENTENCE:
            break
    return flat[:chosen] if chosen else cut_at_word(flat, max_chars)


def finite(value: Any) -> float | None:
    """A score as JSON can carry it: NaN and infinities (never valid JSON) become None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number, 6) if math.isfinite(number) else None


def primary_section(row: Row) -> str:
    """The article's first assigned section, else the section its source gave."""
    sections = row.get("sections") or []
    return str(sections[0]) if sections else str(row.get("section") or "")


def chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def other_outlets(rows: list[Row], article: Row) -> list[Row]:
    """Neighbours from other outlets only: never the article itself nor another piece of its own outlet."""
    return [r for r in rows if r["id"] != article["id"] and r.get("outlet") != article.get("outlet")]


# -- views of rows ----------------------------------------------------------------------------------------


def article_item(row: Row) -> Row:
    """An article in a list: enough to show a headline with its source, time and lead."""
    return {
        "id": row["id"],
        "url": row["url"],
        "title": one_line(row["title"]),
        "source": one_line(row["source"]),
        "source_id": row["source_id"],
        "published": row.get("published_at"),
        "section": primary_section(row),
        "snippet": lead_snippet(row.get("summary") or "", row.get("text") or ""),
        "image_url": http_url(row.get("image_url")),  # a picture is only ever fetched over http(s)
        "image": image_path(row["id"]) if http_url(row.get("image_url")) else None,  # same-origin, for pages
        "icon": icon_path(row["source_id"]),
        "story_id": row.get("story_id"),
        "link": article_path(row["id"]),
    }


def article_detail(row: Row) -> Row:
    """The whole article, text included."""
    return {
        **article_item(row),
        "image": image_path(row["id"], LEAD_WIDTH) if http_url(row.get("image_url")) else None,
        "author": row.get("author") or "",
        "fetched": row.get("fetched_at"),
        "updated": row.get("updated_at"),
        "sections": list(row.get("sections") or []),
        "summary": row.get("summary") or "",
        "text": row.get("text") or "",
        "language": row.get("language") or "",
        "site_name": row.get("site_name") or "",
        "canonical_url": row.get("canonical_url") or "",
        "extraction_error": row.get("extraction_error") or "",
    }


def similar_item(row: Row, carried: list[Row] | None = None) -> Row:
    """A ranked Similar News item; ``carried`` names the other outlets that ran its text (see carried_by)."""
    return {
        **article_item(row),
        "score": finite(row.get("score")),
        "relation": row["relation"],
        "relation_label": RELATION_LABELS.get(row["relation"], "Related"),
        "also_carried_by": carried if carried is not None else carried_by(row, row.get("copies") or []),
        "credited": row.get("credited"),
        "why": parse_why(row.get("why")),
    }


def parse_why(raw: object) -> Row | None:
    """The stored evidence of a link (similarity, wording, copied text, hours apart, shared names)."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def copies_of(row: Row, members: list[Row]) -> Row | None:
    """Who else carried this article's text and which publication came first. The agency credit is this
    article's own: a copy that does not name the agency is never said to credit it."""
    others = [m for m in members if m["outlet"] != row.get("outlet")]
    if not others:
        return None
    first = members[0]
    return {"outlets": sorted({one_line(m["source"]) for m in others}), "carried_by": carried_by(row, members),
            "first": article_item(first), "this_is_first": first["id"] == row["id"],
            "credited": own_credit({**row, "text_head": row.get("text") or ""})}


# -- copies of one text folded ------------------------------------------------------------------------------


def _when(row: Row) -> tuple[str, int]:
    return (row.get("published_at") or row.get("fetched_at") or "", int(row["id"]))


def carried_by(lead: Row, others: Iterable[Row], *, exclude: Iterable[str] = ()) -> list[Row]:
    """The other outlets that ran the lead's text, one entry each (its earliest copy), never the lead's own
    outlet nor one in ``exclude``."""
    seen = {lead.get("outlet"), *exclude}
    out: list[Row] = []
    for r in sorted(others, key=_when):
        if r["id"] == lead["id"] or r.get("outlet") in seen:
            continue
        seen.add(r.get("outlet"))
        out.append({"url": r["url"], "source": one_line(r["source"]), "link": article_path(int(r["id"]))})
    return out


def fold(rows: list[Row]) -> list[tuple[Row, list[Row]]]:
    """Copies of one text as one item, placed where the group first appears in ``rows``: the group's earliest
    publication among them leads it, the rest follow as its copies. Rows of no copy group stand alone."""
    groups: dict[object, list[Row]] = {}
    for r in rows:
        groups.setdefault(("group", r["copy_group"]) if r.get("copy_group") is not None else ("row", r["id"]),
                          []).append(r)
    out: list[tuple[Row, list[Row]]] = []
    for members in groups.values():
        ordered = sorted(members, key=_when)
        out.append((ordered[0], ordered[1:]))
    return out


def group_ids(rows: Iterable[Row]) -> list[int]:
    return sorted({int(r["copy_group"]) for r in rows if r.get("copy_group") is not None})


def group_of(groups: dict[int, list[Row]], row: Row) -> list[Row]:
    return groups.get(int(row["copy_group"]), []) if row.get("copy_group") is not None else []


def listed(store: Store, rows: list[Row]) -> list[Row]:
    """List items of rows already folded (one per copy group), each naming the other outlets of its text."""
    groups = store.copy_groups(group_ids(rows))
    return [{**article_item(r), "also_carried_by": carried_by(r, group_of(groups, r))} for r in rows]


def feed_rows(store: Store, *, section: str | None = None, limit: int) -> list[Row]:
    """Rows for an Atom feed (newest first, one per copy group), each with ``also_carried_by``."""
    rows = store.latest_folded(section=section, limit=limit)
    groups = store.copy_groups(group_ids(rows))
    return [{**r, "also_carried_by": carried_by(r, group_of(groups, r))} for r in rows]


def coverage_counts(members: list[Row]) -> Row:
    """Outlets, independent reports (copies of one text count once) and how widely each copied report ran."""
    folded = fold(members)
    spread = Counter(n for n in (len({m["outlet"] for m in (lead, *copies)}) for lead, copies in folded) if n > 1)
    return {"outlets": len({m["outlet"] for m in members}), "size": len(members), "reports": len(folded),
            "carried": [{"reports": k, "outlets": n} for n, k in sorted(spread.items(), reverse=True)]}


def skipped_items(value: Any) -> dict[str, int]:
    """What the last poll left out, by reason (stored as a JSON object of counts)."""
    try:
        counts = json.loads(value) if value else {}
    except ValueError:
        return {}
    return {str(k): int(v) for k, v in counts.items() if isinstance(v, int)} if isinstance(counts, dict) else {}


def source_health(row: Row) -> str:
    if not row.get("feed_url"):
        return "imported"
    if not row.get("last_polled_at"):
        return "not polled yet"
    return "failing" if int(row.get("error_count") or 0) > 0 else "ok"


def source_view(row: Row, *, public: bool = False) -> Row:
    """A source as the admin sees it (feed URL without userinfo, secrets as ***), or with ``public`` as anyone may
    see it (scheme, host and path only); the stored URL itself never leaves."""
    feed_url = row.get("feed_url")
    shown = (public_url if public else redacted_url)(feed_url) if feed_url else feed_url
    return {
        "id": row["id"],
        "name": row["name"],
        "section": row.get("section") or "",
        "feed_url": shown,
        "site_url": redacted_url(row.get("site_url")),
        "last_polled": row.get("last_polled_at"),
        "last_success": row.get("last_success_at"),
        "last_status": row.get("last_status") or None,
        "last_error": scrub(row.get("last_error") or "", feed_url, shown or ""),
        "error_count": int(row.get("error_count") or 0),
        "article_count": int(row.get("article_count") or 0),
        "latest_article": row.get("latest_article_at"),
        "next_poll": row.get("next_poll_at") if row.get("feed_url") else None,
        "poll_interval": row.get("poll_interval"),
        "poll_every_minutes": int(row["poll_every"]) // 60 if row.get("poll_every") else 0,  # 0: adapts
        "health": source_health(row),
        "skipped": skipped_items(row.get("last_skipped")),
        "keep_rules": split_rules(row.get("keep_rules")),  # store only items matching one (none: every item)
        "block_rules": split_rules(row.get("block_rules")),  # never store an item matching one
        "link": source_path(row["id"]),
        "icon": icon_path(row["id"]),
    }


def story_card(story: Row, members: list[Row]) -> Row:
    """A story with up to three headlines, one per outlet and one per text, earliest first."""
    headlines: list[Row] = []
    outlets: set[str] = set()
    for lead, copies in fold(members):
        if lead["outlet"] not in outlets and len(headlines) < CARD_HEADLINES:
            headlines.append({**article_item(lead), "also_carried_by": carried_by(lead, copies)})
        outlets.update(m["outlet"] for m in (lead, *copies))
    return {
        "id": story["id"],
        "title": story["title"],
        **coverage_counts(members),
        "first_published": story.get("first_published_at"),
        "last_published": story.get("last_published_at"),
        "link": story_path(story["id"]),
        "headlines": headlines,
    }


# -- pages ------------------------------------------------------------------------------------------------


def _story_cutoff(latest: list[Row]) -> str | None:
    """'Now' is the newest article (an archive stays browsable), never later than the clock."""
    if not latest:
        return None
    newest = parse_iso(latest[0].get("published_at") or latest[0].get("fetched_at"))
    if newest is None:
        return None
    return iso(min(newest, utcnow()) - HOME_STORY_WINDOW)


def home_page(store: Store) -> Row:
    """The biggest stories of the last two days (by outlets covering them) and the latest articles, each copy
    group once."""
    rows = store.latest_folded(limit=HOME_LATEST + 1)  # one more than shown: is there an older page?
    latest = rows[:HOME_LATEST]
    cutoff = _story_cutoff(latest)
    recent = [s for s in store.recent_stories(limit=HOME_STORY_SCAN)
              if int(s.get("outlets") or 0) >= 2 and (cutoff is None or (s.get("last_published_at") or "") >= cutoff)]
    recent.sort(key=lambda s: (-int(s.get("outlets") or 0), -int(s.get("size") or 0)))
    top = recent[:HOME_STORIES]
    members = store.members_of_stories([int(s["id"]) for s in top])
    cards = [story_card(s, members.get(s["id"], [])) for s in top]
    return {"stories": [c for c in cards if c["size"]], "latest": listed(store, latest), "feed": LATEST_FEED_PATH,
            "health": sources_at_a_glance(store), "latest_link": LATEST_PATH,
            "pagination": pagination(1, HOME_LATEST, len(rows))}


def latest_page(store: Store, page: int = 1) -> Row:
    """All the latest news, every outlet and section, a page at a time (the home page shows the first)."""
    rows = store.latest_folded(limit=HOME_LATEST + 1, offset=(page - 1) * HOME_LATEST)
    if page > 1 and not rows:
        raise NotFound(f"The latest news has no page {page}.")
    return {"articles": listed(store, rows[:HOME_LATEST]), "link": LATEST_PATH, "feed": LATEST_FEED_PATH,
            "pagination": pagination(page, HOME_LATEST, len(rows))}


def sources_at_a_glance(store: Store) -> Row:
    """What a reader should know of the sources: a warning when most polled feeds fail now (a machine offline,
    a blocked network), and, before anything has arrived, that collecting has begun."""
    h = store.source_health()
    polled, failing = int(h["polled"]), int(h["failing"])
    return {"sources": int(h["sources"]), "polled": polled, "failing": failing,
            "reachable": polled - failing, "warning": polled > 0 and 2 * failing > polled,
            "sources_link": "/sources"}


def sections_page(store: Store) -> Row:
    return {"sections": [
        {"name": r["section"], "articles": r["articles"], "heading": section_heading(r["section"]),
         "link": section_path(r["section"]), "feed": section_feed_path(r["section"])}
        for r in store.section_counts()]}


def section_page(store: Store, name: str, page: int = 1) -> Row:
    rows = store.latest_folded(section=name, limit=SECTION_PAGE_SIZE + 1, offset=(page - 1) * SECTION_PAGE_SIZE)
    if not rows and not (page == 1 and store.has_source_section(name)):  # a source's section exists, if empty
        raise NotFound(f"There is no section named “{name}”." if page == 1 else f"Section “{name}” has no page {page}.")
    return {
        "section": name,
        "heading": section_heading(name),
        "link": section_path(name),
        "feed": section_feed_path(name),
        "articles": listed(store, rows[:SECTION_PAGE_SIZE]),
        "pagination": pagination(page, SECTION_PAGE_SIZE, len(rows)),
    }


def pagination(page: int, per_page: int, fetched: int, total: int | None = None) -> Row:
    """Where a list's neighbouring pages are; ``fetched`` is what a query for one more than a page returned. A
    list that knows its length also says how many items and pages it has in all (``total``, ``pages``)."""
    out: Row = {"page": page, "per_page": per_page, "prev_page": page - 1 if page > 1 else None,
                "next_page": page + 1 if fetched > per_page else None}
    if total is not None:
        out |= {"total": total, "pages": max(1, math.ceil(total / per_page))}
    return out


def article_page(store: Store, article_id: int) -> Row:
    """The article, its section line, Similar News from other outlets and the link to its story."""
    row = store.article(article_id)
    if row is None:
        raise NotFound(f"There is no article {article_id}.")
    neighbours = other_outlets(store.similar_to(article_id, limit=SIMILAR_FETCH), row)
    groups = store.copy_groups(group_ids([row, *neighbours]))
    ranked = rank_similar(with_text_edges(neighbours, groups), limit=SIMILAR_ON_PAGE)
    section = primary_section(row)
    story = None
    if row.get("story_id"):
        members = store.story_members(int(row["story_id"]))
        story_row = store.story(int(row["story_id"]))
        if len(members) > 1 and story_row is not None:
            story = {"id": story_row["id"], "title": story_row["title"], **coverage_counts(members),
                     "link": story_path(story_row["id"])}
    return {
        "article": article_detail(row),
        "section": {"name": section, "heading": section_heading(section), "link": section_path(section)}
        if section else None,
        "similar": [similar_item(r, similar_carried(r, groups, row)) for r in ranked],
        "copies": copies_of(row, groups[row["copy_group"]]) if row.get("copy_group") is not None else None,
        "story": story,
    }


def with_text_edges(rows: list[Row], groups: dict[int, list[Row]]) -> list[Row]:
    """Neighbour rows (their text cut short) given the head and tail of their whole text where a copy group
    query read them, so a credit line at the end of a text is seen."""
    edges = {int(m["id"]): m for members in groups.values() for m in members}
    return [{**r, "text_head": edges[r["id"]]["text_head"], "text_tail": edges[r["id"]]["text_tail"]}
            if r["id"] in edges else r for r in rows]


def similar_carried(item: Row, groups: dict[int, list[Row]], article: Row) -> list[Row]:
    """Every other outlet that ran a Similar News item's text: the copies folded into it and the rest of its
    copy group, never the article's own outlet (Similar News is other outlets only)."""
    return carried_by(item, [*item.get("copies", []), *group_of(groups, item)], exclude=[str(article.get("outlet"))])


def first_report(members: list[Row]) -> Row | None:
    """The member that reported first, only when the times say so: every member dated, the first to a time of
    day (not only a date) and strictly before all the others; else None (no outlet is named)."""
    times = [parse_iso(m.get("published_at")) for m in members]
    if len(members) < 2 or any(t is None for t in times):
        return None
    first, rest = times[0], times[1:]
    if first is None or date_only(first) or any(t is None or t <= first for t in rest):
        return None
    return article_item(members[0])


def story_rows(store: Store, story_id: int) -> tuple[Row, list[Row]]:
    """The story and its members (earliest first); StoryMoved when it was merged into another, else NotFound."""
    story = store.story(story_id)
    members = store.story_members(story_id) if story else []
    if story is None or not members:
        moved = store.story_redirect(story_id) if story is None else None
        if moved is not None:
            raise StoryMoved(story_id, moved)
        raise NotFound(f"There is no story {story_id}.")
    return story, members


def text_kind(lead: Row, copies: list[Row]) -> str | None:
    """'opinion' or 'analysis' when any outlet that ran this text files or labels it so; None for a report."""
    return next((k for m in (lead, *copies) if (k := piece_kind(m["url"], m["title"] or ""))), None)


def story_texts(members: list[Row]) -> tuple[list[Folded], list[Folded]]:
    """The story's texts, copies folded into their earliest publication: the news reports (dated ones in time
    order, then the undated ones by arrival) and the opinion and analysis pieces (in time order)."""
    reports: list[Folded] = []
    views: list[Folded] = []
    for lead, copies in fold(members):
        (views if text_kind(lead, copies) else reports).append((lead, copies))
    reports.sort(key=lambda t: (not t[0].get("published_at"), _when(t[0])))
    return reports, views


def story_entry(lead: Row, copies: list[Row], why: dict[int, Row], first_id: int | None) -> Row:
    """One text of a story: its earliest publication, the other outlets that ran it, why it was grouped, and
    what it is (a report, "opinion" or "analysis"; the first report; dated or not)."""
    kind = text_kind(lead, copies)
    return {**article_item(lead), "kind": kind or "report", "kind_label": KIND_LABELS.get(kind or "", "Report"),
            "dated": bool(lead.get("published_at")), "first_report": int(lead["id"]) == first_id,
            "why": why.get(int(lead["id"])), "also_carried_by": carried_by(lead, copies)}


def story_page(store: Store, story_id: int, page: int = 1) -> Row:
    """Full coverage: the first report and the later developments in time order (undated ones last), one entry
    per text with the other outlets that carried it, a page at a time; the opinion and analysis pieces apart;
    and every source. A story merged into another answers with StoryMoved."""
    story, members = story_rows(store, story_id)
    reports, views = story_texts(members)
    shown = reports[(page - 1) * STORY_PAGE_SIZE:page * STORY_PAGE_SIZE]
    if page > 1 and not shown:
        raise NotFound(f"Story {story_id} has no page {page}.")
    report_ids = {int(m["id"]) for lead, copies in reports for m in (lead, *copies)}
    first = first_report([m for m in members if int(m["id"]) in report_ids])
    first_id = int(first["id"]) if first else None
    why = story_evidence(store.story_links(story_id))
    names = {int(m["id"]): m["source"] for m in members}
    for w in why.values():
        w["linked_source"] = names.get(int(w["linked_to"]), "")
    card = story_card(story, members)
    del card["headlines"]
    return {
        "story": card,
        "link": story_path(story_id),
        "feed": story_feed_path(story_id),
        "first_reported_by": first,
        "timeline": [story_entry(lead, copies, why, first_id) for lead, copies in shown],
        "undated": sum(1 for lead, _ in reports if not lead.get("published_at")),
        "opinion": [story_entry(lead, copies, why, None) for lead, copies in views],
        "sources": story_sources(members),
        "pagination": pagination(page, STORY_PAGE_SIZE, len(reports) - (page - 1) * STORY_PAGE_SIZE, len(reports)),
    }


def story_sources(members: list[Row]) -> list[Row]:
    """Every source that ran a piece of the story, in the order of its first one, with how many it ran."""
    sources: dict[int, Row] = {}
    for m in members:
        entry = sources.setdefault(m["source_id"], {"name": m["source"], "source_id": m["source_id"],
                                                    "articles": 0, "link": source_path(m["source_id"]),
                                                    "icon": icon_path(m["source_id"])})
        entry["articles"] += 1
    return list(sources.values())


def story_feed_rows(store: Store, story_id: int, limit: int) -> tuple[Row, list[Row]]:
    """The story and its texts for an Atom feed, newest first (a new member is a new entry), copies folded into
    their earliest publication with ``also_carried_by``; opinion and analysis say so in ``kind_label``."""
    story, members = story_rows(store, story_id)
    texts = sorted(fold(members), key=lambda t: _when(t[0]), reverse=True)[:limit]
    rows = [{**lead, "also_carried_by": carried_by(lead, copies),
             "kind_label": KIND_LABELS.get(text_kind(lead, copies) or "", "")} for lead, copies in texts]
    return story, rows


def story_evidence(links: list[Row]) -> dict[int, Row]:
    """For each member, its strongest link inside the story: why it was grouped with the others."""
    best: dict[int, Row] = {}
    for link in links:  # strongest first
        for me, other in ((link["article_id"], link["other_id"]), (link["other_id"], link["article_id"])):
            if me not in best:
                best[me] = {"linked_to": other, "link": article_path(other), "relation": link["relation"],
                            "score": finite(link["score"]), **(parse_why(link["why"]) or {})}
    return best


def sources_page(store: Store, page: int = 1) -> Row:
    """Every source with its health, a page at a time, with how many there are in all."""
    rows = store.sources_listed(limit=SOURCES_PAGE_SIZE + 1, offset=(page - 1) * SOURCES_PAGE_SIZE)
    if page > 1 and not rows:
        raise NotFound(f"The list of sources has no page {page}.")
    return {"sources": [source_view(r, public=True) for r in rows[:SOURCES_PAGE_SIZE]], "link": "/sources",
            "pagination": pagination(page, SOURCES_PAGE_SIZE, len(rows), store.source_count())}


def source_page(store: Store, source_id: int, page: int = 1) -> Row:
    row = store.source(source_id)
    if row is None:
        raise NotFound(f"There is no source {source_id}.")
    rows = store.latest_folded(source_id=source_id, limit=SOURCE_LATEST + 1, offset=(page - 1) * SOURCE_LATEST)
    if page > 1 and not rows:
        raise NotFound(f"Source {source_id} has no page {page}.")
    view = source_view(row, public=True)
    if rows and page == 1 and not view["latest_article"]:
        view["latest_article"] = rows[0].get("published_at")
    return {"source": view, "articles": listed(store, rows[:SOURCE_LATEST]), "link": f"/source/{source_id}",
            "pagination": pagination(page, SOURCE_LATEST, len(rows))}


def search_page(store: Store, query: str, page: int = 1) -> Row:
    """Full-text search, each copy group once (where its best match ranks, led by its earliest matching
    publication), a page at a time, with how many articles match in all; an empty query is just the form."""
    q = " ".join(query.split())
    by_url = store.article_by_urls(url_variants(q)) if " " not in q and http_url(q) else None  # a pasted address
    rows = [by_url] if by_url else store.search(q, limit=page * SEARCH_LIMIT * SEARCH_FOLD_ROOM) if q else []
    leads = [lead for lead, _ in fold(rows)]
    shown = leads[(page - 1) * SEARCH_LIMIT:page * SEARCH_LIMIT]
    if page > 1 and not shown:
        raise NotFound(f"The search has no page {page}.")
    items = listed(store, shown)
    return {"query": q, "matches": 1 if by_url else store.search_count(q) if q else 0,
            "results": [{**item, "match": r.get("match") or ""} for item, r in zip(items, shown, strict=True)],
            "link": f"/search?q={quote(q)}",
            "pagination": pagination(page, SEARCH_LIMIT, len(leads) - (page - 1) * SEARCH_LIMIT)}


# -- operators ---------------------------------------------------------------------------------------------

METRICS = (  # name, what it counts, the key in Store.counts (/healthz, and /metrics' gauges: web.observe)
    ("tidings_articles", "articles stored", "articles"),
    ("tidings_stories", "stories", "stories"),
    ("tidings_analysis_backlog", "articles waiting for analysis (embedding, Similar News, story)", "waiting"),
    ("tidings_feeds", "sources with a feed", "feeds"),
    ("tidings_feeds_failing", "feeds whose last poll failed", "failing"),
)


def health(store: Store) -> Row:
    """Whether Tidings can answer: the database reads, and what is waiting or failing (for a monitor)."""
    counts = store.counts()
    return {"status": "ok", **{key: int(counts[key]) for _, _, key in METRICS}}


# -- contract endpoints -----------------------------------------------------------------------------------


def _contract_item(row: Row, carried: list[Row]) -> Row:
    return {
        "url": row["url"],
        "title": row["title"],
        "source": row["source"],
        "snippet": lead_snippet(row.get("summary") or "", row.get("text") or ""),
        "published": row.get("published_at"),
        "score": finite(row.get("score")),
        "relation": row["relation"],
        "why": parse_why(row.get("why")),
        "also_carried_by": [{"url": c["url"], "source": c["source"]} for c in carried],
    }


def api_similar(store: Store, url: str, limit: int = API_SIMILAR_DEFAULT) -> Row:
    """Similar News of the article at ``url``: other outlets only, best first, each copy group one item that
    names the other outlets that carried it."""
    row = store.article_by_urls(url_variants(url))  # as people paste it: tracking, fragment, scheme, case
    if row is None:
        raise NotFound(f"no article with url {cut_at_word(url, 200)!r}")
    limit = max(1, min(limit, API_SIMILAR_MAX))
    neighbours = other_outlets(store.similar_to(int(row["id"]), limit=max(limit * 3, SIMILAR_FETCH)), row)
    groups = store.copy_groups(group_ids(neighbours))
    items = rank_similar(neighbours, limit=limit)
    return {"article": article_item(row),
            "similar": [_contract_item(r, similar_carried(r, groups, row)) for r in items]}


def api_stories(store: Store, limit: int = API_STORIES_DEFAULT, page: int = 1) -> Row:
    """The most recent stories with their member articles (earliest first), ``limit`` to a page; members are
    fetched in batches of story ids. A copy names the earlier article of the story whose text it carries
    (``copy_of``)."""
    limit = max(1, min(limit, API_STORIES_MAX))
    fetched = store.recent_stories(limit=limit + 1, offset=(page - 1) * limit)
    if page > 1 and not fetched:
        raise NotFound(f"The list of stories has no page {page}.")
    stories = fetched[:limit]
    members: dict[int, list[Row]] = {}
    for ids in chunks([int(s["id"]) for s in stories], MEMBER_CHUNK):
        members.update(store.members_of_stories(ids))
    return {"stories": [{"id": s["id"], "title": s["title"], "articles": story_articles(members[s["id"]])}
                        for s in stories if members.get(s["id"])],
            "pagination": pagination(page, limit, len(fetched), store.story_count())}


def story_articles(members: list[Row]) -> list[Row]:
    copy_of = {int(c["id"]): lead["url"] for lead, copies in fold(members) for c in copies}
    return [{"url": m["url"], "title": m["title"], "source": m["source"], "copy_of": copy_of.get(int(m["id"]))}
            for m in members]
