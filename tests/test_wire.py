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
