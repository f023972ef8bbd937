"""What each JSON answer of the API holds: one model per page dict of ``pages`` (and of the admin routes).

The models describe the dicts; they never build them. A route returns its page dict as it is (``api_json``), so
the JSON is exactly the dict and no request pays for validating it again; the route's ``response_model`` puts the
model in /openapi.json. The tests hold the two together: every answer of every /api route validates against its
model with ``extra="forbid"`` (tests/test_web.py, tests/test_admin.py), and schemathesis checks the types. A key
added to a page dict is one line here, in the model of that dict.

Fields are listed in the order the dict has them. Models allow extra keys (``additionalProperties``): a client
generated from the document keeps working when a later Tidings adds a field.
"""

from __future__ import annotations

from typing import Any, Literal

import pydantic_core
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema


def api_json(data: Any) -> Response:
    """The page dict as JSON, as FastAPI wrote it before these models (pydantic's serializer), not re-validated."""
    return Response(pydantic_core.to_json(data), media_type="application/json")


class Schema(BaseModel):
    """A model of a page dict: a key it does not name is kept, never dropped (the tests refuse such keys)."""

    model_config = ConfigDict(extra="allow")


class ErrorBody(Schema):
    """What every refusal under /api/ carries."""

    error: str = Field(description="what went wrong, in words for a person")


# -- paging ---------------------------------------------------------------------------------------------------


class Pagination(Schema):
    """Where a list's neighbouring pages are: ask for them with `?page=N`. A page past the last answers 404."""

    page: int = Field(ge=1, description="this page, from 1")
    per_page: int = Field(ge=1, description="the most items one page holds")
    prev_page: int | None = Field(description="the page before, or null on the first")
    next_page: int | None = Field(description="the page after, or null on the last")
    total: int | SkipJsonSchema[None] = Field(None, description="items in the whole list, where it is counted")
    pages: int | SkipJsonSchema[None] = Field(None, description="pages in the whole list, where it is counted")


# -- articles -------------------------------------------------------------------------------------------------


class CarriedBy(Schema):
    """Another outlet that ran the same text: its earliest copy."""

    url: str = Field(description="the copy at the outlet")
    source: str
    link: str = Field(description="the copy's page on this site")


class ArticleItem(Schema):
    """An article in a list: a headline with its source, time and lead."""

    id: int
    url: str = Field(description="the article at its outlet")
    title: str
    source: str = Field(description="the source's name")
    source_id: int
    published: str | None = Field(description="ISO 8601, as the outlet gave it; null when undated")
    section: str = Field(description="its first section; '' when none")
    snippet: str = Field(description="one or two opening sentences")
    image_url: str = Field(description="the outlet's picture (http(s) only); '' when none")
    image: str | None = Field(description="the picture as this site serves it (a thumbnail in lists, wider on"
                              " the article page); null when none")
    icon: str = Field(description="the source's icon as this site serves it")
    story_id: int | None
    link: str = Field(description="the article's page on this site")


class ListedArticle(ArticleItem):
    also_carried_by: list[CarriedBy] = Field(description="other outlets that ran the same text")


class ArticleDetail(ArticleItem):
    """The whole article, text included."""

    author: str
    fetched: str = Field(description="when Tidings first stored it (ISO 8601)")
    updated: str = Field(description="when Tidings last changed it (ISO 8601)")
    sections: list[str]
    summary: str
    text: str
    language: str
    site_name: str
    canonical_url: str
    extraction_error: str = Field(description="why the full text stopped short; '' when it did not")


class Why(Schema):
    """The evidence of a link, as the linker stored it; a key is absent where nothing was stored."""

    similarity: float | SkipJsonSchema[None] = Field(None, description="meaning (embedding cosine)")
    wording: float | SkipJsonSchema[None] = Field(None, description="words of headline and lead in common")
    copied_text: float | SkipJsonSchema[None] = Field(None, description="share of the text found in the other")
    hours_apart: float | None = Field(None, description="between the two publications; null when one is undated")
    shared: list[str] | SkipJsonSchema[None] = Field(None, description="names and figures both mention")


RELATION = "same_story, duplicate (a copy of the text) or related"


class SimilarItem(ArticleItem):
    """A Similar News item: copies of one text are one item."""

    score: float | None
    relation: str = Field(description=RELATION)
    relation_label: str
    also_carried_by: list[CarriedBy]
    credited: str | None = Field(description="the wire agency the item's own text credits")
    why: Why | None


