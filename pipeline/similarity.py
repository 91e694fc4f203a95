"""How alike two report texts are, and which other office's text is most alike (内容雷同).

Texts are compared as sets of character 4-grams after normalising away what a copier changes
first: spaces, punctuation, and the numbers themselves ("收到申请12件" copied as "收到申请15件"
stays a copy). The measure is the Jaccard similarity of those sets, robust to small edits.

Comparing every pair of 1,000 offices is half a million set comparisons per section; the
:class:`PeerIndex` finds candidates with locality-sensitive hashing instead (one-permutation
MinHash, banded), and measures only those exactly.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

K = 4  # characters per shingle
BINS = 64  # one-permutation MinHash: one bin of the hash space per signature value
BANDS, ROWS = 16, 4  # 16 bands of 4 values: a pair with similarity 0.8 becomes a candidate with p ≈ 0.9998
_MASK = (1 << 64) - 1
_DROP = re.compile(r"[\s\u3000\W_]+", re.UNICODE)
_DIGITS = re.compile(r"\d+")


def normalise(text: str | None) -> str:
    """Text as compared: full-width folded, numbers as 0, no spaces or punctuation."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return _DROP.sub("", _DIGITS.sub("0", text))


def shingles(text: str | None) -> frozenset[int]:
    t = normalise(text)
    if len(t) <= K:
        return frozenset({hash(t)}) if t else frozenset()
    return frozenset(hash(t[i:i + K]) for i in range(len(t) - K + 1))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def similarity(a: str | None, b: str | None) -> float:
    """0 (nothing shared) to 1 (the same text, numbers and punctuation aside)."""
    return jaccard(shingles(a), shingles(b))


def _signature(sh: frozenset[int]) -> tuple[int, ...]:
    """One-permutation MinHash: the smallest hash in each of BINS bins; empty bins borrow the next one's."""
    mins = [None] * BINS
    for h in sh:
        h &= _MASK
        b, v = h % BINS, h // BINS
        if mins[b] is None or v < mins[b]:
            mins[b] = v
    filled = [i for i, v in enumerate(mins) if v is not None]
    if not filled:
        return ()
    out = []
    for i in range(BINS):
        if mins[i] is not None:
            out.append(mins[i])
        else:  # densify by rotation: the nearest filled bin to the right, marked with the distance
            j = next((f for f in filled if f > i), filled[0] + BINS)
            out.append(mins[j % BINS] * BINS + (j - i))
    return tuple(out)


@dataclass
class _Doc:
    name: str
    shingles: frozenset[int]


@dataclass
class PeerIndex:
    """The texts of many offices by section, for "which other office wrote (nearly) the same?"."""

    docs: dict[tuple[str, str], _Doc] = field(default_factory=dict)  # (section, key) → text
    buckets: dict[tuple, set[str]] = field(default_factory=dict)

    def add(self, key: str, name: str, section: str, text: str | None) -> None:
        sh = shingles(text)
        if not sh:
            return
        self.remove(key, section)
        self.docs[(section, key)] = _Doc(name, sh)
        for band in self._bands(section, sh):
            self.buckets.setdefault(band, set()).add(key)

    def remove(self, key: str, section: str) -> None:
        doc = self.docs.pop((section, key), None)
        if doc is not None:
            for band in self._bands(section, doc.shingles):
                self.buckets.get(band, set()).discard(key)

    def most_similar(self, section: str, text: str | None, exclude: str | None = None) -> tuple[str, float] | None:
        """The most similar other text of this section: (its office's name, similarity), or None."""
        sh = shingles(text)
        if not sh:
            return None
        candidates: set[str] = set()
        for band in self._bands(section, sh):
            candidates |= self.buckets.get(band, set())
        candidates.discard(exclude)
        best = None
        for key in candidates:
            doc = self.docs[(section, key)]
            score = jaccard(sh, doc.shingles)
            if best is None or score > best[1] or (score == best[1] and doc.name < best[0]):
                best = (doc.name, score)
        return best

    @staticmethod
    def _bands(section: str, sh: frozenset[int]) -> list[tuple]:
        sig = _signature(sh)
        return [(section, b, sig[b * ROWS:(b + 1) * ROWS]) for b in range(BANDS)] if sig else []
