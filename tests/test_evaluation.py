"""Evaluation building blocks: metrics on hand-worked cases, the loaders and the synthetic syndication set."""

from __future__ import annotations

import json
import math
import random
import re
from datetime import datetime
from itertools import combinations
from pathlib import Path

import pytest

from tidings.evaluation import (
    EvalArticle,
    bcubed,
    build_syndication_set,
    cluster_pairs,
    data_dir,
    datasets,
    load_basil,
    load_semeval_en,
    load_wikiref,
    mrr,
    pearson,
    precision_recall,
    purity,
    recall_at_k,
    spearman,
)
from tidings.evaluation.datasets import BASIL_OUTLETS, split_scraped, wikiref_label
from tidings.evaluation.syndication import (
    COPY_COUNTS,
    EDIT_PROBABILITIES,
    OUTLETS,
    _number_format,
    _reorder,
    _shorten,
    _title_case,
    _uk_spelling,
)

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def real_data(sub: str) -> Path:
    if not (DATA / sub).is_dir():
        pytest.skip(f"real data not available: {DATA / sub} is absent (it sits beside the project checkout)")
    return DATA


# --- metrics: clustering --------------------------------------------------------------------------

GOLD = {"a": "X", "b": "X", "c": "X", "d": "Y", "e": "Y"}


def test_bcubed_of_a_perfect_clustering_is_one_whatever_the_label_names() -> None:
    pred = {"a": 7, "b": 7, "c": 7, "d": "other", "e": "other"}
    assert bcubed(pred, GOLD) == pytest.approx((1.0, 1.0, 1.0))


def test_bcubed_of_singletons_has_full_precision_and_known_recall() -> None:
    # Recall per item is 1/|its gold class|: a, b, c get 1/3, d and e get 1/2 -> (1 + 1) / 5.
    precision, recall, f = bcubed({k: k for k in GOLD}, GOLD)
    assert precision == 1.0
    assert recall == pytest.approx(2 / 5)
    assert f == pytest.approx(2 * 0.4 / 1.4)


def test_bcubed_of_one_big_cluster_has_full_recall_and_known_precision() -> None:
    precision, recall, _ = bcubed(dict.fromkeys(GOLD, 0), GOLD)
    assert recall == 1.0
    assert precision == pytest.approx((3 * 3 / 5 + 2 * 2 / 5) / 5)


def test_bcubed_worked_example_with_a_missing_item_and_an_extra_one() -> None:
    # Predicted {a, b}, {c, d}; e is missing (a singleton); z is not in gold (ignored).
    # Precision: a 1, b 1, c 1/2, d 1/2, e 1 -> 4/5.  Recall: a 2/3, b 2/3, c 1/3, d 1/2, e 1/2 -> 8/15.
    pred = {"a": 1, "b": 1, "c": 2, "d": 2, "z": 2}
    precision, recall, f = bcubed(pred, GOLD)
    assert precision == pytest.approx(4 / 5)
    assert recall == pytest.approx(8 / 15)
    assert f == pytest.approx(2 * (4 / 5) * (8 / 15) / (4 / 5 + 8 / 15))


def test_bcubed_and_purity_of_nothing_are_zero() -> None:
    assert bcubed({}, {}) == (0.0, 0.0, 0.0)
    assert purity({"a": 1}, {}) == 0.0


def test_purity_counts_the_majority_class_of_each_cluster() -> None:
    assert purity({"a": 1, "b": 1, "c": 2, "d": 2, "e": 2}, GOLD) == pytest.approx(4 / 5)
    assert purity(dict.fromkeys(GOLD, 0), GOLD) == pytest.approx(3 / 5)
    assert purity({}, GOLD) == 1.0  # every item alone: each is its own majority


# --- metrics: ranking -----------------------------------------------------------------------------

RANKED = {"q1": ["x", "a", "y", "b"], "q2": ["b", "x"], "q3": ["x", "y"]}
RELEVANT = {"q1": {"a", "b"}, "q2": {"b"}, "q3": {"z"}, "q4": set()}


def test_recall_at_k_on_a_worked_example() -> None:
    # q1: k=1 0/1, k=2 1/2, k=4 2/2; q2: always 1/1; q3: its item is never ranked; q4 has nothing relevant.
    assert recall_at_k(RANKED, RELEVANT, 1) == pytest.approx((0 + 1 + 0) / 3)
    assert recall_at_k(RANKED, RELEVANT, 2) == pytest.approx((0.5 + 1 + 0) / 3)
    assert recall_at_k(RANKED, RELEVANT, 4) == pytest.approx((1 + 1 + 0) / 3)