class Copies(Schema):
    """Who else carried this article's text, and which publication came first."""

    outlets: list[str]
    carried_by: list[CarriedBy]
    first: ArticleItem
    this_is_first: bool
    credited: str | None = Field(description="the wire agency this article's own text credits")


class CarriedCount(Schema):
    reports: int = Field(description="how many reports of the story ran at this many outlets")
    outlets: int


class Coverage(Schema):
    outlets: int = Field(description="outlets covering the story")
    size: int = Field(description="articles in the story")
    reports: int = Field(description="independent reports (copies of one text count once)")
    carried: list[CarriedCount] = Field(description="how widely each copied report ran")


class SectionRef(Schema):
    name: str
    heading: str
    link: str


class StoryRef(Coverage):
    id: int
    title: str
    link: str


class ArticlePage(Schema):
    """An article, its section, Similar News from other outlets and its story."""

    article: ArticleDetail
    section: SectionRef | None
    similar: list[SimilarItem]
    copies: Copies | None
    story: StoryRef | None = Field(description="null unless the story has other articles")


# -- stories --------------------------------------------------------------------------------------------------


class StorySummary(Coverage):
    id: int
    title: str
    first_published: str | None
    last_published: str | None
    link: str


class StoryCard(StorySummary):
    headlines: list[ListedArticle] = Field(description="up to three: one per outlet and text, earliest first")


class StoryEvidence(Why):
    """Why an article is in the story: its strongest link inside it."""

    linked_to: int = Field(description="the article it is linked to")
    link: str
    relation: str = Field(description=RELATION)
    score: float | None
    linked_source: str


class TimelineEntry(ArticleItem):
    kind: Literal["report", "opinion", "analysis"] = Field(description="told from the address or the headline")
    kind_label: str
    dated: bool
    first_report: bool = Field(description="the story's first report, where the times say so")
    why: StoryEvidence | None
    also_carried_by: list[CarriedBy]


class StorySource(Schema):
    name: str
    source_id: int
    articles: int
    link: str
    icon: str


class StoryPage(Schema):
    """Full coverage: one entry per text in time order, who reported first, every source."""

    story: StorySummary
    link: str
    feed: str = Field(description="the story's Atom feed")
    first_reported_by: ArticleItem | None = Field(description="only when the times say so")
    timeline: list[TimelineEntry] = Field(description="news reports, one per text, in time order, a page at a time")
    undated: int = Field(description="undated reports, listed after the dated ones")
    opinion: list[TimelineEntry] = Field(description="opinion and analysis pieces, apart from the reports")
    sources: list[StorySource]
    pagination: Pagination


# -- lists ----------------------------------------------------------------------------------------------------


class SourcesGlance(Schema):
    sources: int
    polled: int
    failing: int
    reachable: int
    warning: bool = Field(description="most polled feeds fail now")
    sources_link: str


class HomePage(Schema):
    """The biggest stories of the last two days and the latest articles (page 1 of /api/latest)."""

    stories: list[StoryCard]
    latest: list[ListedArticle]
    feed: str
    health: SourcesGlance
    latest_link: str
    pagination: Pagination


class LatestPage(Schema):
    articles: list[ListedArticle]
    link: str
    feed: str = Field(description="the Atom feed of the latest news")
    pagination: Pagination


class SectionEntry(Schema):
    name: str
    articles: int
    heading: str
    link: str
    feed: str


class SectionsPage(Schema):
    sections: list[SectionEntry]


class SectionPage(Schema):
    section: str
    heading: str
    link: str
    feed: str = Field(description="the section's Atom feed")
    articles: list[ListedArticle]
    pagination: Pagination


class SearchResult(ListedArticle):
    match: str = Field(description="where the words matched, with the matched words marked")


class SearchPage(Schema):
    query: str
    matches: int = Field(description="articles that match, in all")
    results: list[SearchResult]
    link: str
    pagination: Pagination


# -- sources --------------------------------------------------------------------------------------------------


