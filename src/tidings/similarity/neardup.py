"""Fingerprints of article texts for spotting copies of one text (syndication) across outlets.

MinHash over word 5-gram shingles: the fraction of equal hash values estimates the Jaccard similarity of the
two shingle sets, which stays high under a new headline, an added byline or a trimmed ending.
"""

from __future__ import annotations

import re

import numpy as np

NUM_PERM = 128
SHINGLE = 5


def shingles(text: str, n: int = SHINGLE) -> set[bytes]:
    words = re.findall(r"\w+", text.lower())
    if len(words) < n:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i:i + n]).encode() for i in range(len(words) - n + 1)}


def fingerprint(text: str) -> bytes:
    """MinHash signature of a text as bytes (empty text gives an empty fingerprint)."""
    grams = shingles(text)
    if not grams:
        return b""
    from datasketch import MinHash

    mh = MinHash(num_perm=NUM_PERM)
    mh.update_batch(list(grams))
    return np.asarray(mh.hashvalues, dtype=np.uint64).tobytes()


def resemblance(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets (0 when either is empty)."""
    if not a or not b or len(a) != len(b):
        return 0.0
    va = np.frombuffer(a, dtype=np.uint64)
    vb = np.frombuffer(b, dtype=np.uint64)
    return float(np.count_nonzero(va == vb)) / len(va)
