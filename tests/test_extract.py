"""Article page extraction: a fixture page of our own, encodings, junk, and real pages with expectations."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from newsserver import FEED_TYPE, NewsServer, refresh
from tidings.ingest.extract import decode_html, extract_page
from tidings.ingest.normalize import html_to_text, parse_datetime, snippet, word_count
from tidings.models import ExtractedPage
from tidings.storage.store import Store

ROOT = Path(__file__).resolve().parents[1]
PAGES = Path(__file__).parent / "fixtures" / "pages"
DATA = ROOT.parent / "shared" / "data"
URL = "https://www.coastcourier.example/news/2024/04/lighthouse-keepers-return?utm_campaign=rss"


def shared(sub: str) -> Path:
    path = DATA / sub
    if not path.is_dir():
        pytest.skip(f"real data not available: {path} is absent (it sits beside the project checkout)")
    return path


def norm(text: str) -> str:
    return " ".join(text.lower().split())


def first_sentence(text: str) -> str:
    """First sentence of the first real paragraph (captions and datelines are shorter)."""
    paragraph = next((line for line in text.splitlines() if word_count(line) >= 15), "")
    return snippet(paragraph, max_sentences=1, max_chars=10_000)


@pytest.fixture(scope="module")
def article() -> ExtractedPage:
    return extract_page((PAGES / "article.html").read_bytes(), URL)


def test_fixture_page_text(article: ExtractedPage) -> None:
    paragraphs = article.text.split("\n")
    assert any(p.startswith("For the first time in forty years") for p in paragraphs)
    assert paragraphs[-1].startswith("Visitors will still be able to tour the grounds")
    for boilerplate in ("All rights reserved", "Most read", "Ferry fares to rise", "Privacy"):
        assert boilerplate not in article.text


def test_fixture_page_metadata(article: ExtractedPage) -> None:
    assert article.title == "Lighthouse keepers return to Skerry Point"
    assert article.author == "Morag Fraser"
    assert article.published == datetime(2024, 4, 12, 5, 45, tzinfo=UTC)
    assert article.image_url == "https://cdn.coastcourier.example/photos/skerry-point.jpg"
    assert article.language == "en"
    assert (
        article.canonical_url
        == "https://www.coastcourier.example/news/2024/04/lighthouse-keepers-return?id=77"
    )
    assert article.site_name == "Coast Courier"
    assert (
        article.description
        == "For the first time in forty years, the lamp at Skerry Point is tended by hand."
    )


def page_with(head: str) -> bytes:
    body = "<p>" + "The council met on Tuesday to discuss the new harbour wall and its cost. " * 8 + "</p>"
    return f"<html><head><title>Harbour</title>{head}</head><body><article>{body}</article></body></html>".encode()


@pytest.mark.parametrize(("head", "picture"), [
    ('<meta property="og:image" content="/img/og.jpg">', "https://paper.example/img/og.jpg"),
    ('<meta name="twitter:image" content="https://cdn.example/tw.png">', "https://cdn.example/tw.png"),
    ('<meta property="og:image" content="data:image/png;base64,AAAA">'
     '<meta name="twitter:image:src" content="//cdn.example/tw2.png">', "https://cdn.example/tw2.png"),
    ('<link rel="image_src" href="pics/lead.webp">', "https://paper.example/news/pics/lead.webp"),
    ('<meta property="og:image" content="javascript:alert(1)">', ""),
    ("", ""),
])
def test_page_picture(head: str, picture: str) -> None:
    assert extract_page(page_with(head), "https://paper.example/news/harbour").image_url == picture


def test_meta_charset_is_honoured() -> None:
    page = (PAGES / "article.html").read_text(encoding="utf-8")
    page = page.replace('charset="utf-8"', 'charset="windows-1251"').replace(
        "forty years", "forty years (Маяк)"
    )
    extracted = extract_page(page.encode("windows-1251"), URL)
    assert "(Маяк)" in extracted.text


def test_utf8_mislabelled_as_latin1_is_read_as_utf8() -> None:
    page = '<html><head><meta charset="iso-8859-1"></head><body><p>Café crème — déjà vu</p></body>'
    assert "Café crème — déjà vu" in decode_html(page.encode("utf-8"))


def test_decode_html_bom_and_fallbacks() -> None:
    assert decode_html("<p>Ωmega</p>".encode("utf-16")) == "<p>Ωmega</p>"
    assert decode_html(b"\xef\xbb\xbf<p>x</p>") == "<p>x</p>"
    assert decode_html("<p>Crème</p>".encode("cp1252")) == "<p>Crème</p>"  # undeclared legacy bytes
    assert decode_html(b'<meta charset="no-such-codec"><p>\xe9</p>').endswith("<p>é</p>")


@pytest.mark.parametrize(
    "html",
    [
        b"",
        "",
        "   ",
        b"\x00\xff" * 1000,
        b"<html>",
        b'<?xml version="1.0"?><rss></rss>',
        b"\x89PNG\r\n\x1a\n" + bytes(200),
    ],
)
def test_unreadable_pages_give_an_empty_result(html: bytes | str) -> None:
    assert extract_page(html, "https://x.example/") == ExtractedPage()


def readability_cases() -> list[tuple[str, dict[str, str | None], ExtractedPage, str]]:
    root = shared("readability-test-pages")
    cases = []
    for folder in sorted(p for p in root.iterdir() if (p / "source.html").is_file()):
        meta = json.loads((folder / "expected-metadata.json").read_text(encoding="utf-8"))
        expected = html_to_text((folder / "expected.html").read_text(encoding="utf-8"))
        cases.append((folder.name, meta, extract_page((folder / "source.html").read_bytes()), expected))
    return cases


@pytest.fixture(scope="module")
def readability() -> list[tuple[str, dict[str, str | None], ExtractedPage, str]]:
    return readability_cases()


def test_readability_pages_titles(
    readability: list[tuple[str, dict[str, str | None], ExtractedPage, str]],
) -> None:
    hits = [name for name, meta, page, _ in readability if norm(page.title) == norm(meta.get("title") or "")]
    assert len(hits) >= 0.8 * len(readability), sorted({n for n, *_ in readability} - set(hits))


def test_readability_pages_text(
    readability: list[tuple[str, dict[str, str | None], ExtractedPage, str]],
) -> None:
    # readability keeps captions and standfirsts that Tidings leaves out, so not every page can match
    found = [
        name for name, _, page, expected in readability if norm(first_sentence(expected)) in norm(page.text)
    ]
    assert len(found) >= 0.66 * len(readability), sorted({n for n, *_ in readability} - set(found))
    assert all(word_count(page.text) >= 100 for _, _, page, _ in readability)


def test_readability_pages_language_and_dates(
    readability: list[tuple[str, dict[str, str | None], ExtractedPage, str]],
) -> None:
    with_lang = [(meta["lang"], page.language) for _, meta, page, _ in readability if meta.get("lang")]
    assert with_lang and all(page == (lang or "").split("-")[0].lower() for lang, page in with_lang)
    dated = [
        (parse_datetime(meta["publishedTime"]), page.published)
        for _, meta, page, _ in readability
        if meta.get("publishedTime")
    ]
    same = [
        1 for want, got in dated if want and got and want.replace(microsecond=0) == got.replace(microsecond=0)
    ]
    assert len(same) >= 0.75 * len(dated)


def test_newspaper_pages() -> None:
    root = shared("newspaper4k-testdata")
    titles = 0
    for html in sorted((root / "html").glob("*.html")):
        meta = json.loads((root / "metadata" / f"{html.stem}.json").read_text(encoding="utf-8"))
        expected = (root / "txt" / f"{html.stem}.txt").read_text(encoding="utf-8")
        page = extract_page(html.read_bytes(), meta["url"])
        titles += norm(page.title) == norm(meta["title"])
        assert norm(first_sentence(expected)) in norm(page.text), html.stem
        assert page.language == meta["language"]
        assert page.published is not None and page.published.date().isoformat() == meta["publish_date"][:10]
    assert titles >= 4


def test_page_read_without_a_search_for_headline_and_date(article: ExtractedPage) -> None:
    """For an item whose feed gave its headline and date: the same text and the same other fields; headline
    and date from the page's meta tags only."""
    light = extract_page((PAGES / "article.html").read_bytes(), URL, False)
    assert light == article  # the fixture page names both in its meta tags
    dated_in_text_only = dated_page("<p class='date'>Published 12 April 2024</p>")
    found, light = extract_page(dated_in_text_only, URL), extract_page(dated_in_text_only, URL, False)
    assert found.published == datetime(2024, 4, 12, tzinfo=UTC) and found.title == "Harbour wall to be rebuilt"
    assert (light.published, light.title) == (None, "")
    assert light.text == found.text and word_count(light.text) > 100


