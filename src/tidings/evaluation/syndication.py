"""A synthetic syndication set: wire stories re-published by other outlets, with the edits such copies get.

BASIL holds three outlets' independent reports of each event. One report per chosen event serves as a wire
original; fictional outlets re-publish it a few hours later with a new headline, a byline and dateline,
site boilerplate, a trimmed or extended ending and light copy edits. The event's two other reports stay in
the set as hard negatives: same event, different text, never duplicates. docs/syndication-set.md lists
every edit and its rate.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import combinations

from tidings.evaluation.datasets import EVAL_HOST, EvalArticle

# Fictional re-publishers; none shares a word with the BASIL outlets (Fox News, New York Times, HuffPost).
OUTLETS = (
    "Daily Ledger",
    "Metro Courier",
    "Valley Herald",
    "Coast Gazette",
    "Lakeside Chronicle",
    "Prairie Sentinel",
    "Harbor City Register",
    "Riverbend Observer",
    "Summit Dispatch",
    "Northfield Tribune",
)
# How many copies an original gets, with probabilities; 0 keeps the original alone.
COPY_COUNTS = ((0, 0.20), (1, 0.40), (2, 0.25), (3, 0.15))
# Chance that each edit is tried on a copy (an edit that finds nothing to change leaves the copy as it was).
EDIT_PROBABILITIES = {
    "headline": 0.75,
    "byline": 0.50,
    "dateline": 0.50,
    "boilerplate": 0.50,
    "trim": 0.30,
    "extend": 0.25,
    "substitute": 0.40,
    "number_format": 0.30,
    "uk_spelling": 0.15,
    "reflow": 0.30,
}
HOURS_LATER = (1, 8)  # a copy appears this many whole hours (plus 0-59 minutes) after its original
TRIM_SHARE = (0.10, 0.40)  # share of paragraphs a trimmed copy drops from the end

WIRES = (("Associated Press", "AP", "The Associated Press"), ("Reuters", "Reuters", "Thomson Reuters"))
REPORTERS = ("Jane Smith", "Michael Torres", "Priya Raman", "David Okafor", "Laura Chen", "Tom Becker")
HEADLINE_LABELS = ("WATCH:", "BREAKING:", "UPDATE:", "VIDEO:", "LIVE:")
BOILERPLATE = (
    "Copyright {year} {owner}. All rights reserved. This material may not be published, broadcast, rewritten "
    "or redistributed.",
    "Read more: {site}/news",
    "Sign up for the {outlet} daily newsletter to get the top stories in your inbox every morning.",
    "Follow the {outlet} on Facebook and Twitter for updates on this story.",
)
EXTENSIONS = (
    "Editor's note: This story has been updated with additional information.",
    "Editor's note: An earlier version of this story was published under a different headline.",
    "{outlet} staff writer {reporter} contributed to this report.",
    "Local officials contacted by the {outlet} said they were still reviewing the news and had no immediate "
    "comment.",
)
HEADLINE_SYNONYMS = {
    "says": "said", "warns": "cautions", "slams": "blasts", "blasts": "slams", "vows": "pledges",
    "urges": "presses", "backs": "supports", "rips": "criticizes", "plans": "proposes", "after": "following",
    "amid": "as", "seeks": "wants", "announces": "unveils", "rejects": "turns down", "approves": "OKs",
    "wins": "secures", "faces": "confronts", "u.s.": "US", "government": "gov't", "democrats": "Dems",
    "republicans": "GOP", "republican": "GOP",
}  # fmt: skip
BODY_SYNONYMS = {
    "said": "says", "about": "around", "began": "started", "big": "large", "buy": "purchase",
    "help": "assist", "many": "numerous", "show": "demonstrate", "shows": "demonstrates", "try": "attempt",
    "use": "utilize", "toward": "towards", "more than": "over", "nearly": "almost", "children": "kids",
    "officials": "authorities", "lawmakers": "legislators", "united states": "U.S.",
}  # fmt: skip
SUBSTITUTIONS_PER_COPY = (1, 3)
_PHRASE_STARTS = {
    "in", "for", "over", "after", "amid", "on", "to",
    "with", "from", "at", "as", "against", "about",
}  # fmt: skip
_TITLE_SMALL_WORDS = {
    "a", "an", "and", "as", "at", "but", "by", "for",
    "in", "of", "on", "or", "the", "to", "vs.",
}  # fmt: skip

_IZE_STEMS = (
    "organi|recogni|critici|apologi|emphasi|reali|authori|characteri|legali|mobili|normali|prioriti|minimi"
    "|maximi|stabili|finali|summari|jeopardi|scrutini|hospitali|privati|subsidi|utili|terrori|energi|polari"
    "|politici|weaponi"
)
_OUR_STEMS = "col|fav|hon|lab|neighb|behavi|rum|harb|hum|vig|endeav"
# US -> UK spellings, as (pattern, replacement) applied in order; the case of the first letter is kept.
UK_SPELLINGS = (
    (rf"\b({_IZE_STEMS})z(e|es|ed|ing|ation|ations)\b", r"\1s\2"),
    (rf"\b({_OUR_STEMS})or(s|ed|ing|ite|ites|able)?\b", r"\1our\2"),
    (r"\b(cent|theat)er(s|ed)?\b", r"\1re\2"),
    (r"\b(defen|offen)se\b", r"\1ce"),
    (r"\b(travel|cancel|label|model|fuel)(ed|ing|er|ers)\b", r"\1l\2"),
    (r"\bprogram(s)?\b", r"programme\1"),
    (r"\bpercent\b", "per cent"),
    (r"\bgray\b", "grey"),
)
_PERCENT = re.compile(r"\b(\d+(?:\.\d+)?)[ -]?(?:percent|per cent)\b", re.IGNORECASE)
_MONEY = re.compile(r"\$(\d+(?:\.\d+)?) (million|billion)\b")
_DATELINE = re.compile(r"^([A-Z][A-Z.,' ]{1,40}?)\s*(?:\([^)]{1,20}\))?\s*[—–-]{1,2}\s*")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“‘])|(?<=[.!?][\"”’])\s+(?=[A-Z\"“‘])")
_ABBREVIATION_END = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Sen|Rep|Gov|Gen|Lt|Col|Sgt|St|Jr|Sr|Inc|Co|Corp|No|Jan|Feb|Aug|Sept|Oct|Nov|Dec)"
    r"|\b[A-Z]|(?:[A-Z]\.)+[A-Z])\.$"
)


def build_syndication_set(
    basil: list[EvalArticle],
    *,
    seed: int = 13,
    originals: int = 60,
    edits: dict[str, list[str]] | None = None,
) -> tuple[list[EvalArticle], set[frozenset[str]]]:
    """Originals, their copies and the hard negatives, plus every gold duplicate pair (copy–copy included).

    The same input, seed and ``originals`` always give the same set. When ``edits`` is given it is filled with
    each copy's key -> the names of the edits that changed it.
    """
    rng = random.Random(seed)
    by_event: dict[str, list[EvalArticle]] = {}
    for article in sorted(basil, key=lambda a: a.key):
        if article.text.strip():
            by_event.setdefault(article.gold, []).append(article)
    events = sorted(by_event)
    articles: list[EvalArticle] = []
    pairs: set[frozenset[str]] = set()
    for event in rng.sample(events, max(0, min(originals, len(events)))):
        original = rng.choice(by_event[event])
        count = rng.choices([n for n, _ in COPY_COUNTS], weights=[p for _, p in COPY_COUNTS])[0]
        copies = []
        for index, outlet in enumerate(rng.sample(OUTLETS, count), start=1):
            copy, applied = _make_copy(original, outlet, index, rng)
            copies.append(copy)
            if edits is not None:
                edits[copy.key] = applied
        negatives = [a for a in by_event[event] if a.key != original.key]
        articles.extend([original, *copies, *negatives])
        group = sorted([original.key, *(c.key for c in copies)])
        pairs.update(frozenset(pair) for pair in combinations(group, 2))
    return articles, pairs


def _make_copy(
    original: EvalArticle, outlet: str, index: int, rng: random.Random
) -> tuple[EvalArticle, list[str]]:
    """One outlet's re-publication of ``original``; edits are drawn in a fixed order so seeds reproduce."""
    wire = rng.choice(WIRES)
    reporter = rng.choice(REPORTERS)
    context = {"outlet": outlet, "reporter": reporter, "site": _site(outlet), "owner": wire[2],
               "year": (original.published or "2019")[:4]}  # fmt: skip
    applied: list[str] = []
    title = original.title
    if _fires(rng, "headline"):
        title, style = _rewrite_headline(title, outlet, rng)
        applied.append(f"headline:{style}")
    body = [p for p in original.text.split("\n") if p.strip()]
    steps: list[tuple[str, Callable[[list[str]], list[str]]]] = [
        ("trim", lambda ps: _trim(ps, rng)),
        ("substitute", lambda ps: _substitute(ps, rng)),
        ("number_format", _number_format),
        ("uk_spelling", _uk_spelling),
        ("reflow", lambda ps: _reflow(ps, rng)),
        ("extend", lambda ps: [*ps, rng.choice(EXTENSIONS).format(**context)]),
        ("dateline", lambda ps: _dateline(ps, wire[1])),
        ("byline", lambda ps: [_byline(reporter, wire[0], rng), *ps]),
        ("boilerplate", lambda ps: _boilerplate(ps, context, rng)),
    ]
    for name, step in steps:
        if _fires(rng, name):
            edited = step(body)
            if edited != body:
                body = edited
                applied.append(name)
    if "\n".join(body) == original.text:
        # A byte-identical body would make the copy trivial to match; real re-publication adds site furniture.
        body = _boilerplate(body, context, rng)
        applied.append("boilerplate:forced")
    key = f"{original.key}_copy{index}"
    copy = replace(original, key=key, url=f"{EVAL_HOST}/syndication/{_slug(outlet)}/{key}", title=title,
                   text="\n".join(body), source=outlet, published=_later(original.published, rng),
                   copy_of=original.key)  # fmt: skip
    return copy, applied


