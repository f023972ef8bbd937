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


# --- short items: headline and lead -----------------------------------------------------------------

# Chance of each edit on a summary-only copy; the "version" edits are what an earlier or later version of the
# same wire story differs by.
SUMMARY_EDIT_PROBABILITIES = {
    "headline": 0.75,
    "byline": 0.25,
    "dateline": 0.35,
    "boilerplate": 0.25,
    "substitute": 0.30,
    "us_style": 0.25,
    "version:tense": 0.35,
    "version:attribution": 0.35,
    "version:day": 0.25,
    "version:cut_sentence": 0.30,
    "version:truncate": 0.30,
}
# The version edits a full-text copy gets on top of the syndication edits above.
FULLTEXT_VERSION_PROBABILITIES = {
    "us_style": 0.25,
    "version:tense": 0.40,
    "version:attribution": 0.40,
    "version:day": 0.30,
    "version:cut_sentence": 0.40,
}
# allsides-dev items of one story that are one agency text run by two outlets (read and checked by hand): copies
# in the data itself, so gold copies rather than independent reports.
ALLSIDES_SAME_TEXT = frozenset({
    frozenset({"allsides_2548", "allsides_2550"}),  # a budget proposal, one agency text at two outlets
    frozenset({"allsides_2103", "allsides_2104"}),  # a court ruling, likewise
    frozenset({"allsides_1994", "allsides_1996"}),  # a troop decision, likewise
})
DATELINE_CITIES = ("WASHINGTON", "NEW YORK", "LOS ANGELES", "CHICAGO", "LONDON", "ATLANTA")
ATTRIBUTIONS = ("officials said", "the State Department said", "the White House said", "police said",
                "a spokesperson said", "authorities said", "the agency said", "a statement said")  # fmt: skip
# Past tense -> (present perfect, future): what a story written before, during or after an event says.
TENSES = {
    "said": ("has said", "will say"), "met": ("has met", "will meet"), "announced": ("has announced", "will announce"),
    "signed": ("has signed", "will sign"), "called": ("has called", "will call"), "voted": ("has voted", "will vote"),
    "passed": ("has passed", "will pass"), "ruled": ("has ruled", "will rule"), "won": ("has won", "will win"),
    "filed": ("has filed", "will file"), "released": ("has released", "will release"),
    "confirmed": ("has confirmed", "will confirm"), "rejected": ("has rejected", "will reject"),
    "approved": ("has approved", "will approve"), "unveiled": ("has unveiled", "will unveil"),
    "urged": ("has urged", "will urge"), "warned": ("has warned", "will warn"), "issued": ("has issued", "will issue"),
    "ordered": ("has ordered", "will order"), "blocked": ("has blocked", "will block"),
    "told": ("has told", "will tell"), "asked": ("has asked", "will ask"), "agreed": ("has agreed", "will agree"),
    "launched": ("has launched", "will launch"), "proposed": ("has proposed", "will propose"),
}  # fmt: skip
_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_TENSE = re.compile(
    r"(?<!\bwas )(?<!\bwere )(?<!\bhad )(?<!\bhas )(?<!\bhave )(?<!\bbeen )\b(" + "|".join(TENSES) + r")\b"
)
_ON_DAY = re.compile(rf"\bon ({_DAY})\b")
_SAID_CLAUSE = re.compile(
    rf",? (?:according to [^,.\n]{{3,60}}|(?:the |a |an )?[A-Za-z][\w ]{{0,40}}? said(?: {_DAY}| in a statement)?)"
    r"(?=[,.])"
)
_CLAUSE_BREAK = re.compile(r",? (?=(?:as|after|while|when|because|amid) )|, ")


