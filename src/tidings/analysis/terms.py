"""Names and key phrases of an article (people, places, organisations, numbers), without a language model.

Capitalised word runs inside sentences are names in English news far more often than not; acronyms and
figures with units are kept too. These explain why articles are grouped ("shared: Blinken, Xi Jinping,
Beijing") and add evidence that two reports are about one event.
"""

from __future__ import annotations

import functools
import re

LEAD_CHARS = 2500

STOPWORDS = frozenset(
    """a an and are as at be been but by for from has have he her his i in is it its of on or our she that the
    their them they this to was were will with would who what when where which while not no said says say after
    before over into than then there about up out new more most also just can could may might one two us we you
    your all any been being do does did had if so some such these those very him how why year years""".split()
)

_NAME = re.compile(r"\b(?:[A-Z][\w'’.-]*[a-z0-9][\w'’-]*|[A-Z]{2,6}\b)(?:\s+(?:of\s+|for\s+|de\s+|the\s+)?"
                   r"(?:[A-Z][\w'’.-]*[a-z0-9][\w'’-]*|[A-Z]{2,6}\b))*")
MAX_NAME_WORDS = 4  # longer capitalised runs are title-case headlines, not names
_FIGURE = re.compile(r"\b\d[\d,.]*(?:\s?(?:%|percent|million|billion|trillion|people|dead|killed))\b")
_SENTENCE_START = re.compile(r"(?:[.!?…]\s+|\n\s*|[\"“‘(]\s*)$")  # checked on the few characters before
_GENERIC = frozenset("""monday tuesday wednesday thursday friday saturday sunday january february march april may
june july august september october november december mr mrs ms dr but and the this that these those it its he she
they we i you if when while after before as at in on for with from by to of or not no yes so there here what why
how who also still read more advertisement related photo video watch getty images ap reuters afp""".split())


_TITLES = frozenset("""president sen senator rep representative gov governor chairman chairwoman secretary minister
prime gen general judge justice mayor chief former vice speaker leader""".split())


_CONNECTORS = frozenset({"of", "for", "de", "the"})


def _phrases(run: str) -> list[str]:
    """Split a capitalised run at generic words and titles ("Chairman Michael Steele Sunday" -> michael steele)."""
    out: list[list[str]] = [[]]
    for word in run.replace("’", "'").split():
        w = re.sub(r"'s$", "", word).strip(".'-")
        low = w.lower()
        if out[-1] and low in _CONNECTORS:
            out[-1].append(low)
        elif low in _GENERIC or low in _TITLES or low in STOPWORDS:
            out.append([])
        else:
            out[-1].append(w)
    phrases = []
    for words in out:
        while words and words[-1] in _CONNECTORS:
            words.pop()
        phrase = " ".join(words).lower()
        if len(phrase) >= 3 and len(words) <= MAX_NAME_WORDS:
            phrases.append(phrase)
    return phrases


def key_terms(title: str, text: str, *, limit: int = 15) -> list[str]:
    """The article's most telling names and figures from its lead, lower-cased, those in the headline first."""
    lead = text[:LEAD_CHARS]
    head = f" {title.lower()} "
    counts: dict[str, float] = {}
    for m in _NAME.finditer(lead):
        at_start = m.start() == 0 or bool(_SENTENCE_START.search(lead[max(0, m.start() - 4): m.start()]))
        weak = at_start and " " not in m.group(0)
        for term in _phrases(m.group(0)):
            counts[term] = counts.get(term, 0.0) + (0.5 if weak else 1.0) + (3.0 if f" {term} " in head else 0.0)
    for m in _FIGURE.finditer(lead):
        counts[m.group(0).lower()] = counts.get(m.group(0).lower(), 0.0) + 1.0
    return sorted(counts, key=lambda t: -counts[t])[:limit]


def shared_terms(a: list[str], b: list[str], *, limit: int = 6) -> list[str]:
    """Terms of ``a`` that ``b`` also names (a name matches a longer name containing it: Xi / Xi Jinping)."""
    if not a or not b:
        return []
    theirs = set(b)
    inside_theirs = {g for other in b for g in _word_runs(other)}  # every run of whole words of b's terms
    out: list[str] = []
    for term in a:
        if term in inside_theirs or any(g in theirs for g in _word_runs(term)):
            out.append(term)
            if len(out) == limit:
                break
    return out


@functools.lru_cache(maxsize=100_000)
def _word_runs(term: str) -> tuple[str, ...]:
    """The runs of consecutive whole words of a term ("xi jinping" -> xi, jinping, xi jinping)."""
    words = term.split(" ")
    return tuple(" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1))
