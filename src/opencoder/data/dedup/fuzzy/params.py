"""The `dedup.fuzzy` config section as one object, and the LSH S-curve it implies.

With b bands of r rows, two files of Jaccard similarity s become a candidate pair with
probability 1 - (1 - s^r)^b; the curve's midpoint is about (1/b)^(1/r). The paper's 16 x 128
puts it at ~0.98: only near-identical files pair up. Setting `threshold` instead picks the bands
and rows for that Jaccard similarity with datasketch's own optimiser (the choice `MinHashLSH`
makes; for 2,048 permutations and 0.8 it is 89 x 23).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields

import numpy as np

from opencoder.core.config import ConfigError

UNITS = ("word", "char")  # the shingle units (`shingles`); here so that reading the config needs no numba


@functools.lru_cache(maxsize=16)
def bands_rows_for(threshold: float, num_perm: int) -> tuple[int, int]:
    """datasketch's (bands, rows) for a target Jaccard threshold (equal weight to misses and false pairs)."""
    from datasketch.lsh import _optimal_param

    return _optimal_param(threshold, num_perm, 0.5, 0.5)


def candidate_probability(s, bands: int, rows: int):
    """P(two files of Jaccard similarity s share at least one band)."""
    return 1.0 - (1.0 - np.asarray(s, float) ** rows) ** bands


@dataclass(frozen=True)
class FuzzyParams:
    ngram: int = 5
    unit: str = "word"
    num_perm: int = 2048
    bands: int = 16
    rows: int = 128
    seed: int = 1
    threshold: float | None = None
    verify_jaccard: float | None = None
    batch_bytes: int = 4_000_000
    partition_rows: int = 4_000_000
    lsh_jobs: int = 17

    @classmethod
    def from_config(cls, section: dict) -> "FuzzyParams":
        known = {f.name for f in fields(cls)}
        unknown = set(section) - known
        if unknown:
            raise ConfigError(f"dedup.fuzzy: unknown keys {sorted(unknown)}")
        params = cls(**section)
        if params.unit not in UNITS:
            raise ConfigError(f"dedup.fuzzy.unit must be one of {UNITS}, got {params.unit!r}")
        if params.threshold is not None:
            bands, rows = bands_rows_for(params.threshold, params.num_perm)
            params = cls(**{**section, "bands": bands, "rows": rows})
        if params.bands * params.rows > params.num_perm:
            raise ConfigError(
                f"dedup.fuzzy: {params.bands} bands x {params.rows} rows need more than num_perm={params.num_perm} permutations"
            )
        return params

    @property
    def short_band(self) -> int:
        """Band id under which files too short for one shingle are keyed by their exact hash."""
        return self.bands

    @property
    def midpoint(self) -> float:
        return (1.0 / self.bands) ** (1.0 / self.rows)

    def band_ranges(self) -> list[range]:
        """Band ids (bands + the short band) split into `lsh_jobs` contiguous ranges, one per LSH job."""
        ids = np.arange(self.bands + 1)
        return [range(int(c[0]), int(c[-1]) + 1) for c in np.array_split(ids, min(self.lsh_jobs, len(ids)))]

    def s_curve(self, points=(0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99, 1.0)) -> str:
        """The S-curve as a small text table."""
        lines = [f"LSH {self.bands} bands x {self.rows} rows (midpoint ~{self.midpoint:.3f}):", "  jaccard  P(candidate)"]
        for s, p in zip(points, candidate_probability(points, self.bands, self.rows)):
            lines.append(f"  {s:7.2f}  {p:12.4f}")
        return "\n".join(lines)
