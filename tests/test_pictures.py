"""Pictures through Tidings: article thumbnails scaled and encoded again, kept on disk within a bound that
several processes share, refused when they are not raster pictures or would take too much to decode, and
source icons found on the site's page or at /favicon.ico, with a letter badge of Tidings' own otherwise."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image as PILImage

from newsserver import FEED_TYPE, NewsServer, blank_png, doc, picture, png_claiming, refresh, rss
from tidings.ingest.discover import favicon_url, find_icon_links
from tidings.models import ArticleIn
from tidings.storage.sqlite import SQLiteStore
from tidings.storage.store import Store
from tidings.web.app import create_app
from tidings.web.diskcache import DiskCache, cache_key
from tidings.web.images import MAX_IMAGE_BYTES
from tidings.web.pictures import ICON_SIZE, MAX_PIXELS, icon, letter_badge, sniff_image, thumbnails

SECRET = "correct-horse-battery-staple-0123456789"
# Pillow warns of the bombs these tests send before Tidings refuses them (web.pictures silences it; pytest
# resets warning filters for each test).
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


def size_of(data: bytes) -> tuple[int, int]:
    with PILImage.open(io.BytesIO(data)) as im:
        return im.size


def exif_of(data: bytes) -> dict[int, object]:
    with PILImage.open(io.BytesIO(data)) as im:
        return dict(im.getexif())


def camera_exif() -> bytes:
    exif = PILImage.Exif()
    exif[0x013B] = "Jane Photographer"  # Artist
    exif[0x010F] = "Camera Maker"  # Make
    return exif.tobytes()


# -- the pure part: scaling, encoding, refusing ---------------------------------------------------------------


def test_thumbnails_are_bounded_reencoded_and_carry_no_metadata() -> None:
    wide = picture(2000, 1000, "JPEG", exif=camera_exif())
    assert exif_of(wide)  # the original does carry it
    made = thumbnails(wide, (320, 960))
    assert made is not None and set(made) == {320, 960}
    assert size_of(made[320]) == (320, 160) and size_of(made[960]) == (960, 480)
    assert all(sniff_image(b) == "image/webp" and not exif_of(b) for b in made.values())
    tall = thumbnails(picture(1000, 3000), (320,))
    assert tall is not None and size_of(tall[320]) == (107, 320)  # no taller than the width either
    small = thumbnails(picture(100, 50, "GIF"), (320, 960))
    assert small is not None and size_of(small[320]) == size_of(small[960]) == (100, 50)  # never enlarged


@pytest.mark.parametrize("data", [
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    b"<html><body>not a picture</body></html>",
    b"\xff\xd8\xff\xe0" + b"\x00" * 100,  # a JPEG's first bytes, then nothing a decoder can use
    picture(40, 40)[:60],  # a PNG cut short
    png_claiming(8000, 8000),  # 64 million pixels: over MAX_PIXELS, refused from the header
    png_claiming(100_000, 100_000),  # over twice that: Pillow's own guard refuses it too
    b"",
])
def test_what_is_not_a_readable_picture_is_refused(data: bytes) -> None:
    assert thumbnails(data) is None and icon(data) is None


def test_a_decompression_bomb_is_refused_by_its_pixel_count() -> None:
    bomb, budget = blank_png(7000, 6000), blank_png(6000, 6000)  # 42 and 36 million pixels, a few KB each
    assert len(bomb) < 10_000 and 7000 * 6000 > MAX_PIXELS == 6000 * 6000
    assert thumbnails(bomb) is None and icon(bomb) is None
    made = thumbnails(budget, (320,))  # the same picture within the budget decodes
    assert made is not None and size_of(made[320]) == (320, 320)


def test_a_polled_article_takes_its_picture_from_its_page_when_the_feed_has_none(store: Store,
                                                                                 news_server: NewsServer) -> None:
    body = "<p>" + "The harbour wall will be rebuilt over three years, the council said on Monday. " * 10 + "</p>"
    page = news_server.add("/news/wall", f'<html><head><title>Wall</title><meta property="og:image" '
                                         f'content="/pics/wall.jpg"></head><body><article>{body}</article></body></html>')
    feed = news_server.add("/feed", rss([("g1", page, "Harbour wall to be rebuilt")]), FEED_TYPE)
    source_id, _ = store.add_source(feed, "Gazette", fulltext="always")
    assert refresh(store, source_id).new == 1
    [row] = store.latest_articles(source_id=source_id)
    assert row["image_url"] == news_server.url("/pics/wall.jpg")


# -- the disk cache ---------------------------------------------------------------------------------------


def test_the_disk_cache_stays_within_its_bound_and_drops_the_least_recently_used(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "c", 10_000)
    keys = [cache_key("item", str(n)) for n in range(12)]
    for n, key in enumerate(keys):
        assert cache.put(key, bytes([n]) * 2_000)
        os.utime(cache._path(key), (1_000_000 + n, 1_000_000 + n))  # written in this order, long ago
        if n == 3:
            assert cache.get(keys[0]) == bytes([0]) * 2_000  # used again: stamped now, so kept
        assert cache.usage() <= 10_000
    assert cache.get(keys[0]) is not None and cache.get(keys[-1]) is not None
    assert cache.get(keys[1]) is None  # the oldest unused went first
    assert not cache.put(cache_key("big"), b"x" * 2_501)  # over a quarter of the bound: not kept
    assert not list((tmp_path / "c" / "tmp").iterdir())  # nothing half-written left behind


WRITER = textwrap.dedent("""
    import hashlib, sys
    from pathlib import Path
    from tidings.web.diskcache import DiskCache, cache_key
    cache = DiskCache(Path(sys.argv[1]), int(sys.argv[2]))
    for n in range(200):
        key = cache_key("k", str(n % 40))  # every process writes the same keys, with content of its own
        body = (sys.argv[3] * 700 + str(n)).encode()
        cache.put(key, hashlib.sha256(body).digest() + body)
        other = cache.get(cache_key("k", str((n * 7) % 40)))
        if other is not None and hashlib.sha256(other[32:]).digest() != other[:32]:
            sys.exit("read a file another process was still writing")
