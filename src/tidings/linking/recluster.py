"""Stories that converge: the periodic re-clustering of a window of articles, merging and splitting stories with
stable ids.

Online assignment files a fresh article by its links to what came before; it cannot undo an early split or a
chain of weak joins. Here the whole window is clustered again with average linkage over the same evidence the
linker uses (meaning, rarity-weighted wording, time apart), after one correction: each pair's score is compared
with how close each article usually is to the news around it (the mean of its ten closest scores from other
outlets). A generic piece on a busy subject is close to everything; two reports of one event stand out from
what surrounds them. The lift makes one cut work for full texts, leads and bare headlines alike, where raw
scores differ by kind of text (docs/quality.md). A pair close enough on its own (``Thresholds.same_story``)
counts whatever its neighbourhood, so a big event covered by dozens of outlets does not fall apart.

Average-linkage clusters at a cut lie inside the connected components of the pairs above that cut, so the window
is split into those components first and each is clustered exactly: memory grows with the candidates, not with
the square of the window.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from tidings.similarity.lexical import word_weight
from tidings.similarity.relate import DEFAULT, Thresholds, combined_scores

LIFT = 0.05             # how much closer than their usual neighbours two reports of one event are
DENSITY_NEIGHBOURS = 10  # the "usual neighbours" of an article: its ten closest from other outlets
MAX_COMPONENT = 5000    # larger components keep their stories (a dense matrix of this size is ~100 MB)
KEEP_LINKS = 30         # links an article gains at most from one re-clustering
PAIR_CHUNK = 8192        # pairs scored (or walked in Python) at once (see _parts)
APART = -1.0            # evidence of a pair that cannot be one event (too far apart in time)


@dataclass(frozen=True)
class Member:
    id: int
    outlet: str
    published: float | None  # epoch seconds; None when undated
    story_id: int | None
    words: Collection[str]  # distinct words (a window holds them as tuples: see jobs._window)


class PairScores(Mapping[tuple[int, int], float]):
    """The display score of each candidate pair, by (article id, article id), rounded to four places when read.
    Kept in two arrays (pair key, score): as a dictionary, the ~800,000 pairs of a 20,000-article window took
    about 200 MB of tuples and floats."""

    def __init__(self, ids: np.ndarray | None = None, rows: np.ndarray | None = None, cols: np.ndarray | None = None,
                 values: np.ndarray | None = None) -> None:
        self._ids = np.zeros(0, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        self._n = len(self._ids)
        self._id_order = np.argsort(self._ids, kind="stable")
        self._sorted_ids = self._ids[self._id_order]
        if rows is None or cols is None or values is None:
            rows = cols = np.zeros(0, dtype=np.int64)
            values = np.zeros(0, dtype=np.float64)
        keys = rows.astype(np.int64) * self._n + cols
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        last = np.ones(len(keys), dtype=bool)
        last[:-1] = keys[1:] != keys[:-1]  # a pair given twice keeps its last score, as a dict does
        self._keys = keys[last]
        self._values = np.asarray(values, dtype=np.float64)[order][last]

    def _positions(self, ids: np.ndarray) -> np.ndarray:
        if self._n == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._sorted_ids, ids), self._n - 1)
        return np.where(self._sorted_ids[at] == ids, self._id_order[at], -1)

    def _find(self, first: Sequence[int], second: Sequence[int]) -> np.ndarray:
        """Index of each pair (first[k], second[k]) in the arrays, -1 where it is not a candidate pair."""
        i = self._positions(np.asarray(first, dtype=np.int64))
        j = self._positions(np.asarray(second, dtype=np.int64))
        if len(self._keys) == 0:
            return np.full(len(i), -1, dtype=np.int64)
        key = i * self._n + j
        at = np.minimum(np.searchsorted(self._keys, key), len(self._keys) - 1)
        return np.where((i >= 0) & (j >= 0) & (self._keys[at] == key), at, -1)

    def lookup(self, first: Sequence[int], second: Sequence[int]) -> list[float | None]:
        """Score of each pair (first[k], second[k]); None where it is not a candidate pair."""
        found = self._find(first, second)
        if len(self._values) == 0:
            return [None] * len(found)
        values = self._values[np.maximum(found, 0)].tolist()
        return [round(v, 4) if k >= 0 else None for k, v in zip(found.tolist(), values, strict=True)]

    def __getitem__(self, pair: tuple[int, int]) -> float:
        score = self.lookup([pair[0]], [pair[1]])[0]
        if score is None:
            raise KeyError(pair)
        return score

    def __iter__(self) -> Iterator[tuple[int, int]]:
        ids = self._ids.tolist()
        for key in self._keys.tolist():
            yield ids[key // self._n], ids[key % self._n]

    def __len__(self) -> int:
        return len(self._keys)


@dataclass
class StoryPlan:
    """New story of each article (``kept[c]`` is the existing id cluster ``c`` keeps, None for a new story),
    stories whose members all left (``absorbed``: old id -> the cluster that took most of them), and the
    display score of each candidate pair (its lift, on the scale of raw scores) and the pairs whose own evidence
    says one event (``strong``)."""

    clusters: list[list[int]] = field(default_factory=list)
    kept: list[int | None] = field(default_factory=list)
    absorbed: dict[int, int] = field(default_factory=dict)
    scores: PairScores = field(default_factory=PairScores)
    strong: set[tuple[int, int]] = field(default_factory=set)
    found: dict[tuple[int, int], dict[str, object]] = field(default_factory=dict)  # links worth showing, why


def recluster(members: list[Member], vectors: np.ndarray, candidates: list[list[int]], *,
              t: Thresholds = DEFAULT) -> StoryPlan:
    """Cluster ``members`` (``vectors``: their L2-normalised embeddings; ``candidates[i]``: indices of the
    members nearest to member i) into stories, keeping existing story ids where the members agree."""
    rows = np.repeat(np.arange(len(members)), [len(c) for c in candidates])
    cols = np.fromiter((j for c in candidates for j in c), dtype=np.int64, count=len(rows))
    return recluster_pairs(members, vectors, rows, cols, t=t)


def recluster_pairs(members: list[Member], vectors: np.ndarray, rows: np.ndarray, cols: np.ndarray, *,
                    t: Thresholds = DEFAULT) -> StoryPlan:
    """``recluster`` with the candidates given as pairs of member indices (rows[k], cols[k]), each member's in
    ascending order: arrays rather than a list per member, for a window of many thousand articles."""
    n = len(members)
    plan = StoryPlan()
    if n == 0:
        return plan
    vecs = np.asarray(vectors, dtype=np.float32)
    weights = _word_rows(members)
    keep = rows != cols
    rows, cols = rows[keep], cols[keep]
    cosine, lexical = _parts(vecs, weights, rows, cols)
    gaps = _gaps(members, rows, cols)
    score = combined_scores(cosine, lexical, gaps, t)
    density = _density(members, rows, cols, score)
    lift = score - (density[rows] + density[cols]) / 2.0
    shown = lift + float(np.mean(density))
    plan.scores = PairScores(np.array([m.id for m in members], dtype=np.int64), rows, cols, shown)
    plan.found = _found_links(members, rows, cols, shown, cosine, lexical, t)
    del cosine, lexical, shown
    evidence = _evidence(score, lift, t)
    dated = _evidence(score, lift, t, gaps)
    del gaps
    plan.strong = {(members[i].id, members[j].id) for i, j in zip(rows[dated >= 0].tolist(), cols[dated >= 0].tolist(),
                                                                  strict=True)}
    clusters: list[list[int]] = []
    for component in _components(n, rows[evidence >= 0], cols[evidence >= 0]):
        if len(component) == 1:
            clusters.append(component)
        elif len(component) <= MAX_COMPONENT:  # larger ones are in no cluster: their members keep their stories
            clusters += _average_linkage(members, vecs, weights, density, component, t)
    plan.clusters = [[members[i].id for i in c] for c in clusters]
    plan.kept, plan.absorbed = stable_ids([[members[i].story_id for i in c] for c in clusters])
    return plan


def _word_rows(members: list[Member]) -> object:
    """One row per member: its words weighted by rarity, L2-normalised (rows' dot products: weighted overlap)."""
    from scipy.sparse import csr_matrix

    vocab: dict[str, int] = {}
    indptr, indices, data = array("q", [0]), array("q"), array("d")  # not lists of Python numbers: ~1.4M at 20k
    for m in members:
        w = {vocab.setdefault(word, len(vocab)): word_weight(word) for word in m.words}
        norm = float(np.sqrt(sum(v * v for v in w.values()))) or 1.0
        indices.extend(w)
        data.extend(v / norm for v in w.values())
        indptr.append(len(indices))
    return csr_matrix((np.frombuffer(data, dtype=np.float64), np.frombuffer(indices, dtype=np.int64),
                       np.frombuffer(indptr, dtype=np.int64)), shape=(len(members), max(1, len(vocab))),
                      dtype=np.float32)


def _gaps(members: list[Member], rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    published = np.array([np.nan if m.published is None else m.published for m in members], dtype=np.float64)
    return np.abs(published[rows] - published[cols]) / 86400.0


def _parts(vecs: np.ndarray, weights: object, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Embedding cosine and rarity-weighted word overlap of each pair (rows[k], cols[k]), PAIR_CHUNK pairs at a
    time: the two rows gathered for each pair (about 3 KB) are held for one chunk, not for every pair of the
    window (all at once, 20,000 articles took 3.8 GB)."""
    cosine, lexical = [], []
    for start in range(0, len(rows), PAIR_CHUNK):
        r, c = rows[start:start + PAIR_CHUNK], cols[start:start + PAIR_CHUNK]
        cosine.append(np.einsum("ij,ij->i", vecs[r], vecs[c]))
        lexical.append(np.asarray(weights[r].multiply(weights[c]).sum(axis=1)).ravel())  # type: ignore[index]
    if not cosine:
        return np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.float32)
    return np.concatenate(cosine).astype(np.float64), np.concatenate(lexical)


def _scores(members: list[Member], vecs: np.ndarray, weights: object, rows: np.ndarray, cols: np.ndarray,
            t: Thresholds) -> np.ndarray:
    return combined_scores(*_parts(vecs, weights, rows, cols), _gaps(members, rows, cols), t)


def _found_links(members: list[Member], rows: np.ndarray, cols: np.ndarray, shown: np.ndarray,
                 cosine: np.ndarray, lexical: np.ndarray, t: Thresholds) -> dict[tuple[int, int], dict[str, object]]:
    """Pairs from other outlets whose lift-corrected score reaches ``t.related``, at most ``KEEP_LINKS`` per
    article, best first, with their evidence: an article in a quiet corner of the news gets the neighbours that
    stand out for it even where their raw score fell short when it was first linked."""
    outlets = [m.outlet for m in members]
    published = [m.published for m in members]
    found: dict[tuple[int, int], dict[str, object]] = {}
    kept = [0] * len(members)
    for k in _walk(np.argsort(-shown, kind="stable")):
        i, j = int(rows[k]), int(cols[k])
        if shown[k] < t.related:
            break
        if outlets[i] == outlets[j] or kept[i] >= KEEP_LINKS or (members[j].id, members[i].id) in found:
            continue
        kept[i] += 1
        pi, pj = published[i], published[j]
        found[(members[i].id, members[j].id)] = {
            "similarity": round(float(cosine[k]), 3), "wording": round(float(lexical[k]), 3), "copied_text": 0.0,
            "hours_apart": None if pi is None or pj is None else round(abs(pi - pj) / 3600.0, 1), "shared": []}
    return found


def _walk(order: np.ndarray) -> Iterator[int]:
    """The items of an index array as Python ints, PAIR_CHUNK at a time (not a list of all of them at once)."""
    for start in range(0, len(order), PAIR_CHUNK):
        yield from order[start:start + PAIR_CHUNK].tolist()


def _density(members: list[Member], rows: np.ndarray, cols: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Mean of each member's closest scores to other outlets' articles; the mean of all where it has none.
    Each member's scores are sorted in one array (lists of Python floats for every pair took ~100 MB at 20k)."""
    codes = {o: k for k, o in enumerate(dict.fromkeys(m.outlet for m in members))}
    outlets = np.array([codes[m.outlet] for m in members], dtype=np.int64)
    other = outlets[rows] != outlets[cols]
    mine, scores = rows[other], np.asarray(score[other], dtype=np.float64)
    order = np.lexsort((scores, mine))
    mine, scores = mine[order], scores[order]
    ends = np.searchsorted(mine, np.arange(len(members)), side="right")
    starts = np.concatenate(([0], ends[:-1]))
    density = np.array([np.mean(scores[max(s, e - DENSITY_NEIGHBOURS):e]) if e > s else np.nan
                        for s, e in zip(starts.tolist(), ends.tolist(), strict=True)])
    fallback = float(np.nanmean(density)) if np.isfinite(density).any() else 0.0
    return np.where(np.isnan(density), fallback, density)


def _evidence(score: np.ndarray, lift: np.ndarray, t: Thresholds, gap: np.ndarray | None = None) -> np.ndarray:
    """>= 0: evidence that a pair is one event (clearly above both articles' neighbourhoods, or close enough
    on its own); pairs too far apart in time never are."""
    e = np.maximum(lift - LIFT, score - t.same_story)
    if gap is not None:
        e = np.where(gap > t.same_story_days, APART, e)
    return e


def _components(n: int, rows: np.ndarray, cols: np.ndarray) -> list[list[int]]:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    groups: list[list[int]] = [[] for _ in range(count)]
    for i, label in enumerate(labels.tolist()):
        groups[label].append(i)
    return groups


def _average_linkage(members: list[Member], vecs: np.ndarray, weights: object, density: np.ndarray,
                     component: list[int], t: Thresholds) -> list[list[int]]:
    """Exact average linkage inside one component, cut where the mean evidence of two clusters turns negative."""
    from scipy.cluster.hierarchy import fcluster, linkage

    idx = np.array(component)
    # Filled in place, chunk by chunk: scipy copies it once more, so a list of chunks joined at the end would
    # make three copies of the largest array of the re-clustering (100 MB each at MAX_COMPONENT) instead of two.
    distance = np.empty(len(idx) * (len(idx) - 1) // 2, dtype=np.float64)
    start = 0
    for rows, cols in _condensed_pairs(len(idx)):
        distance[start:start + len(rows)] = _distances(members, vecs, weights, density, idx[rows], idx[cols], t)
        start += len(rows)
    labels = fcluster(linkage(distance, method="average"), t=1.0, criterion="distance")
    groups: dict[int, list[int]] = {}
    for i, label in zip(component, labels.tolist(), strict=True):
        groups.setdefault(label, []).append(i)
    return list(groups.values())


def _condensed_pairs(n: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The pairs (i < j) of n items in scipy's condensed order, about PAIR_CHUNK at a time (whole rows): the
    arrays for every pair of a 5,000-member component at once took about 800 MB."""
    i = 0
    while i < n - 1:
        end, count = i + 1, n - 1 - i
        while end < n - 1 and count + (n - 1 - end) <= PAIR_CHUNK:
            count += n - 1 - end
            end += 1
        rows = np.repeat(np.arange(i, end), np.arange(n - 1 - i, n - 1 - end, -1))
        cols = np.concatenate([np.arange(a + 1, n) for a in range(i, end)])
        yield rows, cols
        i = end


def _distances(members: list[Member], vecs: np.ndarray, weights: object, density: np.ndarray, rows: np.ndarray,
               cols: np.ndarray, t: Thresholds) -> np.ndarray:
    score = _scores(members, vecs, weights, rows, cols, t)
    lift = score - (density[rows] + density[cols]) / 2.0
    return np.asarray(np.clip(1.0 - _evidence(score, lift, t, _gaps(members, rows, cols)), 0.0, None))


def stable_ids(clusters: list[list[int | None]]) -> tuple[list[int | None], dict[int, int]]:
    """Which existing story id each cluster keeps (its members' most common, biggest clusters choosing first;
    None: a new story), and where each story no cluster kept went (the cluster holding most of its members)."""
    kept: list[int | None] = [None] * len(clusters)
    taken: set[int] = set()
    for c in sorted(range(len(clusters)), key=lambda c: -len(clusters[c])):
        counts = Counter(s for s in clusters[c] if s is not None)
        for story, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            if story not in taken:
                kept[c] = story
                taken.add(story)
                break
    where: dict[int, Counter[int]] = {}
    for c, stories in enumerate(clusters):
        for s in stories:
            if s is not None and s not in taken:
                where.setdefault(s, Counter())[c] += 1
    absorbed = {s: min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0] for s, counts in where.items()}
    return kept, absorbed
