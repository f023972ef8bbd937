"""The admin side: log in, manage sources, import; and the JSON API for the same changes.

Web forms need a logged-in session, a CSRF token that matches the session's, and (when the browser sends one)
an Origin or Referer naming this site. The API needs ``Authorization: Bearer <admin secret>``: browsers never
add that header on their own, so the API needs no CSRF token. Failed logins and wrong tokens are limited per
client address.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from tidings.errors import UserError
from tidings.ingest.rules import MAX_PATTERN, MAX_RULES
from tidings.storage.store import Store
from tidings.usecases import EVERY_MINUTES, FULLTEXT_CHOICES, MAX_NAME, MAX_SECTION, MAX_URL
from tidings.web import actions, schemas
from tidings.web.actions import Analysis
from tidings.web.auth import (
    CSRF_FIELD,
    FailureLimiter,
    client_key,
    csrf_ok,
    csrf_token,
    flash,
    is_admin,
    log_in,
    safe_next,
    same_origin,
    secret_matches,
    take_flashes,
)
from tidings.web.openapi import ADMIN_ERRORS, JSONL_BODY, OPML_BODY, errors
from tidings.web.pages import source_view
from tidings.web.redact import redacted_url
from tidings.web.render import render_error, render_page
from tidings.web.schemas import api_json

Row = dict[str, Any]
Fulltext = Literal["auto", "always", "never"]
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]  # SQLite's INTEGER range: larger ids are simply unknown

MAX_UPLOAD = 64 * 1024 * 1024  # an import file; other request bodies are capped far lower (see app.BodyLimit)
UPLOAD_PATHS = ("/admin/import", "/api/import/")

bearer = HTTPBearer(auto_error=False, description="The admin secret (print it with `tidings admin-token`).")


# Patterns the actions enforce with their own messages (so they are stated in /openapi.json, not checked here):
# an http(s) URL with a host, and a name that keeps a character once control characters and spaces are removed.
URL_PATTERN = "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]"
NAME_PATTERN = "[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"


# A poll interval: 0 (adapt to the source) or 5 to 1440 minutes (``_number_only`` keeps out true, "30" and such).
Minutes = Literal[0] | Annotated[int, Field(ge=EVERY_MINUTES[0], le=EVERY_MINUTES[1])]
# Keep or block rules: regular expressions (RE2 syntax, case ignored) on an item's headline and text; whether RE2
# takes each one is checked by the use case, with a message naming the pattern.
RuleList = Annotated[list[Annotated[str, Field(max_length=MAX_PATTERN)]], Field(max_length=MAX_RULES)]
KEEP_HELP = "store only items whose headline or text matches one of these regular expressions (none: every item)"
BLOCK_HELP = "never store an item whose headline or text matches one of these regular expressions"


def _number_only(value: object) -> object:
    if isinstance(value, bool | str):
        raise ValueError("a number of minutes")
    return value


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"url": "https://news.example.org/feed.xml", "section": "World", "fulltext": "auto"}]})
    url: str = Field(min_length=1, max_length=MAX_URL, description="a feed URL or a news site's URL",
                     json_schema_extra={"pattern": URL_PATTERN})
    section: str = Field("", max_length=MAX_SECTION)
    name: str = Field("", max_length=MAX_NAME, description="default: the feed's title")
    fulltext: Fulltext = "auto"
    every_minutes: Minutes = Field(0, description="poll every 5 to 1440 minutes; 0: as often as the source publishes")
    keep_rules: RuleList = Field([], description=KEEP_HELP, examples=[["(?i)election"]])
    block_rules: RuleList = Field([], description=BLOCK_HELP, examples=[["^Sponsored:", "horoscope"]])

    _minutes_only = field_validator("every_minutes", mode="before")(_number_only)

    @field_validator("url")
    @classmethod
    def _parses(cls, value: str) -> str:
        try:  # "http://[" is no URL at all: urllib raises, and that must not become a server error
            urlsplit(value.strip())
        except ValueError:
            raise ValueError(f"not an http(s) URL: {value!r}") from None
        return value


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _name_schema(schema: dict[str, Any]) -> None:
    _no_default(schema)
    schema["pattern"] = NAME_PATTERN


class SourcePatch(BaseModel):
    """The fields to change; a field left out keeps its value (null is not a value: leave the field out)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "minProperties": 1, "examples": [{"name": "Example News", "section": "World"}]})
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME)] | SkipJsonSchema[None] = Field(
        None, json_schema_extra=_name_schema)
    section: Annotated[str, Field(max_length=MAX_SECTION)] | SkipJsonSchema[None] = Field(
        None, json_schema_extra=_no_default)
    fulltext: Fulltext | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)
    every_minutes: Minutes | SkipJsonSchema[None] = Field(
        None, description="poll every 5 to 1440 minutes; 0: as often as the source publishes",
        json_schema_extra=_no_default)
    keep_rules: RuleList | SkipJsonSchema[None] = Field(None, description=KEEP_HELP + "; [] removes them",
                                                     json_schema_extra=_no_default)
    block_rules: RuleList | SkipJsonSchema[None] = Field(None, description=BLOCK_HELP + "; [] removes them",
                                                      json_schema_extra=_no_default)

    @field_validator("name", "section", "fulltext", "every_minutes", "keep_rules", "block_rules", mode="before")
    @classmethod
    def _given(cls, value: object) -> object:
        if value is None:
            raise ValueError("null is not a value: leave the field out to keep it")
        return value

    _minutes_only = field_validator("every_minutes", mode="before")(_number_only)


