"""Fingerprints of article texts for spotting copies of one text (syndication) across outlets.

MinHash over word 5-gram shingles estimates the Jaccard similarity of two shingle sets; with the set sizes it
also estimates containment (the share of the shorter text found in the longer), which stays high under what
syndication does: a new headline, an added byline or dateline, site boilerplate, a trimmed or extended ending.
Candidates are the article's nearest neighbours by meaning (a copy is always near its original); an estimate
above the bar is confirmed on the exact shingle sets.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

NUM_PERM = 128
SHINGLE = 5
ESTIMATE_FLOOR = 0.45     # estimated containment worth confirming on the exact texts
COPY_CONTAINMENT = 0.6    # share of the shorter text's shingles found in the other: a copy
SCHEME = "affine32"       # datasketch's hashing scheme; stored signatures depend on it
MIN_WORDS = 40            # texts shorter than this (a summary) are too short to call copies


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
    """MinHash signature and shingle count of a text; empty for texts too short to judge."""
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


def exact_containment(text_a: str, text_b: str) -> float:
    """The same measure on the exact shingle sets: the confirmation of a copy."""
    sa, sb = shingles(text_a), shingles(text_b)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / min(len(sa), len(sb))
