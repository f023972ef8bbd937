"""Copies of one text against independent reports of one event: hand-written cases, then the built copy sets."""

from __future__ import annotations

import pytest

from conftest import shared_data
from tidings.evaluation.datasets import EvalArticle, headlines_only, load_allsides, load_basil
from tidings.evaluation.syndication import (
    ALLSIDES_SAME_TEXT,
    SUMMARY_EDIT_PROBABILITIES,
    build_fulltext_copy_set,
    build_summary_copy_set,
    comparison_pairs,
)
from tidings.similarity.neardup import (
    COPY_CONTAINMENT,
    copy_share,
    exact_containment,
    fingerprint,
    needs_exact_check,
)

# Three copies of one AP lead and an independent report of the same meeting (the product's reference example).
BLINKEN_A = (
    "Blinken meets Chinese President Xi in bid to ease soaring U.S.-China tensions",
    "U.S. Secretary of State Antony Blinken met with Chinese President Xi Jinping on Monday as he wrapped up a "
    "two-day high-stakes visit to Beijing aimed at easing soaring tensions between the countries.",
)
BLINKEN_B = (
    "Blinken meets Chinese President Xi in bid to ease soaring US-China tensions",
    "U.S. Secretary of State Antony Blinken has met with Chinese President Xi Jinping as he wrapped up a two-day "
    "high-stakes visit to Beijing aimed at easing soaring tensions between the countries.",
)
BLINKEN_C = (
    "Antony Blinken meets Chinese President Xi in bid to ease US-China tensions",
    "U.S. Secretary of State Antony Blinken will meet with Chinese President Xi Jinping Monday, the State "
    "Department said, as America's top diplomat wrapped up a two-day visit to Beijing aimed at easing soaring "
    "tensions.",
)
BLINKEN_CNN = (
    "Blinken says he and Chinese leaders agreed on need to 'stabilize' US-China relationship | CNN",
    'US Secretary of State Antony Blinken on Monday said that the United States and China had made "progress" '
    'toward steering relations back on track as both sides agreed on the need to "stabilize" the bilateral '
    "relationship between the two superpowers.",
)

HEADLINE = "Harbor city council approves $40 million seawall after winter storms"
LEAD = (
    "The Harbor City council voted 7-2 on Tuesday to build a $40 million seawall along the old port, after two "
    "winter storms flooded hundreds of homes and shut the coastal highway for a week. The wall, paid for with "
    "state and federal disaster money, is due to be finished by the end of 2026, the mayor said."
)
EDITED = {
    "outlet suffix": (f"{HEADLINE} | Coast Gazette", LEAD),
    "headline label": (f"BREAKING: {HEADLINE} - The Valley Herald", LEAD),
    "dateline": (HEADLINE, f"HARBOR CITY, Maine (AP) — {LEAD}"),
    "byline line": (HEADLINE, f"By Jane Doe, Associated Press\n{LEAD}"),
    "byline run in": (HEADLINE, f"By JANE DOE Associated Press {LEAD}"),
    "agency boilerplate": (
        HEADLINE,
        f"{LEAD}\nCopyright 2023 The Associated Press. All rights reserved. This material may not be published, "
        "broadcast, rewritten or redistributed.",
    ),
    "sentence cut": (HEADLINE, LEAD.rsplit(" The wall", 1)[0]),
    "truncated": (HEADLINE, LEAD[: LEAD.index("shut the")] + "..."),
    "tense, earlier version": (
        "Harbor city council to approve $40 million seawall after winter storms",
        LEAD.replace("voted", "will vote").replace("on Tuesday", "Tuesday"),
    ),
    "attribution added": (HEADLINE, LEAD.replace("on Tuesday to", "on Tuesday, city officials said, to")),
    "attribution removed": (HEADLINE, LEAD.replace(", the mayor said.", ".")),
    "house style": (HEADLINE.replace("$40 million", "$40m"), LEAD.replace("$40 million", "$40m")),
}
INDEPENDENT = (
    "Harbor City will build a seawall. Residents of the old port are not sure it will be enough",
    "After two winter storms flooded hundreds of homes, Harbor City council members approved a seawall on "
    "Tuesday. Fishermen at the old port said the $40 million project came years too late, and two council "
    "members who voted against it called the cost reckless.",
)
# A report of its own that shares a long quotation with the wire text: quotes do not make a copy.
QUOTE = '"We cannot keep rebuilding the same streets every winter and hoping the sea will be kind to us,"'
WIRE_WITH_QUOTE = (HEADLINE, f"{LEAD}\n{QUOTE} Mayor Ellen Park told reporters after the vote.")
REPORT_WITH_QUOTE = (
    "Mayor: the sea will not wait for Harbor City",
    f"{QUOTE} said Mayor Ellen Park, whose own street flooded twice. Her critics on the council argue the "
    "money would buy more if it went to moving homes away from the shore.",
)