def test_real_pages_give_the_same_text_without_the_search() -> None:
    root = shared("readability-test-pages")
    for page in sorted(p / "source.html" for p in root.iterdir() if (p / "source.html").is_file()):
        full, light = extract_page(page.read_bytes(), URL), extract_page(page.read_bytes(), URL, False)
        assert light.text == full.text and light.author == full.author, page.parent.name
        assert (light.image_url, light.canonical_url) == (full.image_url, full.canonical_url), page.parent.name


def paragraphs(n: int) -> str:
    return "".join(f"<p>The harbour wall will be rebuilt over three years, the council said in its report {i}.</p>"
                   for i in range(n))


def dated_page(extra: str) -> str:
    return ("<html><head><title>Harbour wall to be rebuilt</title></head><body><article>"
            f"<h1>Harbour wall to be rebuilt</h1>{extra}{paragraphs(12)}</article></body></html>")


def test_polling_searches_the_page_for_what_the_feed_lacks(store: Store, news_server: NewsServer) -> None:
    """An item with a date keeps it; one without gets the date printed in its page's text (htmldate's search)."""
    def item(guid: str, path: str, title: str, when: str = "") -> str:
        link = news_server.add(path, dated_page("<p class='date'>Published 12 April 2024</p>"))
        return f"<item><guid>{guid}</guid><link>{link}</link><title>{title}</title>{when}</item>"

    dated = item("a", "/a", "Harbour wall to be rebuilt", "<pubDate>Mon, 03 Mar 2025 10:00:00 GMT</pubDate>")
    undated = item("b", "/b", "Harbour wall: the council decides")
    feed = news_server.add("/feed", f"<rss version='2.0'><channel><title>F</title>{dated}{undated}</channel></rss>",
                           FEED_TYPE)
    source_id, _ = store.add_source(feed, "Gazette", fulltext="always")
    assert refresh(store, source_id).new == 2
    published = {row["url"]: row["published_at"] for row in store.latest_articles(source_id=source_id)}
    assert published[news_server.url("/a")].startswith("2025-03-03T10:00")
    assert published[news_server.url("/b")].startswith("2024-04-12")


