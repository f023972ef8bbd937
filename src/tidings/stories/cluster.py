"""Incremental story assignment: a new article joins the story its same-event links point to most strongly."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

STORY_RELATIONS = ("duplicate", "same_story")


def choose_story(links: list[tuple[int | None, float, str]]) -> int | None:
    """Pick the story to join from (story_id, score, relation) links; None means start a new story.

    Each story is weighed by the sum of its same-event link scores, so one story with several agreeing
    members beats a single stray match elsewhere.
    """
    weight: dict[int, float] = defaultdict(float)
    for story_id, score, relation in links:
        if story_id is not None and relation in STORY_RELATIONS:
            weight[story_id] += score
    if not weight:
        return None
    return max(weight.items(), key=lambda kv: (kv[1], -kv[0]))[0]


@dataclass
class StoryDescription:
    title: str
    lead_article_id: int | None
    first_published_at: str | None
    last_published_at: str | None
    size: int
    outlets: int


def describe(members: list[dict[str, Any]]) -> StoryDescription:
    """Headline, first report and span of a story from its members (ordered oldest first)."""
    if not members:
        return StoryDescription("", None, None, None, 0, 0)
    times = [m["published_at"] or m["fetched_at"] for m in members]
    lead = members[0]
    return StoryDescription(
        title=lead["title"], lead_article_id=lead["id"], first_published_at=min(times),
        last_published_at=max(times), size=len(members), outlets=len({m["outlet"] for m in members}))


def stories_to_merge(links: list[tuple[int | None, float, str]], chosen: int, min_score: float) -> list[int]:
    """Other stories that one strong same-event link ties to the chosen one: evidence that they are one event."""
    return sorted({s for s, score, relation in links
                   if s is not None and s != chosen and relation in STORY_RELATIONS and score >= min_score})
