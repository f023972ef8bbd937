"""The one place where linking plans are written: links both ways, copy groups, story moves, merges with their
redirects, and the index's facts kept in step. ``store`` is the Store; ``index`` the in-memory VectorIndex."""

from __future__ import annotations

import json
from typing import Any

from tidings.analysis.regions import is_region, shared_regions
from tidings.linking.plan import LinkPlan
from tidings.linking.recluster import StoryPlan
from tidings.models import Neighbour
from tidings.similarity.index import Indexed, VectorIndex
from tidings.stories.cluster import describe


def apply_links(store: Any, index: VectorIndex, row: dict[str, Any], item: Indexed, plan: LinkPlan) -> None:
    """Write one article's plan: its links, its copy group, and its story (created when it joins none)."""
    store.clear_neighbours(item.id)
    store.save_neighbours(plan.neighbours())
    if plan.copy_members and plan.copy_group is not None:
        members = store.join_copy_group(plan.copy_members, plan.copy_group, absorb=plan.absorbed_groups)
        index.set_copy_group(members, plan.copy_group)
    item.copy_group = plan.copy_group
    previous = row["story_id"]
    story_id = plan.story_id
    if story_id is None and previous is not None and len(store.story_members(previous)) <= 1:
        story_id = previous
    if story_id is None:
        story_id = store.create_story(row["title"])
    for other in plan.merge_stories:
        store.move_story(other, story_id)
        index.move_story(other, story_id)
    if story_id != previous:
        store.set_story(row["id"], story_id)
        if previous is not None:
            refresh_story(store, previous)
    share_regions(store, refresh_story(store, story_id))
    item.story_id = story_id
    index.set_facts(item)


def apply_stories(store: Any, index: VectorIndex, plan: StoryPlan, story_of: dict[int, int | None],
                  links: list[tuple[int, int, float, str]]) -> int:
    """Write a re-clustering: members move to their cluster's story (kept id or a new one), stories left empty
    redirect to where most of their members went, ``links`` (the stored links among the members) are relabelled
    by the stories and rescored by their lift. ``story_of``: each member's story before. Returns how many
    articles changed story."""
    final: list[int] = []
    for kept in plan.kept:
        final.append(kept if kept is not None else store.create_story(""))
    moved = 0
    touched: set[int] = set()
    for c, members in enumerate(plan.clusters):
        for article_id in members:
            before = story_of.get(article_id)
            if before != final[c]:
                store.set_story(article_id, final[c])
                moved += 1
                touched.add(final[c])
                if before is not None:
                    touched.add(before)
        index.set_story(members, final[c])
    for old, c in plan.absorbed.items():
        if not store.story_members(old):  # members outside the window keep a story alive
            store.record_story_redirect(old, final[c])
    for story_id in touched:
        share_regions(store, refresh_story(store, story_id))
    _relabel(store, plan, {a: final[c] for c, members in enumerate(plan.clusters) for a in members}, links)
    return moved


def _relabel(store: Any, plan: StoryPlan, story: dict[int, int], links: list[tuple[int, int, float, str]]) -> None:
    """Links inside the window say what the stories say: "same_story" when both are in one story and the pair
    itself stands out (a story's members need not all be close to each other), otherwise "related"; copies stay
    "duplicate". Their score becomes the lift-corrected one, and pairs that now stand out are linked too."""
    def one_event(a: int, b: int) -> bool:
        return story[a] == story[b] and ((a, b) in plan.strong or (b, a) in plan.strong)

    updates = []
    linked = set()
    inside = [link for link in links if link[0] in story and link[1] in story]
    there = plan.scores.lookup([a for a, _, _, _ in inside], [b for _, b, _, _ in inside])
    back = plan.scores.lookup([b for _, b, _, _ in inside], [a for a, _, _, _ in inside])
    for (a, b, stored_score, stored), ab, ba in zip(inside, there, back, strict=True):
        relation = stored
        linked.add((a, b))
        if relation != "duplicate":
            relation = "same_story" if one_event(a, b) else "related"
        score = ab if ab is not None else ba if ba is not None else stored_score
        if relation != stored or score != stored_score:
            updates.append((score, relation, a, b))
    store.relabel_links(updates)
    added = [Neighbour(x, y, plan.scores[(a, b)], "same_story" if one_event(a, b) else "related", json.dumps(why))
             for (a, b), why in plan.found.items()
             if a in story and b in story and (a, b) not in linked and (b, a) not in linked  # both clustered
             for x, y in ((a, b), (b, a))]
    store.save_neighbours(added)


def refresh_story(store: Any, story_id: int) -> list[dict[str, Any]]:
    """Headline, lead article, span and counts of a story from its members, which it returns; an empty story is
    removed."""
    members: list[dict[str, Any]] = store.story_members(story_id)
    d = describe(members)
    if d.size == 0:
        store.delete_story(story_id)
        return members
    store.update_story(story_id, title=d.title, lead_article_id=d.lead_article_id, first=d.first_published_at,
                       last=d.last_published_at, size=d.size, outlets=d.outlets)
    return members


# A clear majority takes two members that agree (see shared_regions), so a story needs a third to change.
SHARE_MIN = 3


def share_regions(store: Any, members: list[dict[str, Any]]) -> None:
    """File a story's members under its regions ("a story's articles share its region"): one read of their
    sections, a write only for members that change. A member's regions are its region sections other than its
    source's own section (``section``), which says where the outlet files it, not what the article is about."""
    if len(members) < SHARE_MIN:
        return
    sections = store.sections_of_many([m["id"] for m in members])
    own = [[s for s in sections[m["id"]] if is_region(s) and s != m["section"]] for m in members]
    for m, before, after in zip(members, own, shared_regions(own), strict=True):
        filed = _refiled(sections[m["id"]], before, after, m["section"])
        if filed != sections[m["id"]]:
            store.set_sections(m["id"], filed)


def _refiled(sections: list[str], before: list[str], after: list[str], own: str) -> list[str]:
    """``sections`` with the regions ``before`` replaced by ``after`` where regions stand: after the source's
    own section, before the topic."""
    rest = [s for s in sections if s not in before]
    at = 1 if own and rest[:1] == [own] else 0
    return list(dict.fromkeys(rest[:at] + after + rest[at:]))

