"""Pure helpers of the ingest layer: URL canonical form, HTML to text, lead snippets, dates, word counts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tidings.ingest.normalize import canonical_url, html_to_text, parse_datetime, snippet, word_count


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://WWW.Example.COM:443/Path/Story?id=3#comments", "https://www.example.com/Path/Story?id=3"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        (
            "https://news.example/a?utm_source=rss&utm_medium=feed&page=2&fbclid=XyZ&gclid=1&b=x%20y",
            "https://news.example/a?page=2&b=x%20y",
        ),
        (
            "https://news.example/a?UTM_Campaign=x&ref=home&ref_src=twsrc&smid=nytcore-ios-share",
            "https://news.example/a",
        ),
        ("https://www.bbc.co.uk/news/1?at_medium=RSS&at_campaign=KARANGA", "https://www.bbc.co.uk/news/1"),
        (
            "https://news.example/a?mc_cid=1&mc_eid=2&igshid=3&cmpid=4&ocid=5&_ga=6&yclid=7&msclkid=8"
            "&dclid=9",
            "https://news.example/a",
        ),
        ("https://news.example/a?z=1&a=2&m=3", "https://news.example/a?z=1&a=2&m=3"),
        ("  https://news.example/a  ", "https://news.example/a"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    "url", ["not a url", "mailto:desk@example.com", "", "http://[broken/", "/relative/path"]
)
def test_canonical_url_leaves_what_it_cannot_read(url: str) -> None:
    assert canonical_url(url) == url.strip()


def test_canonical_url_is_idempotent() -> None:
    once = canonical_url("HTTP://Example.com:80/x?utm_term=a&q=1#f")
    assert canonical_url(once) == once == "http://example.com/x?q=1"


def test_html_to_text_blocks_entities_and_hidden_parts() -> None:
    html = (
        "<div><h2>Title&nbsp;here</h2><p>First &amp; <b>bold</b>\n   words.</p><script>var x = 1;</script>"
        "<style>p {}</style><!-- note -->after<ul><li>one</li><li>two</li></ul>line<br>break</div>"
    )
    assert html_to_text(html) == "Title here\nFirst & bold words.\nafter\none\ntwo\nline\nbreak"


@pytest.mark.parametrize("value", ["", "   ", "plain text only"])
def test_html_to_text_plain_input(value: str) -> None:
    assert html_to_text(value) == value.strip()


def test_html_to_text_survives_broken_markup() -> None:
    assert html_to_text("<p>open <b>never closed <i>deeper") == "open never closed deeper"
    assert html_to_text("a < b and c > d") == "a < b and c > d"
    assert html_to_text("<p>x</p>\x00<p>y") == "x\ny"


def test_snippet_keeps_whole_sentences() -> None:
    text = "Mr. Smith went to Washington on Friday. The U.S. Senate then met. A third sentence follows."
    assert snippet(text) == "Mr. Smith went to Washington on Friday. The U.S. Senate then met."
    assert snippet(text, max_sentences=1) == "Mr. Smith went to Washington on Friday."


def test_snippet_drops_a_sentence_before_cutting_one() -> None:
    text = "Short lead sentence. " + "A very long second sentence " * 20 + "."
    assert snippet(text, max_chars=100) == "Short lead sentence."


def test_snippet_cuts_at_a_word_with_ellipsis() -> None:
    text = "word " * 200
    out = snippet(text, max_chars=50)
    assert out.endswith("…") and len(out) <= 50
    assert out[:-1].split() == ["word"] * len(out[:-1].split())


def test_snippet_of_nothing() -> None:
    assert snippet("") == ""
    assert snippet("  \n ") == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2018-01-31T07:26:05Z", datetime(2018, 1, 31, 7, 26, 5, tzinfo=UTC)),
        ("2016-02-01T17:54:50+01:00", datetime(2016, 2, 1, 16, 54, 50, tzinfo=UTC)),
        ("Wed, 31 Jan 2018 07:26:05 GMT", datetime(2018, 1, 31, 7, 26, 5, tzinfo=UTC)),
        ("Fri, 19 May 2017 21:05:02 +0530", datetime(2017, 5, 19, 15, 35, 2, tzinfo=UTC)),
        ("Sun, 31 Dec 2017 08:00 PST", datetime(2017, 12, 31, 16, 0, tzinfo=UTC)),
        ("Seg, 24 Set 2018 19:42:40 -0300", datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC)),
        ("January 5, 2019 3:00 PM EST", datetime(2019, 1, 5, 20, 0, tzinfo=UTC)),
        ("2017-06-15", datetime(2017, 6, 15, tzinfo=UTC)),
        ("2020-10-01 12:00:00", datetime(2020, 10, 1, 12, 0, tzinfo=UTC)),
    ],
)
def test_parse_datetime(value: str, expected: datetime) -> None:
    parsed = parse_datetime(value)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("value", [None, "", "garbage", "5", "2019-13-45", "yesterday", "x" * 500])
def test_parse_datetime_unreadable(value: str | None) -> None:
    assert parse_datetime(value) is None


@pytest.mark.parametrize(
    ("text", "count"),
    [("", 0), ("one", 1), ("Don't stop, e-mail 3.5 times — ok?", 6), ("  spaced\n\nout\ttext ", 3)],
)
def test_word_count(text: str, count: int) -> None:
    assert word_count(text) == count
