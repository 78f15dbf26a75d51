"""Step 2, per band range: the LSH join as a streaming group-by over every shard's band keys.

Documents sharing a band key are candidate near-duplicates. One job handles a contiguous range
of bands (its own SLURM job), and inside it one band and one slice of the 64-bit key space at a
time: the slice is sized to `partition_rows` rows, and the per-shard key files are sorted by
(band, key) in small row groups, so polars reads only the row groups of that band and slice. A
job's memory is therefore bounded by `partition_rows`, never by the corpus.

A bucket of k documents gives k - 1 edges (each member to the bucket's smallest doc): enough
for connected components, and linear, where all pairs would be quadratic in a large cluster.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import polars as pl

log = logging.getLogger(__name__)

EDGE_SCHEMA = {"band": pl.UInt16, "a": pl.UInt64, "b": pl.UInt64}
_KEY_SPACE = 1 << 64


def _slices(rows: int, partition_rows: int) -> list[tuple[int, int]]:
    parts = max(1, math.ceil(rows / max(1, partition_rows)))
    bounds = [_KEY_SPACE * p // parts for p in range(parts + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def band_edges(key_files: Sequence[Path], band: int, partition_rows: int) -> pl.DataFrame:
    """Star edges (bucket minimum → other member) of every bucket with two or more documents in `band`."""
    if not key_files:
        return pl.DataFrame(schema=EDGE_SCHEMA)
    scan = pl.scan_parquet([str(p) for p in key_files]).filter(pl.col("band") == band)
    rows = scan.select(pl.len()).collect().item()
    out = []
    for lo, hi in _slices(rows, partition_rows):
        in_slice = pl.col("key") >= pl.lit(lo, pl.UInt64)
        if hi < _KEY_SPACE:
            in_slice &= pl.col("key") < pl.lit(hi, pl.UInt64)
        chunk = scan.filter(in_slice).select("key", "doc").collect()
        buckets = (
            chunk.group_by("key")
            .agg(pl.col("doc").min().alias("a"), pl.col("doc").alias("b"))
            .filter(pl.col("b").list.len() > 1)
            .explode("b")
            .filter(pl.col("a") != pl.col("b"))
        )
        out.append(buckets.select(pl.lit(band, pl.UInt16).alias("band"), "a", "b"))
    return pl.concat(out).sort("a", "b") if out else pl.DataFrame(schema=EDGE_SCHEMA)


def range_edges(key_files: Sequence[Path], bands: range, partition_rows: int) -> pl.DataFrame:
    """Edges of every band in `bands`, sorted (deterministic output bytes)."""
    parts = []
    for band in bands:
        edges = band_edges(key_files, band, partition_rows)
        log.info("band %d: %d candidate edges", band, edges.height)
        parts.append(edges)
    return pl.concat(parts).sort("band", "a", "b") if parts else pl.DataFrame(schema=EDGE_SCHEMA)