def build_summary_copy_set(
    items: list[EvalArticle],
    *,
    seed: int = 17,
    originals: int = 290,
    same_text: frozenset[frozenset[str]] | None = None,
    edits: dict[str, list[str]] | None = None,
) -> tuple[list[EvalArticle], set[frozenset[str]]]:
    """Summary-only copies (headline and lead) of real items, with the other outlets' reports as negatives.

    For each of ``originals`` stories one item is re-published by fictional outlets with the edits in
    ``SUMMARY_EDIT_PROBABILITIES``. Every item of ``items`` stays in the set, so every real pair of independent
    reports of one story (other outlets) is there to be told from the copies. ``same_text`` names pairs of
    items of the data that are themselves one wire text (two outlets running the same agency copy): they are
    copies too, so they join the gold pairs, with every copy of either. The same input and seed always give the
    same set; ``edits`` is filled with each copy's key -> the edits it got.
    """
    rng = random.Random(seed)
    by_story: dict[str, list[EvalArticle]] = {}
    for article in sorted(items, key=lambda a: a.key):
        if article.title.strip() and article.text.strip():
            by_story.setdefault(article.gold, []).append(article)
    stories = sorted(by_story)
    articles: list[EvalArticle] = []
    groups: list[set[str]] = []
    for story in rng.sample(stories, max(0, min(originals, len(stories)))):
        original = rng.choice(by_story[story])
        count = rng.choices([n for n, _ in COPY_COUNTS], weights=[p for _, p in COPY_COUNTS])[0]
        copies = []
        for index, outlet in enumerate(rng.sample(OUTLETS, count), start=1):
            copy, applied = _summary_copy(original, outlet, index, rng)
            copies.append(copy)
            if edits is not None:
                edits[copy.key] = applied
        articles.extend(copies)
        groups.append({original.key, *(c.key for c in copies)})
    articles = [a for story in stories for a in by_story[story]] + articles
    present = {a.key for a in articles}
    groups.extend(set(pair) for pair in (same_text or frozenset()) if pair <= present)
    return articles, _pairs_of(_merge(groups))


def build_fulltext_copy_set(
    basil: list[EvalArticle],
    *,
    seed: int = 13,
    originals: int = 60,
    edits: dict[str, list[str]] | None = None,
) -> tuple[list[EvalArticle], set[frozenset[str]]]:
    """``build_syndication_set`` with each copy also made an earlier or later version of the wire text.

    On top of the syndication edits each copy gets the edits in ``FULLTEXT_VERSION_PROBABILITIES``, drawn
    with their own generator so the syndication set itself stays as documented.
    """
    articles, pairs = build_syndication_set(basil, seed=seed, originals=originals, edits=edits)
    rng = random.Random(seed * 7919 + 1)
    edited = []
    for article in articles:
        if article.copy_of is None:
            edited.append(article)
            continue
        paragraphs = [p for p in article.text.split("\n") if p.strip()]
        paragraphs, applied = _apply(paragraphs, FULLTEXT_VERSION_PROBABILITIES, rng, {})
        edited.append(replace(article, text="\n".join(paragraphs)))
        if edits is not None:
            edits.setdefault(article.key, []).extend(applied)
    return edited, pairs


