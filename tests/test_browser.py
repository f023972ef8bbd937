"""The article page in a real browser: Chromium driven by Playwright against uvicorn on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsserver import site
from tidings.models import ArticleIn, Neighbour
from tidings.storage.sqlite import SQLiteStore
from tidings.storage.store import Store
from tidings.web.app import create_app

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
BROWSER_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync"]
T0 = datetime(2024, 3, 4, 9, 30, tzinfo=UTC)

LEAD_TEXT = """The city council approved a plan on Monday to turn the old harbour warehouses into housing, ending a \
decade of argument over the waterfront.
The vote, 9 to 4, clears the way for about 1,200 flats, a third of them at rents capped below the market rate. \
Work on the first two blocks could start next spring.
Opponents said the plan gives too little space to the fishing fleet that still uses the eastern quay, and \
promised to take the decision to court.
"We have waited long enough," the mayor said after the vote. "The harbour should be lived in, not fenced off."
The developers must still present a flood-protection study before building permits are issued."""

SIMILAR = [
    ("Northern Courier", "Council backs harbour housing plan after long fight", 0.93, "same_story",
     "Councillors voted 9-4 in favour of converting the warehouses. The first homes could be ready in 2027."),
    ("Coastal Times", "Harbour warehouses to become 1,200 flats", 0.91, "duplicate",
     "The city council approved a plan on Monday to turn the old harbour warehouses into housing."),
    ("Bay Radio News", "Harbour warehouses to become 1,200 flats", 0.90, "duplicate",
     "The city council approved a plan on Monday to turn the old harbour warehouses into housing."),
    ("Metro Evening", "Fishing fleet vows court fight over waterfront vote", 0.84, "same_story",
     "Fishermen who use the eastern quay say the housing plan leaves them without room to land their catch."),
    ("Regional Business Review", "What the waterfront plan means for rents", 0.61, "related",
     "Capped rents on a third of the new flats could cool a market where prices rose 14% last year."),
]


def build_store(path: Path) -> tuple[Store, int, dict[str, str]]:
    store = SQLiteStore(path)
    src = store.import_source("The Harbour Gazette")
    lead = store.insert_article(ArticleIn(
        url="https://gazette.example/2024/03/harbour-vote", title="Council votes to turn harbour warehouses into homes",
        source_id=src, published=T0, author="Mira Jensen", text=LEAD_TEXT, section="Local"), "lead")
    store.set_sections(lead, ["Local News"])
    own = store.insert_article(ArticleIn(url="https://gazette.example/2024/03/harbour-reaction",
                                         title="Readers react to the harbour vote", source_id=src,
                                         published=T0 + timedelta(hours=2)), "own")
    originals: dict[str, str] = {}
    links = [Neighbour(lead, own, 0.97, "same_story")]
    story = store.create_story("Harbour warehouses to become housing")
    store.set_story(lead, story)
    for n, (source, title, score, relation, summary) in enumerate(SIMILAR):
        url = f"https://{source.lower().replace(' ', '-')}.example/news/{n}"
        aid = store.insert_article(ArticleIn(url=url, title=title, source_id=store.import_source(source),
                                             published=T0 + timedelta(minutes=25 * (n + 1)), summary=summary),
                                   f"s{n}")
        store.set_story(aid, story)
        links.append(Neighbour(lead, aid, score, relation))
        originals[source] = url
    store.save_neighbours(links)
    store.update_story(story, title="Harbour warehouses to become housing", lead_article_id=lead,
                       first="2024-03-04T09:30:00Z", last="2024-03-04T11:35:00Z", size=6, outlets=6)
    return store, lead, originals


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, int, dict[str, str]]]:
    store, lead, originals = build_store(tmp_path / "t.db")
    with site(create_app(store)) as base:
        yield base, lead, originals


def test_article_page_in_chromium(server: tuple[str, int, dict[str, str]]) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    base, lead, originals = server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(5000)
            errors: list[str] = []
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            response = page.goto(f"{base}/article/{lead}")
            assert response is not None and response.status == 200
            assert page.locator("h2#similar-heading").inner_text() == "Similar News"
            items = page.locator("li.similar-item")
            # Five neighbours from other outlets, two of them copies of one text: four items, none from the Gazette.
            assert items.count() == 4
            hrefs = []
            for i in range(items.count()):
                link = items.nth(i).locator("a.read-more")
                assert link.inner_text() == "Read more »"
                hrefs.append(link.get_attribute("href"))
                assert "Harbour Gazette" not in items.nth(i).locator(".source").inner_text()
            assert set(hrefs) <= set(originals.values()) and len(set(hrefs)) == 4
            also = page.locator("li.similar-item .also")
            assert also.count() == 1 and also.inner_text() == "Also carried by 1 outlet: Bay Radio News"
            line = page.locator("p.section-line a")
            assert line.inner_text() == "Local News Latest News, Local News Headlines"
            assert line.get_attribute("href") == "/section/Local%20News"
            # The stylesheet loaded under the Content-Security-Policy.
            family = page.evaluate("getComputedStyle(document.body).fontFamily")
            assert "system-ui" in family
            assert not [e for e in errors if "Content Security Policy" in e]
            page.screenshot(path=str(ARTIFACTS / "article-page.png"), full_page=True)
            mobile = browser.new_page(viewport={"width": 390, "height": 844}, color_scheme="dark")
            mobile.goto(f"{base}/article/{lead}")
            assert mobile.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
            mobile.screenshot(path=str(ARTIFACTS / "article-page-mobile-dark.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "article-page.png").stat().st_size > 10_000
