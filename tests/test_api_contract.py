"""The JSON API keeps the contract /openapi.json states, and every address answers HEAD and OPTIONS.

Schemathesis (every check, a fixed seed, a bounded number of examples) runs against a live server on 127.0.0.1,
once with the admin token and once without. Writes with the token really change the seeded data. The server can
reach nothing outside loopback: for these tests the fetcher resolves no host names and connects to loopback
addresses only, so a feed URL schemathesis makes up is refused before any packet leaves.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from newsserver import check_api, serve
from tidings.ingest import fetch, pipeline
from tidings.storage.sqlite import SQLiteStore
from tidings.storage.store import Store
from tidings.web.app import create_app
from tidings.web.openapi import JSONL_EXAMPLE
from tidings.web.schemas import ArticleLine

pytestmark = pytest.mark.usefixtures("quick_polling")

SECRET = "contract-secret-0123456789-abcdef"
AUTH = {"Authorization": f"Bearer {SECRET}"}
SEED = 20240501
MAX_EXAMPLES = 20
ADMIN_OPERATIONS = {"POST /api/sources", "PATCH /api/sources/{source_id}", "DELETE /api/sources/{source_id}",
                    "POST /api/sources/{source_id}/refresh", "POST /api/refresh", "POST /api/import/opml",
                    "POST /api/import/jsonl"}

# Where a schema-valid request may still be refused with a documented 400, because validity depends on more than
# the schema can say: the feed found at a URL (here: none, as nothing outside loopback is reached), the contents of
# an OPML document, whether a source has a feed to poll, whether a keep or block rule is a regular expression RE2
# takes. Everywhere else schema-valid input must be accepted.
CONFIG = """
[[operations]]
include-name = ["POST /api/sources", "PATCH /api/sources/{source_id}", "POST /api/import/opml",
                "POST /api/sources/{source_id}/refresh"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429"]
"""




@dataclass
class Guard:
    """Counts what the fetcher asked; it resolved nothing and connected only to loopback."""

    lookups: int = 0
    vetted: int = 0


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Guard:
    """Every Fetcher in this process (sources, pictures) resolves no names and connects to loopback only."""
    guard = Guard()

    async def no_dns(host: str, port: int) -> list[str]:
        guard.lookups += 1
        raise OSError(f"no name lookups in this test ({host})")

    def loopback(ip: fetch.IPAddress) -> str | None:
        guard.vetted += 1
        return None if ip.is_loopback else "non-loopback"

    def policy(allow_private: bool = False) -> fetch.AddressPolicy:
        return loopback

    monkeypatch.setattr(fetch, "system_resolver", no_dns)
    monkeypatch.setattr(fetch, "public_only", policy)
    return guard


def seed(store: Store) -> None:
    """A feed on a closed loopback port, and a few imported articles (the API docs' example among them)."""
    store.add_source("http://127.0.0.1:9/feed.xml", "Loopback Times", section="Local", fulltext="never")
    lines = [JSONL_EXAMPLE.strip()] + [
        json.dumps({"url": f"https://news.example.org/2024/05/story-{n}", "title": f"Harbour bridge reopens, part {n}",
                    "source": "Example News", "section": "World", "published": f"2024-05-0{n + 1}T08:00:00Z",
                    "text": "The harbour bridge reopened on Monday after six weeks of repairs. " * 4})
        for n in range(4)]
    report = pipeline.import_jsonl(store, lines)
    assert not report.errors, report.errors


@dataclass
class Live:
    base: str
    store: Store


@pytest.fixture
def live(tmp_path: Path, loopback_only: Guard) -> Iterator[Live]:
    """uvicorn serving a seeded database on a free loopback port, in this process."""
    store = SQLiteStore(tmp_path / "contract.db")
    seed(store)
    try:
        with serve(create_app(store, SECRET, analyse=False)) as base:
            yield Live(base, store)
    finally:
        store.close()


def schemathesis(live: Live, workdir: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """`schemathesis run` with every check; returns the finished process and its JSON report."""
    pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra: pip install -e '.[dev]'")
    config = workdir / "schemathesis.toml"
    config.write_text(CONFIG)
    report = workdir / "report.json"
    command = [sys.executable, "-c", "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())",
               "--config-file", str(config), "--no-color", "run", f"{live.base}/openapi.json",
               "--checks", "all", "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
               "--generation-database", "none", "--workers", "1", "--request-timeout", "30",
               "--report", "json", "--report-json-path", str(report), *extra]
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300)
    assert report.exists(), done.stdout[-4000:] + done.stderr[-4000:]
    return done, json.loads(report.read_text())


def assert_clean(done: subprocess.CompletedProcess[str], report: dict[str, Any]) -> None:
    output = (done.stdout + done.stderr)[-8000:]
    assert done.returncode == 0 and report["exit_code"] == 0, output
    assert report["failures"] == [] and report["errors"] == [], output
    assert report["operations"]["tested"] == report["operations"]["total"] == 19, report["operations"]
    assert report["test_cases"]["generated"] > 300 and report["test_cases"]["with_failures"] == 0, report["test_cases"]
    assert {name: phase["status"] for name, phase in report["phases"].items()} == dict.fromkeys(
        ("examples", "coverage", "fuzzing", "stateful"), "success"), report["phases"]


@pytest.mark.slow
def test_schemathesis_with_the_admin_token(live: Live, tmp_path: Path, loopback_only: Guard) -> None:
    done, report = schemathesis(live, tmp_path, "--header", f"Authorization: Bearer {SECRET}",
                                "--generation-with-security-parameters", "false")
    assert_clean(done, report)
    assert report["warnings"]["missing_auth"] == [], "with the token every write route was reached"
    assert loopback_only.vetted + loopback_only.lookups > 0, "new sources were tried, through the loopback guard"


@pytest.mark.slow
def test_schemathesis_without_a_token(live: Live, tmp_path: Path) -> None:
    done, report = schemathesis(live, tmp_path)
    assert_clean(done, report)
    assert set(report["warnings"]["missing_auth"]) == ADMIN_OPERATIONS, "no write route answered without the token"


# -- the same promises, one by one -------------------------------------------------------------------------


@pytest.fixture
def client(tmp_path: Path, loopback_only: Guard) -> Iterator[TestClient]:
    store = SQLiteStore(tmp_path / "t.db")
    seed(store)
    with TestClient(create_app(store, SECRET, analyse=False)) as c:
        check_api(c, c.app)  # every API answer here is checked against its documented model
        yield c
    store.close()


def asgi(app: Any, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """One request straight through the ASGI app: what it sends, before any HTTP client drops a HEAD body."""
    messages: list[dict[str, Any]] = []
    requested = False

    async def run() -> None:
        done = asyncio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()  # as a server does: the client goes once the response is complete
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                done.set()

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
                 "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 5000),
                 "server": ("testserver", 80)}
        await asyncio.wait_for(app(scope, receive, send), 30)

    asyncio.run(run())
    start = messages[0]
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, b"".join(m.get("body", b"") for m in messages[1:])


@pytest.mark.parametrize("path", ["/", "/sections", "/sources", "/api/home", "/api/sources", "/api/sources/1",
                                  "/openapi.json", "/static/style.css"])
def test_head_answers_like_get_without_a_body(client: TestClient, path: str) -> None:
    status, headers, body = asgi(client.app, "GET", path)
    head_status, head_headers, head_body = asgi(client.app, "HEAD", path)
    assert status == head_status == 200 and body and head_body == b"", path
    for name in ("content-type", "content-length", "content-security-policy", "x-content-type-options"):
        assert head_headers.get(name) == headers.get(name), (path, name)
    assert "allow" not in head_headers


def test_head_of_a_missing_page_is_404(client: TestClient) -> None:
    assert asgi(client.app, "HEAD", "/article/999999")[0] == 404
    assert asgi(client.app, "HEAD", "/api/articles/999999")[0] == 404


def test_head_does_not_leave_an_empty_page_in_the_cache(client: TestClient) -> None:
    assert asgi(client.app, "HEAD", "/")[2] == b""
    again = client.get("/")
    assert again.status_code == 200 and "Harbour bridge reopens" in again.text
    assert again.headers["x-tidings-cache"] == "hit", "HEAD filled the cache with the whole page"


@pytest.mark.parametrize(("path", "allow"), [
    ("/api/sources/1", "GET, HEAD, PATCH, DELETE, OPTIONS"),
    ("/api/sources", "GET, HEAD, POST, OPTIONS"),
    ("/api/sources/1/refresh", "POST, OPTIONS"),
    ("/api/import/opml", "POST, OPTIONS"),
    ("/", "GET, HEAD, OPTIONS"),
    ("/login", "GET, HEAD, POST, OPTIONS"),
])
def test_options_and_405_list_every_method_of_the_path(client: TestClient, path: str, allow: str) -> None:
    r = client.options(path)
    assert r.status_code == 204 and r.headers["allow"] == allow and r.content == b""
    assert r.headers["x-frame-options"] == "DENY", "the security headers come with it"
    refused = client.put(path)
    assert refused.status_code == 405 and refused.headers["allow"] == allow


def test_options_elsewhere_is_left_alone(client: TestClient) -> None:
    assert client.options("/no/such/page").status_code == 404
    r = client.options("/static/style.css")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


def test_options_does_not_empty_the_page_cache(client: TestClient) -> None:
    client.get("/")
    client.options("/")
    assert client.get("/").headers["x-tidings-cache"] == "hit"


def test_the_document_states_bodies_and_every_status(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    opml = doc["paths"]["/api/import/opml"]["post"]["requestBody"]
    jsonl = doc["paths"]["/api/import/jsonl"]["post"]["requestBody"]
    assert opml["required"] and set(opml["content"]) == {"application/xml", "text/xml", "text/x-opml"}
    assert set(jsonl["content"]) == {"application/x-ndjson", "application/jsonl", "text/plain"}
    assert "422" not in json.dumps(doc) and "HTTPValidationError" not in json.dumps(doc), "bad input is 400"
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            if "security" in operation:
                assert {"401", "403", "429"} <= codes, (method, path)
                assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
                assert "Retry-After" in operation["responses"]["429"]["headers"]
            if "{" in path:
                assert "404" in codes, (method, path)
            if operation.get("parameters") and any(p["in"] == "query" for p in operation["parameters"]):
                assert "400" in codes, (method, path)
            for code in codes - {"200"}:
                schema = operation["responses"][code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, code)


def schema_of(doc: dict[str, Any], ref: dict[str, str]) -> dict[str, Any]:
    return doc["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


def test_every_answer_has_an_object_schema(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
            model = schema_of(doc, ok)
            assert model["type"] == "object" and model["properties"] and model["required"], (method, path)


def test_paging_is_documented(client: TestClient) -> None:
    """Every route that takes ?page=N says how, and answers the `pagination` of the documented fields."""
    doc = client.get("/openapi.json").json()
    paged = set()
    for path, item in doc["paths"].items():
        for operation in item.values():
            page = next((p for p in operation.get("parameters", []) if p["name"] == "page"), None)
            if page is None:
                continue
            paged.add(path)
            assert page["in"] == "query" and page["schema"]["minimum"] == 1 and "pagination" in page["description"]
            assert "404" in operation["responses"], "a page past the last"
            answer = schema_of(doc, operation["responses"]["200"]["content"]["application/json"]["schema"])
            assert answer["properties"]["pagination"] == {"$ref": "#/components/schemas/Pagination"}, path
    assert {"/api/latest", "/api/sections/{name}", "/api/sources/{source_id}", "/api/search", "/api/sources",
            "/api/stories", "/api/stories/{story_id}"} <= paged
    pagination = doc["components"]["schemas"]["Pagination"]
    assert set(pagination["required"]) == {"page", "per_page", "prev_page", "next_page"}
    assert set(pagination["properties"]) == set(pagination["required"]) | {"total", "pages"}  # where counted
    assert all(field.get("description") for field in pagination["properties"].values())
    latest = client.get("/api/latest").json()["pagination"]
    assert latest == {"page": 1, "per_page": 30, "prev_page": None, "next_page": None}
    counted = client.get("/api/sources").json()
    assert counted["pagination"]["total"] == len(counted["sources"]) and counted["pagination"]["pages"] == 1


def test_a_json_lines_body_is_what_article_line_documents(client: TestClient) -> None:
    """Each line of a JSON Lines import is an ArticleLine: its required fields are the ones the import needs,
    and every field it names is stored."""
    doc = client.get("/openapi.json").json()
    body = doc["paths"]["/api/import/jsonl"]["post"]["requestBody"]
    assert all(media["x-itemSchema"] == {"$ref": "#/components/schemas/ArticleLine"}
               for media in body["content"].values())
    line = doc["components"]["schemas"]["ArticleLine"]
    full = {"url": "https://news.example.org/2024/06/ferry", "title": "Ferry returns", "source": "Example News",
            "text": "The ferry returned to service on Tuesday. Crews had repaired the hull.",
            "summary": "Back in service.", "published": "2024-06-04T07:30:00Z", "language": "en",
            "section": "Harbour"}
    assert set(full) == set(line["properties"]) and set(line["required"]) == {"url", "title", "source"}
    ArticleLine.model_validate(full, extra="forbid", strict=True)
    r = client.post("/api/import/jsonl", content=json.dumps(full), headers=AUTH)
    assert r.status_code == 200 and r.json()["imported"] == 1
    stored = client.get("/api/similar", params={"url": full["url"]}).json()["article"]
    article = client.get(f"/api/articles/{stored['id']}").json()["article"]
    assert {key: article[key] for key in ("title", "source", "text", "summary", "published", "language", "section")
            } == {key: full[key] for key in ("title", "source", "text", "summary", "published", "language", "section")}
    for key in line["required"]:
        partial = {k: v for k, v in full.items() if k != key}
        r = client.post("/api/import/jsonl", content=json.dumps(partial), headers=AUTH)
        assert r.json()["skipped"] == 1 and key in r.json()["errors"][0]["message"], key


def test_write_routes_refuse_without_the_right_token(client: TestClient) -> None:
    r = client.delete("/api/sources/1")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer" and set(r.json()) == {"error"}
    assert client.delete("/api/sources/1", headers={"Authorization": "Bearer not-it-not-it-not-it"}).status_code == 403


def test_patch_bodies_mean_what_the_schema_says(client: TestClient) -> None:
    r = client.patch("/api/sources/1", json={"name": None}, headers=AUTH)
    assert r.status_code == 400 and "leave the field out" in r.json()["error"]
    r = client.patch("/api/sources/1", json={"section": "World"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["source"]["section"] == "World"
    assert r.json()["source"]["name"] == "Loopback Times", "a field left out keeps its value"


def test_a_url_urllib_cannot_parse_is_a_400_not_a_crash(client: TestClient) -> None:
    r = client.post("/api/sources", json={"url": "http://["}, headers=AUTH)
    assert r.status_code == 400 and "not an http(s) URL" in r.json()["error"]


def test_imports_take_their_documented_media_types(client: TestClient) -> None:
    from tidings.web.openapi import OPML_EXAMPLE

    r = client.post("/api/import/opml", content=OPML_EXAMPLE, headers={**AUTH, "Content-Type": "text/x-opml"})
    assert r.status_code == 200 and r.json()["added"] == 1
    line = JSONL_EXAMPLE.replace("harbour-bridge", "harbour-bridge-2")
    r = client.post("/api/import/jsonl", content=line, headers={**AUTH, "Content-Type": "application/x-ndjson"})
    assert r.status_code == 200 and r.json()["imported"] == 1
    assert client.post("/api/import/jsonl", headers=AUTH).json()["imported"] == 0, "an empty body imports nothing"


def test_the_fetcher_here_reaches_nothing_beyond_loopback(loopback_only: Guard) -> None:
    async def attempt(url: str) -> fetch.FetchResult:
        async with fetch.Fetcher(fetch.FetchSettings(min_delay=0, jitter=0)) as fetcher:
            return await fetcher.fetch(url)

    for url in ("http://93.184.215.14/", "http://news.example.org/feed.xml", "http://[2606:4700::1]/"):
        result = asyncio.run(attempt(url))
        assert not result.ok and result.error, url
    assert loopback_only.lookups >= 1 and loopback_only.vetted >= 2
