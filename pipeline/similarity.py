"""How much of a report's text repeats another's, and which other office's text it repeats (内容雷同).

Texts are compared after normalising away what a copier changes first: spaces, punctuation,
and the numbers themselves ("收到申请12件" copied as "收到申请15件" stays a copy). The measure
is what plagiarism checkers call the repetition rate (重复率): the share of the text's characters
that lie in a run of at least ``RUN`` characters also found in the other text. A few words
changed here and there leave it high; shared stock phrases ("政府信息公开条例") leave it low.

Comparing every pair of 1,000 offices is half a million comparisons per section; the
:class:`PeerIndex` finds candidates with locality-sensitive hashing instead (one-permutation
MinHash over character 4-grams, banded) and measures only those.
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from array import array
from collections import Counter
from operator import eq
from dataclasses import dataclass

K = 4  # characters per shingle (candidates)
RUN = 8  # characters a repeated run must have to count (the measure)
BINS = 63  # one-permutation MinHash: one bin of the hash space per signature value
BANDS, ROWS = 21, 3  # a pair whose shingles overlap by half becomes a candidate with p ≈ 0.94, by 0.6 with 0.994
_MASK = (1 << 64) - 1
# Candidates measured exactly: the few closest by estimate, and any whose estimated containment could reach a
# repetition rate near the rules' thresholds (0.8; the estimate's error over 63 bins is about ±0.1).
CLOSEST, MEASURE_FROM = 3, 0.5
# Candidates looked at, at most: those sharing the most bands with the text. Texts that share stock phrases share
# a band now and then (a one-in-fifteen chance for two offices' boilerplate, here); at a province's 100,000 offices
# that made thousands of candidates per text, n² in all. A copy (80% repeated: about two thirds of its 4-grams
# shared) shares six bands on average and fewer than two with p ≈ 0.006, so it stays among the first.
MAX_CANDIDATES = 64
_DROP = re.compile(r"[\s\u3000\W_]+", re.UNICODE)
_DIGITS = re.compile(r"\d+")


def normalise(text: str | None) -> str:
    """Text as compared: full-width folded, numbers as 0, no spaces or punctuation."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return _DROP.sub("", _DIGITS.sub("0", text))


_MIX = 0x9E3779B97F4A7C15F39CC0605CEDC835  # odd: multiplying by it spreads every input bit upwards


def shingles(text: str | None) -> frozenset[int]:
    """The text's 4-grams, hashed the same in every run (Python salts ``hash()`` per process, which would make the
    MinHash candidates, so rule X4's verdicts on texts that only partly repeat another, change from run to run):
    each 4-gram's code points as one 128-bit number, multiplied and folded to 64 bits."""
    t = normalise(text)
    if not t:
        return frozenset()
    points = t.encode("utf-32-le")
    width = 4 * min(K, len(t))
    out = set()
    for i in range(0, len(points) - width + 1, 4):
        h = ((int.from_bytes(points[i:i + width], "little") * _MIX) >> 64) & _MASK
        out.add(h ^ (h >> 29))
    return frozenset(out)


def _runs(t: str) -> frozenset[int]:
    return frozenset(hash(t[i:i + RUN]) for i in range(len(t) - RUN + 1))


def _run_hashes(t: str) -> list[int]:
    return [hash(t[i:i + RUN]) for i in range(len(t) - RUN + 1)]


def repeated(t: str, other_runs: frozenset[int], hashes: list[int] | None = None) -> float:
    """The share of normalised text ``t`` inside runs of RUN characters that the other text also has
    (``hashes``: ``t``'s own runs, when one text is compared with many)."""
    if not t:
        return 0.0
    if len(t) < RUN:
        return 1.0 if hash(t) in other_runs else 0.0
    covered = end = 0
    for i, h in enumerate(_run_hashes(t) if hashes is None else hashes):
        if h in other_runs:  # runs overlap: count each character once
            covered += i + RUN - max(i, end)
            end = i + RUN
    return covered / len(t)


def similarity(a: str | None, b: str | None) -> float:
    """How much of ``a`` repeats ``b``: 0 (nothing) to 1 (all of it, numbers and punctuation aside)."""
    ta, tb = normalise(a), normalise(b)
    return repeated(ta, _runs(tb) | ({hash(tb)} if len(tb) < RUN else frozenset()))


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
    sig: array  # its MinHash signature (BINS values), compact: the index holds one per office and section
    text: str | None  # normalised (None: left on disk until measured); its runs are computed when it is
    #                   measured: kept for every text they cost some fifty times the text, gigabytes at 10,000 offices
    shingles: int = 0  # how many 4-grams it has (for the containment estimate)
    source: int = 0  # hash of the text as given: asked about itself, the index reuses what it computed


