"""Step 4, per shard: drop the documents the cluster step marked for removal."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from opencoder.data.dedup.fuzzy.signatures import split_doc
from opencoder.core.stats import stage_stats


def removed_rows(clusters: Path, shard_index: int) -> pl.Series:
    """Row numbers of this shard's documents that lose to another member of their cluster."""
    shard, row = split_doc(pl.col("doc"))
    return (
        pl.scan_parquet(clusters)
        .filter(~pl.col("keep") & (shard == shard_index))
        .select(row.alias("row"))
        .collect()["row"]
    )


def remove(frame: pl.DataFrame, rows: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, removed) documents of one shard, in the shard's order."""
    marked = frame.with_row_index("_row").with_columns(_gone=pl.col("_row").cast(pl.Int64).is_in(rows.implode()))
    kept = marked.filter(~pl.col("_gone")).drop("_row", "_gone")
    removed = marked.filter(pl.col("_gone")).drop("_row", "_gone")
    return kept, removed


def shard_stats(before: pl.DataFrame, kept: pl.DataFrame, removed: pl.DataFrame, **extra) -> dict:
    return stage_stats("fuzzy_dedup", before, kept, dropped={"fuzzy_duplicate": removed}, extra=extra)
