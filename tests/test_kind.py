"""Opinion and analysis told apart from news reports by address and headline, and news left alone."""

from __future__ import annotations

import pytest

from tidings.analysis.kind import kind_from_title, kind_from_url, piece_kind


@pytest.mark.parametrize(("url", "kind"), [
    ("https://www.washingtonpost.com/opinions/why-electric-cars/2019/12/30/x_story.html", "opinion"),
    ("https://www.theguardian.com/commentisfree/2018/jan/31/womens-march-politics", "opinion"),
    ("https://www.nytimes.com/2019/12/26/opinion/letters/jews-christmas.html", "opinion"),
    ("https://www.reviewjournal.com/opinion/editorials/editorial-theres-much-to-celebrate/", "opinion"),
    ("https://townhall.com/columnists/someone/2020/01/01/a-piece-n2558758", "opinion"),
    ("https://www.nzz.ch/meinung/die-buergerlichen-parteien-ld.1538932", "opinion"),
    ("https://opinion.example.cn/o/2020-04/17/content_190758658.htm", "opinion"),
    ("https://blogs.example.com/times-up/", "opinion"),
    ("https://sputniknews.com/analysis/202001011077913459-israel-succeeded/", "analysis"),
    ("https://www.example.com/Opinion/Columns/some-slug", "opinion"),
])
def test_folders_and_hosts_that_hold_opinion_or_analysis(url: str, kind: str) -> None:
    assert kind_from_url(url) == kind


@pytest.mark.parametrize("url", [
    "https://news.example.org/news/opinion-poll-shows-labour-ahead",  # the slug, not a folder
    "https://news.example.org/politics/analysis-of-the-budget",
    "https://www.example.com/opinion",  # the last segment is the page itself, not a folder it sits in
    "http://corrienteshoy.com/noticias/view/333534",  # "view" is how some sites number every article
    "https://kcpw.org/blog/local-news/2020-01-02/senate-impeachment-trial/",  # news under /blog/
    "https://thecaucus.blogs.example.com/2010/12/08/biden-tries-again/",  # a news blog's own host
    "https://www.firstpost.com/tech/news-analysis/tiktok-releases-report-7849511.html",
    "https://diariolaopinion.com.ar/contenido/281181/el-ministro",  # the outlet's name holds the word
    "not a url at all",
    "http://[::1",
    "",
])
def test_news_addresses_are_not_opinion(url: str) -> None:
    assert kind_from_url(url) is None


@pytest.mark.parametrize(("title", "kind"), [
    ("Opinion: Tillerson can survive this Russia trip", "opinion"),
    ("OPINION: Why Comey stood alone", "opinion"),
    ("Analysis | Nikki Haley joins a growing list", "analysis"),
    ("ANALYSIS: Hometown wins boost Trump and Clinton", "analysis"),
    ("News analysis: What the deal means", "analysis"),
    ("Editorial: The city must fix its buses", "opinion"),
    ("Column | The quiet end of the high street", "opinion"),
    ("Op-Ed - Losing Sheila's smile", "opinion"),
    ("Our view: See our world more clearly in 2020", "opinion"),
    ("Why the deal will fail | Opinion", "opinion"),
    ("Markets wobble as rates climb (analysis)", "analysis"),
    ("  opinion:   spaced   out  ", "opinion"),
])
def test_labelled_headlines(title: str, kind: str) -> None:
    assert kind_from_title(title) == kind


@pytest.mark.parametrize("title", [
    "Analysis of the budget finds a £3bn gap",  # a report about an analysis
    "Opinion poll shows Labour ahead",
    "Public opinion turns against the plan",
    "Will Islamic State's rise turn U.S. public opinion?",
    "Secret Service: New ricin letter sent to Obama",  # a colon after a subject, not a label
    "Seattle Times business columnist admits plagiarism, resigns",
    "Editorial staff walk out at the Herald",
    "Letters reveal the composer's last years",
    "Court hears analysis: experts split",  # the label must open the headline
    "",
])
def test_news_headlines_are_not_opinion(title: str) -> None:
    assert kind_from_title(title) is None


def test_the_headline_label_wins_over_the_folder() -> None:
    assert piece_kind("https://example.com/opinion/x", "Analysis: what the vote means") == "analysis"
    assert piece_kind("https://example.com/analysis/x", "Plain headline") == "analysis"
    assert piece_kind("https://example.com/world/x", "Plain headline") is None
