"""Telling a republished copy of one text from an independent report of the same event.

Two measures work together. ``copy_share`` is the decision: the share of the shorter item's words (headline and
text together, after stripping what republishers add: outlet suffixes, datelines, bylines, agency boilerplate)
that sit inside runs of at least ``RUN`` words found in the other item. A copy keeps long runs even under the
edits a later version of a wire story gets (a tense changed, an attribution clause added, a sentence cut): each
changed word costs only itself. Independent reports of one event share names and short phrases, rarely runs of
words, so they stay far below the bar. It works on any length, from a headline alone to a full page.

``fingerprint`` (MinHash over word 5-grams) is the cheap prefilter for full texts: ``needs_exact_check`` says
whether a pair is worth the exact comparison. Short items are always compared exactly; that is cheap.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

NUM_PERM = 128
SHINGLE = 5
ESTIMATE_FLOOR = 0.3      # estimated 5-gram containment worth the exact check (copies with many edits sit near 0.5)
COPY_CONTAINMENT = 0.6    # copy_share at or above this: a copy (edited copies score 0.69 and up, reports <= 0.5)
SCHEME = "affine32"       # datasketch's hashing scheme; stored signatures depend on it
MIN_WORDS = 40            # texts shorter than this get no fingerprint (too few shingles for an estimate)
RUN = 4                   # words in a row that must match for them to count as copied
EXACT_BELOW_WORDS = 150   # pairs where either text is shorter than this skip the estimate: exact is cheap
SIZE_RATIO = 4.0          # texts this many times apart in length: the MinHash containment estimate is too noisy


@dataclass(frozen=True)
class Fingerprint:
    signature: bytes = b""
    shingles: int = 0

    def __bool__(self) -> bool:
        return bool(self.signature)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def shingles(text: str, n: int = SHINGLE) -> set[str]:
    words = _words(text)
    if len(words) < n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


@functools.cache
def _permutations() -> object:
    """The hash permutations for seed 1, drawn once: datasketch draws them anew for every MinHash otherwise."""
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME).permutations


def fingerprint(text: str) -> Fingerprint:
    """MinHash signature and shingle count of a text; empty for texts too short for an estimate."""
    if len(text.split()) < MIN_WORDS:
        return Fingerprint()
    grams = shingles(text)
    from datasketch import MinHash

    mh = MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME, permutations=_permutations())
    mh.update_batch([g.encode() for g in grams])
    return Fingerprint(np.asarray(mh.hashvalues, dtype=np.uint64).tobytes(), len(grams))


def resemblance(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets (0 when either is empty)."""
    if not a or not b or len(a.signature) != len(b.signature):
        return 0.0
    va = np.frombuffer(a.signature, dtype=np.uint64)
    vb = np.frombuffer(b.signature, dtype=np.uint64)
    return float(np.count_nonzero(va == vb)) / len(va)