def comparison_pairs(
    articles: list[EvalArticle], gold_pairs: set[frozenset[str]], *, nearest: int = 3
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """The pairs a copy detector is judged on: (gold copies, independent reports, other-story neighbours).

    Independent reports are every other pair of one story from different outlets that is not a gold copy;
    neighbours are, for each item, the ``nearest`` items of other stories sharing most words of headline and
    text (Jaccard of the word sets), the likeliest false alarms outside the story.
    """
    copies = sorted((a, b) for a, b in (sorted(p) for p in gold_pairs))
    by_story: dict[str, list[EvalArticle]] = {}
    for article in articles:
        by_story.setdefault(article.gold, []).append(article)
    independent = sorted(
        (a.key, b.key) if a.key < b.key else (b.key, a.key)
        for members in by_story.values()
        for a, b in combinations(members, 2)
        if a.source != b.source and frozenset((a.key, b.key)) not in gold_pairs
    )
    words = {a.key: frozenset(re.findall(r"[a-z0-9]+", f"{a.title} {a.text}".lower())) for a in articles}
    story = {a.key: a.gold for a in articles}
    index: dict[str, list[str]] = {}
    for key, ws in words.items():
        for w in ws:
            index.setdefault(w, []).append(key)
    neighbours: set[tuple[str, str]] = set()
    for key, ws in words.items():
        shared: dict[str, int] = {}
        for w in ws:
            postings = index[w]
            if len(postings) > len(words) // 20:  # common words say nothing of nearness and cost the most
                continue
            for other in postings:
                if story[other] != story[key]:
                    shared[other] = shared.get(other, 0) + 1
        best = sorted(shared, key=lambda o: (-shared[o] / len(ws | words[o]), o))[:nearest]
        neighbours.update((key, o) if key < o else (o, key) for o in best)
    return copies, independent, sorted(neighbours)


def _merge(groups: list[set[str]]) -> list[set[str]]:
    """Groups that share a member joined into one: a copy of a copy is a copy."""
    merged: list[set[str]] = []
    for group in groups:
        touching = [g for g in merged if g & group]
        for g in touching:
            merged.remove(g)
            group = group | g
        merged.append(group)
    return merged


def _pairs_of(groups: list[set[str]]) -> set[frozenset[str]]:
    return {frozenset(pair) for group in groups for pair in combinations(sorted(group), 2)}


def _summary_copy(
    original: EvalArticle, outlet: str, index: int, rng: random.Random
) -> tuple[EvalArticle, list[str]]:
    """One outlet's re-publication of a headline and lead; edits are drawn in a fixed order so seeds reproduce."""
    wire = rng.choice(WIRES)
    reporter = rng.choice(REPORTERS)
    applied: list[str] = []
    title = original.title
    if rng.random() < SUMMARY_EDIT_PROBABILITIES["headline"]:
        title, style = _rewrite_headline(title, outlet, rng)
        applied.append(f"headline:{style}")
    paragraphs = [p for p in original.text.split("\n") if p.strip()]
    context = {"wire_code": wire[1], "owner": wire[2], "reporter": reporter, "wire": wire[0]}
    paragraphs, body_edits = _apply(paragraphs, SUMMARY_EDIT_PROBABILITIES, rng, context)
    applied += body_edits
    if "\n".join(paragraphs) == original.text and title == original.title:
        paragraphs = _version_day(paragraphs, rng) if _ON_DAY.search(original.text) else _us_style(paragraphs)
        if "\n".join(paragraphs) == original.text:
            paragraphs = _copyright(paragraphs, context, rng)
        applied.append("forced")
    key = f"{original.key}_copy{index}"
    copy = replace(original, key=key, url=f"{EVAL_HOST}/syndication/{_slug(outlet)}/{key}", title=title,
                   text="\n".join(paragraphs), source=outlet, copy_of=original.key)  # fmt: skip
    return copy, applied


def _apply(
    paragraphs: list[str], probabilities: dict[str, float], rng: random.Random, context: dict[str, str]
) -> tuple[list[str], list[str]]:
    """The body edits named in ``probabilities``, each tried with its chance, in one fixed order."""
    steps: list[tuple[str, Callable[[list[str]], list[str]]]] = [
        ("version:cut_sentence", _cut_sentence),
        ("version:truncate", lambda ps: _truncate(ps, rng)),
        ("version:tense", lambda ps: _version_tense(ps, rng)),
        ("version:attribution", lambda ps: _version_attribution(ps, rng)),
        ("version:day", lambda ps: _version_day(ps, rng)),
        ("substitute", lambda ps: _substitute(ps, rng)),
        ("us_style", _us_style),
        ("dateline", lambda ps: _summary_dateline(ps, context, rng)),
        ("byline", lambda ps: _summary_byline(ps, context, rng)),
        ("boilerplate", lambda ps: _copyright(ps, context, rng)),
    ]
    applied = []
    for name, step in steps:
        if name in probabilities and rng.random() < probabilities[name]:
            edited = step(paragraphs)
            if edited != paragraphs and any(p.strip() for p in edited):
                paragraphs = edited
                applied.append(name)
    return paragraphs, applied


def _cut_sentence(paragraphs: list[str]) -> list[str]:
    """The last sentence left out, when there is more than one."""
    sentences = _sentences(paragraphs[-1]) if paragraphs else []
    if len(sentences) >= 2:
        return [*paragraphs[:-1], " ".join(sentences[:-1])]
    if len(paragraphs) >= 2:
        return paragraphs[:-1]
    return paragraphs


def _truncate(paragraphs: list[str], rng: random.Random) -> list[str]:
    """Cut off with "..." at another point than the original's cut, as feeds shorten a lead."""
    text = "\n".join(paragraphs)
    if text.endswith(("...", "…")):
        text = text.rstrip(".… ")
    ends = [m.end() for m in re.finditer(r"\S+", text)]
    if len(ends) < 12:
        return paragraphs
    cut = ends[int(len(ends) * rng.uniform(0.6, 0.9)) - 1]
    return (text[:cut].rstrip(" ,;:—–-") + "...").split("\n")


def _version_tense(paragraphs: list[str], rng: random.Random) -> list[str]:
    """One past-tense verb told as it stands before or during the event: "met" -> "will meet" / "has met"."""
    text = "\n".join(paragraphs)
    matches = list(_TENSE.finditer(text))
    if not matches:
        return paragraphs
    match = matches[0] if rng.random() < 0.6 else rng.choice(matches)
    form = rng.choice(TENSES[match.group(1)])
    return (text[: match.start()] + form + text[match.end() :]).split("\n")


def _version_attribution(paragraphs: list[str], rng: random.Random) -> list[str]:
    """An attribution clause taken out where the lede has one, else one put in: ", the State Department said,"."""
    first = paragraphs[0]
    found = _SAID_CLAUSE.search(first)
    if found and rng.random() < 0.5:
        return [first[: found.start()] + first[found.end() :], *paragraphs[1:]]
    who = rng.choice(ATTRIBUTIONS)
    lede_end = len(_sentences(first)[0])
    breaks = [m for m in _CLAUSE_BREAK.finditer(first, 0, lede_end) if len(first[: m.start()].split()) >= 6]
    if breaks:
        at = breaks[0]
        return [f"{first[: at.start()]}, {who}, {first[at.end() :]}", *paragraphs[1:]]
    lede = _sentences(first)[0]
    if not lede.endswith((".", "!", "?")) or len(lede.split()) < 6:
        return paragraphs
    return [f"{lede[:-1]}, {who}{lede[-1]}{first[len(lede) :]}", *paragraphs[1:]]


def _version_day(paragraphs: list[str], rng: random.Random) -> list[str]:
    """ "on Monday" -> "Monday", or left out, as versions written on other days put it."""
    text = "\n".join(paragraphs)
    match = _ON_DAY.search(text)
    if match is None:
        return paragraphs
    before = text[: match.start()].rstrip(" ") if rng.random() < 0.5 else text[: match.start()] + match.group(1)
    after = text[match.end() :]
    joined = before + (after if before.endswith(match.group(1)) or after[:1] in ",.;:" else " " + after.lstrip(" "))
    return joined.split("\n")


def _us_style(paragraphs: list[str]) -> list[str]:
    """House style: "U.S." -> "US", curly quotes -> straight ones."""
    table = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})
    return [re.sub(r"\bU\.S\.(?=[\s,;:-])", "US", p).replace("U.N.", "UN").translate(table) for p in paragraphs]


def _summary_dateline(paragraphs: list[str], context: dict[str, str], rng: random.Random) -> list[str]:
    if _DATELINE.match(paragraphs[0]):
        return paragraphs
    return [f"{rng.choice(DATELINE_CITIES)} ({context['wire_code']}) — {paragraphs[0]}", *paragraphs[1:]]


def _summary_byline(paragraphs: list[str], context: dict[str, str], rng: random.Random) -> list[str]:
    byline = _byline(context["reporter"], context["wire"], rng)
    if rng.random() < 0.5 and byline.startswith("By "):
        return [f"{byline} {paragraphs[0]}", *paragraphs[1:]]  # run into the lead, as some feeds do
    return [byline, *paragraphs]


def _copyright(paragraphs: list[str], context: dict[str, str], rng: random.Random) -> list[str]:
    year = rng.randint(2012, 2023)
    line = f"Copyright {year} {context.get('owner', 'The Associated Press')}. All rights reserved."
    if rng.random() < 0.5:
        return [*paragraphs, line]
    return [*paragraphs[:-1], f"{paragraphs[-1]} {line}"]
