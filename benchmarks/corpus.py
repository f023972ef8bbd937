"""Article texts for the fixture news web, read at run time from the shared data folder (never stored in the repo).

Sources: BASIL bodies, WikiRef texts, SemEval-2022 Task 8 English texts, and the gold text of the
article-extraction-benchmark and readability test pages (whose real HTML is served as is). A benchmark that
needs more articles than there are texts recycles them with small variations (a headline prefix, a dateline,
one paragraph left out), so every page and URL is distinct, as wire copies are.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.extraction import readability_pages, scrapinghub_pages
from tidings.evaluation.datasets import load_basil, load_semeval_en, load_wikiref

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'“])")
_PREFIXES = ("Update", "Analysis", "Explainer", "Briefing", "Live", "Report", "In focus", "What we know")
_CITIES = ("LONDON", "NEW YORK", "PARIS", "BERLIN", "NAIROBI", "SYDNEY", "TORONTO", "MUMBAI", "SAO PAULO",
           "TOKYO", "CAIRO", "MADRID")


class DataMissing(Exception):
    """The shared data folder (or a set in it) is not where the benchmark looks."""


@dataclass(frozen=True)
class Doc:
    """One source text: headline, paragraphs and, for real pages, the page's HTML."""

    key: str
    title: str
    paragraphs: tuple[str, ...]
    raw_html: bytes | None = None

    @property
    def words(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)


@dataclass
class Article:
    """One article of the fixture web: where it lives and what it says (``paragraphs`` is the gold text)."""

    host: int
    feed: int
    path: str
    title: str
    paragraphs: list[str]
    published: datetime
    raw_html: bytes | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)

    @property
    def summary(self) -> str:
        """The one sentence a summary-only feed carries."""
        return first_sentence(self.paragraphs[0] if self.paragraphs else self.title, 40)


def first_sentence(text: str, max_words: int = 25) -> str:
    sentence = _SENTENCE_END.split(text.strip(), maxsplit=1)[0]
    words = sentence.split()
    return sentence if len(words) <= max_words else " ".join(words[:max_words]) + "…"


def _paragraphs(text: str) -> tuple[str, ...]:
    """Paragraphs of a text; a text flattened onto one line is cut into paragraphs of three sentences."""
    lines = [" ".join(line.split()) for line in text.split("\n")]
    lines = [line for line in lines if line]
    if len(lines) > 1:
        return tuple(lines)
    sentences = _SENTENCE_END.split(lines[0]) if lines else []
    return tuple(" ".join(sentences[i:i + 3]) for i in range(0, len(sentences), 3))


def _doc(key: str, title: str, text: str, raw_html: bytes | None = None) -> Doc | None:
    paragraphs = _paragraphs(text)
    title = " ".join(title.split()) or (first_sentence(paragraphs[0], 14) if paragraphs else "")
    return Doc(key, title, paragraphs, raw_html) if title and paragraphs else None


def load_docs(data: Path, *, min_words: int = 80) -> list[Doc]:
    """Every usable text of the five collections, in a fixed order; raises DataMissing without the data."""
    if not data.is_dir():
        raise DataMissing(f"no data folder at {data}")
    docs: list[Doc | None] = []
    docs += [_doc(f"basil/{a.key}", a.title, a.text) for a in load_basil(data)]
    docs += [_doc(f"wikiref/{a.key}", a.title, a.text) for a in load_wikiref(data)]
    for pair in load_semeval_en(data):
        docs.append(_doc(f"semeval/{pair.pair_id}/1", pair.title1, pair.text1))
        docs.append(_doc(f"semeval/{pair.pair_id}/2", pair.title2, pair.text2))
    extraction = data / "article-extraction-benchmark"
    if (extraction / "ground-truth.json").is_file():
        docs += [_doc(f"extraction/{key}", "", gold, html) for key, html, gold in scrapinghub_pages(extraction)]
    readability = data / "readability-test-pages"
    if readability.is_dir():
        for name, html, gold in readability_pages(readability):
            meta = readability / name / "expected-metadata.json"
            title = json.loads(meta.read_text(encoding="utf-8")).get("title") or "" if meta.is_file() else ""
            docs.append(_doc(f"readability/{name}", str(title), gold, html))
    usable = [d for d in docs if d is not None and d.words >= min_words]
    if not usable:
        raise DataMissing(f"no article texts found under {data}")
    return usable


def variant(doc: Doc, k: int) -> tuple[str, list[str]]:
    """The k-th edition of a text: edition 0 is the text itself, later ones differ a little."""
    paragraphs = list(doc.paragraphs)
    if k == 0:
        return doc.title, paragraphs
    title = f"{_PREFIXES[(k - 1) % len(_PREFIXES)]}: {doc.title}"
    paragraphs[0] = f"{_CITIES[(k + len(doc.key)) % len(_CITIES)]} — {paragraphs[0]}"
    if len(paragraphs) >= 5:
        del paragraphs[1 + k % (len(paragraphs) - 2)]
    return title, paragraphs


def shuffled(docs: list[Doc], seed: int) -> list[Doc]:
    out = list(docs)
    random.Random(seed).shuffle(out)
    return out


def plan_articles(docs: list[Doc], feeds: int, per_feed: int, hosts: int, *, seed: int = 7,
                  now: datetime | None = None, spacing: timedelta = timedelta(seconds=53)) -> list[Article]:
    """``per_feed`` articles for each of ``feeds`` feeds (feed f lives on host f % ``hosts``), newest first.

    Texts are dealt round robin from the shuffled docs, editions counting up each time round. Article i of the
    plan is published i * ``spacing`` before ``now``, so the feeds interleave in time.
    """
    order = shuffled(docs, seed)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    articles = []
    for i in range(feeds * per_feed):
        doc = order[i % len(order)]
        title, paragraphs = variant(doc, i // len(order))
        feed = i % feeds
        articles.append(Article(host=feed % hosts, feed=feed, path=f"/news/{feed}/{i:06d}-{_slug(title)}.html",
                                title=title, paragraphs=paragraphs, published=now - i * spacing,
                                raw_html=doc.raw_html))
    return articles


def _slug(title: str) -> str:
    words = re.findall(r"[a-z0-9]+", title.lower())[:8]
    return "-".join(words) or "story"