def test_recall_at_k_scores_a_query_missing_from_the_ranking_as_zero() -> None:
    assert recall_at_k({}, {"q": {"a"}}, 5) == 0.0
    assert recall_at_k({"q": ["a"]}, {"q": {"a"}}, 5) == 1.0  # min(k, |rel|): one relevant item found is all
    with pytest.raises(ValueError):
        recall_at_k(RANKED, RELEVANT, 0)


def test_mrr_on_a_worked_example() -> None:
    assert mrr(RANKED, RELEVANT) == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert mrr({}, {}) == 0.0


# --- metrics: correlation and pairs ---------------------------------------------------------------


def test_pearson_of_known_sequences() -> None:
    assert pearson([1, 2, 3, 4], [2, 4, 6, 8]) == pytest.approx(1.0)
    assert pearson([1, 2, 3, 4], [8, 6, 4, 2]) == pytest.approx(-1.0)
    # Deviations (-1, 0, 1) and (-1, 1, 0): covariance 1, both variances 2.
    assert pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)


def test_spearman_uses_ranks_and_averages_ties() -> None:
    squares = [1, 4, 9, 16, 25]
    assert spearman([1, 2, 3, 4, 5], squares) == pytest.approx(1.0)
    assert pearson([1, 2, 3, 4, 5], squares) < 0.99
    # Ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4): covariance 4.5, variances 4.5 and 5.
    assert spearman([1, 2, 2, 3], [10, 20, 30, 40]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))


def test_correlations_agree_with_scipy_on_random_data() -> None:
    stats = pytest.importorskip("scipy.stats", reason="scipy is only a cross-check here")
    rng = random.Random(5)
    x = [rng.randint(1, 6) for _ in range(40)]
    y = [v + rng.random() * 3 for v in x]
    assert pearson(x, y) == pytest.approx(stats.pearsonr(x, y)[0])
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0])


def test_correlations_are_nan_when_undefined_and_refuse_unequal_lengths() -> None:
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))
    assert math.isnan(spearman([3], [4]))
    with pytest.raises(ValueError):
        pearson([1, 2], [1, 2, 3])


def test_precision_recall_over_unordered_pairs() -> None:
    predicted = {frozenset("ab"), frozenset("ca"), frozenset("ed")}
    gold = {frozenset("ba"), frozenset("cd"), frozenset("de"), frozenset("ef")}
    assert precision_recall(predicted, gold) == pytest.approx((2 / 3, 2 / 4))
    assert precision_recall(set(), gold) == (1.0, 0.0)
    assert precision_recall(predicted, set()) == (0.0, 1.0)


def test_cluster_pairs_lists_every_pair_sharing_a_label() -> None:
    pairs = cluster_pairs({"a": 1, "b": 1, "c": 1, "d": 2})
    assert pairs == {frozenset("ab"), frozenset("ac"), frozenset("bc")}
    assert precision_recall(pairs, pairs) == (1.0, 1.0)


# --- loaders on hand-made files -------------------------------------------------------------------


def _write_basil(root: Path, name: str, record: object) -> None:
    folder = root / "basil" / "articles" / "2016"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(
        json.dumps(record) if not isinstance(record, str) else record, encoding="utf-8"
    )


def test_load_basil_maps_fields_and_skips_malformed_files(tmp_path: Path) -> None:
    record = {"title": "", "source": "HPO", "date": "2016-05-02", "uuid": "empty", "triplet-uuid": "t1",
              "body-paragraphs": [["Lede sentence here. Second one."], ["A", " ", "B."], []]}  # fmt: skip
    _write_basil(tmp_path, "t1_1.json", record)
    _write_basil(tmp_path, "t1_2.json", {**record, "title": "Given", "source": "fox", "date": "May 2"})
    _write_basil(tmp_path, "t1_3.json", "{not json")
    _write_basil(tmp_path, "t1_4.json", "[1, 2]")
    articles = load_basil(tmp_path)
    assert [a.key for a in articles] == ["t1_1", "t1_2"]
    first, second = articles
    assert first.text == "Lede sentence here. Second one.\nA B."
    assert first.title == "Lede sentence here."  # empty title: the opening sentence stands in
    assert (first.source, first.published, first.gold) == ("HuffPost", "2016-05-02T12:00:00Z", "t1")
    assert first.url == "https://eval.tidings.invalid/basil/t1_1"
    assert (second.title, second.source, second.published) == ("Given", "Fox News", None)


def test_split_scraped_takes_the_first_line_as_title_only_when_lines_exist() -> None:
    assert split_scraped("Headline here\nBody one.\n\n  Body   two. ") == (
        "Headline here",
        "Body one.\nBody two.",
    )
    assert split_scraped(" Flat headline Body text all on one line ") == (
        "",
        "Flat headline Body text all on one line",
    )
    assert split_scraped("") == ("", "")


