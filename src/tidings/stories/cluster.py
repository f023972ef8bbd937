"""Incremental story assignment: a new article joins the story its same-event links point to most strongly."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

STORY_RELATIONS = ("duplicate", "same_story")


def choose_story(links: list[tuple[int | None, float, str]], sizes: dict[int, int] | None = None, *,
                 min_support: float = 0.0, size_cap: int = 5) -> int | None:
    """Pick the story to join from (story_id, score, relation) links; None means start a new story.

    A story's support is the sum of its same-event link scores divided by its size (up to ``size_cap``:
    a big story's members are not all among one article's nearest): an article joins only a story most of
    whose members it agrees with, so one shared name does not pull it into another event. Among stories with
    enough support, the strongest total wins.
    """
    weight: dict[int, float] = defaultdict(float)
    for story_id, score, relation in links:
        if story_id is not None and relation in STORY_RELATIONS:
            weight[story_id] += score
    sizes = sizes or {}
    eligible = {s: w for s, w in weight.items() if w / max(1, min(sizes.get(s, 1), size_cap)) >= min_support}
    if not eligible:
        return None
    return max(eligible.items(), key=lambda kv: (kv[1], -kv[0]))[0]


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