class _MemoryStore:
    """Documents and LSH buckets in dicts. Buckets hold one office's key (most do) or a set of them:
    at 10,000 offices a tuple and a set per band came to some 200 MB."""

    def __init__(self) -> None:
        self.docs: dict[tuple[str, str], _Doc] = {}
        self.buckets: dict[int, str | set[str]] = {}

    def get(self, section: str, key: str) -> _Doc | None:
        return self.docs.get((section, key))

    def put(self, section: str, key: str, doc: _Doc, bands: list[int]) -> None:
        self.docs[(section, key)] = doc
        for band in bands:
            held = self.buckets.get(band)
            if held is None:
                self.buckets[band] = key
            elif isinstance(held, set):
                held.add(key)
            elif held != key:
                self.buckets[band] = {held, key}

    def delete(self, section: str, key: str, bands: list[int]) -> None:
        del self.docs[(section, key)]
        for band in bands:
            held = self.buckets.get(band)
            if held == key:
                del self.buckets[band]
            elif isinstance(held, set):
                held.discard(key)

    def text(self, section: str, key: str) -> str:
        return self.docs[(section, key)].text

    def many(self, section: str, keys: list[str]) -> dict[str, _Doc]:
        return {k: self.docs[(section, k)] for k in keys}

    def candidates(self, bands: list[int], exclude: str | None, limit: int) -> list[str]:
        """The keys sharing the most of these bands (ties by key), at most ``limit``, without ``exclude``."""
        hits: Counter[str] = Counter()
        for band in bands:
            held = self.buckets.get(band)
            if isinstance(held, set):
                hits.update(held)
            elif held is not None:
                hits[held] += 1
        hits.pop(exclude, None)
        return [k for _, k in heapq.nsmallest(limit, ((-n, k) for k, n in hits.items()))]