def test_load_semeval_keeps_original_english_pairs(tmp_path: Path) -> None:
    folder = tmp_path / "semeval2022-task8-hfl-text"
    folder.mkdir()
    header = ",pair_id,lang1,lang2,text1,text2,Geography,Entities,Time,Narrative,Overall,Style,Tone\n"
    rows = [
        '0,11_22,en,en,"Title A\nBody A",Flat B text,1,1,1,1,1.5,1,1',
        "1,11zh_22,en,en,x,y,1,1,1,1,2,1,1",  # a machine-translated augmentation
        "2,33_44,en,de,x,y,1,1,1,1,2,1,1",
        "3,55_66,en,en,x,y,1,1,1,1,not-a-number,1,1",
    ]
    (folder / "training_set.csv").write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    (folder / "testing_set.csv").write_text(header + "4,77_88,EN,en,p,q,1,1,1,1,4.0,1,1\n", encoding="utf-8")
    pairs = load_semeval_en(tmp_path)
    assert [p.pair_id for p in pairs] == ["11_22", "77_88"]
    assert (pairs[0].title1, pairs[0].text1, pairs[0].title2, pairs[0].text2) == (
        "Title A",
        "Body A",
        "",
        "Flat B text",
    )
    assert [p.overall for p in pairs] == [1.5, 4.0]


def test_load_wikiref_decodes_cp1252_and_labels_by_file_name(tmp_path: Path) -> None:
    folder = tmp_path / "wikiref" / "WikiRef220"
    folder.mkdir(parents=True)
    (folder / "ParisAttacks2015 (3).txt").write_bytes(
        b"Caf\xe9 closes\r\n\r\nHe said \x93no\x94.\x81\r\nEnd.\r\n"
    )
    (folder / "malaysia.airlines.flight.10.txt").write_bytes(b"Search resumes\r\nBody.")
    articles = load_wikiref(tmp_path)
    assert [a.gold for a in articles] == ["ParisAttacks2015", "malaysia.airlines.flight"]
    paris = articles[0]
    assert (paris.title, paris.text) == ("Café closes", "He said “no”.\ufffd\nEnd.")
    assert paris.published is None
    assert len({a.source for a in articles}) == 2


def test_wikiref_label_strips_either_numbering_style() -> None:
    assert wikiref_label("malaysia.airlines.flight.10") == "malaysia.airlines.flight"
    assert wikiref_label("ParisAttacks2015 (3)") == "ParisAttacks2015"
    assert wikiref_label("NBA.draft.2") == "NBA.draft"
    assert wikiref_label("plain") == "plain"


def test_loaders_return_nothing_for_a_missing_folder(tmp_path: Path) -> None:
    assert load_basil(tmp_path) == []
    assert load_semeval_en(tmp_path) == []
    assert load_wikiref(tmp_path) == []


def test_data_dir_prefers_explicit_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDINGS_EVAL_DATA", str(tmp_path))
    assert data_dir() == tmp_path.resolve()
    assert data_dir(tmp_path / "absent") is None
    other = tmp_path / "other"
    other.mkdir()
    assert data_dir(other) == other.resolve()
    monkeypatch.delenv("TIDINGS_EVAL_DATA")
    monkeypatch.setattr(datasets, "_repo_root", lambda: tmp_path / "checkout")
    assert data_dir() is None
    (tmp_path / "shared" / "data").mkdir(parents=True)
    assert data_dir() == (tmp_path / "shared" / "data").resolve()  # beside the checkout


def test_data_dir_finds_the_checkout_holding_pyproject() -> None:
    assert (datasets._repo_root() / "pyproject.toml").is_file()


# --- loaders on the real data ---------------------------------------------------------------------


def test_basil_has_300_articles_in_100_three_outlet_triplets() -> None:
    articles = load_basil(real_data("basil"))
    assert len(articles) == 300
    assert len({a.key for a in articles}) == 300
    assert len({a.url for a in articles}) == 300
    triplets: dict[str, set[str]] = {}
    for article in articles:
        triplets.setdefault(article.gold, set()).add(article.source)
        assert article.title and article.text
        assert article.published and re.fullmatch(r"\d{4}-\d\d-\d\dT12:00:00Z", article.published)
    assert len(triplets) == 100
    assert all(sources == set(BASIL_OUTLETS.values()) for sources in triplets.values())


