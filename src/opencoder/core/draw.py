"""The seeded draw: one number in [0, 1) per (seed, purpose, document id), the same on every rebuild.

Every random choice about a document (sampling a language down, the tokenizer's training sample, a
filter rule that drops with a probability) uses it, so a choice depends only on the seed and the
document, never on the shard layout, the order of documents or the machine.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import xxhash


def uniform(seed: int, ids: Iterable[str], purpose: str) -> np.ndarray:
    """One draw in [0, 1) per document id, a pure function of (seed, purpose, id).

    `purpose` separates the streams of different choices made with the same seed (a stage name, a
    filter rule id): otherwise a later choice among the survivors of an earlier one (the
    tokenizer's sample of the sampled corpus) would see draws already skewed by it.
    """
    salt = f"{purpose}\0".encode()
    return np.fromiter((xxhash.xxh64_intdigest(salt + i.encode(), seed) for i in ids), dtype=np.uint64) / np.float64(2**64)
