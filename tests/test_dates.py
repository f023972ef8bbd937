"""Dates a reader understands: every date is a <time> with its ISO time and the exact time on hover; the text
without script is in TIDINGS_TIMEZONE; in a browser, times read "3 hr ago" in the reader's zone and language, and
a date without a time stays that date."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from newsserver import doc, serve
from tidings.cli import main
from tidings.models import ArticleIn
from tidings.storage.sqlite import SQLiteStore
from tidings.web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync"]
TIMED = datetime(2024, 3, 4, 9, 30, tzinfo=UTC)
DAY = datetime(2024, 3, 1, tzinfo=UTC)  # a feed that gives only the day: stored at midnight UTC
ARTICLES = {"timed": TIMED, "day": DAY, "yesterday": datetime(2024, 3, 3, 15, 0, tzinfo=UTC),
            "older": datetime(2024, 2, 20, 12, 0, tzinfo=UTC)}


@pytest.fixture
def gazette(tmp_path: Path) -> tuple[SQLiteStore, int]:
    """One source whose four articles are dated: to the minute, to the day only, the day before, weeks before;
    its last poll was at midnight UTC exactly (a machine's time, never a date only)."""
    store = SQLiteStore(tmp_path / "t.db")
    sid = store.import_source("The Harbour Gazette")
    for key, when in ARTICLES.items():
        store.insert_article(ArticleIn(url=f"https://gazette.example/{key}", title=f"Report {key}", source_id=sid,
                                       published=when), key)
    store.update_source(sid, last_polled_at="2024-03-04T00:00:00Z")
    return store, sid


def _times(html: str) -> dict[str, dict[str, Any]]:
    """Each <time> of the source page's article list by its article, and the last poll's."""
    tree = doc(html)
    found = {}
    for item in tree.xpath("//li[contains(@class, 'article-item')]"):
        key = item.xpath(".//h3//a/text()")[0].removeprefix("Report ")
        found[key] = item.xpath(".//time")[0]
    found["poll"] = tree.xpath("//dt[.='Last poll']/following-sibling::dd[1]/time")[0]
    return {k: {"datetime": t.get("datetime"), "title": t.get("title"), "kind": t.get("data-when"),
                "text": t.text_content()} for k, t in found.items()}


def test_every_date_is_a_time_element_with_its_iso_time_and_exact_time_on_hover(
        gazette: tuple[SQLiteStore, int], monkeypatch: pytest.MonkeyPatch) -> None:
    store, sid = gazette
    monkeypatch.setenv("TIDINGS_TIMEZONE", "Europe/Berlin")
    with TestClient(create_app(store)) as client:
        times = _times(client.get(f"/source/{sid}").text)
    assert times["timed"] == {"datetime": "2024-03-04T09:30:00Z", "title": "Monday, 4 March 2024, 10:30:00 CET",
                              "kind": "time", "text": "4 Mar 2024, 10:30 CET"}
    assert times["day"] == {"datetime": "2024-03-01", "title": "Friday, 1 March 2024", "kind": "date",
                            "text": "1 Mar 2024"}
    assert times["poll"] == {"datetime": "2024-03-04T00:00:00Z", "title": "Monday, 4 March 2024, 01:00:00 CET",
                             "kind": "time", "text": "4 Mar 2024, 01:00 CET"}


@pytest.mark.parametrize(("zone", "timed", "day"), [
    (None, "4 Mar 2024, 09:30 UTC", "1 Mar 2024"),
    ("America/New_York", "4 Mar 2024, 04:30 EST", "1 Mar 2024"),  # a date does not slip to the day before
    ("Asia/Kolkata", "4 Mar 2024, 15:00 IST", "1 Mar 2024"),
])
def test_the_text_without_script_is_in_the_configured_zone(gazette: tuple[SQLiteStore, int],
                                                           monkeypatch: pytest.MonkeyPatch, zone: str | None,
                                                           timed: str, day: str) -> None:
    store, sid = gazette
    if zone:
        monkeypatch.setenv("TIDINGS_TIMEZONE", zone)
    else:
        monkeypatch.delenv("TIDINGS_TIMEZONE", raising=False)
    with TestClient(create_app(store)) as client:
        times = _times(client.get(f"/source/{sid}").text)
        article = doc(client.get("/article/1").text)
    assert (times["timed"]["text"], times["day"]["text"]) == (timed, day)
    assert [t.text_content() for t in article.xpath("//p[contains(@class, 'meta')]//time")] == [timed]


def test_an_unknown_time_zone_is_refused_at_start_and_never_breaks_a_page(
        gazette: tuple[SQLiteStore, int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    store, sid = gazette
    monkeypatch.setenv("TIDINGS_TIMEZONE", "Mars/Olympus_Mons")
    with TestClient(create_app(store)) as client:
        r = client.get(f"/source/{sid}")
    assert r.status_code == 200 and _times(r.text)["timed"]["text"] == "4 Mar 2024, 09:30 UTC"
    assert main(["--db", str(tmp_path / "serve.db"), "serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "TIDINGS_TIMEZONE='Mars/Olympus_Mons' is not a time zone name" in err and len(err.splitlines()) == 1


@pytest.mark.slow
def test_a_browser_shows_times_as_time_ago_in_its_own_zone_and_dates_as_dates(
        gazette: tuple[SQLiteStore, int]) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    store, sid = gazette
    now = datetime(2024, 3, 4, 12, 40, tzinfo=UTC)  # 07:40 in New York: 3 h 10 min after the timed report
    with serve(create_app(store), lifespan="off") as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        try:
            reader = browser.new_context(locale="en-GB", timezone_id="America/New_York")
            page = reader.new_page()
            errors: list[str] = []
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.clock.install(time=now)
            page.goto(f"{base}/source/{sid}")
            times = _times(page.content())
            assert re.fullmatch(r"3 (h|hr|hrs|hours)\.? ago", times["timed"]["text"]), times["timed"]
            assert "04:30:00" in times["timed"]["title"] and "4 March 2024" in times["timed"]["title"]
            assert times["yesterday"]["text"] == "yesterday"
            assert times["older"]["text"] == "20 Feb"
            assert (times["day"]["text"], times["day"]["title"]) == ("1 Mar 2024", "Friday, 1 March 2024")
            # the poll at midnight UTC is a time: 19:00 the evening before, in New York
            assert (times["poll"]["text"], "19:00:00" in times["poll"]["title"]) == ("yesterday", True)
            page.clock.fast_forward("01:00:00")  # the text keeps up as the page stays open
            assert re.fullmatch(r"4 (h|hr|hrs|hours)\.? ago", _times(page.content())["timed"]["text"])
            assert not errors, errors  # the script ran under the Content-Security-Policy

            no_script = browser.new_context(locale="en-GB", timezone_id="America/New_York",
                                            java_script_enabled=False).new_page()
            no_script.goto(f"{base}/source/{sid}")
            times = _times(no_script.content())
            assert (times["timed"]["text"], times["day"]["text"]) == ("4 Mar 2024, 09:30 UTC", "1 Mar 2024")
        finally:
            browser.close()