class Source(Schema):
    """A source: its feed's address shown as scheme, host and path only (the admin API: secrets masked)."""

    id: int
    name: str
    section: str
    feed_url: str | None = Field(description="null for a source of imported articles")
    site_url: str
    last_polled: str | None
    last_success: str | None
    last_status: int | None = Field(description="the HTTP status of the last poll")
    last_error: str
    error_count: int = Field(description="polls in a row that failed")
    article_count: int
    latest_article: str | None
    next_poll: str | None
    poll_interval: int = Field(description="seconds between polls now")
    poll_every_minutes: int = Field(description="the poll interval set; 0: it adapts to the source")
    health: Literal["ok", "failing", "not polled yet", "imported"]
    skipped: dict[str, int] = Field(description="items the last poll left out, by reason")
    keep_rules: list[str] = Field(description="when any: only items whose headline, summary or text matches one"
                                  " are stored (RE2 syntax, case ignored)")
    block_rules: list[str] = Field(description="items matching one are never stored")
    link: str
    icon: str = Field(description="the source's icon as this site serves it")


class SourcesPage(Schema):
    sources: list[Source]
    link: str
    pagination: Pagination


class SourcePage(Schema):
    source: Source
    articles: list[ListedArticle]
    link: str
    pagination: Pagination


# -- operators and the contract endpoints ---------------------------------------------------------------------


class Health(Schema):
    status: Literal["ok"]
    articles: int
    stories: int
    waiting: int = Field(description="articles waiting for analysis")
    feeds: int
    failing: int = Field(description="feeds whose last poll failed")


class Carrier(Schema):
    url: str
    source: str


class SimilarNewsItem(Schema):
    url: str
    title: str
    source: str
    snippet: str
    published: str | None
    score: float | None
    relation: str = Field(description=RELATION)
    why: Why | None
    also_carried_by: list[Carrier]


class SimilarNews(Schema):
    """The article found at the URL and its Similar News, best first."""

    article: ArticleItem
    similar: list[SimilarNewsItem]


class StoryArticle(Schema):
    url: str
    title: str
    source: str
    copy_of: str | None = Field(description="the URL of the story's earlier article whose text this one carries")


class StoryWithArticles(Schema):
    id: int
    title: str
    articles: list[StoryArticle] = Field(description="earliest first")


class Stories(Schema):
    stories: list[StoryWithArticles]
    pagination: Pagination


# -- admin ----------------------------------------------------------------------------------------------------

Analysis = Literal["queued", "deferred", "none"]
ANALYSIS = ("Similar News for what changed: queued (now), deferred (the scheduler's next pass) or none (nothing "
            "to analyse)")


class AdminSource(Source):
    fulltext: Literal["auto", "always", "never"]


class SourceAnswer(Schema):
    source: AdminSource


class RemovedSource(Schema):
    id: int
    name: str


class Removed(Schema):
    removed: RemovedSource


class RefreshReport(Schema):
    status: int = Field(description="the feed's HTTP status; 0 when not polled here")
    new: int
    updated: int
    unchanged: int
    error: str
    skipped: dict[str, int]
    queued: bool = Field(description="handed to a worker, which polls it within seconds")


class Refreshed(Schema):
    refresh: RefreshReport
    analysis: Analysis = Field(description=ANALYSIS)


class FailedFeed(Schema):
    source_id: int
    error: str


class AllRefreshReport(Schema):
    sources: int = Field(description="feeds polled (on PostgreSQL: made due for the workers)")
    new: int
    updated: int
    unchanged: int
    skipped: dict[str, int] = Field(description="items left out, by reason")
    queued: bool = Field(description="handed to the workers, which poll them within seconds")
    failed: list[FailedFeed]


class AllRefreshed(Schema):
    refresh: AllRefreshReport
    analysis: Analysis = Field(description=ANALYSIS)


class OpmlImported(Schema):
    added: int
    existing: int = Field(description="feeds that were already sources")
    analysis: Analysis = Field(description=ANALYSIS)


class LineError(Schema):
    line: int
    message: str


class JsonlImported(Schema):
    imported: int
    updated: int
    unchanged: int
    skipped: int = Field(description="lines that could not be read or stored")
    adjusted: dict[str, int] = Field(description="articles stored with a field cut or a date clamped, by reason")
    left_out: dict[str, int] = Field(description="lines the sources' keep and block rules left out, by reason")
    errors: list[LineError] = Field(description="the first 100 skipped lines, by number")
    analysis: Analysis = Field(description=ANALYSIS)


class ArticleLine(BaseModel):
    """One line of a JSON Lines import."""

    url: str = Field(min_length=1, description="an http(s) URL; a URL already stored updates that article")
    title: str = Field(min_length=1)
    source: str = Field(min_length=1, description="the source's name; a new name makes a new source")
    text: str | None = None
    summary: str | None = Field(None, description="default: the opening of the text")
    published: str | None = Field(None, description="ISO 8601")
    language: str | None = None
    section: str | None = None
