"""The JSON API's contract as /openapi.json states it, and the HTTP methods every address answers.

Every status a route can answer is declared with ``responses=errors(...)``; errors share one body,
``{"error": "..."}`` (``schemas.ErrorBody``), and each route's ``response_model`` in ``schemas`` describes its
answer. Operations are named after their route functions (``operation_id``). Bad input is 400 (see
``app.install_error_handlers``), so FastAPI's own 422 entries are taken out of the document. The import routes
read their raw body and say so here. ``Methods`` answers OPTIONS with the methods a path allows, answers HEAD as
GET without the body, and lists every method of the path in a 405's ``Allow`` (Starlette names only the first
route that matched the path).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.datastructures import MutableHeaders
from starlette.routing import BaseRoute, Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings.web.schemas import ArticleLine, ErrorBody

_ERRORS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("The request cannot be used: a parameter or body field out of range or missing, a body that is not "
          "valid JSON, or content Tidings cannot take (no feed at that URL, no feeds in that OPML document).", {}),
    401: ("No admin secret was sent: send `Authorization: Bearer <secret>`.",
          {"WWW-Authenticate": {"description": "`Bearer`", "required": True, "schema": {"type": "string"}}}),
    403: ("That is not the admin secret.", {}),
    404: ("Nothing at this address: no such id, section, article URL or source.", {}),
    503: ("Tidings cannot read its database now (`/healthz`: what a monitor alerts on).", {}),
    413: ("The body is larger than this route takes (see `app.MAX_BODY` and `admin.MAX_UPLOAD`).", {}),
    429: ("Too many wrong admin secrets from this client: no secret is checked until `Retry-After` seconds "
          "have passed.",
          {"Retry-After": {"description": "seconds to wait", "required": True,
                           "schema": {"type": "integer", "minimum": 0}}}),
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """FastAPI ``responses=`` entries for these statuses, each with the shared error body."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        description, headers = _ERRORS[code]
        entry: dict[str, Any] = {"model": ErrorBody, "description": description}
        if headers:
            entry["headers"] = copy.deepcopy(headers)
        out[code] = entry
    return out


ADMIN_ERRORS = errors(401, 403, 429)  # every write route: the bearer token is checked before anything else


def raw_body(description: str, media_types: Iterable[str], example: str, *, required: bool,
             item_schema: str | None = None) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its body itself: the bytes of a document (``format: binary``, so a
    client sends them as they are rather than wrapping them in XML), under these media types. The example goes
    with the last, a text/ type, which every client knows how to send. ``item_schema`` names the component each
    line of a JSON Lines body follows, as ``x-itemSchema`` (OpenAPI 3.2 calls it ``itemSchema``)."""
    types = list(media_types)
    content: dict[str, Any] = {}
    for media_type in types:
        content[media_type] = {"schema": {"type": "string", "format": "binary"}}
        if item_schema:
            content[media_type]["x-itemSchema"] = {"$ref": f"#/components/schemas/{item_schema}"}
    content[types[-1]]["example"] = example
    return {"requestBody": {"required": required, "description": description, "content": content}}


OPML_EXAMPLE = ('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"><head><title>News</title></head><body>\n'
                '<outline text="World"><outline type="rss" text="Example News" '
                'xmlUrl="https://news.example.org/feed.xml" htmlUrl="https://news.example.org/"/></outline>\n'
                "</body></opml>\n")
JSONL_EXAMPLE = ('{"url": "https://news.example.org/2024/05/harbour-bridge", "title": "Harbour bridge reopens", '
                 '"source": "Example News", "published": "2024-05-01T08:00:00Z", "section": "World", '
                 '"text": "The harbour bridge reopened on Monday after six weeks of repairs."}\n')
OPML_BODY = raw_body("An OPML document. Every `outline` with an `xmlUrl` (an http(s) feed URL) becomes a source: "
                     "its name from `title` or `text` (else the feed's host), its site from `htmlUrl`, its section "
                     "the `title` or `text` of the folder outline around it (else its own `category`). A feed that "
                     "is already a source is counted in `existing`. A document with no feeds is refused (400).",
                     ("application/xml", "text/xml", "text/x-opml"), OPML_EXAMPLE, required=True)
JSONL_BODY = raw_body("JSON Lines: one article a line, an `ArticleLine` object (`url`, `title` and `source`; "
                      "optional: `text`, `summary`, `published`, `language`, `section`). Lines that cannot be read "
                      "are skipped and reported by number; an empty body imports nothing.",
                      ("application/x-ndjson", "application/jsonl", "text/plain"), JSONL_EXAMPLE, required=False,
                      item_schema=ArticleLine.__name__)


def operation_id(route: APIRoute) -> str:
    """An operation's id in the document: its route function's name (``api_similar``), which generated clients
    use for their function names."""
    return route.name


def install_openapi(app: FastAPI) -> None:
    """Take FastAPI's 422 entries out of /openapi.json (Tidings answers bad input with 400, as declared) and add
    the schema of a JSON Lines import's line, which no route's parameters name."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if isinstance(operation, dict):
                    operation.get("responses", {}).pop("422", None)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        components[ArticleLine.__name__] = ArticleLine.model_json_schema()  # see JSONL_BODY
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


