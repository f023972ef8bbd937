"""The Tidings web application: the whole URL map on one screen (the admin side is in ``admin``).

HTML pages and their JSON twins call the same function in ``pages``; errors come back as a friendly page, or as
``{"error": ...}`` under /api/. Routes are plain ``def`` so the blocking Store runs in the thread pool.
Reading is public; changes need the admin secret (see ``auth``).
"""

from __future__ import annotations

import logging
import pathlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings import __version__
from tidings.config import clean_base_url, env_float, public_base_url
from tidings.errors import UserError
from tidings.storage.store import Store
from tidings.web import pages, schemas
from tidings.web.actions import Analysis
from tidings.web.admin import MAX_UPLOAD, UPLOAD_PATHS, install_admin
from tidings.web.atom import FEED_SIZE, latest_feed, section_feed, story_feed
from tidings.web.auth import Sessions, load_admin_secret, session_key
from tidings.web.cache import DEFAULT_MAX_BYTES, DEFAULT_STALE_FOR, PageCache
from tidings.web.compress import Compress
from tidings.web.images import close_images, install_images
from tidings.web.observe import RequestTimer, exposition
from tidings.web.openapi import Methods, errors, install_openapi, operation_id
from tidings.web.render import STATIC, environment, render_error, render_page
from tidings.web.schemas import api_json

# Pictures come from Tidings itself (web.images), never from an address a feed chose.
# Scripts: only Tidings' own files (/static/when.js shows dates in the reader's zone), never one inline.
CSP = "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # no page of Tidings is shown inside another site's frame (clickjacking)
    "Referrer-Policy": "same-origin",  # outlets see no Tidings addresses; our own forms keep their Referer
    "Cross-Origin-Opener-Policy": "same-origin",
}
SESSION_COOKIE = "tidings_session"
SESSION_DAYS = 7
MAX_BODY = 1024 * 1024  # forms and JSON bodies; import uploads may be up to MAX_UPLOAD
DOCS_PATHS = ("/docs",)  # Swagger UI starts with an inline script: the site's CSP would stop it
DOCS_ASSETS = "/docs-assets"
MAX_ID = 2**63 - 1  # SQLite's INTEGER range: larger ids are simply unknown

log = logging.getLogger(__name__)
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
SectionName = Annotated[str, Path(min_length=1, max_length=200, examples=["World"])]
PAGE_HELP = "which page, from 1: the answer's `pagination` names the pages around it; one past the last is 404"
PageNo = Annotated[int, Query(ge=1, le=100_000, description=PAGE_HELP)]
SearchQ = Annotated[str, Query(max_length=500, description="words to find in titles and texts")]


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Page work is Python under one GIL: a pool of 40 threads (the default) only adds contention. Measured with
    # 32 clients: 40 threads 740 req/s, p99 124-149 ms; 2 threads 1,200 req/s, p99 38-45 ms. Two, not one,
    # so that one slow request (a search) does not hold up every other.
    import anyio.to_thread

    anyio.to_thread.current_default_thread_limiter().total_tokens = max(1, int(env_float("TIDINGS_WEB_THREADS", 2)))
    try:
        yield
    finally:
        await close_images(app)


def warm(store: Store) -> None:
    """Do once, before the first reader, what the first render of the pages would do: compile every template,
    read and render the home page (its queries, what the page code imports on first use). Measured on a
    400-article database, quiet machine: the first home page 64 ms and the first article 17 ms without it, 29 and
    4 ms with it (10 and 4 ms once warm); warming takes 0.12 s."""
    env = environment()
    for name in env.list_templates():
        env.get_template(name)
    try:
        render_page("home.html", pages.home_page(store), active="home")
    except Exception:  # a database that cannot be read now: each request says so, the site still starts
        log.warning("the home page could not be rendered ahead of the first reader", exc_info=True)


def _queue_for(store: Store) -> Callable[[], object] | None:
    """On PostgreSQL the workers analyse (``tidings worker``): the site asks them through the queue."""
    if store.dialect != "postgresql":
        return None
    from tidings import queue

    return lambda: queue.defer(store.target, "analyse")


