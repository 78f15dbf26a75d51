"""MinHash signatures and LSH band keys of a batch of documents, equal to datasketch's sketches.

The hash family is datasketch's (`MinHash(num_perm, seed)`, scheme "affine32", its default since
2.0): each 32-bit shingle hash is pre-mixed with the MurmurHash3 32-bit finaliser and permuted as
`a_k * h + b_k mod 2^32`; the signature is the minimum per permutation. We take the permutation
parameters from datasketch itself and run the same arithmetic in one compiled loop over a batch
(numba, parallel over documents): about 7x numpy's throughput on this kernel, which is what the
whole stage's speed rests on. `tests/test_dedup_fuzzy_minhash.py` checks the result against
`datasketch.MinHash.update_batch` value by value.

Only the first `bands * rows` permutations are computed (datasketch's `MinHashLSH` reads the
same prefix), and only the band keys are kept: one 64-bit hash of each band's `rows` values.
"""

from __future__ import annotations

import functools

import numba
import numpy as np
from datasketch import MinHash

from opencoder.data.dedup.fuzzy.shingles import ShingleBatch, _fmix64

EMPTY = np.uint32(0xFFFFFFFF)  # datasketch's initial value: the signature of an empty set


@functools.lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's permutation parameters (a, b) for `num_perm` and `seed`, as uint32 arrays."""
    a, b = MinHash(num_perm=num_perm, seed=seed).permutations
    return np.ascontiguousarray(a, np.uint32), np.ascontiguousarray(b, np.uint32)


@numba.njit(inline="always")
def _fmix32(h):
    h ^= h >> np.uint32(16)
    h = np.uint32(h * np.uint32(0x85EBCA6B))
    h ^= h >> np.uint32(13)
    h = np.uint32(h * np.uint32(0xC2B2AE35))
    return h ^ (h >> np.uint32(16))


@numba.njit(parallel=True, cache=True)
def _signatures(hashes, offsets, a, b, out):
    for d in numba.prange(len(offsets) - 1):
        sig = out[d]
        for i in range(offsets[d], offsets[d + 1]):
            h = _fmix32(hashes[i])
            for k in range(a.shape[0]):
                sig[k] = min(sig[k], np.uint32(a[k] * h + b[k]))


def signatures(batch: ShingleBatch, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(documents, len(a)) uint32 MinHash values; rows of short documents stay EMPTY."""
    out = np.full((len(batch.offsets) - 1, len(a)), EMPTY, np.uint32)
    _signatures(batch.hashes, batch.offsets, a, b, out)
    return out


@numba.njit(parallel=True, cache=True)
def _band_keys(sig, bands, rows, out):
    for d in numba.prange(sig.shape[0]):
        for band in range(bands):
            h = np.uint64(band)
            for k in range(band * rows, (band + 1) * rows):
                h = h * np.uint64(0x9E3779B97F4A7C15) + np.uint64(sig[d, k])
            out[d, band] = _fmix64(h)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(documents, bands) uint64: one hash per band of `rows` signature values.

    Two documents share a band key exactly when their `rows` values in that band are equal (up
    to a 64-bit hash collision), which is what makes them an LSH candidate pair.
    """
    if bands * rows > sig.shape[1]:
        raise ValueError(f"{bands} bands x {rows} rows need {bands * rows} permutations, have {sig.shape[1]}")
    out = np.empty((sig.shape[0], bands), np.uint64)
    _band_keys(np.ascontiguousarray(sig), bands, rows, out)
    return out
