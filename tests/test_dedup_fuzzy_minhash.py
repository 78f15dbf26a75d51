"""The batch kernels give exactly the definitions: datasketch's sketches, the documented shingles."""

from __future__ import annotations

import random

import numpy as np
import pytest
from datasketch import MinHash

from opencoder.data.dedup.fuzzy.minhash import EMPTY, band_keys, permutations, signatures
from opencoder.data.dedup.fuzzy.shingles import hash_batch, normalise, shingle_hash, shingles, short_hash

TEXTS = [
    "def foo(x):\n    return x + 1  # Ünïcode and 漢字 stay words\n",
    "import os\nimport sys\n\nprint(os.path.join('a', 'b'))\n" * 3,
    "",
    "   \n\t ",
    "a b c d",  # four words: too short for a 5-gram
    "A,B;c  d\te",  # exactly one 5-gram, the same as "a b c d e"
    "x" * 40,
    "emoji 😀 surrogate-free text with CamelCase and snake_case_names 123 0x1F",
]


def random_code(rng: random.Random) -> str:
    alphabet = "abcXYZ_019 \n\t(){}[];:=+-*/#'\"é漢😀"
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 400)))


@pytest.mark.parametrize("unit", ["word", "char"])
@pytest.mark.parametrize("seed", [1, 42])
def test_signatures_equal_datasketch(unit, seed):
    rng = random.Random(seed)
    texts = TEXTS + [random_code(rng) for _ in range(30)]
    batch = hash_batch(texts, 5, unit)
    a, b = permutations(2048, seed)
    sig = signatures(batch, a, b)
    assert sig.shape == (len(texts), 2048) and sig.dtype == np.uint32
    for d, text in enumerate(texts):
        reference = shingles(text, 5, unit)
        assert batch.is_short[d] == (not reference)
        got = batch.hashes[batch.offsets[d] : batch.offsets[d + 1]]
        assert got.tolist() == sorted({shingle_hash(s) for s in reference})
        sketch = MinHash(num_perm=2048, seed=seed, hashfunc=shingle_hash)
        sketch.update_batch(sorted(reference))
        assert np.array_equal(sketch.hashvalues, sig[d]), f"document {d}"
        if not reference:
            assert batch.short[d] == short_hash(text) and (sig[d] == EMPTY).all()


def test_normalisation_ignores_layout_case_and_punctuation():
    assert normalise("def Foo(x):\r\n\treturn  x+1") == "def foo x return x 1"
    assert normalise("A,B;c  d\te") == "a b c d e"
    assert normalise("Ünïcode") == "Ünïcode"  # only ASCII is lower-cased
    batch = hash_batch(["foo = bar(baz, qux) + 1", "FOO=bar( baz,qux )+1\n"], 5)
    assert batch.hashes[: batch.offsets[1]].tolist() == batch.hashes[batch.offsets[1] :].tolist()
    short = hash_batch(["x = 1", "X  =\n1", "x = 2"], 5)
    assert short.is_short.all() and short.short[0] == short.short[1] != short.short[2]


def test_band_keys_equal_exactly_when_band_values_equal():
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 2**32, size=(3, 64), dtype=np.uint32)
    sig[1, :16] = sig[0, :16]  # same first band only
    sig[2] = sig[0]
    sig[2, 63] ^= 1  # differs in the last band only
    keys = band_keys(sig, 4, 16)
    assert keys.dtype == np.uint64 and keys.shape == (3, 4)
    assert keys[0, 0] == keys[1, 0] and (keys[0, 1:] != keys[1, 1:]).all()
    assert (keys[0, :3] == keys[2, :3]).all() and keys[0, 3] != keys[2, 3]
    with pytest.raises(ValueError, match="permutations"):
        band_keys(sig, 5, 16)


def test_permutations_are_datasketchs():
    a, b = permutations(128, 3)
    ref_a, ref_b = MinHash(num_perm=128, seed=3).permutations
    assert np.array_equal(a, ref_a) and np.array_equal(b, ref_b)
