"""Labelled news collections for measuring how well Tidings tells copies, same stories and related news apart.

Each loader reads one public data set from the data folder (see ``data_dir``) and turns it into plain records.
A missing folder or a malformed file yields fewer records and a logged warning, never an exception.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)

EVAL_HOST = "https://eval.tidings.invalid"
BASIL_OUTLETS = {"fox": "Fox News", "nyt": "New York Times", "hpo": "HuffPost"}

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PAIR_ID = re.compile(r"^\d+_\d+$")
_WIKIREF_LABEL = re.compile(r"^(?P<label>.+?)(?: \(\d+\)|\.\d+)$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


@dataclass
class EvalArticle:
    """One labelled article; ``gold`` groups articles that belong together (story, event or topic label)."""

    key: str
    url: str
    title: str
    text: str  # paragraphs joined with "\n"
    source: str  # outlet display name
    published: str | None  # ISO 8601 with Z
    gold: str
    copy_of: str | None = None  # syndication set only: key of the original this is a copy of


@dataclass
class EvalPair:
    """Two articles and their human similarity score: ``overall`` runs from 1 (most similar) to 4."""

    pair_id: str
    title1: str
    text1: str
    title2: str
    text2: str
    overall: float


def data_dir(explicit: str | Path | None = None) -> Path | None:
    """The folder holding the evaluation data sets, or None when it is not there.

    Looked for in order: ``explicit``, ``$TIDINGS_EVAL_DATA``, then ``shared/data`` beside the checkout.
    """
    env = os.environ.get("TIDINGS_EVAL_DATA", "")
    if explicit is not None and str(explicit):
        candidate = Path(explicit)
    elif env:
        candidate = Path(env)
    else:
        candidate = _repo_root() / ".." / "shared" / "data"
    candidate = candidate.expanduser().resolve()
    return candidate if candidate.is_dir() else None


def _repo_root() -> Path:
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file():
            return parent
    return Path.cwd()


def _subdir(root: Path, name: str, marker: str) -> Path:
    """``root/name``, or ``root`` itself when the caller already pointed inside the data set."""
    return root if (root / marker).exists() else root / name


# --- BASIL ----------------------------------------------------------------------------------------


def load_basil(root: Path) -> list[EvalArticle]:
    """The 300 BASIL articles: three outlets' reports of each of 100 events; ``gold`` is the triplet id.

    The key is the file stem (``<triplet-uuid>_<n>``): the ``uuid`` field repeats ("empty") in a few files.
    """
    folder = _subdir(Path(root), "basil", "articles")
    articles = []
    for path in sorted(folder.glob("articles/*/*.json")):
        article = _basil_article(path)
        if article is not None:
            articles.append(article)
    return articles


def _basil_article(path: Path) -> EvalArticle | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        log.warning("skipping BASIL file %s: %s", path, exc)
        return None
    if not isinstance(record, dict):
        log.warning("skipping BASIL file %s: not a JSON object", path)
        return None
    key = path.stem
    paragraphs = _basil_paragraphs(record.get("body-paragraphs"))
    raw_source = str(record.get("source") or "").strip()
    date = str(record.get("date") or "").strip()
    return EvalArticle(
        key=key,
        url=f"{EVAL_HOST}/basil/{quote(key)}",
        # One article has an empty title; its opening sentence stands in, as a feed reader would show.
        title=str(record.get("title") or "").strip() or _first_sentence(paragraphs),
        text="\n".join(paragraphs),
        source=BASIL_OUTLETS.get(raw_source.lower(), raw_source or "Unknown"),
        published=f"{date}T12:00:00Z" if _DATE.match(date) else None,
        gold=str(record.get("triplet-uuid") or key.rsplit("_", 1)[0]),
    )


def _basil_paragraphs(body: object) -> list[str]:
    """Each item of ``body-paragraphs`` is a paragraph given as a list of its sentences."""
    if not isinstance(body, list):
        return []
    paragraphs = []
    for item in body:
        parts = item if isinstance(item, list) else [item]
        paragraph = " ".join(str(part).strip() for part in parts if str(part).strip())
        if paragraph:
            paragraphs.append(paragraph)
    return paragraphs


def _first_sentence(paragraphs: list[str], limit: int = 120) -> str:
    if not paragraphs:
        return ""
    sentence = _SENTENCE_END.split(paragraphs[0], maxsplit=1)[0]
    if len(sentence) <= limit:
        return sentence
    return sentence[:limit].rsplit(" ", 1)[0] + "…"


# --- SemEval-2022 Task 8 --------------------------------------------------------------------------


def load_semeval_en(root: Path) -> list[EvalPair]:
    """The original English-English pairs of the SemEval-2022 Task 8 files that carry article text.

    Machine-translated augmentations (ids with a language suffix) are left out. The CSV has no title
    column: ``text`` is the scraped "title + body". Where the scrape kept line breaks the first line is the
    headline and is split off; where it flattened everything onto one line the boundary is unmarked, so
    ``title`` stays empty and the headline words remain at the start of ``text``.
    """
    folder = _subdir(Path(root), "semeval2022-task8-hfl-text", "training_set.csv")
    pairs: dict[str, EvalPair] = {}
    for name in ("training_set.csv", "testing_set.csv"):
        for row in _csv_rows(folder / name):
            pair = _semeval_pair(row)
            if pair is not None and pair.pair_id not in pairs:
                pairs[pair.pair_id] = pair
    return list(pairs.values())


def _csv_rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            return list(csv.DictReader(handle))
    except (OSError, csv.Error) as exc:
        log.warning("skipping SemEval file %s: %s", path, exc)
        return []


def _semeval_pair(row: dict[str, str]) -> EvalPair | None:
    pair_id = str(row.get("pair_id") or "").strip()
    langs = (str(row.get("lang1") or "").strip().lower(), str(row.get("lang2") or "").strip().lower())
    if langs != ("en", "en") or not _PAIR_ID.match(pair_id):
        return None
    try:
        overall = float(row.get("Overall") or "")
    except ValueError:
        return None
    if not math.isfinite(overall):
        return None
    title1, text1 = split_scraped(str(row.get("text1") or ""))
    title2, text2 = split_scraped(str(row.get("text2") or ""))
    return EvalPair(pair_id, title1, text1, title2, text2, overall)


def split_scraped(raw: str) -> tuple[str, str]:
    """(title, body) of a scraped "title + body" string; the title is empty when no line break marks it."""
    cleaned = raw.replace("\ufeff", "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if "\n" not in cleaned:
        return "", " ".join(cleaned.split())
    head, _, body = cleaned.partition("\n")
    lines = [" ".join(line.split()) for line in body.split("\n")]
    return " ".join(head.split()), "\n".join(line for line in lines if line)


# --- WikiRef220 -----------------------------------------------------------------------------------


def load_wikiref(root: Path) -> list[EvalArticle]:
    """The 220 WikiRef articles; ``gold`` is the topic label taken from the file name.

    The files carry no outlet or date, so each article gets its own source name and no publication time.
    """
    folder = _subdir(Path(root), "wikiref", "WikiRef220") / "WikiRef220"
    articles = []
    for index, path in enumerate(sorted(folder.glob("*.txt")), start=1):
        article = _wikiref_article(path, index)
        if article is not None:
            articles.append(article)
    return articles


def wikiref_label(stem: str) -> str:
    """``"ParisAttacks2015 (3)"`` -> ``"ParisAttacks2015"``, ``"malaysia.airlines.flight.10"`` -> prefix."""
    match = _WIKIREF_LABEL.match(stem)
    return match.group("label") if match else stem


def _wikiref_article(path: Path, index: int) -> EvalArticle | None:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        log.warning("skipping WikiRef file %s: %s", path, exc)
        return None
    lines = [" ".join(line.split()) for line in raw.decode("cp1252", errors="replace").splitlines()]
    lines = [line for line in lines if line]
    key = path.stem
    return EvalArticle(
        key=key,
        url=f"{EVAL_HOST}/wikiref/{quote(key)}",
        title=lines[0] if lines else "",
        text="\n".join(lines[1:]),
        source=f"WikiRef source {index}",
        published=None,
        gold=wikiref_label(key),
    )


# --- AllSides (headline and lead) -----------------------------------------------------------------


def load_allsides(root: Path) -> list[EvalArticle]:
    """The allsides-dev items: one outlet's headline and lead each; ``gold`` is the AllSides story name.

    The source has no dates, so ``published`` is None. Lines that are not JSON objects with a row, story, title
    and summary are skipped with a warning.
    """
    path = _subdir(Path(root), "allsides-dev", "allsides-dev.jsonl") / "allsides-dev.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("skipping AllSides file %s: %s", path, exc)
        return []
    articles = []
    for number, line in enumerate(lines, start=1):
        article = _allsides_article(line) if line.strip() else None
        if article is None and line.strip():
            log.warning("skipping line %d of %s: not a complete AllSides record", number, path)
        elif article is not None:
            articles.append(article)
    return articles


def _allsides_article(line: str) -> EvalArticle | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    row, story = record.get("row"), str(record.get("story") or "").strip()
    title, lead = str(record.get("title") or "").strip(), str(record.get("summary") or "").strip()
    if not isinstance(row, int) or not story or not title or not lead:
        return None
    return EvalArticle(
        key=f"allsides_{row}",
        url=f"{EVAL_HOST}/allsides/{row}",
        title=title,
        text=lead,
        source=str(record.get("source") or "").strip() or "Unknown",
        published=None,
        gold=story,
    )


def headlines_only(articles: list[EvalArticle]) -> list[EvalArticle]:
    """The same items with the text left out: what a feed that carries only headlines gives."""
    return [replace(a, text="") for a in articles]
