"""HTML rendering: one Jinja2 environment with autoescape on, and the few filters the templates use.

Feed text is never marked safe: every value goes through autoescape, and links to the outside world are only
emitted for http(s) URLs.
"""

from __future__ import annotations

import re
from datetime import UTC, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from starlette.responses import HTMLResponse

from tidings.clock import date_only, iso, parse_iso
from tidings.config import display_zone
from tidings.errors import UserError
from tidings.web.pages import http_url, section_path

__all__ = ["STATIC", "TEMPLATES", "environment", "highlight", "http_url", "moment", "paragraphs", "render_error",
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


def shown_zone() -> tzinfo:
    """TIDINGS_TIMEZONE (``tidings serve`` refuses a bad one at start; here it falls back to UTC)."""
    try:
        return display_zone()
    except UserError:
        return UTC


def moment(value: Any, machine: bool = False) -> dict[str, Any] | None:
    """A stored ISO time as a ``<time>`` element needs it: ``iso`` (its datetime), ``text`` (shown before the
    page's script runs, or without it: in TIDINGS_TIMEZONE), ``title`` (the exact time, on hover) and
    ``date_only``. A date stored as midnight UTC (a feed that gives only the day) stays that day, in every zone;
    a ``machine`` time (a poll) is a time even at midnight. None when absent or unreadable."""
    dt = parse_iso(value) if isinstance(value, str) else None
    if dt is None:
        return None
    if not machine and date_only(dt):
        return {"iso": f"{dt:%Y-%m-%d}", "text": f"{dt.day} {dt:%b %Y}", "title": f"{dt:%A}, {dt.day} {dt:%B %Y}",
                "date_only": True}
    local = dt.astimezone(shown_zone())
    return {"iso": iso(dt), "text": f"{local.day} {local:%b %Y, %H:%M %Z}",
            "title": f"{local:%A}, {local.day} {local:%B %Y, %H:%M:%S %Z}", "date_only": False}


def when(value: Any, machine: bool = False) -> str:
    """A stored ISO time as '19 Jun 2023, 14:05 UTC' (in TIDINGS_TIMEZONE), a date as '19 Jun 2023'; '' when
    absent or unreadable."""
    shown = moment(value, machine)
    return shown["text"] if shown else ""


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
    env.filters.update(http_url=http_url, when=when, moment=moment, paragraphs=paragraphs, highlight=highlight,
                       plural=plural, section_path=section_path)
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
