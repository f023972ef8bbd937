"""Topic sections: the lexicon at save time, the prototype view for the analysis step, and real-data floors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_data
from tidings.analysis import topics
from tidings.analysis.embeddings import HashingEmbedder, MiniLMEmbedder, get_embedder
from tidings.analysis.regions import detect_regions, mentioned_regions, shared_regions
from tidings.evaluation.datasets import load_allsides
from tidings.ingest.pipeline import file_sections, import_jsonl
from tidings.jobs import Analyser, analyse_backlog
from tidings.storage import open_store

US = "United States"


@pytest.mark.parametrize(("title", "text", "topic"), [
    ("Quarterback throws four touchdowns in playoff rout",
     "The home team clinched a place in the championship game as fans filled the stadium.", "Sports"),
    ("Shares slide after retailer cuts profit forecast",
     "Investors sold the stock as quarterly earnings missed analysts' estimates and revenue fell.", "Business"),
    ("New smartphone chip promises longer battery life",
     "The semiconductor maker said the processor runs its software faster on laptops and phones.", "Technology"),
    ("Astronomers spot water on a distant planet",
     "Scientists using the space telescope found the planet orbiting a star in another galaxy.", "Science"),
    ("Flu outbreak fills hospitals",
     "Doctors urged patients to get the vaccine as infections rose and health officials warned of a pandemic.",
     "Health"),
    ("Actress wins Oscar for her first film role",
     "The movie also topped the box office, and the singer who wrote its songs won a Grammy.", "Entertainment"),
    ("Senate passes the budget bill after a long debate",
     "Lawmakers voted along party lines; Democrats and Republicans clashed over the election-year spending.",
     "Politics"),
    ("Rebels and troops clash near the border",
     "The fighting killed dozens of civilians, and diplomats at the United Nations called for a ceasefire.",
     "World"),
])
def test_lexicon_names_the_topic(title: str, text: str, topic: str) -> None:
    guess = topics.topic_lexical(title, text)
    assert guess.topic == topic
    assert guess.confident
    assert topics.topic_section(title, text) == topic


def test_no_section_without_clear_evidence() -> None:
    assert topics.topic_section("", "") is None
    assert topics.topic_section("A quiet Tuesday", "Nothing much happened, the neighbours said.") is None
    # Two topics equally present: not confident enough for a section.
    mixed = topics.topic_lexical("Team owner buys bank", "The football club's owner agreed a bank merger.")
    assert not mixed.confident or mixed.margin >= 1.3


def test_headline_terms_count_more_than_lead_terms() -> None:
    body_only = topics.lexical_scores("", "The striker scored.")["Sports"]
    in_title = topics.lexical_scores("The striker scored.", "")["Sports"]
    assert in_title == pytest.approx(2 * body_only)
    # Repeating a term adds less than a new one.
    once = topics.lexical_scores("", "earnings")["Business"]
    thrice = topics.lexical_scores("", "earnings earnings earnings")["Business"]
    assert once < thrice < 3 * once


def test_feed_artefacts_are_cleaned() -> None:
    raw = "Profit up to  #36;5 billion, firm#39;s boss says \\ quot;great quot; &lt;b&gt;year&lt;/b&gt;"
    cleaned = topics.clean_text(raw)
    assert "$5 billion" in cleaned
    assert "firm's" in cleaned
    assert "quot;" not in cleaned and '"great' in cleaned
    assert "<b>" not in cleaned and "&lt;" not in cleaned and "\\" not in cleaned


def test_foreign_politics_is_world() -> None:
    title = "Parliament votes on a new prime minister after the election"
    text = "Lawmakers in Berlin elected the chancellor, and opposition parties voted against the coalition."
    assert topics.topic_section(title, text) == "Politics"
    assert topics.topic_section(title, text, ["Germany"]) == "World"
    assert topics.topic_section(title, text, [US, "Germany"]) == "Politics"


def test_embedding_scores_pick_the_nearest_prototypes() -> None:
    # Prototype vectors built by hand: two topics on two axes.
    protos = (("Sports", "Sports", "Business"), np.array([[1, 0], [0.9, 0.1], [0, 1]], dtype=np.float32))
    scores = topics.embedding_scores(np.array([0.99, 0.1], dtype=np.float32), protos)
    assert max(scores, key=lambda t: scores[t]) == "Sports"
    assert sum(scores.values()) == pytest.approx(1.0)
    combined = topics.combined_scores(np.array([0.0, 1.0], dtype=np.float32), "Shares fall", "Earnings missed.",
                                      protos)
    assert max(combined, key=lambda t: combined[t]) == "Business"
    guess = topics.topic_with_embedding(np.array([0.0, 1.0], dtype=np.float32), "Shares fall",
                                        "Investors sold the stock as earnings missed.", protos)
    assert guess.topic == "Business" and guess.confident


def test_prototypes_cover_every_topic() -> None:
    assert set(topics.PROTOTYPES) == set(topics.TOPICS)
    assert all(len(sentences) >= 25 for sentences in topics.PROTOTYPES.values())
    every = [s for sentences in topics.PROTOTYPES.values() for s in sentences]
    assert len(every) == len(set(every))  # a sentence serves one topic


class _Store:
    def __init__(self) -> None:
        self.sections: list[str] = []

    def set_sections(self, article_id: int, sections: list[str]) -> None:
        self.sections = list(sections)


def test_file_sections_region_then_topic_and_feed_section_first() -> None:
    store = _Store()
    title = "Senate Republicans block the immigration bill"
    text = ("WASHINGTON — Lawmakers voted 51-49 as Democrats accused the White House of abandoning the deal.\n"
            "The vote sets up an election-year fight in Congress.")
    file_sections(store, 1, "", title, text)
    assert store.sections == [US, "Politics"]
    file_sections(store, 1, "Opinion", title, text)
    assert store.sections == ["Opinion", US]  # the feed's section first; no inferred topic then


class _TopicEmbedder:
    """Stands in for MiniLM (its name, so the prototypes apply): a prototype sentence points along its topic's
    axis, an article along the axis of the topic ``meant`` gives its headline, any other text evenly along all
    (no clear topic)."""

    name = MiniLMEmbedder.name
    dim = len(topics.TOPICS)

    def __init__(self, meant: dict[str, str]) -> None:
        self.meant = meant
        self.prototypes = {s: t for t, sentences in topics.PROTOTYPES.items() for s in sentences}

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.full((len(texts), self.dim), 1 / np.sqrt(self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            topic = self.prototypes.get(text) or next((t for h, t in self.meant.items() if text.startswith(h)), "")
            if topic:
                out[row] = 0.0
                out[row, topics.TOPICS.index(topic)] = 1.0
        return out


SHARES = ("Shares slide after retailer cuts profit forecast",
          "Investors sold the stock as quarterly earnings missed analysts' estimates and revenue fell.")


def test_prototypes_decide_when_clear_else_the_lexicon_stands() -> None:
    embedder = _TopicEmbedder({"Shares": "Sports", "Parliament": "Politics"})
    protos = topics.prototype_matrix(embedder)
    vector = embedder.embed([f"{SHARES[0]}. {SHARES[1]}"])[0]
    assert topics.topic_section(*SHARES) == "Business"
    assert topics.topic_after_analysis(vector, *SHARES, protos) == "Sports"
    unclear = embedder.embed(["A quiet Tuesday"])[0]
    assert topics.topic_after_analysis(unclear, *SHARES, protos) == "Business"
    assert topics.topic_after_analysis(unclear, "A quiet Tuesday", "Nothing much happened.", protos) is None
    politics = embedder.embed(["Parliament votes"])[0]
    assert topics.topic_after_analysis(politics, "Parliament votes", "", protos, ["Germany"]) == "World"
    assert topics.topic_after_analysis(politics, "Parliament votes", "", protos, [US]) == "Politics"


def test_when_neither_view_is_clear_an_article_is_filed_only_where_both_lean() -> None:
    embedder = _TopicEmbedder({})
    protos = topics.prototype_matrix(embedder)
    title, text = "Stock market and the championship game", "The club sold shares."
    assert not topics.topic_lexical(title, text).confident and topics.topic_lexical(title, text).topic == "Business"

    def leaning(first: str, second: str) -> np.ndarray:
        v = np.zeros(embedder.dim, dtype=np.float32)
        v[topics.TOPICS.index(first)], v[topics.TOPICS.index(second)] = 1.0, 0.98
        return v / np.linalg.norm(v)

    for vector in (leaning("Business", "Sports"), leaning("Sports", "Business")):
        assert not topics._guess(topics.embedding_scores(vector, protos), 0.0, topics._EMBED_SHARE,
                                 topics._EMBED_MARGIN).confident
    assert topics.topic_after_analysis(leaning("Business", "Sports"), title, text, protos) == "Business"
    assert topics.topic_after_analysis(leaning("Sports", "Business"), title, text, protos) is None


def _article(n: int, title: str, text: str, section: str = "") -> str:
    return json.dumps({"url": f"https://news.example/{n}", "source": f"Outlet {n}", "title": title, "text": text,
                       "section": section, "published": f"2024-02-06T09:0{n}:00Z"})


def test_the_analysis_step_files_the_topic_the_vector_points_to(database: str) -> None:
    store = open_store(database)
    lines = [_article(1, *SHARES), _article(2, *SHARES, section="Markets"),
             _article(3, "Weekly roundup: " + SHARES[0], SHARES[1])]
    import_jsonl(store, lines)
    ids = [store.article_by_url(f"https://news.example/{n}")["id"] for n in (1, 2, 3)]  # type: ignore[index]
    assert [store.sections_of(i) for i in ids] == [["Business"], ["Markets"], ["Business"]]  # the lexicon's guess
    analyse_backlog(store, Analyser.open(store, _TopicEmbedder({"Shares": "Sports"})))
    after = [store.sections_of(i) for i in ids]
    assert after[0] == ["Sports"]  # the vector's topic replaces the save-time guess
    assert after[1] == ["Markets"]  # the source's own section: no topic is inferred
    assert after[2] == ["Business"]  # the vector says nothing clear: the lexicon's guess stands


def test_a_model_without_prototypes_leaves_the_sections_as_filed(database: str) -> None:
    store = open_store(database)
    import_jsonl(store, [_article(1, *SHARES)])
    analyse_backlog(store, Analyser.open(store, HashingEmbedder()))
    assert store.sections_of(store.article_by_url("https://news.example/1")["id"]) == ["Business"]  # type: ignore[index]


@pytest.mark.slow
def test_the_analysis_step_files_a_topic_the_lexicon_misses(database: str) -> None:
    store = open_store(database)
    title, text = ("Keeper saves late penalty to earn a draw",
                   "The visitors held on after the goalkeeper dived to his left in the last minute.")
    import_jsonl(store, [_article(1, title, text)])
    article_id = store.article_by_url("https://news.example/1")["id"]  # type: ignore[index]
    assert store.sections_of(article_id) == []
    analyse_backlog(store, Analyser.open(store, get_embedder("minilm")))
    assert store.sections_of(article_id) == ["Sports"]


# --- real data (read at run time, never copied) -------------------------------------------------------------


def _benchmarks():  # type: ignore[no-untyped-def]
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:  # the benchmarks package sits beside tests/
        sys.path.insert(0, root)
    import benchmarks.sections as bench

    return bench


def test_agnews_lexicon_floor() -> None:
    data = shared_data("agnews-sample").parent
    bench = _benchmarks()
    rows = bench.agnews(data)
    macro, per = bench.macro_f1([g for _, _, g in rows], bench.lexical_predictions(rows, strict=True))
    assert macro >= 0.78  # 0.782 measured; the goal of 0.85 is not reached without training
    assert min(per.values()) >= 0.68


def test_regions_on_us_politics_floors() -> None:
    data = shared_data("basil").parent
    bench = _benchmarks()
    articles = bench.basil(data)
    us, foreign = bench.region_figures(articles, detect_regions)
    assert us >= 297
    _, base_foreign = bench.region_figures(articles, mentioned_regions)
    assert foreign <= 0.01 * len(articles)  # 1 of 300 measured (the plain reference: 11)
    assert foreign < base_foreign
    shared_data("allsides-dev")
    headlines = bench.allsides(data)
    _, foreign = bench.region_figures(headlines, detect_regions)
    _, base_foreign = bench.region_figures(headlines, mentioned_regions)
    assert foreign <= 0.095 * len(headlines)  # 136 of 1,480 (153 before); some of its stories are foreign news
    assert foreign <= base_foreign


def test_story_sharing_on_gold_stories_floors() -> None:
    bench = _benchmarks()
    labelled = load_allsides(shared_data("allsides-dev").parent)
    foreign, none, split = bench.story_figures(labelled, lambda members: members)
    s_foreign, s_none, s_split = bench.story_figures(labelled, shared_regions)
    assert s_none <= 0.045 * len(labelled) < none  # 60 of 1,480 measured, 113 read alone
    assert s_foreign < foreign  # 129 against 136
    assert s_split <= 0.6 * split  # 46 of 495 stories split on their first region, 112 read alone


@pytest.mark.slow
def test_agnews_with_prototypes_floor() -> None:
    data = shared_data("agnews-sample").parent
    bench = _benchmarks()
    rows = bench.agnews(data)
    gold = [g for _, _, g in rows]
    preds = bench._model_predictions(rows)
    combined, _ = bench.macro_f1(gold, preds["lexicon + prototypes (strict)"])
    protos, _ = bench.macro_f1(gold, preds["prototypes (MiniLM) (strict)"])
    baseline, _ = bench.macro_f1(gold, preds["baseline: nearest label name (strict)"])
    assert combined >= 0.80  # 0.820 measured
    assert protos >= 0.82  # 0.832 measured (0.826 with the earlier, shorter prototype lists)
    assert min(combined, protos) > baseline + 0.1  # the baseline: 0.681
    headlines = bench._model_predictions(bench._shaped(rows, lead=False))
    h_protos, _ = bench.macro_f1(gold, headlines["prototypes (MiniLM) (strict)"])
    h_baseline, _ = bench.macro_f1(gold, headlines["baseline: nearest label name (strict)"])
    assert h_protos >= 0.75 > h_baseline + 0.1  # 0.768 against 0.618 on headlines alone


@pytest.mark.slow
def test_agnews_as_filed_after_analysis_floor() -> None:
    data = shared_data("agnews-sample").parent
    bench = _benchmarks()
    rows = bench.agnews(data)
    gold = [g for _, _, g in rows]
    after, _ = bench.macro_f1(gold, [bench.AG_MAP.get(t, "(none)")
                                     for t in bench.analysed_topics([(t, x) for t, x, _ in rows])])
    before, _ = bench.macro_f1(gold, bench.filed_predictions(rows))
    assert after >= 0.80 > before + 0.1  # 0.812 measured, 0.700 as filed at save time