def test_semeval_has_354_english_pairs_scored_1_to_4() -> None:
    pairs = load_semeval_en(real_data("semeval2022-task8-hfl-text"))
    assert len(pairs) == 354
    assert len({p.pair_id for p in pairs}) == 354
    assert all(re.fullmatch(r"\d+_\d+", p.pair_id) for p in pairs)
    assert all(1.0 <= p.overall <= 4.0 for p in pairs)
    assert all(p.text1.strip() and p.text2.strip() for p in pairs)
    assert all("\n" not in p.title1 + p.title2 for p in pairs)
    assert any(p.title1 for p in pairs) and any(not p.title1 for p in pairs)  # both scrape layouts occur


def test_wikiref_has_220_articles_under_16_labels() -> None:
    articles = load_wikiref(real_data("wikiref"))
    assert len(articles) == 220
    labels: dict[str, int] = {}
    for article in articles:
        labels[article.gold] = labels.get(article.gold, 0) + 1
    assert len(labels) == 16
    assert sorted(labels.values(), reverse=True)[:5] == [39, 38, 37, 36, 35]  # the five main topics (README)
    assert len({a.key for a in articles}) == len({a.source for a in articles}) == 220
    assert all(a.title and a.published is None for a in articles)


# --- the syndication set --------------------------------------------------------------------------

WORDS = [
    "senate", "house", "vote", "bill", "budget", "court", "ruling", "governor", "mayor", "city", "state",
    "federal", "agency", "report", "plan", "tax", "health", "border", "security", "election", "campaign",
    "voters", "poll", "debate", "press", "statement", "office", "leader", "party", "policy", "reform",
    "law", "police", "officers", "school", "families", "hospital", "river", "bridge", "spending",
    "million", "billion", "week", "month", "year", "early", "late",
]  # fmt: skip


def _fake_basil(events: int = 30, seed: int = 1) -> list[EvalArticle]:
    """BASIL-shaped articles of random prose: three outlets per event, independent texts."""
    rng = random.Random(seed)

    def sentence() -> str:
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 18))]
        if rng.random() < 0.25:  # words that the light copy edits rewrite
            words[rng.randrange(len(words))] = rng.choice(["said", f"{rng.randint(2, 90)} percent", "many"])
        return " ".join(words).capitalize() + "."

    articles = []
    for event in range(events):
        for number, outlet in enumerate(BASIL_OUTLETS.values(), start=1):
            paragraphs = [
                " ".join(sentence() for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(8, 20))
            ]
            key = f"event{event:02d}_{number}"
            url = f"https://eval.tidings.invalid/basil/{key}"
            text = "\n".join(paragraphs)
            articles.append(
                EvalArticle(key, url, sentence()[:-1], text, outlet, "2016-05-02T12:00:00Z", key[:7])
            )
    return articles


def _corpus(name: str) -> list[EvalArticle]:
    return load_basil(real_data("basil")) if name == "basil" else _fake_basil()


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(words[i : i + 5]) for i in range(len(words) - 4)}