# -- methods --------------------------------------------------------------------------------------------------

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")  # in the order an Allow header lists them
_ANY = "TIDINGS-ANY-METHOD"  # no route declares it: a route that takes it (a mount) takes any method


class Methods:
    """Pure ASGI middleware over ``router``'s routes, read at each request so routes added later count.

    It asks each route whether it matches the path under each method, so routers included into the app count as
    they route (FastAPI may keep them as one nested route); a path a mounted app answers (static files) is left
    to that app.
    """

    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app = app
        self.router = router

    def _takes(self, scope: Scope, method: str) -> bool:
        routes: list[BaseRoute] = self.router.routes
        return any(route.matches({**scope, "method": method})[0] == Match.FULL for route in routes)

    def declared(self, scope: Scope) -> set[str] | None:
        """The methods the routes of this path take; None when no route has the path or one takes any method."""
        if self._takes(scope, _ANY):
            return None
        return {method for method in _METHODS if self._takes(scope, method)} or None

    def allowed(self, scope: Scope) -> set[str] | None:
        """What OPTIONS and a 405 list: the declared methods, HEAD wherever GET is, and OPTIONS."""
        methods = self.declared(scope)
        if methods is None:
            return None
        if "GET" in methods:
            methods.add("HEAD")
        return methods | {"OPTIONS"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "OPTIONS":
            allowed = self.allowed(scope)
            if allowed is not None:
                await send({"type": "http.response.start", "status": 204,
                            "headers": [(b"allow", _listed(allowed)), (b"cache-control", b"no-store")]})
                await send({"type": "http.response.body", "body": b""})
                return
        elif method == "HEAD":
            declared = self.declared(scope)
            if declared is not None and "GET" in declared and "HEAD" not in declared:
                scope = {**scope, "method": "GET"}
            await self.app(scope, receive, self._sender(scope, send, body=False))
            return
        await self.app(scope, receive, self._sender(scope, send, body=True))

    def _sender(self, scope: Scope, send: Send, *, body: bool) -> Send:
        """``send`` that lists every allowed method in a 405's Allow and, with ``body`` false, sends the response's
        status and headers (Content-Length as for GET) but no body."""

        async def sender(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allowed = self.allowed(scope)
                if allowed is not None:
                    MutableHeaders(scope=message)["allow"] = _listed(allowed).decode()
            elif message["type"] == "http.response.body" and not body:
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        return sender


def _listed(methods: set[str]) -> bytes:
    order = (*_METHODS, "OPTIONS")
    return ", ".join(m for m in order if m in methods).encode()
