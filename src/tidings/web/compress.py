"""gzip for answers of 1 KB and more, to clients that accept it (Starlette's GZipMiddleware).

It sits outside the page cache: what the cache sends is already compressed (the cache compresses a page once,
when it keeps it) and passes through untouched, so this compresses only what the cache does not keep (admin
pages, errors, static files). A compressed answer's strong ETag is made weak: its bytes are not the plain
answer's, and a conditional request still matches it (If-None-Match compares weakly), so 304s keep working.
A HEAD is answered as the GET would be (``openapi.Methods`` sits outside this and drops the body).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings.web.cache import GZIP_LEVEL, GZIP_MIN, accepts_gzip


class Compress:
    def __init__(self, app: ASGIApp, minimum_size: int = GZIP_MIN) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=GZIP_LEVEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        if not accepts_gzip(scope.get("headers") or []):  # GZipMiddleware would take "gzip;q=0" as a yes
            scope = {**scope, "headers": [(k, v) for k, v in scope.get("headers") or [] if k != b"accept-encoding"]}

        async def tidied(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                etag = headers.get("etag")
                if etag and not etag.startswith("W/") and headers.get("content-encoding") == "gzip":
                    headers["etag"] = "W/" + etag
                if "vary" in headers:  # the cache's Vary and GZipMiddleware's may name Accept-Encoding twice
                    names = [n.strip() for n in ",".join(headers.getlist("vary")).split(",") if n.strip()]
                    headers["vary"] = ", ".join({n.lower(): n for n in names}.values())
            await send(message)

        await self.gzip(scope, receive, tidied)
