"""Every kind of page in a real browser (Chromium through Playwright, Tidings under uvicorn on 127.0.0.1), wide
and 390 px narrow, in the light and the dark colour scheme: each answers as it should, does not scroll sideways,
passes axe-core with no serious or critical violation, and leaves a full-page screenshot in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsserver import ARTIFACTS, Newsroom, NewsServer, chromium, newsroom, png, serve
from tidings.storage.sqlite import SQLiteStore
from tidings.web.app import create_app

pytestmark = pytest.mark.slow

SECRET = "correct-horse-battery-staple-0123456789"
AXE = Path(__file__).resolve().parents[1] / ".test-tools" / "node_modules" / "axe-core" / "axe.min.js"
VARIANTS = [(1280, "light"), (1280, "dark"), (390, "light"), (390, "dark")]
GRAVE = ("serious", "critical")
# What axe reports of each violation: the rule, how grave, what it says, and the elements (their selectors).
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  const where = n => n.target.join(" ") + " (" + (n.failureSummary || "").split("\\n").slice(1).join(" ") + ")";
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(where)}));
}"""


def public_pages(room: Newsroom) -> list[tuple[str, str, int]]:
    """(name, path, status) of every page a reader meets."""
    a, s, src = room.articles, room.stories, room.sources
    return [("home", "/", 200), ("latest", "/latest", 200), ("sections", "/sections", 200),
            ("section", "/section/Local%20News", 200), ("article", f"/article/{a['lead']}", 200),
            ("article-copy", f"/article/{a['wire1']}", 200), ("story", f"/story/{s['harbour']}", 200),
            ("sources", "/sources", 200), ("source", f"/source/{src['courier']}", 200), ("search", "/search", 200),
            ("search-results", f"/search?q={room.query}", 200), ("search-nothing", "/search?q=zeppelin", 200),
            ("not-found", "/no-such-page", 404), ("login", "/login", 200), ("docs", "/docs", 200)]


def admin_pages(room: Newsroom) -> list[tuple[str, str, int]]:
    return [("admin", "/admin", 200), ("admin-import", "/admin/import", 200),
            ("admin-remove", f"/admin/sources/{room.sources['gazette']}/remove", 200), ("logout", "/logout", 200)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Newsroom]]:
    pytest.importorskip("uvicorn")
    store = SQLiteStore(tmp_path_factory.mktemp("site") / "t.db")
    with NewsServer() as pictures:
        room = newsroom(store, pictures.add("/harbour.png", png(640, 360), "image/png"))
        with serve(create_app(store, SECRET, analyse=False), lifespan="off") as base:
            yield base, room
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def check(page: Any, base: str, name: str, path: str, status: int, width: int, scheme: str) -> list[str]:
    """Open one page; what is wrong with it, each as one line."""
    response = page.goto(base + path)
    problems = [] if response and response.status == status else \
        [f"{name}: answered {response.status if response else 'nothing'}, not {status}"]
    if name == "docs":
        page.wait_for_selector(".swagger-ui .info")  # Swagger UI draws the page with its own script
    wide = page.evaluate("document.documentElement.scrollWidth")
    if wide > width:
        problems.append(f"{name}: {wide} px wide in a {width} px window (it scrolls sideways)")
    page.screenshot(path=str(ARTIFACTS / f"page-{name}-{width}-{scheme}.png"), full_page=True)
    for v in page.evaluate(RUN_AXE):
        if v["impact"] in GRAVE:
            problems.append(f"{name}: {v['impact']} {v['id']}: {v['help']}: " + "; ".join(v["nodes"]))
    return problems


@pytest.mark.parametrize(("width", "scheme"), VARIANTS, ids=[f"{w}-{s}" for w, s in VARIANTS])
def test_every_page_is_accessible(site: tuple[str, Newsroom], browser: Any, width: int, scheme: str) -> None:
    if not AXE.exists():
        pytest.skip(f"axe-core is not installed at {AXE} (npm install --prefix .test-tools axe-core@4.14.1)")
    base, room = site
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    context.add_init_script(path=str(AXE))  # run by the browser itself: the pages' CSP allows no script
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        problems = [p for name, path, status in public_pages(room)
                    for p in check(page, base, name, path, status, width, scheme)]
        page.goto(base + "/login")
        page.fill("#secret", SECRET)
        page.click("form.login-form button[type=submit]")
        page.wait_for_url(base + "/admin")
        problems += [p for name, path, status in admin_pages(room)
                     for p in check(page, base, name, path, status, width, scheme)]
    finally:
        context.close()
    assert not problems, f"{len(problems)} problems at {width} px, {scheme}:\n" + "\n".join(problems)