PARAGRAPHS = [
    "The Harbor City council voted 7-2 on Tuesday to build a $40 million seawall along the old port, after two "
    "winter storms flooded hundreds of homes and shut the coastal highway for a week.",
    "The wall, paid for with state and federal disaster money, is due to be finished by the end of 2026, the "
    "mayor said. Work on the first section, along the fish market, starts in the spring.",
    "Engineers hired by the city said the storms had pushed water further inland than any since records began, "
    "and that without a barrier the port district would flood in most winters within a decade.",
    "Two council members voted against the plan, saying the money would do more good if it helped families "
    "move away from the lowest streets. Residents packed the meeting, which ran past midnight.",
    "The state's emergency agency has promised to cover three quarters of the cost; the rest will come from a "
    "bond the council expects to put to voters in November.",
    "Shop owners along the harbor front said they had lost weeks of trade to the floods, and several said they "
    "would not reopen without some protection from the next storm.",
]
LONG = "\n".join(PARAGRAPHS)
LONG_COPY = "\n".join(
    [
        "By Jane Doe, Associated Press",
        "HARBOR CITY (AP) — " + PARAGRAPHS[0].replace("voted", "has voted"),
        *PARAGRAPHS[1:3],
        PARAGRAPHS[3].replace(" Residents packed the meeting, which ran past midnight.", ""),
        PARAGRAPHS[4],
        "Copyright 2024 The Associated Press. All rights reserved.",
    ]
)
LONG_REPORT = "\n".join(
    [
        "Harbor City is going to wall itself off from the sea. After a winter in which two storms drowned the old "
        "port, the council has backed a seawall that will take most of three years and $40 million to build.",
        "Not everyone is convinced. At a meeting that ran until after midnight, fishermen and shop owners argued "
        "over whether the wall would save the harbor front or merely delay its decline.",
        "The state will pay for much of the project, officials said, and voters will be asked to approve a bond "
        "for the remainder in November. Two council members opposed the plan.",
        "Engineers told the council that the port district would flood in most winters without protection. Some "
        "residents said they would rather be helped to move to higher ground.",
        "For the shops along the waterfront the question is more urgent: several have been closed since the "
        "first storm, and their owners say they cannot afford another season like this one.",
    ]
)


def _copy(a: tuple[str, str], b: tuple[str, str]) -> float:
    return copy_share(a[0], a[1], b[0], b[1])


def test_the_three_copies_of_one_wire_lead_are_copies_and_the_own_report_is_not() -> None:
    copies = (BLINKEN_A, BLINKEN_B, BLINKEN_C)
    for i, a in enumerate(copies):
        for b in copies[i + 1 :]:
            assert _copy(a, b) >= COPY_CONTAINMENT
        assert _copy(a, BLINKEN_CNN) < COPY_CONTAINMENT / 2, "shared names and a quote are not a copy"


@pytest.mark.parametrize("edit", sorted(EDITED))
def test_a_headline_and_lead_copy_survives_each_edit(edit: str) -> None:
    share = _copy((HEADLINE, LEAD), EDITED[edit])
    assert share >= COPY_CONTAINMENT, f"{edit}: {share:.2f}"
    assert share == _copy(EDITED[edit], (HEADLINE, LEAD)), "the share does not depend on the order of the two"


CUT = LEAD.rsplit(" The wall", 1)[0]  # a copy shorter than the original, so what it adds would count against it
ADDED = {
    "outlet suffix": (f"{HEADLINE} | Coast Gazette", CUT),
    "headline label": (f"WATCH: {HEADLINE} - The Valley Herald", CUT),
    "dateline": (HEADLINE, f"HARBOR CITY, Maine (AP) — {CUT}"),
    "network dateline": (HEADLINE, f"Harbor City (CNN) — {CUT}"),
    "byline line": (HEADLINE, f"By Jane Doe, Associated Press\n{CUT}"),
    "byline bar": (HEADLINE, f"Jane Doe | Reuters\n{CUT}"),
    "byline run in": (HEADLINE, f"By JANE DOE Associated Press {CUT}"),
    "agency boilerplate": (HEADLINE, f"{CUT}\nCopyright 2023 The Associated Press. All rights reserved."),
    "boilerplate run in": (HEADLINE, f"{CUT} (c) 2024 Thomson Reuters. All rights reserved."),
}


@pytest.mark.parametrize("addition", sorted(ADDED))
def test_what_republishers_add_is_left_out(addition: str) -> None:
    assert _copy((HEADLINE, LEAD), ADDED[addition]) == 1.0


def test_all_edits_at_once_still_make_a_copy() -> None:
    title = f"UPDATE: {HEADLINE.replace('approves', 'to approve')} - Metro Courier"
    lead = (
        "By Tom Becker | Reuters\nHARBOR CITY (Reuters) — "
        + LEAD.replace("voted", "will vote").replace(", the mayor said.", ".").rsplit(" is due", 1)[0]
        + "...\nCopyright 2023 Thomson Reuters. All rights reserved."
    )
    assert _copy((HEADLINE, LEAD), (title, lead)) >= COPY_CONTAINMENT


def test_independent_reports_are_not_copies_even_when_they_share_a_quote() -> None:
    assert _copy((HEADLINE, LEAD), INDEPENDENT) < COPY_CONTAINMENT / 2
    assert _copy(WIRE_WITH_QUOTE, REPORT_WITH_QUOTE) < COPY_CONTAINMENT / 2
    assert _copy(INDEPENDENT, REPORT_WITH_QUOTE) < COPY_CONTAINMENT / 2


