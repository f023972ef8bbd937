"""The first minutes of a newcomer: `tidings run` on a fresh database, once with every source out of reach (a
machine offline) and once with a news web that answers (a fixture server on 127.0.0.1 standing in for the
internet). Each ends with what the reader sees, kept as screenshots in test-artifacts/
(first-run-offline-*.png, first-run-online-*.png)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from newsserver import ARTIFACTS, FEED_TYPE, NewsServer, _free_port, answers, chromium, doc, texts, wait_for
from tidings.ingest.opml import OpmlOutline, export_opml

pytestmark = pytest.mark.slow

RUN_ENV = {"TIDINGS_ALLOW_PRIVATE_NETWORKS": "1", "TIDINGS_HOST_DELAY": "0", "TIDINGS_HOST_JITTER": "0"}
PASS_LINE = re.compile(r"polled (\d+) sources: (\d+) ok.*; (\d+) new, \d+ updated, (\d+) analysed")

BRIDGE = ("The harbour bridge will close for six weeks of repairs from Monday, the city's transport office said, "
          "after inspectors found corroded cables under the eastern span. Buses will run a shuttle across the river "
          "every ten minutes, and ferries will add evening crossings. Traders on the waterfront said the closure "
          "would cost them customers during the busiest month of the year.")
RATES = ("The central bank held its main interest rate at 4.5 percent on Thursday and said inflation was falling "
         "faster than it had expected. The governor told reporters that a cut was possible later in the year if "
         "prices kept easing, but gave no date. Markets had priced in a reduction by the summer and the currency "
         "rose slightly after the announcement.")
OUTLETS = {  # each outlet's own report of the two events; Bay Radio runs the Gazette's rates text word for word
    "gazette": ("The Harbour Gazette", [
        ("bridge", "Harbour bridge to shut for six weeks of cable repairs", BRIDGE),
        ("rates", "Central bank holds rates, sees inflation easing", RATES)]),
    "courier": ("Northern Courier", [
        ("bridge", "Corroded cables force harbour bridge closure",
         "Drivers face six weeks of detours after engineers ordered the harbour bridge shut. Rust was found on the "
         "steel cables that hold up its eastern span during a routine check last month. A free shuttle bus will "
         "carry pedestrians across, and the transport office expects the work to be finished before the holidays."),
        ("rates", "Rates unchanged as central bank waits for prices to ease",
         "Borrowers hoping for cheaper mortgages will have to wait: the central bank kept its benchmark rate at "
         "4.5 percent. Its governor said price rises were slowing more quickly than forecast and that lower rates "
         "could follow this year. Economists had expected the pause, though some traders bet on a summer cut.")]),
    "radio": ("Bay Radio News", [
        ("bridge", "Shuttle buses replace harbour bridge during repairs",
         "Commuters crossing the river will ride shuttle buses from Monday, when the harbour bridge closes for "
         "cable repairs expected to last six weeks. Inspectors discovered corrosion beneath the eastern span. "
         "Shop owners near the quay worry the closure will keep shoppers away in December."),
        ("rates", "Central bank holds rates, sees inflation easing", RATES)]),
}


def page(title: str, text: str) -> str:
    paragraphs = "".join(f"<p>{sentence}.</p>" for sentence in text.split(". "))
    return (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{paragraphs}</article>"
            "</body></html>")


def news_web(server: NewsServer) -> list[OpmlOutline]:
    """Three outlets' feeds on the fixture server; each reports both events, and Bay Radio carries the
    Gazette's text of the rates story word for word (a copy)."""
    feeds = []
    for key, (name, reports) in OUTLETS.items():
        items = []
        for n, (event, title, text) in enumerate(reports):
            link = server.add(f"/{key}/{event}", page(title, text))
            items.append(f"<item><guid>{link}</guid><link>{link}</link><title>{title}</title>"
                         f"<pubDate>Tue, 01 Dec 2026 0{8 + n}:{10 * len(items)}:00 GMT</pubDate>"
                         f"<description>{text.split('. ')[0]}.</description></item>")
        feed = server.add(f"/{key}/feed.xml", f"<?xml version='1.0'?><rss version='2.0'><channel><title>{name}"
                                              f"</title>{''.join(items)}</channel></rss>", FEED_TYPE)
        feeds.append(OpmlOutline(feed_url=feed, title=name, site_url=server.url(f"/{key}/"), category="Local News"))
    return feeds


