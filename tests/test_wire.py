from tidings.analysis.wire import credited_agency


def test_datelines_bylines_and_credit_lines_name_the_agency() -> None:
    assert credited_agency("WASHINGTON (AP) — The Senate voted on Tuesday ...") == "Associated Press"
    assert credited_agency("LONDON (Reuters) - Shares fell sharply ...") == "Reuters"
    credit = "Copyright Agence France-Presse 2024."
    assert credited_agency("Text of the story. " * 40 + credit) == "Agence France-Presse"
    assert credited_agency("By Jane Roe, Associated Press. The storm ...") == "Associated Press"


def test_a_mention_deep_inside_the_text_is_no_credit() -> None:
    body = "Intro sentence. " * 40 + "He told Reuters last year that he would run. " + "More text. " * 40
    assert credited_agency(body) is None
    assert credited_agency("An independent report with no credit line.") is None


def test_the_agency_credited_first_is_the_one_named() -> None:
    assert credited_agency("NEW YORK (AP) — Markets rose. Reuters contributed to this report.") == "Associated Press"
    assert credited_agency("LONDON (Reuters) - Markets rose. (AP) photo.") == "Reuters"


def test_one_pass_finds_what_a_search_per_agency_finds() -> None:
    """The earliest credit of any agency, as searching for each agency and taking the earliest hit does."""
    import random
    import re

    from tidings.analysis.wire import AGENCIES, EDGE_CHARS

    def per_agency(text: str) -> str | None:
        edges = f"{text[:EDGE_CHARS]}\n{text[-EDGE_CHARS:]}"
        hits = [(m.start(), name) for name, (rx, _) in AGENCIES.items() if (m := re.search(rx, edges))]
        return min(hits)[1] if hits else None

    pieces = ["(AP)", "Associated Press", "AP Photo", "(Reuters)", "Reuters", "(AFP)", "AFP", "Agence France-Presse",
              "(UPI)", "PA Media", "(PA)", "(dpa)", "Bloomberg News", "Kyodo", "Xinhua", "(ANI)", "The Canadian Press",
              "the senator said", "on Tuesday", "APPLE", "Reutersville", "AFPx", " ", "\n", "words " * 30]
    rnd = random.Random(5)
    for _ in range(2000):
        text = " ".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 12)))
        assert credited_agency(text) == per_agency(text), text
