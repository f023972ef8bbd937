"""HTML rendering: one Jinja2 environment with autoescape on, and the few filters the templates use.

Feed text is never marked safe: every value goes through autoescape, and links to the outside world are only
emitted for http(s) URLs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse

from tidings.clock import parse_iso
from tidings.web.pages import section_path

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def http_url(value: Any) -> str:
    """The URL itself if it is an absolute http(s) URL, else '' (no javascript:, data: or relative links)."""
    if not isinstance(value, str):
        return ""
    url = value.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


def when(value: Any) -> str:
    """A stored ISO time as '19 Jun 2023, 14:05 UTC'; '' when absent or unreadable."""
    dt = parse_iso(value) if isinstance(value, str) else None
    return f"{dt.day} {dt:%b %Y, %H:%M} UTC" if dt else ""


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
                      trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    env.filters.update(http_url=http_url, when=when, paragraphs=paragraphs, highlight=highlight, plural=plural,
                       section_path=section_path)
    return env


def render_page(template: str, data: dict[str, Any], *, active: str = "", status: int = 200) -> HTMLResponse:
    """Render one page's data dict; ``active`` marks the current item of the header navigation."""
    html = environment().get_template(template).render(**data, nav_active=active)
    return HTMLResponse(html, status_code=status)


def render_error(status: int, message: str) -> HTMLResponse:
    titles = {400: "Bad request", 404: "Not found", 500: "Something went wrong"}
    return render_page("error.html", {"status": status, "title": titles.get(status, "Error"), "message": message},
                       status=status)
