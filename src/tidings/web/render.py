"""HTML rendering: one Jinja2 environment with autoescape on, and the few filters the templates use.

Feed text is never marked safe: every value goes through autoescape, and links to the outside world are only
emitted for http(s) URLs.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from starlette.responses import HTMLResponse

from tidings.clock import date_only, parse_iso
from tidings.web.pages import http_url, section_path

__all__ = ["STATIC", "TEMPLATES", "environment", "highlight", "http_url", "paragraphs", "render_error",
           "render_page", "when"]

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def printable(value: Any) -> Any:
    """Every ``{{ value }}`` leaves without control characters (NUL, ESC...), which feeds do carry and browsers
    mangle; markup the templates made themselves (macro output) passes as it is."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return _CONTROLS.sub("", value)
    return value


def when(value: Any) -> str:
    """A stored ISO time as '19 Jun 2023, 14:05 UTC', a date as '19 Jun 2023'; '' when absent or unreadable."""
    dt = parse_iso(value) if isinstance(value, str) else None
    if dt is None:
        return ""
    return f"{dt.day} {dt:%b %Y}" if date_only(dt) else f"{dt.day} {dt:%b %Y, %H:%M} UTC"


def paragraphs(text: Any) -> list[str]:
    """Article text as paragraphs: one per non-empty line."""
    if not isinstance(text, str):
        return []
    return [line.strip() for line in text.split("\n") if line.strip()]


def highlight(snippet: Any) -> list[tuple[str, bool]]:
    """Split a search snippet marked with [ and ] into (text, is_match) parts for the template to wrap."""
    parts: list[tuple[str, bool]] = []
    for i, chunk in enumerate(str(snippet or "").split("[")):
        if i == 0:
            parts.append((chunk, False))
            continue
        hit, sep, rest = chunk.partition("]")
        parts.append((hit, bool(sep)))
        if rest:
            parts.append((rest, False))
    return [p for p in parts if p[0]]


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, auto_reload=False, finalize=printable)
    env.filters.update(http_url=http_url, when=when, paragraphs=paragraphs, highlight=highlight, plural=plural,
                       section_path=section_path)
    return env


def render_page(template: str, data: dict[str, Any], *, active: str = "", status: int = 200) -> HTMLResponse:
    """Render one page's data dict; ``active`` marks the current item of the header navigation."""
    html = environment().get_template(template).render(**data, nav_active=active)
    return HTMLResponse(html, status_code=status)


def render_error(status: int, message: str) -> HTMLResponse:
    titles = {400: "Bad request", 401: "Not logged in", 403: "Not allowed", 404: "Not found",
              413: "Too much data", 429: "Too many attempts", 500: "Something went wrong"}
    return render_page("error.html", {"status": status, "title": titles.get(status, "Error"), "message": message},
                       status=status)
