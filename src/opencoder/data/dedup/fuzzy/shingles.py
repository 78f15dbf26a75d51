"""Normalise a file's text and hash its n-gram shingles, a whole batch of files at once.

Normalisation (the paper says only "5-gram pieces"; this is our documented choice):
ASCII letters are lower-cased; a *word* is a maximal run of ASCII letters, digits, `_` or any
non-ASCII character; everything else (spaces, punctuation, operators) only separates words.
The normalised text is the words joined by single spaces, so re-indenting a file, changing
line endings or reformatting operators leaves it unchanged. Shingles are `ngram` consecutive
words (`unit: word`, the default) or `ngram` consecutive characters of the normalised text
(`unit: char`).

A shingle's hash is a 64-bit polynomial (Horner) hash of its code points, finished with the
MurmurHash3 64-bit mixer, truncated to 32 bits: the input `datasketch.MinHash` expects from its
`hashfunc` (`shingle_hash` is exactly that function, so datasketch can be fed the same shingles).
A file with fewer than `ngram` units has no shingle; it gets the full 64-bit hash of its whole
normalised text instead (`short_hash`), so such files are still deduplicated, exactly.

The batch path (`hash_batch`) runs the same arithmetic compiled with numba over the code points
of many files; `tests/test_dedup_fuzzy_minhash.py` checks it against the pure-Python definitions here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numba
import numpy as np

from opencoder.data.dedup.fuzzy.params import UNITS

_P = 0x9E3779B97F4A7C15  # odd 64-bit multiplier of the polynomial hash
_MASK64 = (1 << 64) - 1
_SPACE = 32
_WORD = re.compile(r"[0-9a-z_\u0080-\U0010ffff]+")


# ------------------------------------------------------------------ definitions (pure Python) ---
_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def _ascii_lower(text: str) -> str:
    return text.translate(_LOWER)


def normalise(text: str) -> str:
    """The normalised text: lower-cased ASCII words joined by single spaces."""
    return " ".join(_WORD.findall(_ascii_lower(text)))


def shingles(text: str, ngram: int, unit: str = "word") -> set[str]:
    """The set of shingles of `text` (empty when it has fewer than `ngram` units)."""
    norm = normalise(text)
    if unit == "char":
        return {norm[i : i + ngram] for i in range(len(norm) - ngram + 1)}
    words = norm.split(" ") if norm else []
    return {" ".join(words[i : i + ngram]) for i in range(len(words) - ngram + 1)}


def _fmix64_int(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _MASK64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _MASK64
    return h ^ (h >> 33)


def _poly_int(s: str) -> int:
    h = 0
    for ch in s:
        h = (h * _P + ord(ch)) & _MASK64
    return _fmix64_int(h)


def shingle_hash(shingle: str) -> int:
    """32-bit hash of one shingle: the `hashfunc` to give `datasketch.MinHash` for equal sketches."""
    return _poly_int(shingle) & 0xFFFFFFFF


def short_hash(text: str) -> int:
    """64-bit hash of a whole normalised text: the key of a file too short for one shingle."""
    return _poly_int(normalise(text))


# ------------------------------------------------------------------------ batch path (numba) ---
@numba.njit(inline="always")
def _fmix64(h):
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


@numba.njit(inline="always")
def _poly(cps, start, end):
    h = np.uint64(0)
    for i in range(start, end):
        h = h * np.uint64(_P) + np.uint64(cps[i])
    return _fmix64(h)


@numba.njit(cache=True)
def _count_units(norm, starts, ends, word_unit):
    """Units (words or characters) of each normalised document."""
    counts = np.zeros(len(starts), np.int64)
    for d in range(len(starts)):
        if word_unit:
            for i in range(starts[d], ends[d]):
                if norm[i] != _SPACE and (i == starts[d] or norm[i - 1] == _SPACE):
                    counts[d] += 1
        else:
            counts[d] = ends[d] - starts[d]
    return counts


@numba.njit(cache=True)
def _hash_shingles(norm, starts, ends, ngram, word_unit, counts, offsets, out, short):
    """Fill out[offsets[d]:offsets[d+1]] with the shingle hashes of document d, or short[d]."""
    word_starts = np.empty(0, np.int64)
    for d in range(len(starts)):
        s, e, n_units = starts[d], ends[d], counts[d]
        if n_units < ngram:
            short[d] = _poly(norm, s, e)
            continue
        o = offsets[d]
        if not word_unit:
            for i in range(n_units - ngram + 1):
                out[o + i] = np.uint32(_poly(norm, s + i, s + i + ngram) & np.uint64(0xFFFFFFFF))
            continue
        if len(word_starts) < n_units + 1:
            word_starts = np.empty(2 * n_units + 1, np.int64)
        w = 0
        for i in range(s, e):
            if norm[i] != _SPACE and (i == s or norm[i - 1] == _SPACE):
                word_starts[w] = i
                w += 1
        word_starts[w] = e + 1  # one past the (virtual) space after the last word
        for i in range(n_units - ngram + 1):
            end = word_starts[i + ngram] - 1
            out[o + i] = np.uint32(_poly(norm, word_starts[i], end) & np.uint64(0xFFFFFFFF))


@dataclass
class ShingleBatch:
    """Shingle hashes of a batch of documents.

    `hashes[offsets[d]:offsets[d+1]]` are document d's distinct shingle hashes (sorted); a
    document with no shingle has an empty range and `is_short[d]`, and `short[d]` is the hash
    of its normalised text.
    """

    hashes: np.ndarray  # uint32
    offsets: np.ndarray  # int64, len = documents + 1
    short: np.ndarray  # uint64
    is_short: np.ndarray  # bool


@numba.njit(cache=True)
def _normalise_batch(cps, lengths, norm, starts, ends):
    """Write each document's normalised text into `norm`; its range is starts[d]:ends[d]."""
    i = o = 0
    for d in range(len(lengths)):
        starts[d] = o
        in_word = False
        for j in range(i, i + lengths[d]):
            c = cps[j]
            if 65 <= c <= 90:
                c += 32
            if (97 <= c <= 122) or (48 <= c <= 57) or c == 95 or c >= 128:
                if not in_word and o > starts[d]:
                    norm[o] = _SPACE
                    o += 1
                norm[o] = c
                o += 1
                in_word = True
            else:
                in_word = False
        ends[d] = o
        i += lengths[d]