def test_long_texts_copy_and_independent_report() -> None:
    assert copy_share(HEADLINE, LONG, f"{HEADLINE} - Daily Ledger", LONG_COPY) >= 0.9
    assert copy_share(HEADLINE, LONG, INDEPENDENT[0], LONG_REPORT) < COPY_CONTAINMENT / 3
    # A feed's summary of the wire story against the full page of it: the summary is contained in the page.
    assert copy_share(HEADLINE, PARAGRAPHS[0], HEADLINE, LONG_COPY) >= COPY_CONTAINMENT
    assert copy_share(INDEPENDENT[0], INDEPENDENT[1], HEADLINE, LONG) < COPY_CONTAINMENT
    assert exact_containment(LONG, LONG_COPY) == copy_share("", LONG, "", LONG_COPY)


def test_headlines_alone_and_empty_items() -> None:
    assert copy_share(HEADLINE, "", f"{HEADLINE} | Coast Gazette", "") == 1.0
    assert copy_share(HEADLINE, "", INDEPENDENT[0], "") < COPY_CONTAINMENT
    assert copy_share("", "", HEADLINE, LEAD) == 0.0
    assert copy_share("", "", "", "") == 0.0


def test_the_prefilter_sends_short_texts_and_likely_copies_on_and_drops_unrelated_long_texts() -> None:
    long_fp, copy_fp, report_fp = fingerprint(LONG), fingerprint(LONG_COPY), fingerprint(LONG_REPORT)
    words = {text: len(text.split()) for text in (LONG, LONG_COPY, LONG_REPORT, LEAD)}
    assert needs_exact_check(fingerprint(LEAD), long_fp, words[LEAD], words[LONG]), "short: always exact"
    assert needs_exact_check(long_fp, copy_fp, words[LONG], words[LONG_COPY])
    assert not needs_exact_check(long_fp, report_fp, words[LONG], words[LONG_REPORT])
    assert needs_exact_check(long_fp, fingerprint(""), words[LONG], 0), "no fingerprint: exact"


# --- the built copy sets, on real data ------------------------------------------------------------------------


def _floors(articles: list[EvalArticle], gold: set[frozenset[str]]) -> tuple[float, float, int]:
    by_key = {a.key: a for a in articles}
    copies, independent, neighbours = comparison_pairs(articles, gold)

    def called(pair: tuple[str, str]) -> bool:
        a, b = by_key[pair[0]], by_key[pair[1]]
        return copy_share(a.title, a.text, b.title, b.text) >= COPY_CONTAINMENT

    found = sum(map(called, copies))
    false_independent = sum(map(called, independent))
    false_other = sum(map(called, neighbours))
    called_total = found + false_independent + false_other
    return found / called_total if called_total else 1.0, found / len(copies), false_independent


def test_summary_only_copies_are_found_and_no_independent_report_is_called_a_copy() -> None:
    edits: dict[str, list[str]] = {}
    articles, gold = build_summary_copy_set(
        load_allsides(shared_data("allsides-dev").parent), same_text=ALLSIDES_SAME_TEXT, edits=edits
    )
    assert len(gold) >= 500 and sum(1 for a in articles if a.copy_of) >= 350
    seen = {name.split(":")[0] if name.startswith("headline") else name for e in edits.values() for name in e}
    assert set(SUMMARY_EDIT_PROBABILITIES) <= seen, "every edit kind occurs in the set"
    precision, recall, independent = _floors(articles, gold)
    assert precision >= 0.99 and recall >= 0.95 and independent == 0, (precision, recall, independent)


def test_full_text_copies_are_found_and_no_independent_report_is_called_a_copy() -> None:
    articles, gold = build_fulltext_copy_set(load_basil(shared_data("basil").parent))
    precision, recall, independent = _floors(articles, gold)
    assert precision >= 0.99 and recall >= 0.95 and independent == 0, (precision, recall, independent)


def test_the_same_text_pairs_in_allsides_are_copies_and_the_set_is_reproducible() -> None:
    items = load_allsides(shared_data("allsides-dev").parent)
    by_key = {a.key: a for a in items}
    for pair in ALLSIDES_SAME_TEXT:
        a, b = (by_key[key] for key in sorted(pair))
        assert a.gold == b.gold and a.source != b.source
        assert copy_share(a.title, a.text, b.title, b.text) >= COPY_CONTAINMENT
    first = build_summary_copy_set(items, seed=5, originals=40)
    assert build_summary_copy_set(list(reversed(items)), seed=5, originals=40) == first
    assert build_summary_copy_set(items, seed=6, originals=40) != first
    articles, _ = first
    originals = {a.key: a for a in articles if a.copy_of is None}
    for copy in (a for a in articles if a.copy_of):
        original = originals[copy.copy_of or ""]
        assert (copy.title, copy.text) != (original.title, original.text) and copy.gold == original.gold
    assert all(a.text == "" for a in headlines_only(articles))
