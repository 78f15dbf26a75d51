"""Constructed near-duplicate corpora with a known answer, shared by the fuzzy dedup tests and benchmark."""

from __future__ import annotations

import random
from datetime import datetime, timezone

VOCAB = [f"w{i}" for i in range(5000)]


def words(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(VOCAB) for _ in range(n)]


def edit(tokens: list[str], rng: random.Random, changes: int = 1) -> list[str]:
    """A copy with `changes` words replaced by fresh ones (each touches `ngram` shingles)."""
    out = list(tokens)
    for _ in range(changes):
        out[rng.randrange(len(out))] = f"fresh{rng.randrange(10**9)}"
    return out


def as_code(tokens: list[str], style: int = 0) -> str:
    """Tokens laid out as code; styles differ only in layout, case and punctuation."""
    lines = [tokens[i : i + 8] for i in range(0, len(tokens), 8)]
    if style == 0:
        return "\n".join(" = ".join(line) for line in lines) + "\n"
    return "\r\n".join("    " + " =  ".join(t.upper() for t in line) + ";" for line in lines)


def when(day: int) -> datetime:
    return datetime(2023, 1, day, tzinfo=timezone.utc)