def _jaccard(a: str, b: str) -> float:
    sa, sb = _shingles(a), _shingles(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def test_syndication_set_is_deterministic_for_a_seed_and_input_order() -> None:
    basil = _fake_basil()
    shuffled = list(basil)
    random.Random(3).shuffle(shuffled)
    first = build_syndication_set(basil, seed=7, originals=10)
    assert build_syndication_set(shuffled, seed=7, originals=10) == first
    assert build_syndication_set(basil, seed=8, originals=10) != first


@pytest.mark.parametrize("corpus", ["fake", "basil"])
def test_syndication_set_structure_and_gold_pairs(corpus: str) -> None:
    basil = _corpus(corpus)
    wanted = 30 if corpus == "fake" else 60
    articles, pairs = build_syndication_set(basil, originals=wanted)
    by_key = {a.key: a for a in articles}
    assert len(by_key) == len(articles)
    copies = [a for a in articles if a.copy_of]
    groups: dict[str, list[str]] = {}
    for copy in copies:
        groups.setdefault(copy.copy_of or "", []).append(copy.key)
    originals = {a.key for a in articles if a.copy_of is None and a.key in groups}
    assert set(groups) == originals
    events = {a.gold for a in articles}
    assert len(events) == wanted
    for event in events:
        members = [a for a in articles if a.gold == event]
        plain = [a for a in members if a.copy_of is None]
        assert len(plain) == 3  # the original and the two other outlets' reports (hard negatives)
        assert all(by_key[c.copy_of or ""].gold == event for c in members if c.copy_of)
    assert any(len(keys) == 3 for keys in groups.values())
    assert len(originals) < wanted  # some originals stay without a copy
    expected = {frozenset(p) for orig, keys in groups.items() for p in combinations([orig, *keys], 2)}
    assert pairs == expected


@pytest.mark.parametrize("corpus", ["fake", "basil"])
def test_copies_differ_from_originals_but_keep_most_shingles(corpus: str) -> None:
    articles, _ = build_syndication_set(_corpus(corpus), originals=30 if corpus == "fake" else 60)
    by_key = {a.key: a for a in articles}
    copies = [a for a in articles if a.copy_of]
    originals = [by_key[c.copy_of or ""] for c in copies]
    assert all(c.text != o.text for c, o in zip(copies, originals, strict=True))
    assert sum(c.title != o.title for c, o in zip(copies, originals, strict=True)) >= 0.6 * len(copies)
    kept = [_jaccard(o.text, c.text) for c, o in zip(copies, originals, strict=True)]
    assert sum(j > 0.5 for j in kept) >= 0.9 * len(copies)
    negatives = [a for a in articles if a.copy_of is None and a.key not in {o.key for o in originals}]
    for negative in negatives:
        same_event = [o for o in originals if o.gold == negative.gold]
        assert all(_jaccard(o.text, negative.text) < 0.5 for o in same_event)


@pytest.mark.parametrize("corpus", ["fake", "basil"])
def test_copies_come_from_fictional_outlets_hours_later(corpus: str) -> None:
    articles, _ = build_syndication_set(_corpus(corpus), originals=30 if corpus == "fake" else 60)
    by_key = {a.key: a for a in articles}
    basil_names = {name.lower() for name in BASIL_OUTLETS.values()}
    seen: dict[str, set[str]] = {}
    for copy in (a for a in articles if a.copy_of):
        original = by_key[copy.copy_of or ""]
        assert copy.source in OUTLETS
        assert not any(name in copy.source.lower() or copy.source.lower() in name for name in basil_names)
        assert copy.source not in seen.setdefault(original.key, set())  # one copy per outlet
        seen[original.key].add(copy.source)
        assert copy.published and original.published
        gap = datetime.fromisoformat(copy.published) - datetime.fromisoformat(original.published)
        assert 3600 <= gap.total_seconds() < 9 * 3600
        assert copy.url != original.url


def test_edit_log_matches_what_changed_and_every_edit_occurs() -> None:
    edits: dict[str, list[str]] = {}
    articles, _ = build_syndication_set(load_basil(real_data("basil")), edits=edits)
    by_key = {a.key: a for a in articles}
    assert set(edits) == {a.key for a in articles if a.copy_of}
    for key, applied in edits.items():
        changed_title = by_key[key].title != by_key[by_key[key].copy_of or ""].title
        assert changed_title == any(name.startswith("headline:") for name in applied)
    names = {name.split(":")[0] for applied in edits.values() for name in applied}
    assert names == set(EDIT_PROBABILITIES)


def test_headline_and_text_edits_on_known_strings() -> None:
    assert _shorten("Senate passes budget bill, sending it to the president") == "Senate passes budget bill"
    assert _shorten("In a late vote, Senate passes the budget bill") == "Senate passes the budget bill"
    assert (
        _shorten("Trump Says Defense Secretary Will Retire In February")
        == "Trump Says Defense Secretary Will Retire"
    )
    assert _reorder("Trump: Wall is needed now") == "Wall is needed now: Trump"
    assert _title_case("senate passes the budget bill") == "Senate Passes the Budget Bill"
    assert _uk_spelling(["They criticized the organization's color program. Size matters."]) == [
        "They criticised the organisation's colour programme. Size matters."
    ]
    assert _number_format(["Up 5 percent to $3 million and $2.5 billion"]) == ["Up 5% to $3m and $2.5bn"]


def test_the_syndication_document_states_the_real_rates_and_counts() -> None:
    doc = (REPO / "docs" / "syndication-set.md").read_text(encoding="utf-8")
    for name, probability in EDIT_PROBABILITIES.items():
        row = next((row for row in doc.splitlines() if row.startswith(f"| `{name}` |")), "| | |")
        assert row.split("|")[2].strip() == f"{probability:.0%}", f"the doc misstates the rate of {name}"
    rates = [f"{p:.0%}" for _, p in COPY_COUNTS]
    assert f"{', '.join(rates[:-1])} and {rates[-1]}" in " ".join(doc.split())
    articles, pairs = build_syndication_set(load_basil(real_data("basil")))
    copies = sum(1 for a in articles if a.copy_of)
    counts = {"articles": len(articles), "copies": copies, "duplicate pairs": len(pairs)}
    for label, value in counts.items():
        assert f"| {label} | {value} |" in doc, f"docs/syndication-set.md does not state {value} {label}"
