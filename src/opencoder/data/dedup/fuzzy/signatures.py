"""Step 1, per shard: band keys of every document (the only thing the LSH join needs).

A document is addressed across the whole corpus by `doc = shard_index << 32 | row`, a uint64
that later steps can sort, join and split back into (shard, row) without any string ids.
Two tables come out per shard:

- keys: `band` (UInt16), `key` (UInt64), `doc` (UInt64), sorted by (band, key) and written in
  small row groups, so an LSH job reading one band and one key range touches only those bytes;
  files too short for a single shingle appear once, under band `params.short_band`, keyed by
  the hash of their whole normalised text.
- docs: `doc`, `id`, `stars`, `commit_time` — what the keep rule needs, read later only for
  documents that turned out to have a near-duplicate.
"""

from __future__ import annotations

import logging

import numba
import numpy as np
import polars as pl
from tqdm import tqdm

from opencoder.data.dedup.fuzzy.minhash import band_keys, permutations, signatures
from opencoder.data.dedup.fuzzy.params import FuzzyParams
from opencoder.data.dedup.fuzzy.shingles import hash_batch

log = logging.getLogger(__name__)

KEY_SCHEMA = {"band": pl.UInt16, "key": pl.UInt64, "doc": pl.UInt64}
DOC_SCHEMA = {"doc": pl.UInt64, "id": pl.String, "stars": pl.Int64, "commit_time": pl.Datetime("us", "UTC")}
ROW_GROUP_ROWS = 65_536


def doc_keys(shard_index: int, rows: int) -> np.ndarray:
    return (np.uint64(shard_index) << np.uint64(32)) | np.arange(rows, dtype=np.uint64)


def split_doc(doc: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(shard index, row) of a `doc` column."""
    return (doc // (1 << 32)).cast(pl.Int64), (doc % (1 << 32)).cast(pl.Int64)


def batches(text: pl.Series, batch_bytes: int) -> list[tuple[int, int]]:
    """Row ranges holding about `batch_bytes` of text each (one large file is a batch alone)."""
    sizes = text.str.len_bytes().fill_null(0).to_numpy()
    bounds, start, acc = [], 0, 0
    for i, size in enumerate(sizes):
        if acc and acc + size > batch_bytes:
            bounds.append((start, i))
            start, acc = i, 0
        acc += int(size)
    if start < len(sizes):
        bounds.append((start, len(sizes)))
    return bounds


def shard_keys(frame: pl.DataFrame, shard_index: int, params: FuzzyParams, threads: int = 1,
               progress: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(keys, docs) tables of one shard (columns `id`, `text`, optional `stars`, `commit_time`)."""
    if shard_index >= 1 << 32 or frame.height >= 1 << 32:
        raise ValueError(f"shard index {shard_index} / {frame.height} rows do not fit a 64-bit doc key")
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    a, b = permutations(params.num_perm, params.seed)
    a, b = a[: params.bands * params.rows], b[: params.bands * params.rows]
    docs = doc_keys(shard_index, frame.height)
    parts = []
    for start, end in tqdm(batches(frame["text"], params.batch_bytes), desc=progress or "signatures",
                           unit="batch", disable=progress is None):
        batch = hash_batch(frame["text"][start:end].fill_null("").to_list(), params.ngram, params.unit)
        keys = band_keys(signatures(batch, a, b), params.bands, params.rows)
        long = ~batch.is_short
        parts.append(pl.DataFrame({
            "band": np.tile(np.arange(params.bands, dtype=np.uint16), int(long.sum())),
            "key": keys[long].ravel(),
            "doc": np.repeat(docs[start:end][long], params.bands),
        }, schema=KEY_SCHEMA))
        parts.append(pl.DataFrame({
            "band": np.full(int(batch.is_short.sum()), params.short_band, np.uint16),
            "key": batch.short[batch.is_short],
            "doc": docs[start:end][batch.is_short],
        }, schema=KEY_SCHEMA))
    keys = pl.concat(parts) if parts else pl.DataFrame(schema=KEY_SCHEMA)
    meta = frame.select(
        pl.Series("doc", docs, pl.UInt64),
        pl.col("id").cast(pl.String),
        (pl.col("stars") if "stars" in frame.columns else pl.lit(None)).cast(pl.Int64).alias("stars"),
        (pl.col("commit_time") if "commit_time" in frame.columns else pl.lit(None))
        .cast(pl.Datetime("us", "UTC")).alias("commit_time"),
    )
    return keys.sort("band", "key", "doc"), meta


def write_keys(keys: pl.DataFrame, path) -> None:
    """Small row groups with statistics: LSH jobs skip every row group outside their band and key range."""
    from opencoder.core.shards import atomic_path

    with atomic_path(path) as tmp:
        keys.write_parquet(tmp, compression="zstd", statistics=True, row_group_size=ROW_GROUP_ROWS)
