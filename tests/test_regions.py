"""Region sections: which countries (and the US, for its states) an article is filed under."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tidings.analysis.regions import (
    detect_regions,
    is_region,
    mentioned_regions,
    region_names,
    shared_regions,
    story_regions,
    us_state_of,
)
from tidings.analysis.topics import TOPICS

DATA = Path(__file__).parents[2] / "shared" / "data"
US = "United States"
FILLER = "The committee discussed the budget at length and agreed to meet again next month. " * 25


def test_us_state_story_is_filed_under_united_states() -> None:
    title = "Wildfire near Sacramento forces thousands from their homes"
    text = (
        "Crews in northern California fought the blaze through the night as winds picked up.\n"
        "The governor declared an emergency for three counties, and California officials opened shelters."
    )
    assert detect_regions(title, text) == [US]
    assert us_state_of(title, text) == "California"


def test_leaders_and_capitals_name_their_countries() -> None:
    title = "Blinken meets Xi in Beijing as trade tensions simmer"
    text = "The two sides talked for three hours and agreed to keep channels open, aides said."
    regions = detect_regions(title, text)
    assert set(regions) == {"China", US}
    assert regions[0] == "China"  # two title cues (Xi, Beijing) against one (Blinken)


def test_new_mexico_is_a_us_state_not_mexico() -> None:
    title = "New Mexico wildfire doubles in size overnight"
    text = "Firefighters near Santa Fe said the New Mexico blaze had burned 40,000 acres of forest."
    regions = detect_regions(title, text)
    assert US in regions
    assert "Mexico" not in regions
    assert us_state_of(title, text) == "New Mexico"
    # The same matcher does find Mexico when the article is about it.
    mexico = detect_regions("Mexico City braces for protests", "Thousands marched in the Mexican capital.")
    assert mexico == ["Mexico"]


def test_person_named_jordan_is_not_the_country() -> None:
    title = "Michael Jordan's sneakers sell for a record sum at auction"
    text = "The shoes were worn in 1985. Jordan wore them in a game he later called his favourite."
    assert "Jordan" not in detect_regions(title, text)
    assert "Jordan" not in detect_regions("Jordan Spieth leads after two rounds", FILLER)
    refugees = "Refugees cross into Jordan"
    assert "Jordan" in detect_regions(refugees, "Jordanian officials in Amman said the camps were full.")


def test_thanksgiving_turkey_is_not_the_country() -> None:
    text = "Brine the turkey overnight, then roast it with stuffing and serve it with gravy."
    assert "Turkey" not in detect_regions("Ten turkey recipes for Thanksgiving", text)
    assert "Turkey" not in detect_regions("How to Roast a Turkey for Thanksgiving", text)
    news = "Turkish police detained the reporters in Istanbul on Tuesday."
    assert detect_regions("Turkey detains journalists", news)[0] == "Turkey"


def test_georgia_is_the_state_or_the_country_from_context() -> None:
    runoff = ("Georgia runoff heats up", "Voters in Atlanta queued for hours on Tuesday.")
    assert detect_regions(*runoff) == [US]
    assert us_state_of(*runoff) == "Georgia"
    country = detect_regions("Protests grow in Georgia", "Crowds filled the streets of Tbilisi overnight.")
    assert country == ["Georgia"]
    assert detect_regions("Georgia", "") == []  # nothing tells which one


def test_article_without_places_gets_no_region() -> None:
    assert detect_regions("Stock prices rise for a third day", FILLER) == []
    assert detect_regions("", "") == []
    assert us_state_of("", "") is None


def test_title_region_ranks_first() -> None:
    title = "China halts exports of rare earth metals"
    text = (
        "Washington said the decision would hurt American manufacturers.\n"
        "U.S. officials met on Monday, and the White House promised a response. "
        "Congress called hearings, and the U.S. trade representative travelled to Geneva."
    )
    regions = detect_regions(title, text)
    assert regions[0] == "China"
    assert US in regions


def test_max_regions_is_respected() -> None:
    title = "France, Germany, Italy and Spain agree on a common energy plan"
    assert len(detect_regions(title, "")) == 3
    assert detect_regions(title, "", max_regions=2) == detect_regions(title, "")[:2]
    assert len(detect_regions(title, "", max_regions=10)) == 4
    assert detect_regions(title, "", max_regions=0) == []


def test_lead_mention_alone_counts_but_a_passing_mention_does_not() -> None:
    assert detect_regions("Drought deepens", "Farmers in Kenya lost their harvest. " + FILLER) == ["Kenya"]
    assert detect_regions("Drought deepens", FILLER + " A similar plan was tried in Kenya.") == []
    # A lead mention with a competitor needs a second mention.
    text = "Farmers in Kenya lost their harvest, and Peru sent aid. " + FILLER + " Peru sent more aid."
    assert detect_regions("Drought deepens", text) == ["Peru"]


def test_shouted_us_and_us_towns_named_after_foreign_cities() -> None:
    assert detect_regions("Newsletter", "PLEASE CONTACT US TODAY FOR A FREE QUOTE.") == []
    assert detect_regions("Fed warns the US economy is slowing", "") == [US]
    paris_texas = detect_regions("Tornado hits Paris, Texas", "Homes were flattened in the small town.")
    assert paris_texas == [US]
    assert detect_regions("CHINA AND RUSSIA SIGN ENERGY PACT", "") == ["China", "Russia"]


def test_us_state_of() -> None:
    text = "Seattle police said the march was peaceful. Later, protesters met in Portland and in Seattle."
    assert us_state_of("Protests spread", text) == "Washington"
    assert us_state_of("Senators leave Washington for recess", "Congress returns in September.") is None
    assert us_state_of("Floods in Bavaria", "German rescuers worked through the night in Munich.") is None


def test_survives_odd_input() -> None:
    assert detect_regions("\x00\ufffd\u202e", "\x00" * 1000 + "é" * 1000) == []
    huge = ("Officials in Kenya said. " + FILLER) * 400  # about 2 MB
    assert detect_regions("", huge) == ["Kenya"]


def test_region_names() -> None:
    names = region_names()
    for name in (US, "China", "France", "Brazil", "South Africa", "United Kingdom", "South Korea", "Georgia"):
        assert name in names
    assert len(names) >= 190
    assert len(names) == len(set(names))
    for state_only in ("California", "New Mexico", "Puerto Rico", "Texas"):
        assert state_only not in names  # filed under the United States


def _basil_articles() -> list[tuple[str, str]]:
    folder = DATA / "basil" / "articles"
    if not folder.is_dir():
        pytest.skip(f"BASIL data not found at {folder} (only the development checkout has ../shared/data)")
    articles = []
    for path in sorted(folder.glob("*/*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        body = "\n".join(" ".join(paragraph) for paragraph in record["body-paragraphs"])
        articles.append((record["title"], body))
    return articles


def test_basil_us_politics_is_filed_under_united_states() -> None:
    articles = _basil_articles()
    assert len(articles) == 300
    hits = sum(US in detect_regions(title, body) for title, body in articles)
    assert hits / len(articles) >= 0.98  # 297 of 300 measured


def test_dateline_decides_the_first_region() -> None:
    title = "Steele criticised for Afghanistan comments"
    text = ("WASHINGTON — The party chairman drew fierce criticism on Friday after remarks about the war in "
            "Afghanistan, and Republicans in Congress called for his resignation.\n"
            "Afghanistan has been at war for years, critics of the remarks said.")
    regions = detect_regions(title, text)
    assert regions[0] == US
    assert mentioned_regions(title, text)[0] == "Afghanistan"  # the plain reference goes by the headline
    kabul = detect_regions("Blasts kill dozens", "KABUL (Reuters) - Two bombs exploded near a market on Monday.")
    assert kabul == ["Afghanistan"]


def test_noun_adjunct_in_headline_does_not_lead() -> None:
    title = "Senate panel widens Russia probe"
    text = ("Senators on the intelligence committee issued subpoenas to two former aides of the White House.\n"
            "Democrats and Republicans on the panel said the inquiry would continue into the autumn, and the "
            "committee chairman said Congress would hear from more witnesses.")
    regions = detect_regions(title, text)
    assert regions == [US]  # one adjunct and nothing else about Russia: not a section at all


def test_office_of_a_foreign_person_is_who_not_where() -> None:
    title = "Former Mexican president mocks the wall plan"
    text = ("Donald Trump's campaign said the wall would be built. Republicans in Congress were divided, and "
            "the White House hopeful repeated the pledge at a rally in Texas and later in Florida.")
    assert detect_regions(title, text)[0] == US
    assert detect_regions("Mexico City braces for protests", "Thousands marched in the capital.")[0] == "Mexico"


def test_home_news_with_a_foreign_part_stays_home() -> None:
    # The president's dealings with a foreign leader: both countries are subjects, the home one leads.
    title = "Obama rebuffs Netanyahu over settlements"
    text = ("Israeli officials said the prime minister would press his case. Israel has built homes in the area "
            "for years.\nThe White House said Obama would raise the matter with Congress, and Republicans in "
            "the Senate criticised the administration.")
    assert detect_regions(title, text)[0] == US
    # Another country that clearly outweighs home, or that the report was filed from, still leads.
    abroad = ("Israeli troops moved into the area. Israel's cabinet met in Jerusalem, and Israeli ministers "
              "said the operation would last weeks. Tel Aviv residents took shelter.\nThe White House urged "
              "restraint.")
    assert detect_regions("Netanyahu orders new offensive", abroad)[0] == "Israel"
    filed = "JERUSALEM (Reuters) - The prime minister said Obama and the White House were told in advance."
    assert detect_regions("Netanyahu rebuffs Obama", filed)[0] == "Israel"


def test_a_war_of_the_past_is_not_the_country() -> None:
    title = "Senator's account of his service questioned"
    text = ("The senator, a Vietnam veteran by his own account, spoke at a veterans' hall in Connecticut.\n"
            "Records show he served stateside during the Vietnam War; Vietnam veterans in the audience objected.")
    assert "Vietnam" not in detect_regions(title, text)


def test_dateline_with_us_state_and_no_dateline_sentence() -> None:
    assert detect_regions("Candidate defends record", "HARTFORD, Conn. — He said the report was wrong.") == [US]
    # A sentence opening with a name and a colon is not a dateline: the headline's region stays first.
    assert detect_regions("Floods hit Peru", "Kenya: aid is pledged. Kenya and others pledged aid.")[0] == "Peru"


# -- a story's articles share its region (made-up members: each is the regions detected for one report) --------


def _kept_all_their_own(before: list[list[str]], after: list[list[str]]) -> bool:
    return all(set(b) <= set(a) for b, a in zip(before, after, strict=True))


def test_a_clear_majority_files_every_member_under_the_story_region() -> None:
    members = [[US], [US, "Mexico"], ["Russia", US], []]  # the third took a passing mention for its subject
    assert story_regions(members) == [US]
    after = shared_regions(members)
    assert after == [[US], [US, "Mexico"], [US, "Russia"], [US]]
    assert _kept_all_their_own(members, after)  # regions are added or moved up, never removed


def test_a_tie_or_a_lone_report_changes_nothing() -> None:
    for members in ([[US], ["China"]], [[US], [US], ["China"], ["China"], []], [[US], []], [[US]]):
        assert story_regions(members) == []
        assert shared_regions(members) == members


def test_members_without_regions_stay_without() -> None:
    assert story_regions([[], [], []]) == []
    assert shared_regions([[], [], []]) == [[], [], []]
    assert shared_regions([]) == []


def test_a_story_about_two_countries_keeps_both() -> None:
    members = [[US, "China"], ["China", US], [US, "China"], []]
    assert story_regions(members) == [US, "China"]
    # China, the second report's main region, is the story's too: it stays first there.
    assert shared_regions(members) == [[US, "China"], ["China", US], [US, "China"], [US, "China"]]
    split = [[US, "China"], ["China", US], ["China"]]  # mains 1 to 2: China leads, the US is named by two
    assert story_regions(split) == ["China", US]
    assert shared_regions(split) == [[US, "China"], ["China", US], ["China", US]]


def test_regions_are_told_apart_from_topic_sections() -> None:
    assert not set(region_names()) & set(TOPICS)
    assert is_region(US) and is_region("Georgia")
    assert not is_region("Politics") and not is_region("World") and not is_region("California")