def _normalised_code_points(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Code points of every document's normalised text, concatenated, with per-document ranges."""
    lengths = np.fromiter((len(t) for t in texts), np.int64, len(texts))
    cps = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), np.uint32)
    norm = np.empty(len(cps), np.uint32)
    starts, ends = np.empty(len(texts), np.int64), np.empty(len(texts), np.int64)
    _normalise_batch(cps, lengths, norm, starts, ends)
    return norm, starts, ends


def sorted_distinct(values: np.ndarray) -> np.ndarray:
    """`np.unique(values)` by sort and compare: numpy 2.4's `unique` is ~40x slower on uint64."""
    out = np.sort(values)
    keep = np.ones(len(out), bool)
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    return out[keep]


def hash_batch(texts: list[str], ngram: int, unit: str = "word") -> ShingleBatch:
    """Distinct shingle hashes of every text (see the module docstring for the definitions)."""
    if unit not in UNITS:
        raise ValueError(f"shingle unit must be one of {UNITS}, got {unit!r}")
    word_unit = unit == "word"
    norm, starts, ends = _normalised_code_points(texts)
    counts = _count_units(norm, starts, ends, word_unit)
    per_doc = np.maximum(counts - ngram + 1, 0)
    offsets = np.concatenate(([0], np.cumsum(per_doc)))
    raw = np.empty(int(offsets[-1]), np.uint32)
    short = np.zeros(len(texts), np.uint64)
    _hash_shingles(norm, starts, ends, ngram, word_unit, counts, offsets, raw, short)
    # distinct hashes per document: sort (document, hash) pairs and drop repeats
    doc_of = np.repeat(np.arange(len(texts), dtype=np.uint64), per_doc)
    keyed = sorted_distinct((doc_of << np.uint64(32)) | raw.astype(np.uint64))
    hashes = (keyed & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    distinct = np.bincount((keyed >> np.uint64(32)).astype(np.int64), minlength=len(texts))
    return ShingleBatch(
        hashes=hashes,
        offsets=np.concatenate(([0], np.cumsum(distinct))).astype(np.int64),
        short=short,
        is_short=per_doc == 0,
    )