class _DiskStore:
    """The same in a temporary SQLite file: a province's batch (100,000 offices, a few texts each) is compared
    with memory that does not grow with it. The file goes when the index is closed or collected."""

    def __init__(self) -> None:
        import sqlite3
        import tempfile

        self._dir = tempfile.TemporaryDirectory(prefix="xxgk-peers-")
        self.db = sqlite3.connect(f"{self._dir.name}/peers.db", isolation_level=None)
        # Rows are appended in the order texts come, the text last (a signature is read without its text's
        # overflow pages); the bands' index is built once the batch is in, in one sort, rather than grown by
        # millions of inserts at random places.
        self.db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-32000;"
            "CREATE TABLE doc(section TEXT, key TEXT, name TEXT, shingles INTEGER, source INTEGER, sig BLOB, text TEXT);"
            "CREATE UNIQUE INDEX doc_key ON doc(section, key);"
            "CREATE TABLE band(hash INTEGER, key TEXT); BEGIN;")
        self._indexed = False

    def get(self, section: str, key: str) -> _Doc | None:
        """The document without its text (``text`` None): most candidates are judged by signature alone."""
        row = self.db.execute("SELECT name, shingles, source, sig FROM doc WHERE section=? AND key=?",
                              (section, key)).fetchone()
        if row is None:
            return None
        sig = array("Q")
        sig.frombytes(row[3])
        return _Doc(row[0], sig, None, row[1], row[2])

    def text(self, section: str, key: str) -> str:
        return self.db.execute("SELECT text FROM doc WHERE section=? AND key=?", (section, key)).fetchone()[0]

    def many(self, section: str, keys: list[str]) -> dict[str, _Doc]:
        """Several documents without their texts, in one query."""
        out = {}
        rows = self.db.execute(f"SELECT key, name, shingles, source, sig FROM doc WHERE section=? AND key IN "
                               f"({','.join('?' * len(keys))})", (section, *keys)) if keys else ()
        for key, name, shingles, source, blob in rows:
            sig = array("Q")
            sig.frombytes(blob)
            out[key] = _Doc(name, sig, None, shingles, source)
        return out

    def put(self, section: str, key: str, doc: _Doc, bands: list[int]) -> None:
        self.db.execute("INSERT INTO doc VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (section, key, doc.name, doc.shingles, doc.source, doc.sig.tobytes(), doc.text))
        self.db.executemany("INSERT INTO band VALUES (?, ?)", [(band, key) for band in bands])

    def delete(self, section: str, key: str, bands: list[int]) -> None:
        self._index()
        self.db.execute("DELETE FROM doc WHERE section=? AND key=?", (section, key))
        self.db.executemany("DELETE FROM band WHERE hash=? AND key=?", [(band, key) for band in bands])

    def _index(self) -> None:
        if not self._indexed:
            self.db.execute("CREATE INDEX band_hash ON band(hash)")
            self._indexed = True

    def candidates(self, bands: list[int], exclude: str | None, limit: int) -> list[str]:
        self._index()
        marks = ",".join("?" * len(bands))
        return [k for (k,) in self.db.execute(
            f"SELECT key FROM band WHERE hash IN ({marks}) AND key IS NOT ? GROUP BY key ORDER BY COUNT(*) DESC, key "
            "LIMIT ?", (*bands, exclude, limit))]

    def close(self) -> None:
        self.db.close()
        self._dir.cleanup()


ON_DISK_FROM = 1000  # offices: from here an index keeps its texts on disk (a few MB of memory per thousand otherwise)


class PeerIndex:
    """The texts of many offices by section, for "which other office wrote (nearly) the same?".

    :param on_disk: keep the texts, signatures and buckets in a temporary SQLite file instead of memory
        (for batches whose texts would not fit: call :meth:`close` when done)."""

    def __init__(self, on_disk: bool = False) -> None:
        self.store: _MemoryStore | _DiskStore = _DiskStore() if on_disk else _MemoryStore()

    @classmethod
    def for_offices(cls, count: int) -> "PeerIndex":
        """An index for ``count`` offices' texts: in memory, or on disk from :data:`ON_DISK_FROM` on."""
        return cls(on_disk=count >= ON_DISK_FROM)

    def close(self) -> None:
        if isinstance(self.store, _DiskStore):
            self.store.close()

    def add(self, key: str, name: str, section: str, text: str | None) -> None:
        sh = shingles(text)
        self.remove(key, section)
        if not sh:
            return
        sig = _compact(_signature(sh))
        self.store.put(section, key, _Doc(name, sig, normalise(text), len(sh), hash(text)), _bands(section, sig))

    def remove(self, key: str, section: str) -> None:
        doc = self.store.get(section, key)
        if doc is not None:
            self.store.delete(section, key, _bands(section, doc.sig))

    def most_similar(self, section: str, text: str | None, exclude: str | None = None) -> tuple[str, float] | None:
        """The other text of this section that ``text`` repeats most: (its office's name, :func:`similarity`)."""
        found = self.best(section, text, exclude)
        return None if found is None else (found[1], found[2])

    def best(self, section: str, text: str | None, exclude: str | None = None) -> tuple[str, str, float] | None:
        """(key, name, similarity) of the other text of this section that ``text`` repeats most."""
        own = self.store.get(section, exclude) if exclude is not None else None
        if own is not None and text and own.source == hash(text):
            # The text indexed under ``exclude``: as computed then.
            n, sig, t = own.shingles, own.sig, own.text if own.text is not None else self.store.text(section, exclude)
        else:
            sh = shingles(text)
            if not sh:
                return None
            n, sig, t = len(sh), _compact(_signature(sh)), normalise(text)
        candidates = self.store.candidates(_bands(section, sig), exclude, MAX_CANDIDATES)
        hashes = _run_hashes(t)
        best = None
        for key, doc in self._worth_measuring(section, n, sig, candidates):
            score = repeated(t, _runs(doc.text if doc.text is not None else self.store.text(section, key)), hashes)
            if best is None or score > best[2] or (score == best[2] and doc.name < best[1]):
                best = (key, doc.name, score)
        return best

    def _worth_measuring(self, section: str, n: int, sig: array, candidates: list[str]) -> list[tuple[str, _Doc]]:
        """The candidates whose texts could hold much of this one, by the MinHash estimate of how much of its
        4-grams they contain; always the closest few. Texts that share only stock phrases with many others
        (every office's boilerplate) would otherwise be measured exactly against each, n² in a large batch."""
        scored = []
        for key, doc in self.store.many(section, candidates).items():
            jaccard = sum(map(eq, sig, doc.sig)) / len(sig)
            contained = jaccard * (n + doc.shingles) / ((1 + jaccard) * n)
            scored.append((-contained, key, doc))
        scored.sort(key=lambda x: (x[0], x[1]))
        return [(key, doc) for i, (neg, key, doc) in enumerate(scored) if i < CLOSEST or -neg >= MEASURE_FROM]


def _compact(sig: tuple[int, ...]) -> array:
    # A densified value can pass 2**64 by a few units (astronomically rarely): kept modulo, it still compares.
    return array("Q", (v & _MASK for v in sig))


def _bands(section: str, sig: array) -> list[int]:
    """The LSH buckets of a signature: ROWS values per band, each band hashed with its section and place."""
    return [hash((section, b, tuple(sig[b * ROWS:(b + 1) * ROWS]))) for b in range(BANDS)] if len(sig) else []