def test_text_is_read_from_the_article_element_alone() -> None:
    from tidings.ingest.extract import _main_part

    nav = "".join(f"<li><a href='/s/{i}'>Section {i}</a></li>" for i in range(40))
    teasers = "".join(f"<div class='card'><p>Teaser number {i} about something else entirely today.</p></div>"
                      for i in range(4))
    page = (f"<html><body><nav><ul>{nav}</ul></nav><main><article>{paragraphs(6)}</article>"
            f"<section>{teasers}</section></main><footer><p>All rights reserved.</p></footer></body></html>")
    part = _main_part(load(page))
    assert [el.tag for el in part.iter()][:3] == ["html", "body", "article"] and len(part.xpath("//p")) == 6
    text = extract_page(page).text
    assert "rebuilt over three years" in text and "Teaser" not in text and "Section" not in text


@pytest.mark.parametrize("article", [
    "<article><h1>Harbour wall to be rebuilt</h1><p>By Morag Fraser</p></article>",  # a stub: headline only
    f"<article>{paragraphs(3)}</article>",  # three paragraphs of twelve: a teaser, not the story
])
def test_an_article_element_that_is_not_the_story_leaves_the_whole_page_read(article: str) -> None:
    from tidings.ingest.extract import _main_part

    story = "".join(f"<p>Paragraph {i} of the story: the council will meet the builders on Monday again.</p>"
                    for i in range(9))
    page = f"<html><body>{article}<div class='story-body'>{story}</div></body></html>"
    tree = load(page)
    assert _main_part(tree) is tree
    if "<h1>" in article:  # read alone, the stub would give no story at all
        assert "Paragraph 8 of the story" in extract_page(page).text


def load(html: str) -> object:
    from tidings.ingest.extract import _load_tree

    return _load_tree(html)


def load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "tidings_extraction_benchmark", ROOT / "benchmarks" / "extraction.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_benchmark_scoring() -> None:
    score = load_benchmark().score
    assert score("The cat sat.", "the CAT sat") == (1.0, 1.0, 1.0)
    assert score("", "gold text") == (0.0, 0.0, 0.0)
    assert score("extra words", "") == (0.0, 0.0, 0.0)
    precision, recall, f1 = score("a a b", "a b b c")  # overlap {a: 1, b: 1}
    assert (precision, recall) == (2 / 3, 2 / 4)
    assert f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))


def test_extraction_in_a_worker_process_gives_the_same_page(article: ExtractedPage) -> None:
    """(A page that kills its worker, or overruns its budgets: tests/test_extract_budget.py.)"""
    from tidings.ingest import extract

    assert not extract._Dispatcher.in_process() or (os.cpu_count() or 1) == 1
    page = asyncio.run(extract.extract_page_elsewhere((PAGES / "article.html").read_bytes(), URL, owner=1))
    assert page == article and not page.error
    assert article.text