@contextmanager
def tidings_run(tmp_path: Path, outlines: list[OpmlOutline]) -> Iterator[tuple[str, Callable[[], str]]]:
    """`tidings run` on a fresh database, starting from ``outlines``; yields the site's address and a reader
    of its output so far. Stopped by its process id."""
    opml = tmp_path / "start.opml"
    opml.write_text(export_opml(outlines))
    port = _free_port()
    log = tmp_path / "run.log"
    env = {**os.environ, **RUN_ENV, "TIDINGS_DATA_DIR": str(tmp_path / "data")}
    with open(log, "wb") as out:
        run = subprocess.Popen([sys.executable, "-m", "tidings", "--db", str(tmp_path / "t.db"), "run", "--port",
                                str(port), "--opml", str(opml)], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: answers(base + "/healthz"), "the site answers")
        yield base, lambda: log.read_text(errors="replace")
    finally:
        run.send_signal(signal.SIGTERM)
        try:
            run.wait(timeout=30)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()






def first_pass(output: Callable[[], str]) -> re.Match[str]:
    """The log line of the first poll pass, once it is written."""
    wait_for(lambda: PASS_LINE.search(output()), "the first poll pass is logged")
    found = PASS_LINE.search(output())
    assert found
    return found


def screenshots(base: str, name: str, paths: dict[str, str]) -> None:
    with chromium() as browser:
        for width in (1280, 390):
            context = browser.new_context(viewport={"width": width, "height": 900})
            tab = context.new_page()
            for kind, path in paths.items():
                tab.goto(base + path)
                tab.screenshot(path=str(ARTIFACTS / f"first-run-{name}-{kind}-{width}.png"), full_page=True)
            context.close()


def test_offline_first_run_says_what_is_happening(tmp_path: Path) -> None:
    """Every source out of reach: the log says so in one line with the reason, and the site says what is
    happening and where to look, instead of looking like an empty site."""
    ARTIFACTS.mkdir(exist_ok=True)
    closed = _free_port()  # nothing listens there: connection refused, as on a machine without a network
    outlines = [OpmlOutline(feed_url=f"http://127.0.0.1:{closed}/feed{n}.xml", title=f"Outlet {n}",
                            site_url=f"http://127.0.0.1:{closed}/", category="World") for n in range(5)]
    with tidings_run(tmp_path, outlines) as (base, output):
        line = first_pass(output)
        assert line.groups()[:3] == ("5", "0", "0"), line.group()
        assert "first run: added 5 sources from" in output() and "connection failed 5" in line.group()
        home = doc(httpx.get(base + "/").text)
        banner = " ".join(texts(home, "//p[contains(@class, 'banner')]"))
        assert "0 of 5 sources reachable" in banner, banner
        welcome = " ".join(texts(home, "//div[contains(@class, 'first-run')]"))
        assert "polling 5 sources" in welcome, welcome
        listed = doc(httpx.get(base + "/sources").text)
        assert len(texts(listed, "//*[contains(@class, 'failing')]")) >= 5  # each source says it fails
        screenshots(base, "offline", {"home": "/", "sources": "/sources"})


def test_online_first_run_shows_the_news_with_similar_news(tmp_path: Path) -> None:
    """A news web that answers: the first pass stores and analyses every article; the home page lists the news
    and an article shows the other outlets' reports of its event, the copy folded into its original."""
    ARTIFACTS.mkdir(exist_ok=True)
    with NewsServer() as server:
        outlines = news_web(server)
        with tidings_run(tmp_path, outlines) as (base, output):
            line = first_pass(output)
            assert line.groups() == ("3", "3", "6", "6"), line.group()
            home = httpx.get(base + "/api/home").json()
            assert not home["health"]["warning"] and len(home["latest"]) == 5  # the copy is folded
            article = httpx.get(base + "/api/similar", params={"url": server.url("/courier/bridge")}).json()
            assert {s["source"] for s in article["similar"]} >= {"The Harbour Gazette", "Bay Radio News"}, article
            copy = httpx.get(base + "/api/similar", params={"url": server.url("/courier/rates")}).json()
            carried = [s for s in copy["similar"] if s["also_carried_by"]]
            assert carried and carried[0]["also_carried_by"][0]["source"] in {"The Harbour Gazette",
                                                                              "Bay Radio News"}, copy
            lead = next(a for a in home["latest"] if a["url"] == server.url("/gazette/bridge"))
            screenshots(base, "online", {"home": "/", "article": lead["link"]})
