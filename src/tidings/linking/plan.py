"""Links of one fresh article: Similar News both ways, its copy group and the story it joins, decided from plain
evidence (its candidates' facts, their similarity and copied text). No database here: ``apply`` writes the plan."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tidings.models import Neighbour
from tidings.similarity.index import Indexed
from tidings.similarity.relate import DEFAULT, Evidence, Link, Thresholds, relate
from tidings.stories.cluster import choose_story, stories_to_merge

KEEP_LINKS = 30       # links stored per new article
JOIN_SUPPORT = 0.30   # mean same-event link score to a story's members needed to join it
MERGE_SCORE = 0.65    # one link this strong between two stories' members merges the stories


@dataclass(frozen=True)
class Candidate:
    """A nearby article as it is now: its facts, its evidence, and how much of its text the new one shares."""

    item: Indexed
    cosine: float
    evidence: Evidence
    copied: float = 0.0  # confirmed share of copied text (see similarity.neardup.copy_share)


@dataclass
class LinkPlan:
    article_id: int
    links: list[tuple[Indexed, Link]] = field(default_factory=list)  # best first
    copy_group: int | None = None        # the group the article joins (None: no copies)
    copy_members: list[int] = field(default_factory=list)
    absorbed_groups: list[int] = field(default_factory=list)  # groups a new copy joins into one
    story_id: int | None = None          # the story to join; None: keep its own or start one
    merge_stories: list[int] = field(default_factory=list)    # other stories tied to it by a strong link

    def neighbours(self) -> list[Neighbour]:
        """The links as stored, both ways: the new article appears under older related ones too."""
        rows = [Neighbour(self.article_id, o.id, lk.score, lk.relation or "", json.dumps(lk.why()))
                for o, lk in self.links]
        return rows + [Neighbour(n.other_id, n.article_id, n.score, n.relation, n.why) for n in rows]


def plan_links(item: Indexed, mine: Evidence, candidates: list[Candidate], story_sizes: dict[int, int], *,
               t: Thresholds = DEFAULT) -> LinkPlan:
    """Relate the article to each candidate, keep the strongest links, group it with its copies and pick the
    story its same-event links point to (``story_sizes``: members of the candidates' stories)."""
    plan = LinkPlan(item.id)
    links = []
    for c in candidates:
        link = relate(c.cosine, mine, c.evidence, containment=c.copied, t=t)
        if link.relation is not None:
            links.append((c.item, link))
    plan.links = sorted(links, key=lambda ol: -ol[1].score)[:KEEP_LINKS]
    _plan_copies(plan, item, [o for o, lk in plan.links if lk.relation == "duplicate"])
    votes = [(o.story_id, lk.score, lk.relation or "") for o, lk in plan.links]
    plan.story_id = choose_story(votes, story_sizes, min_support=JOIN_SUPPORT)
    if plan.story_id is not None:
        plan.merge_stories = stories_to_merge(votes, plan.story_id, MERGE_SCORE)
    return plan


def _plan_copies(plan: LinkPlan, item: Indexed, copies: list[Indexed]) -> None:
    """Copies of one text share a copy group; a new copy can join two groups into one."""
    if not copies:
        plan.copy_group = item.copy_group
        return
    groups = sorted({c.copy_group for c in copies if c.copy_group is not None})
    plan.copy_group = groups[0] if groups else min(c.id for c in copies)
    plan.copy_members = [item.id] + [c.id for c in copies]
    plan.absorbed_groups = groups[1:]