""")


def test_several_processes_share_one_cache(tmp_path: Path) -> None:
    bound = 20_000
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(bound), tag], env=env,
                                stderr=subprocess.PIPE) for tag in "abc"]
    for w in writers:
        _, err = w.communicate(timeout=120)
        assert w.returncode == 0, err.decode()
    cache = DiskCache(tmp_path, bound)
    # Each process counts again after writing a tenth of the bound, so together they overshoot by that at most.
    assert cache.usage() <= bound * 1.3
    cache.trim()
    assert cache.usage() <= bound


# -- /image through the web ------------------------------------------------------------------------------


def add_article(store: Store, n: int, image_url: str, source: str = "Daily Planet") -> int:
    sid = store.import_source(source)
    return store.insert_article(ArticleIn(url=f"https://planet.example/{n}", title=f"Headline {n}", source_id=sid,
                                          text="Some text.", image_url=image_url), content_hash=str(n))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = SQLiteStore(tmp_path / "t.db")
    yield s
    s.close()


def test_thumbnails_are_served_scaled_and_kept_on_disk(store: Store, news_server: NewsServer,
                                                       tmp_path: Path) -> None:
    news_server.add("/wide.jpg", picture(1600, 900, "JPEG", exif=camera_exif()), "image/jpeg")
    aid = add_article(store, 1, news_server.url("/wide.jpg"))
    with TestClient(create_app(store, SECRET)) as c:
        small, large = c.get(f"/image/{aid}?w=320"), c.get(f"/image/{aid}?w=960")
        for r, size in ((small, (320, 180)), (large, (960, 540))):
            assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
            assert size_of(r.content) == size and not exif_of(r.content)
        assert c.get(f"/image/{aid}").content == large.content  # no width: the largest
        for bad in ("500", "0", "-320"):
            r = c.get(f"/image/{aid}?w={bad}")
            assert r.status_code == 400 and "320, 960" in r.text
        assert c.get(f"/image/{aid}?w=wide").status_code == 400
    assert news_server.hits("/wide.jpg") == 1  # one fetch for every width
    assert list((tmp_path / "t.db.pictures").rglob("*"))  # beside the database
    with TestClient(create_app(store, SECRET)) as c:  # a new server process: the pictures are on disk
        assert c.get(f"/image/{aid}?w=320").content == small.content
        assert c.get(f"/image/{aid}?w=960").content == large.content
    assert news_server.hits("/wide.jpg") == 1


def test_pictures_that_cannot_be_served_are_refused_and_nothing_crashes(store: Store,
                                                                        news_server: NewsServer) -> None:
    bad = {
        "svg": ("/p.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                "image/svg+xml"),
        "html": ("/p.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg"),
        "large": ("/big.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * (MAX_IMAGE_BYTES + 1), "image/jpeg"),
        "bomb": ("/bomb.png", blank_png(7000, 6000), "image/png"),
        "broken": ("/broken.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 500, "image/jpeg"),
    }
    ids = {}
    for n, (name, (path, body, kind)) in enumerate(bad.items()):
        news_server.add(path, body, kind)
        ids[name] = add_article(store, n, news_server.url(path))
    good = add_article(store, 99, news_server.add("/ok.png", picture(50, 50), "image/png"))
    with TestClient(create_app(store, SECRET)) as c:
        for name, aid in ids.items():
            for _ in range(2):
                r = c.get(f"/image/{aid}?w=320")
                assert r.status_code == 404 and r.headers["content-type"].startswith("text/plain"), name
        assert c.get(f"/image/{good}?w=320").status_code == 200  # the server goes on
    assert [news_server.hits(path) for path, _, _ in bad.values()] == [1] * len(bad)  # failures remembered


def test_the_picture_cache_stays_within_its_bound_through_the_web(store: Store, news_server: NewsServer,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("TIDINGS_IMAGE_CACHE_MB", str(120_000 / 2**20))
    ids = [add_article(store, n, news_server.add(f"/p{n}.png", picture(200, 200, noise=n), "image/png"))
           for n in range(12)]  # each kept at two widths, ~24 KB each
    with TestClient(create_app(store, SECRET)) as c:
        sizes = [len(c.get(f"/image/{aid}?w=960").content) for aid in ids]
    assert sum(sizes) > 120_000  # more than the bound was served
    assert DiskCache(tmp_path / "t.db.pictures", 120_000).usage() <= 120_000


def test_a_private_address_is_refused_without_the_setting(store: Store, news_server: NewsServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIDINGS_ALLOW_PRIVATE_NETWORKS")
    aid = add_article(store, 1, news_server.add("/p.png", picture(50, 50), "image/png"))
    site = news_server.add("/", '<link rel="icon" href="/i.png">')
    news_server.add("/i.png", picture(64, 64), "image/png")
    sid, _ = store.add_source(news_server.url("/feed"), "Local Paper", site_url=site)
    with TestClient(create_app(store, SECRET)) as c:
        assert c.get(f"/image/{aid}?w=320").status_code == 404
        r = c.get(f"/icon/{sid}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"  # the badge
    assert news_server.requests == []
    assert store.source_icon(sid) is None  # a refusal is no finding about the site


# -- source icons ----------------------------------------------------------------------------------------


def test_icon_links_are_ranked_for_a_small_square() -> None:
    page = """<html><head><base href="https://cdn.example/assets/">
      <link rel="icon" href="tiny.png" sizes="16x16">
      <link rel="mask-icon" href="mask.svg">
      <link rel="icon" type="image/svg+xml" href="logo.svg">
      <link rel="apple-touch-icon" href="/touch.png">
      <link rel="shortcut icon" href="/favicon.ico">
      <link rel="icon" href="i48.png" sizes="48x48 96x96">
      <link rel="icon" href="i32.png" sizes="32x32">
      <link rel="stylesheet" href="style.css"></head></html>"""
    assert find_icon_links(page, "https://news.example/") == [
        "https://cdn.example/assets/i32.png", "https://cdn.example/assets/i48.png", "https://cdn.example/touch.png",
        "https://cdn.example/favicon.ico", "https://cdn.example/assets/tiny.png"]
    assert find_icon_links(b"", "https://news.example/") == [] and find_icon_links("garbage<", "x") == []
    assert favicon_url("https://News.Example:8443/world/") == "https://news.example:8443/favicon.ico"
    assert favicon_url("javascript:alert(1)") == ""


def test_an_icon_from_the_sites_link_rel_icon(store: Store, news_server: NewsServer) -> None:
    site = news_server.add("/", '<html><head><link rel="icon" href="/static/logo.png" sizes="64x64"></head></html>')
    news_server.add("/static/logo.png", picture(64, 40), "image/png")
    news_server.add("/favicon.ico", picture(48, 48, "ICO"), "image/x-icon")
    sid, _ = store.add_source(news_server.url("/feed.xml"), "Gazette", site_url=site)
    with TestClient(create_app(store, SECRET)) as c:
        r = c.get(f"/icon/{sid}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert size_of(r.content) == (ICON_SIZE, ICON_SIZE) and "max-age=86400" in r.headers["cache-control"]
        assert c.get(f"/icon/{sid}").content == r.content
        assert c.get("/icon/999999").status_code == 404
    assert news_server.hits("/static/logo.png") == 1 and news_server.hits("/favicon.ico") == 0
    assert store.source_icon(sid)["icon_url"] == news_server.url("/static/logo.png")  # type: ignore[index]
    with TestClient(create_app(store, SECRET)) as c:  # another process: neither the page nor the icon again
        assert c.get(f"/icon/{sid}").content == r.content
    assert news_server.hits("/") == 1 and news_server.hits("/static/logo.png") == 1


def test_an_icon_from_favicon_ico(store: Store, news_server: NewsServer) -> None:
    news_server.add("/", "<html><head><title>No icon named</title></head></html>")
    news_server.add("/favicon.ico", picture(48, 48, "ICO", sizes=[(16, 16), (48, 48)]), "image/vnd.microsoft.icon")
    sid, _ = store.add_source(news_server.url("/rss"), "Courier")  # no site URL: the root of the feed's host
    with TestClient(create_app(store, SECRET)) as c:
        r = c.get(f"/icon/{sid}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert size_of(r.content) == (ICON_SIZE, ICON_SIZE)
    assert news_server.hits("/") == news_server.hits("/favicon.ico") == 1


def test_a_site_without_a_usable_icon_gets_a_letter_badge(store: Store, news_server: NewsServer) -> None:
    news_server.add("/", '<link rel="icon" type="image/svg+xml" href="/logo.svg"><link rel="icon" href="/x.png">')
    news_server.add("/logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml")
    news_server.add("/x.png", b"<html>not a picture</html>", "image/png")
    sid, _ = store.add_source(news_server.url("/rss"), "<script>alert(1)</script> Herald",
                              site_url=news_server.url("/"))
    with TestClient(create_app(store, SECRET)) as c:
        r = c.get(f"/icon/{sid}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
        assert r.headers["cache-control"] == "public, max-age=600"  # the real icon may come later
        assert ">S</text>" in r.text and "script" not in r.text and "alert" not in r.text
        c.get(f"/icon/{sid}")
    assert news_server.hits("/logo.svg") == 0 and news_server.hits("/x.png") == 1
    assert news_server.hits("/favicon.ico") == 1 and news_server.hits("/") == 1
    assert store.source_icon(sid)["icon_url"] == ""  # type: ignore[index]  # none, for a day
    with TestClient(create_app(store, SECRET)) as c:
        assert c.get(f"/icon/{sid}").headers["content-type"] == "image/svg+xml"
    assert news_server.hits("/") == 1
    assert letter_badge("  42 News") != letter_badge("Herald") and b">4</text>" in letter_badge("  42 News")


# -- pages ------------------------------------------------------------------------------------------------


def test_pages_and_their_api_carry_tidings_own_picture_addresses(store: Store) -> None:
    aid = add_article(store, 1, "https://img.example/a.jpg")
    bare = add_article(store, 2, "", source="Plain Post")
    store.set_sections(aid, ["World"])
    store.set_sections(bare, ["World"])
    sid = store.import_source("Daily Planet")
    with TestClient(create_app(store, SECRET)) as c:
        items = {i["id"]: i for i in c.get("/api/sections/World").json()["articles"]}
        article = c.get(f"/api/articles/{aid}").json()["article"]
        tree = doc(c.get("/section/World").text)
    assert items[aid]["image"] == f"/image/{aid}?w=320" and items[aid]["icon"] == f"/icon/{sid}"
    assert items[bare]["image"] is None and items[bare]["icon"].startswith("/icon/")
    assert article["image"] == f"/image/{aid}?w=960"
    thumbs = tree.xpath("//img[@class='thumb']")
    assert [t.get("src") for t in thumbs] == [f"/image/{aid}?w=320"]  # an article without one shows none
    icons = tree.xpath("//img[@class='source-icon']")
    assert len(icons) == 2 and all(i.get("alt") == "" and i.get("loading") == "lazy" for i in icons + thumbs)
    assert all(i.get("width") and i.get("height") for i in icons + thumbs)
    assert {i.getnext().text for i in icons} == {"Daily Planet", "Plain Post"}  # beside the outlet's name


def test_a_bug_while_making_a_picture_costs_only_that_picture(store: Store, news_server: NewsServer,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: bytes, widths: object = ()) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("tidings.web.pictures.thumbnails", broken)
    aid = add_article(store, 1, news_server.add("/p.png", picture(50, 50), "image/png"))
    with TestClient(create_app(store, SECRET), raise_server_exceptions=False) as c:
        assert [c.get(f"/image/{aid}?w=320").status_code for _ in range(2)] == [404, 404]
        assert c.get("/").status_code == 200
    assert news_server.hits("/p.png") == 1
