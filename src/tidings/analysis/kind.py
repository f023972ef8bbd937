"""Whether an article is opinion or analysis rather than a news report, told from its address and its headline.

Outlets file such pieces under their own folders (``/opinion/``, ``/commentisfree/``, ``/columnists/``) or label
the headline ("Opinion:", "Analysis | ..."). Only whole path folders and labels set off by punctuation count, so
"/news/opinion-poll-shows-..." or "Analysis of the budget finds ..." stay news. Feed categories are not used:
outlets' feeds tag subjects ("US politics"), not the kind of piece.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import unquote, urlsplit

Kind = Literal["opinion", "analysis"]
KIND_LABELS: dict[str, str] = {"opinion": "Opinion", "analysis": "Analysis"}

# Path folders (never the last segment: that is the piece's own slug). "blog" and "view" are left out on
# purpose: news sites file ordinary reports under /blog/local-news/ and /noticias/view/123.
OPINION_FOLDERS = frozenset({
    "opinion", "opinions", "op-ed", "op-eds", "oped", "opeds", "commentary", "commentaries", "comment",
    "commentisfree", "editorial", "editorials", "column", "columns", "columnist", "columnists", "blogs",
    "perspective", "perspectives", "views", "viewpoint", "viewpoints", "letters", "letters-to-the-editor",
    "ideas", "voices", "our-view", "the-big-idea",
    # other languages outlets often use
    "meinung", "kommentar", "kommentare", "gastkommentar", "gastkommentare", "opinie", "opinione", "opinioni",
    "opiniao", "opinion-y-analisis", "editoriales", "columnas", "columnistas", "tribunes", "chroniques",
})
# Not "news-analysis": some outlets file plain tech news there.
ANALYSIS_FOLDERS = frozenset({"analysis", "analyses", "analisis", "analisi", "analyse"})
OPINION_HOSTS = frozenset({"opinion", "blogs", "comment"})  # opinion.example.com, blogs.example.com

_LABEL = (r"(?P<label>news analysis|analysis|opinion|op-?ed|editorial|column|commentary|comment|perspective|"
          r"viewpoint|our view|guest view|guest column|letters?|letter to the editor)")
# A label opens the headline, set off by a colon, a bar or a spaced dash ("Opinion: ...", "Analysis | ..."), or
# closes it after a bar or a spaced dash, or in brackets ("... | Opinion", "... (Analysis)").
_LABELLED = [re.compile(rx, re.IGNORECASE) for rx in (
    rf"^\W*{_LABEL}\s*(?:[:|]|\s[-–—]\s)\s*\S",
    rf"(?:[|]|\s[-–—])\s*{_LABEL}\W*$",
    rf"[(\[]\s*{_LABEL}\s*[)\]]\W*$",
)]


def kind_from_url(url: str) -> Kind | None:
    """'opinion' or 'analysis' when the address files the piece under such a folder (or host), else None."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").split(".")
    if len(host) > 2 and host[0] in OPINION_HOSTS:
        return "opinion"
    folders = [unquote(s).lower() for s in parts.path.split("/")[:-1] if s]
    if any(f in ANALYSIS_FOLDERS for f in folders):
        return "analysis"
    if any(f in OPINION_FOLDERS for f in folders):
        return "opinion"
    return None


def kind_from_title(title: str) -> Kind | None:
    """'opinion' or 'analysis' when the headline carries such a label, else None."""
    flat = " ".join(title.split())
    for rx in _LABELLED:
        if m := rx.search(flat):
            return "analysis" if m.group("label").lower().endswith("analysis") else "opinion"
    return None


def piece_kind(url: str, title: str) -> Kind | None:
    """What kind of piece an article is when it is not a news report: its headline's label says it best (an
    outlet's opinion folder may hold an "Analysis:"), else its address; None for a news report."""
    return kind_from_title(title) or kind_from_url(url)