def admin_view(row: Row) -> Row:
    return {**source_view(row), "fulltext": row.get("fulltext") or "auto"}


R = TypeVar("R", bound=Response)


def _no_store(response: R) -> R:
    response.headers["Cache-Control"] = "no-store"
    return response


def install_admin(app: FastAPI, store: Store, secret: str, analysis: Analysis) -> None:
    limiter = FailureLimiter()
    app.state.login_limiter = limiter
    _install_api(app, store, secret, analysis, limiter)
    _install_pages(app, store, secret, analysis, limiter)


# -- JSON API ---------------------------------------------------------------------------------------------


def _install_api(app: FastAPI, store: Store, secret: str, analysis: Analysis, limiter: FailureLimiter) -> None:
    async def require_token(request: Request,
                            creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        if creds is None:
            raise HTTPException(401, "This needs the admin secret: send Authorization: Bearer <secret>.",
                                headers={"WWW-Authenticate": "Bearer"})
        client = client_key(request)
        wait = limiter.wait(client)
        if wait:
            raise HTTPException(429, "Too many wrong secrets; try again later.",
                                headers={"Retry-After": str(math.ceil(wait))})
        if not secret_matches(creds.credentials, secret):
            limiter.fail(client)
            raise HTTPException(403, "Wrong admin secret.")

    api = APIRouter(prefix="/api", tags=["admin"], dependencies=[Depends(require_token)], responses=ADMIN_ERRORS)

    @api.post("/sources", response_model=schemas.SourceAnswer, responses=errors(400, 413))
    async def api_add_source(body: SourceIn) -> Response:
        """Add a feed by feed URL or site URL (the page must link to its feed)."""
        row = await actions.add_source(store, body.url, section=body.section, name=body.name,
                                       fulltext=body.fulltext, every_minutes=body.every_minutes,
                                       keep=body.keep_rules, block=body.block_rules)
        return api_json({"source": admin_view(row)})

    @api.patch("/sources/{source_id}", response_model=schemas.SourceAnswer, responses=errors(400, 404, 413))
    def api_edit_source(source_id: Id, body: SourcePatch) -> Response:
        """Change a source's name, section, full-text setting, poll interval or keep and block rules."""
        row = actions.edit_source(store, source_id, name=body.name, section=body.section, fulltext=body.fulltext,
                                  every_minutes=body.every_minutes, keep=body.keep_rules, block=body.block_rules)
        return api_json({"source": admin_view(row)})

    @api.delete("/sources/{source_id}", response_model=schemas.Removed, responses=errors(404))
    def api_remove_source(source_id: Id) -> Response:
        """Remove a source and all its articles."""
        row = actions.remove_source(store, source_id)
        return api_json({"removed": {"id": row["id"], "name": row["name"]}})

    @api.post("/sources/{source_id}/refresh", response_model=schemas.Refreshed, responses=errors(400, 404))
    async def api_refresh_source(source_id: Id) -> Response:
        """Poll one feed now; Similar News for new articles follows in the background."""
        result = await actions.refresh_source(store, source_id)
        return api_json({"refresh": actions.describe_refresh(result), "analysis": analysis.request()})

    @api.post("/refresh", response_model=schemas.AllRefreshed)
    async def api_refresh_all() -> Response:
        """Poll every feed now, due or not (on PostgreSQL: every feed is made due and the workers poll them
        within seconds); Similar News for new articles follows in the background."""
        report = await actions.refresh_all(store)
        changed = report["new"] or report["updated"]
        return api_json({"refresh": report, "analysis": analysis.request() if changed else "none"})

    @api.post("/import/opml", response_model=schemas.OpmlImported, responses=errors(400, 413),
              openapi_extra=OPML_BODY)
    async def api_import_opml(request: Request) -> Response:
        """Add every feed of the OPML document sent as the request body."""
        report = await actions.off_page_threads(actions.import_opml, store, await request.body())
        return api_json({**report, "analysis": "none"})

    @api.post("/import/jsonl", response_model=schemas.JsonlImported, responses=errors(413), openapi_extra=JSONL_BODY)
    async def api_import_jsonl(request: Request) -> Response:
        """Store the articles sent as the request body, one JSON object per line (url, title, source...)."""
        report = await actions.off_page_threads(actions.import_jsonl, store, await request.body())
        changed = report["imported"] or report["updated"]
        return api_json({**report, "analysis": analysis.request() if changed else "none"})

    app.include_router(api)


# -- pages ------------------------------------------------------------------------------------------------


def _page(request: Request, template: str, data: Row, status: int = 200) -> HTMLResponse:
    data = {**data, "csrf": csrf_token(request.session), "flashes": take_flashes(request.session)}
    return _no_store(render_page(template, data, active="admin", status=status))


def _to_login(request: Request) -> Response:
    target = "/login?next=" + quote(request.url.path, safe="/")
    return RedirectResponse(target, status_code=303)


def _back(request: Request, kind: str, text: str, to: str = "/admin") -> Response:
    flash(request.session, kind, text)
    return RedirectResponse(to, status_code=303)


def _forbidden(message: str) -> Response:
    return _no_store(render_error(403, message))


STALE_FORM = "This form did not come from this Tidings page or has expired. Go back, reload the page and try again."


async def _checked_form(request: Request, *, files: int = 0) -> FormData | Response:
    """The posted form when it may change things; else the response that refuses it."""
    if not same_origin(request):
        return _forbidden("This form was sent from another site.")
    if not is_admin(request.session):
        return _to_login(request)
    form = await request.form(max_files=files, max_fields=20)
    if not csrf_ok(request.session, form.get(CSRF_FIELD)):
        return _forbidden(STALE_FORM)
    return form


def _text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value if isinstance(value, str) else ""


def _minutes(form: FormData) -> int | None:
    """The form's poll interval in minutes: None when left empty (keep it), a UserError when not a number."""
    text = _text(form, "every").strip()
    if not text:
        return None
    if not text.isdigit():
        raise UserError("poll every: give a number of minutes, or 0 to adapt")
    return int(text)


def _rules(form: FormData, key: str) -> list[str] | None:
    """A form's rules, one pattern a line: None when the form has no such field (keep them)."""
    value = form.get(key)
    return value.splitlines() if isinstance(value, str) else None


def _install_pages(app: FastAPI, store: Store, secret: str, analysis: Analysis, limiter: FailureLimiter) -> None:
    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, next: str = "/admin") -> Response:
        if is_admin(request.session):
            return RedirectResponse(safe_next(next), status_code=303)
        return _page(request, "login.html", {"next": safe_next(next)})

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        if not same_origin(request):
            return _forbidden("This form was sent from another site.")
        form = await request.form(max_files=0, max_fields=10)
        target = safe_next(form.get("next"))
        if not csrf_ok(request.session, form.get(CSRF_FIELD)):
            return _forbidden(STALE_FORM)
        client = client_key(request)
        wait = limiter.wait(client)
        if wait:
            flash(request.session, "error", f"Too many wrong secrets. Try again in {math.ceil(wait)} seconds.")
            response = _page(request, "login.html", {"next": target}, status=429)
            response.headers["Retry-After"] = str(math.ceil(wait))
            return response
        if not secret_matches(_text(form, "secret"), secret):
            limiter.fail(client)
            flash(request.session, "error", "That is not the admin secret.")
            return _page(request, "login.html", {"next": target}, status=401)
        log_in(request.session)
        return _back(request, "ok", "Logged in.", target)

    @app.get("/logout", response_class=HTMLResponse, include_in_schema=False)
    def logout_form(request: Request) -> Response:
        if not is_admin(request.session):
            return RedirectResponse("/", status_code=303)
        return _page(request, "logout.html", {})

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        form = await _checked_form(request)
        if isinstance(form, Response):
            return form
        request.session.clear()
        return RedirectResponse("/", status_code=303)

    @app.get("/admin", response_class=HTMLResponse, include_in_schema=False)
    def admin(request: Request) -> Response:
        if not is_admin(request.session):
            return _to_login(request)
        sources = [admin_view(r) for r in store.sources()]
        return _page(request, "admin.html", {"sources": sources, "fulltext_choices": FULLTEXT_CHOICES})

    @app.post("/admin/sources", include_in_schema=False)
    async def add_source(request: Request) -> Response:
        form = await _checked_form(request)
        if isinstance(form, Response):
            return form
        try:
            row = await actions.add_source(store, _text(form, "url"), section=_text(form, "section"),
                                           name=_text(form, "name"), fulltext=_text(form, "fulltext") or "auto",
                                           every_minutes=_minutes(form) or 0, keep=_rules(form, "keep"),
                                           block=_rules(form, "block"))
        except UserError as exc:
            return _back(request, "error", f"Could not add that source: {exc}")
        return _back(request, "ok", f"Added “{row['name']}” ({redacted_url(row['feed_url'])}).")

    @app.post("/admin/sources/{source_id}", include_in_schema=False)
    async def edit_source(request: Request, source_id: Id) -> Response:
        form = await _checked_form(request)
        if isinstance(form, Response):
            return form
        try:
            row = await run_in_threadpool(actions.edit_source, store, source_id, name=_text(form, "name"),
                                          section=_text(form, "section"), fulltext=_text(form, "fulltext") or None,
                                          every_minutes=_minutes(form), keep=_rules(form, "keep"),
                                          block=_rules(form, "block"))
        except UserError as exc:
            return _back(request, "error", f"Not saved: {exc}")
        return _back(request, "ok", f"Saved “{row['name']}”.")

    @app.get("/admin/sources/{source_id}/remove", response_class=HTMLResponse, include_in_schema=False)
    def remove_form(request: Request, source_id: Id) -> Response:
        if not is_admin(request.session):
            return _to_login(request)
        row = store.source(source_id)
        if row is None:
            return _back(request, "error", f"There is no source {source_id}.")
        return _page(request, "admin_remove.html", {"source": admin_view(row)})

    @app.post("/admin/sources/{source_id}/remove", include_in_schema=False)
    async def remove_source(request: Request, source_id: Id) -> Response:
        form = await _checked_form(request)
        if isinstance(form, Response):
            return form
        row = await run_in_threadpool(actions.remove_source, store, source_id)
        return _back(request, "ok", f"Removed “{row['name']}” and its articles.")

    @app.post("/admin/sources/{source_id}/refresh", include_in_schema=False)
    async def refresh_source(request: Request, source_id: Id) -> Response:
        form = await _checked_form(request)
        if isinstance(form, Response):
            return form
        try:
            r = await actions.refresh_source(store, source_id)
        except UserError as exc:
            return _back(request, "error", str(exc))
        if r.queued:
            return _back(request, "ok", f"Source {source_id} goes to a worker to be polled within seconds.")
        if r.error:
            return _back(request, "error", f"Polled source {source_id}: {r.error}")
        note = _analysis_note(analysis) if r.new or r.updated else ""
        return _back(request, "ok", f"Polled source {source_id}: {r.new} new, {r.updated} updated, "
                                    f"{r.unchanged} unchanged.{note}")

    @app.post("/admin/refresh", include_in_schema=False)
    async def refresh_all(request: Request) -> Response:
        form = await _checked_form(request)
        if isinstance(form, Response):
            return form
        r = await actions.refresh_all(store)
        if r["queued"]:
            return _back(request, "ok", f"All {r['sources']} feeds go to the workers to be polled within seconds.")
        failed = f", {len(r['failed'])} failed (see each source)" if r["failed"] else ""
        note = _analysis_note(analysis) if r["new"] or r["updated"] else ""
        return _back(request, "error" if r["failed"] and len(r["failed"]) == r["sources"] else "ok",
                     f"Polled {r['sources']} feeds: {r['new']} new, {r['updated']} updated, "
                     f"{r['unchanged']} unchanged{failed}.{note}")

    @app.get("/admin/import", response_class=HTMLResponse, include_in_schema=False)
    def import_form(request: Request) -> Response:
        if not is_admin(request.session):
            return _to_login(request)
        return _page(request, "admin_import.html", {"max_mb": MAX_UPLOAD // (1024 * 1024)})

    @app.post("/admin/import", include_in_schema=False)
    async def import_file(request: Request) -> Response:
        form = await _checked_form(request, files=1)
        if isinstance(form, Response):
            return form
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            return _back(request, "error", "Choose a file to import.", "/admin/import")
        content = await upload.read()
        kind = _text(form, "kind") or "auto"
        try:
            message = await actions.off_page_threads(_import, store, analysis, content, kind, upload.filename or "")
        except UserError as exc:
            return _back(request, "error", f"Nothing imported: {exc}", "/admin/import")
        return _back(request, "ok", message, "/admin/import")


def _analysis_note(analysis: Analysis) -> str:
    queued = analysis.request() == "queued"
    return " Similar News follows shortly." if queued else " Similar News follows on the next scheduled poll."


def _looks_like_opml(content: bytes, filename: str) -> bool:
    name = filename.lower()
    if name.endswith((".opml", ".xml")):
        return True
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return False
    return content.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<"


def _import(store: Store, analysis: Analysis, content: bytes, kind: str, filename: str) -> str:
    if kind not in ("auto", "opml", "jsonl"):
        raise UserError("choose OPML or JSON Lines")
    if not content.strip():
        raise UserError("the file is empty")
    if kind == "opml" or (kind == "auto" and _looks_like_opml(content, filename)):
        r = actions.import_opml(store, content)
        return f"Added {r['added']} source(s); {r['existing']} were already there."
    report = actions.import_jsonl(store, content)
    if not (report["imported"] or report["updated"] or report["unchanged"] or report["left_out"]):
        first = report["errors"][0] if report["errors"] else None
        detail = f" (line {first['line']}: {first['message']})" if first else ""
        raise UserError(f"no article could be read from that file{detail}")
    note = _analysis_note(analysis) if report["imported"] or report["updated"] else ""
    skipped = f", skipped {report['skipped']} bad line(s)" if report["skipped"] else ""
    if report["left_out"]:
        skipped += f", left out {sum(report['left_out'].values())} by the sources' rules"
    return (f"Imported {report['imported']} article(s), updated {report['updated']}, "
            f"{report['unchanged']} unchanged{skipped}.{note}")