def create_app(store: Store, admin_secret: str | None = None, *, analyse: bool = True,
               analyse_elsewhere: Callable[[], object] | None = None, base_url: str | None = None) -> FastAPI:
    """The whole site over ``store``. Changes need ``admin_secret``: by default TIDINGS_ADMIN_SECRET, else the
    file beside the database (created when missing). With ``analyse`` false, articles added through the site
    wait for the scheduler's next pass instead of being analysed here; ``analyse_elsewhere``, when given, asks
    that scheduler (another process) to start it at once. ``base_url`` is where readers reach the
    site, for absolute links (by default TIDINGS_BASE_URL, else http://127.0.0.1:8080); a request's Host never
    makes a link."""
    secret = admin_secret or load_admin_secret(store.target).value
    base = clean_base_url(base_url, "base_url") if base_url else public_base_url()
    app = FastAPI(title="Tidings", version=__version__, docs_url=None, redoc_url=None, lifespan=_lifespan,
                  generate_unique_id_function=operation_id,
                  description="News from many outlets, grouped into sections and stories, with Similar News. "
                              "Reading is public; changes need the admin secret as a bearer token.")
    # Outermost last: the request timer, headers on every response, HEAD and OPTIONS, gzip, the page cache, the
    # body cap, then the signed session cookie.
    app.state.base_url = base
    app.add_middleware(Sessions, secret_key=session_key(secret), session_cookie=SESSION_COOKIE,
                       max_age=SESSION_DAYS * 24 * 3600, same_site="lax", https_only=base.startswith("https:"))
    app.add_middleware(BodyLimit)
    cache_mb = env_float("TIDINGS_PAGE_CACHE_MB", DEFAULT_MAX_BYTES / 2**20)
    app.add_middleware(PageCache, version=store.data_version, max_bytes=int(cache_mb * 2**20),
                       stale_for=env_float("TIDINGS_PAGE_STALE_S", DEFAULT_STALE_FOR))
    app.add_middleware(Compress)
    app.add_middleware(Methods, router=app.router)  # OPTIONS, HEAD as GET, a full Allow on 405 (see openapi)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestTimer, router=app.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_docs(app)
    install_error_handlers(app)
    install_openapi(app)
    app.state.analysis = Analysis(store, enabled=analyse, enqueue=analyse_elsewhere or _queue_for(store))
    install_admin(app, store, secret, app.state.analysis)
    install_images(app, store)

    @app.get("/healthz", tags=["operators"], response_model=schemas.Health, responses=errors(503))
    def healthz() -> JSONResponse:
        """200 with the counts an operator watches while the database answers; 503 when it does not."""
        try:
            body, status = pages.health(store), 200
        except Exception as exc:  # any failure to read is what a monitor must see
            body, status = {"error": f"the database cannot be read ({type(exc).__name__})"}, 503
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus' text format: this process's counters and histograms, and the database's gauges."""
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(exposition(store), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:  # browsers ask for it on every site; Tidings' own mark answers
        return RedirectResponse("/static/favicon.svg", status_code=301)

    # -- HTML pages ---------------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home() -> HTMLResponse:
        return render_page("home.html", pages.home_page(store), active="home")

    @app.get("/sections", response_class=HTMLResponse, include_in_schema=False)
    def sections() -> HTMLResponse:
        return render_page("sections.html", pages.sections_page(store), active="sections")

    @app.get("/section/{name:path}", response_class=HTMLResponse, include_in_schema=False)
    def section(name: SectionName, page: PageNo = 1) -> HTMLResponse:
        return render_page("section.html", pages.section_page(store, name, page), active="sections")

    @app.get("/article/{article_id}", response_class=HTMLResponse, include_in_schema=False)
    def article(article_id: Id) -> HTMLResponse:
        return render_page("article.html", pages.article_page(store, article_id))

    @app.get("/story/{story_id}", response_class=HTMLResponse, include_in_schema=False)
    def story(story_id: Id, page: PageNo = 1) -> HTMLResponse:
        return render_page("story.html", pages.story_page(store, story_id, page), active="home")

    @app.get("/sources", response_class=HTMLResponse, include_in_schema=False)
    def sources(page: PageNo = 1) -> HTMLResponse:
        return render_page("sources.html", pages.sources_page(store, page), active="sources")

    @app.get("/latest", response_class=HTMLResponse, include_in_schema=False)
    def latest(page: PageNo = 1) -> HTMLResponse:
        return render_page("latest.html", pages.latest_page(store, page), active="home")

    @app.get("/source/{source_id}", response_class=HTMLResponse, include_in_schema=False)
    def source(source_id: Id, page: PageNo = 1) -> HTMLResponse:
        return render_page("source.html", pages.source_page(store, source_id, page), active="sources")

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search(q: SearchQ = "", page: PageNo = 1) -> HTMLResponse:
        return render_page("search.html", pages.search_page(store, q, page), active="search")

    @app.get("/feeds/section/{name:path}.atom", include_in_schema=False)
    def section_atom(name: SectionName) -> Response:
        rows = pages.feed_rows(store, section=name, limit=FEED_SIZE)
        if not rows and not store.has_source_section(name):  # a source's section has a feed before any article
            raise pages.NotFound(f"There is no section named “{name}”.")
        body = section_feed(name, rows, base_url=base)
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    @app.get("/feeds/story/{story_id}.atom", include_in_schema=False)
    def story_atom(story_id: Id) -> Response:
        try:
            story, rows = pages.story_feed_rows(store, story_id, FEED_SIZE)
        except pages.StoryMoved as moved:  # a feed reader follows the story to its new feed
            return RedirectResponse(pages.story_feed_path(moved.to_id), status_code=301,
                                    headers={"Cache-Control": "no-cache"})
        body = story_feed(story, rows, base_url=base)
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    @app.get(pages.LATEST_FEED_PATH, include_in_schema=False)
    def latest_atom() -> Response:
        body = latest_feed(pages.feed_rows(store, limit=FEED_SIZE), base_url=base)
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    # -- JSON API: the same dicts, described by the models of ``schemas`` -------------------------------------
    @app.get("/api/home", tags=["pages"], response_model=schemas.HomePage)
    def api_home() -> Response:
        return api_json(pages.home_page(store))

    @app.get("/api/latest", tags=["articles"], response_model=schemas.LatestPage, responses=errors(400, 404))
    def api_latest(page: PageNo = 1) -> Response:
        return api_json(pages.latest_page(store, page))

    @app.get("/api/sections", tags=["sections"], response_model=schemas.SectionsPage)
    def api_sections() -> Response:
        return api_json(pages.sections_page(store))

    @app.get("/api/sections/{name:path}", tags=["sections"], response_model=schemas.SectionPage,
             responses=errors(400, 404))
    def api_section(name: SectionName, page: PageNo = 1) -> Response:
        return api_json(pages.section_page(store, name, page))

    @app.get("/api/articles/{article_id}", tags=["articles"], response_model=schemas.ArticlePage,
             responses=errors(404))
    def api_article(article_id: Id) -> Response:
        return api_json(pages.article_page(store, article_id))

    @app.get("/api/stories/{story_id}", tags=["stories"], response_model=schemas.StoryPage,
             responses=errors(400, 404))
    def api_story(story_id: Id, page: PageNo = 1) -> Response:
        """A story with its timeline of reports (a page at a time) and its opinion and analysis pieces. A story
        merged into another answers 301, its Location that story."""
        return api_json(pages.story_page(store, story_id, page))

    @app.get("/api/sources", tags=["sources"], response_model=schemas.SourcesPage, responses=errors(400, 404))
    def api_sources(page: PageNo = 1) -> Response:
        return api_json(pages.sources_page(store, page))

    @app.get("/api/sources/{source_id}", tags=["sources"], response_model=schemas.SourcePage,
             responses=errors(400, 404))
    def api_source(source_id: Id, page: PageNo = 1) -> Response:
        return api_json(pages.source_page(store, source_id, page))

    @app.get("/api/search", tags=["articles"], response_model=schemas.SearchPage, responses=errors(400, 404))
    def api_search(q: SearchQ = "", page: PageNo = 1) -> Response:
        """Full-text search, a page at a time; an empty `q` matches nothing."""
        return api_json(pages.search_page(store, q, page))

    # -- contract endpoints ------------------------------------------------------------------------------
    @app.get("/api/similar", tags=["contract"], response_model=schemas.SimilarNews, responses=errors(400, 404))
    def api_similar(url: Annotated[str, Query(min_length=1, max_length=4000, description="the article's URL, as "
                                              "stored or as people paste it (tracking parameters, fragment, "
                                              "scheme and case aside)",
                                              examples=["https://news.example.org/2024/05/harbour-bridge"])],
                    limit: Annotated[int, Query(ge=1, description="the most items (capped at 100)")]
                    = pages.API_SIMILAR_DEFAULT) -> Response:
        """Similar News of the article at `url` from other outlets, best first."""
        return api_json(pages.api_similar(store, url, limit))

    @app.get("/api/stories", tags=["contract"], response_model=schemas.Stories, responses=errors(400, 404))
    def api_stories(limit: Annotated[int, Query(ge=1, description="the most stories to a page (capped at 100000)")]
                    = pages.API_STORIES_DEFAULT, page: PageNo = 1) -> Response:
        """Recent stories with their articles, `limit` to a page; each article is in one story."""
        return api_json(pages.api_stories(store, limit, page))

    return app


# -- errors -----------------------------------------------------------------------------------------------


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_response(request: Request, status: int, message: str) -> Response:
    if _is_api(request):
        return JSONResponse({"error": message}, status_code=status)
    return render_error(status, message)


def _describe(errors: list[Any]) -> str:
    """'page: Input should be greater than or equal to 1' from FastAPI's validation errors."""
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")]
        parts.append(f"{'.'.join(loc) or 'request'}: {err.get('msg', 'invalid value')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    async def not_found(request: Request, exc: Exception) -> Response:
        return error_response(request, 404, str(exc) or "Not found.")

    async def story_moved(request: Request, exc: Exception) -> Response:
        # Story ids can be given out again, so browsers must not keep the redirect: ask them to revalidate.
        assert isinstance(exc, pages.StoryMoved)
        path = pages.api_story_path(exc.to_id) if _is_api(request) else pages.story_path(exc.to_id)
        return RedirectResponse(path, status_code=301, headers={"Cache-Control": "no-cache"})

    async def user_error(request: Request, exc: Exception) -> Response:
        return error_response(request, 400, str(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404:
            message = "There is nothing at this address."
        response = error_response(request, exc.status_code, message)
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code in (401, 403, 413, 429):
            response.headers["Cache-Control"] = "no-store"
        return response

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = list(exc.errors())
        # A malformed id in the path names nothing: that is a missing page, not a bad request.
        if any(err.get("loc", ("",))[0] == "path" for err in errors):
            return error_response(request, 404, "There is nothing at this address.")
        return error_response(request, 400, _describe(errors))

    async def crashed(request: Request, exc: Exception) -> Response:
        # This response leaves through the outermost layer, past SecurityHeaders: give it the headers here.
        response = error_response(request, 500, "Tidings could not show this page. Please try again later.")
        add_security_headers(response.headers, request.url.path)
        return response

    app.add_exception_handler(pages.NotFound, not_found)
    app.add_exception_handler(pages.StoryMoved, story_moved)
    app.add_exception_handler(UserError, user_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, crashed)


def add_security_headers(headers: MutableHeaders, path: str) -> None:
    for name, value in SECURITY_HEADERS.items():
        headers[name] = value
    if path not in DOCS_PATHS:
        headers["Content-Security-Policy"] = CSP


def install_docs(app: FastAPI) -> None:
    """/docs with Swagger UI's own files served from a package: it works offline, and no CDN learns who reads
    the documentation of a self-hosted Tidings. Swagger UI 5 (swagger-ui-py's files; the package itself is not
    imported): older ones cannot show an OpenAPI 3.1 document, which is what FastAPI writes."""
    from importlib.util import find_spec

    from fastapi.openapi.docs import get_swagger_ui_html

    spec = find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed (pip install swagger-ui-py): /docs needs its files")
    assets = pathlib.Path(next(iter(spec.submodule_search_locations))) / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(openapi_url="/openapi.json", title="Tidings API",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg",
                                   # Deep links put a link inside each operation's button (nested controls).
                                   swagger_ui_parameters={"deepLinking": False})
        html = bytes(page.body).decode()
        # A language for screen readers, and colours with enough contrast over Swagger UI's own.
        html = html.replace("<html>", '<html lang="en">', 1).replace(
            "</head>", '<link type="text/css" rel="stylesheet" href="/static/docs.css">\n</head>', 1)
        return HTMLResponse(html)


class SecurityHeaders:
    """Adds the Content-Security-Policy and the other security headers to every response (pure ASGI: no body
    buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_security_headers(MutableHeaders(scope=message), scope.get("path", ""))
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"That is too much data: at most {limit // 1024} KiB may be sent here.")


class BodyLimit:
    """Caps request bodies (import uploads get more room): a declared length over the cap is refused before
    any of it is read, and a body that runs over while streaming stops there."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = MAX_UPLOAD if path.startswith(UPLOAD_PATHS) else MAX_BODY
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            request = Request(scope)
            response = error_response(request, 413, BodyTooLarge(limit).detail)
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