def _fires(rng: random.Random, edit: str) -> bool:
    return rng.random() < EDIT_PROBABILITIES[edit]


def _slug(outlet: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", outlet.lower()).strip("-")


def _site(outlet: str) -> str:
    return f"https://www.{_slug(outlet).replace('-', '')}.example"


def _later(published: str | None, rng: random.Random) -> str | None:
    hours = rng.randint(*HOURS_LATER)
    minutes = rng.randint(0, 59)
    if not published:
        return None
    try:
        when = datetime.fromisoformat(published.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when + timedelta(hours=hours, minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- headlines ------------------------------------------------------------------------------------


def _rewrite_headline(title: str, outlet: str, rng: random.Random) -> tuple[str, str]:
    """A different headline in one outlet style; styles that leave this title unchanged are skipped."""
    styles: list[tuple[str, Callable[[str], str]]] = [
        ("shorten", _shorten),
        ("reorder", _reorder),
        ("synonyms", _headline_synonyms),
        ("title_case", _title_case),
        ("outlet_suffix", lambda t: f"{t} {rng.choice(['-', '|'])} {outlet}"),
        ("label", lambda t: f"{rng.choice(HEADLINE_LABELS)} {t}"),
    ]
    rng.shuffle(styles)
    for name, style in styles:
        rewritten = style(title)
        if rewritten.strip() and rewritten != title:
            return rewritten, name
    return f"{HEADLINE_LABELS[0]} {title}", "label"


def _shorten(title: str) -> str:
    """Keep the main clause: cut at the first clause separator, else before the first trailing phrase."""
    for separator in (": ", " — ", " – ", " - ", "; ", ", "):
        head, found, tail = title.partition(separator)
        if found and head.split()[0].lower() in _PHRASE_STARTS and len(tail.split()) >= 4:
            return tail[:1].upper() + tail[1:]  # "In Iowa, X wins" -> "X wins"
        if found and len(head.split()) >= 4:
            return head.rstrip(" ,;:")
    words = title.split()
    for index in range(4, len(words) - 1):
        if words[index].lower() in _PHRASE_STARTS:
            return " ".join(words[:index])
    return title


def _reorder(title: str) -> str:
    """Swap the two clauses around the first clause separator ("A: B" -> "B: A")."""
    for separator in (": ", " — ", "; ", ", "):
        head, found, tail = title.partition(separator)
        if found and len(head.split()) >= (1 if separator == ": " else 2) and len(tail.split()) >= 2:
            return f"{tail[:1].upper()}{tail[1:]}{separator}{head}"
    return title


def _headline_synonyms(title: str) -> str:
    return _replace_words(title, HEADLINE_SYNONYMS)


def _title_case(title: str) -> str:
    """Headline capitalisation: every word capitalised but short function words inside the headline."""

    def cap(match: re.Match[str]) -> str:
        word = match.group(0)
        if match.start() > 0 and word.lower() in _TITLE_SMALL_WORDS:
            return word
        return word[:1].upper() + word[1:]

    return re.sub(r"[A-Za-z][\w'’]*", cap, title)


def _replace_words(text: str, table: dict[str, str]) -> str:
    return _word_pattern(table).sub(lambda m: _keep_case(m.group(0), table[m.group(0).lower()]), text)


def _word_pattern(table: dict[str, str]) -> re.Pattern[str]:
    words = sorted(table, key=len, reverse=True)
    return re.compile(r"(?<![\w.])(" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE)


def _keep_case(original: str, replacement: str) -> str:
    if original[:1].isupper() and replacement[:1].islower():
        return replacement[:1].upper() + replacement[1:]
    return replacement


# --- bodies ---------------------------------------------------------------------------------------


def _trim(paragraphs: list[str], rng: random.Random) -> list[str]:
    """Drop the last 10–40% of paragraphs (at least one, keeping at least two)."""
    share = rng.uniform(*TRIM_SHARE)
    if len(paragraphs) < 3:
        return paragraphs
    drop = min(len(paragraphs) - 2, max(1, round(len(paragraphs) * share)))
    return paragraphs[:-drop]


def _substitute(paragraphs: list[str], rng: random.Random) -> list[str]:
    """Swap one to three words for a synonym, at random places."""
    text = "\n".join(paragraphs)
    matches = list(_word_pattern(BODY_SYNONYMS).finditer(text))
    wanted = rng.randint(*SUBSTITUTIONS_PER_COPY)
    chosen = sorted(rng.sample(matches, min(wanted, len(matches))), key=lambda m: m.start())
    pieces, cursor = [], 0
    for match in chosen:
        word = match.group(0)
        pieces += [text[cursor : match.start()], _keep_case(word, BODY_SYNONYMS[word.lower()])]
        cursor = match.end()
    return "".join([*pieces, text[cursor:]]).split("\n")


def _number_format(paragraphs: list[str]) -> list[str]:
    """ "5 percent" -> "5%", "$3 million" -> "$3m", "$2 billion" -> "$2bn"."""

    def money(match: re.Match[str]) -> str:
        return f"${match.group(1)}{'m' if match.group(2) == 'million' else 'bn'}"

    return [_MONEY.sub(money, _PERCENT.sub(r"\1%", p)) for p in paragraphs]


def _uk_spelling(paragraphs: list[str]) -> list[str]:
    edited = []
    for paragraph in paragraphs:
        for pattern, replacement in UK_SPELLINGS:
            paragraph = re.sub(pattern, _spelling_swap(replacement), paragraph, flags=re.IGNORECASE)
        edited.append(paragraph)
    return edited


def _spelling_swap(replacement: str) -> Callable[[re.Match[str]], str]:
    def swap(match: re.Match[str]) -> str:
        return _keep_case(match.group(0), match.expand(replacement))

    return swap


def _sentences(paragraph: str) -> list[str]:
    """Sentences of a paragraph, not breaking after common abbreviations ("Mr.", "U.S.", "Jan.")."""
    sentences: list[str] = []
    for piece in _SENTENCE_BREAK.split(paragraph):
        if sentences and _ABBREVIATION_END.search(sentences[-1]):
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return sentences


def _reflow(paragraphs: list[str], rng: random.Random) -> list[str]:
    """One or two paragraph merges or splits at a sentence boundary; the words stay the same."""
    result = list(paragraphs)
    for _ in range(rng.randint(1, 2)):
        splittable = [i for i, p in enumerate(result) if len(_sentences(p)) >= 2]
        if rng.random() < 0.5 and len(result) >= 3:
            i = rng.randrange(len(result) - 1)
            result[i : i + 2] = [f"{result[i]} {result[i + 1]}"]
        elif splittable:
            i = rng.choice(splittable)
            sentences = _sentences(result[i])
            cut = rng.randint(1, len(sentences) - 1)
            result[i : i + 1] = [" ".join(sentences[:cut]), " ".join(sentences[cut:])]
    return result


def _dateline(paragraphs: list[str], wire_code: str) -> list[str]:
    """ "WASHINGTON (AP) — " in front of the lede, replacing the dateline it already had.

    The lede is the first of the opening paragraphs that carries a dateline, else the first of twelve words or
    more: scraped bodies sometimes open with the headline or site navigation.
    """
    lede = _lede(paragraphs)
    if lede is None:
        return paragraphs
    existing = _DATELINE.match(paragraphs[lede])
    city = existing.group(1).strip(" ,") if existing else "WASHINGTON"
    rest = paragraphs[lede][existing.end() :] if existing else paragraphs[lede]
    return [*paragraphs[:lede], f"{city} ({wire_code}) — {rest}", *paragraphs[lede + 1 :]]


def _lede(paragraphs: list[str]) -> int | None:
    for index, paragraph in enumerate(paragraphs[:3]):
        if _DATELINE.match(paragraph):
            return index
    return next((i for i, p in enumerate(paragraphs) if len(p.split()) >= 12), None)


def _byline(reporter: str, wire: str, rng: random.Random) -> str:
    forms = (f"By {reporter}, {wire}", f"By {reporter.upper()} {wire}", f"{reporter} | {wire}")
    return rng.choice(forms)


def _boilerplate(paragraphs: list[str], context: dict[str, str], rng: random.Random) -> list[str]:
    """One to three lines of site furniture at the end: copyright, read-more link, newsletter, social."""
    lines = rng.sample(BOILERPLATE, rng.randint(1, 3))
    return [*paragraphs, *(line.format(**context) for line in lines)]