def containment(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated share of the smaller shingle set found in the other, from Jaccard and the set sizes."""
    j = resemblance(a, b)
    if j <= 0.0:
        return 0.0
    common = j * (a.shingles + b.shingles) / (1.0 + j)
    return min(1.0, common / max(1, min(a.shingles, b.shingles)))


def needs_exact_check(fp_a: Fingerprint, fp_b: Fingerprint, words_a: int, words_b: int) -> bool:
    """Whether a pair may be a copy, so that ``copy_share`` must decide; False means: certainly not a copy.

    ``fp_*`` are the ``fingerprint`` of each article's text (empty when it had none or too little), ``words_*``
    the number of words of that text (``len(text.split())``). True whenever either text is short (under
    ``EXACT_BELOW_WORDS`` words) or has no fingerprint, or the two lengths are too far apart for the MinHash
    estimate to be trusted; otherwise True only when the estimated 5-gram containment reaches
    ``ESTIMATE_FLOOR``, a bar set well below what edited copies score so that the estimate loses none of them.
    """
    if not fp_a or not fp_b or min(words_a, words_b) < EXACT_BELOW_WORDS:
        return True
    if max(words_a, words_b) > SIZE_RATIO * max(1, min(words_a, words_b)):
        return True
    return containment(fp_a, fp_b) >= ESTIMATE_FLOOR


# --- the exact measure ----------------------------------------------------------------------------

# "... | CNN", "... - The Hill", "... — Reuters": a short tail after a spaced bar or dash names the outlet.
_OUTLET_SUFFIX = re.compile(r"\s+(?:\||[-–—]{1,2}|::)\s+(?:[^\s|–—]+\s*){1,5}$")
# "WATCH:", "BREAKING:", "Opinion |": labels that outlets put in front of a headline.
_HEADLINE_LABEL = re.compile(
    r"^\s*(?:[A-Z]{3,12}(?: [A-Z]{2,8})?\s*[:|]|(?:Opinion|Analysis|Editorial|Exclusive|Live|Watch|Video)\s*[:|])\s*"
)
# "WASHINGTON (AP) — ", "Beijing (CNN) - ", "NEW YORK — ", "LONDON, England (Reuters) -- ".
_DATELINE = re.compile(
    r"^\s*(?:[A-Z][\w.,'’ ]{0,40}?\s*\((?:[A-Za-z .&/]{1,30})\)\s*(?:[—–-]{1,2}|:)?"
    r"|[A-Z][A-Z.,'’ ]{1,40}?\s*[—–]|[A-Z][A-Z.,'’ ]{1,40}?\s+--?)\s*"
)
_WIRE_TAG = re.compile(r"\((?:AP|Reuters|AFP|UPI|CNN|Bloomberg)\)\s*[—–-]*\s*")
_AGENCIES = r"(?:The )?(?:Associated Press|AP|Reuters|AFP|UPI|Bloomberg|Agence France-Presse|Thomson Reuters)"
# "By Jane Doe, Associated Press" / "By JANE DOE AP" / "Jane Doe | Reuters": a byline line, or one run into the lede.
_BYLINE_LINE = re.compile(rf"^\s*(?:By\s+\S.*|(?:[A-Z][\w.'’-]*\s+){{1,4}}\|\s*{_AGENCIES}.*)$")
_BYLINE_INLINE = re.compile(rf"^\s*By\s+[^.\n]{{2,60}}?,?\s+{_AGENCIES}\b[\s.,|:]*")
BYLINE_MAX_WORDS = 12
_BOILERPLATE = re.compile(
    r"(?:Copyright|©|\(c\))\s*©?\s*(?:\d{4}\s+)?[^.\n]{0,80}?\.(?:\s*All rights reserved\.?)?"
    r"|All rights reserved\.?"
    r"|This material may not be published, broadcast, rewritten,? or redistributed\.?"
    r"|Read more:\s*\S+"
    r"|Sign up for [^.\n]{0,100}?newsletter[^.\n]*\.?"
    r"|Follow [^.\n]{0,60}? on (?:Facebook|Twitter|X|Instagram)\b[^.\n]*\.?"
    r"|Editor[’']?s note:[^\n]*"
    r"|(?:^|(?<=[.!?] ))[^.!?\n]{0,80}contributed to this report\.?",
    re.IGNORECASE,
)
# Cheap test for the words every boilerplate line carries: the full pattern is slow on ordinary prose.
_BOILERPLATE_HINT = re.compile(
    r"copyright|©|\(c\)|rights reserved|may not be published|read more|sign up|follow|editor|contributed"
)
_INITIALISM = re.compile(r"\b((?:[a-z]\.){2,})")  # "u.s." -> "us", "u.n." -> "un"
_APOSTROPHE = re.compile(r"['’‘`´](?=\w)")  # only those after a letter are dropped (see _normal)
_MONEY_SHORT = re.compile(r"(\d)\s?(m|bn|b|k)\b")
_MONEY_WORDS = {"m": " million", "bn": " billion", "b": " billion", "k": " thousand"}
_TOKEN = re.compile(r"[a-z0-9]+")
_COMBINING = re.compile(r"[\u0300-\u036f]")


def _clean_title(title: str) -> str:
    title = _HEADLINE_LABEL.sub("", title.strip(), count=1)
    stripped = _OUTLET_SUFFIX.sub("", title)
    return stripped if len(stripped.split()) >= 3 else title


def _clean_text(text: str) -> str:
    kept = []
    for paragraph in text.split("\n"):
        if _BOILERPLATE_HINT.search(paragraph.lower()):
            paragraph = _BOILERPLATE.sub(" ", paragraph)
        if len(paragraph.split()) <= BYLINE_MAX_WORDS and _BYLINE_LINE.match(paragraph):
            continue
        paragraph = _BYLINE_INLINE.sub("", paragraph, count=1)
        paragraph = _DATELINE.sub("", paragraph, count=1)
        paragraph = _WIRE_TAG.sub("", paragraph)
        if paragraph.strip():
            kept.append(paragraph)
    return "\n".join(kept)


_QUOTED = re.compile(r"[“\"]([^”\"\n]*)(?:[”\"]|$)|(?<!\w)['‘]([^'’‘\n]{2,200}?)['’](?!\w)", re.MULTILINE)
MIN_UNQUOTED = 10  # words outside quotation marks needed for quotes to be left out of the share


def _normal(text: str) -> str:
    """Case, accents, "U.S."/"US", "5%"/"5 percent", "$3m"/"$3 million" unified; apostrophes dropped."""
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    text = text.lower()
    text = _INITIALISM.sub(lambda m: m.group(1).replace(".", ""), text)
    text = _APOSTROPHE.sub(lambda m: "" if m.start() and text[m.start() - 1].isalnum() else m.group(0), text)
    text = text.replace("%", " percent").replace("per cent", "percent")
    return _MONEY_SHORT.sub(lambda m: m.group(1) + _MONEY_WORDS[m.group(2)], text)


def _tokens(text: str) -> tuple[list[str], list[bool]]:
    """The words of a cleaned text in order, and for each whether it stands inside quotation marks."""
    text = _normal(text)  # apostrophes inside words are gone, so what is left of them marks quotations
    words: list[str] = []
    quoted: list[bool] = []
    cursor = 0
    for match in _QUOTED.finditer(text):
        for piece, inside in ((text[cursor : match.start()], False), (match.group(0), True)):
            found = _TOKEN.findall(piece)  # quotation marks are never part of a word, so no word is cut
            words += found
            quoted += [inside] * len(found)
        cursor = match.end()
    found = _TOKEN.findall(text[cursor:])
    return words + found, quoted + [False] * len(found)


@dataclass(frozen=True)
class _Item:
    words: tuple[str, ...]
    counted: tuple[bool, ...]  # the words the share is taken over: those outside quotes, when there are enough
    size: int                  # how many are counted


@functools.lru_cache(maxsize=512)
def _item(title: str, text: str) -> _Item:
    """Headline then text, cleaned; kept for a while because one new article meets many candidates.

    Quotations are left out of the share (a quote of a speaker is shared by independent reports) unless too
    few words stand outside them to judge by.
    """
    head_words, head_quoted = _tokens(_clean_title(title))
    body_words, body_quoted = _tokens(_clean_text(text))
    words, quoted = head_words + body_words, head_quoted + body_quoted
    counted = [not q for q in quoted]
    if sum(counted) < MIN_UNQUOTED:
        counted = [True] * len(words)
    return _Item(tuple(words), tuple(counted), sum(counted))


def _grams(words: tuple[str, ...], n: int) -> list[tuple[str, ...]]:
    return list(zip(*(words[i:] for i in range(n)), strict=False))


def _runs(a: tuple[str, ...], b: tuple[str, ...], n: int) -> list[tuple[int, int, int]]:
    """Every maximal run of ``n`` or more words found in both: (start in a, start in b, length)."""
    grams_a, grams_b = _grams(a, n), _grams(b, n)
    common = set(grams_a).intersection(grams_b)
    if not common:
        return []
    where: dict[tuple[str, ...], list[int]] = {}
    for j, gram in enumerate(grams_b):
        if gram in common:
            where.setdefault(gram, []).append(j)
    runs = []
    for i, gram in enumerate(grams_a):
        if gram not in common:
            continue
        for j in where[gram]:
            if i and j and a[i - 1] == b[j - 1]:
                continue  # inside a run that starts earlier
            length = n
            while i + length < len(a) and j + length < len(b) and a[i + length] == b[j + length]:
                length += 1
            runs.append((i, j, length))
    return runs


def _tiled(a: tuple[str, ...], b: tuple[str, ...], n: int) -> list[bool]:
    """Which words of ``a`` are matched, each word of either text used once, longest runs first.

    Using each word once keeps a phrase that one item repeats (its headline again in its lead) from counting
    twice against a single occurrence in the other.
    """
    used_a, used_b = [False] * len(a), [False] * len(b)
    for i, j, length in sorted(_runs(a, b, n), key=lambda r: -r[2]):
        start = 0
        for k in range(length + 1):
            free = k < length and not used_a[i + k] and not used_b[j + k]
            if free:
                continue
            if k - start >= n:
                for m in range(start, k):
                    used_a[i + m] = used_b[j + m] = True
            start = k + 1
    return used_a


def copy_share(title_a: str, text_a: str, title_b: str, text_b: str) -> float:
    """Share (0..1) of the shorter item's words matched by runs of ``RUN`` or more words of the other item.

    An item is its headline and its text, whatever the text is: a full page, a feed summary, or nothing. At or
    above ``COPY_CONTAINMENT`` the two items are copies of one text. Outlet suffixes and labels of headlines,
    datelines, bylines and agency boilerplate are left out before comparing, and so are quotations when there
    are enough other words. Each word of either item is matched at most once.
    """
    a, b = _item(title_a, text_a), _item(title_b, text_b)
    short, long = (a, b) if a.size <= b.size else (b, a)
    if not short.words or not long.words:
        return 0.0
    n = min(RUN, len(short.words), len(long.words))
    matched = _tiled(short.words, long.words, n)
    return sum(m and c for m, c in zip(matched, short.counted, strict=True)) / short.size


def exact_containment(text_a: str, text_b: str) -> float:
    """``copy_share`` of two texts without headlines."""
    return copy_share("", text_a, "", text_b)
