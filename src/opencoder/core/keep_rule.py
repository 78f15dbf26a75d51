"""Which copy of a duplicate group survives: one rule shared by exact and fuzzy dedup.

The paper keeps the copy with the most stars, then the latest commit time (RefineCode §2.2: popular,
recent repositories are the better copies). Ties end on the document id so the choice never depends
on shard order. Unknown stars or commit time rank last, never first.
"""

from __future__ import annotations

import polars as pl

# (column, descending) in priority order; nulls always sort last.
KEEP_ORDER: tuple[tuple[str, bool], ...] = (("stars", True), ("commit_time", True), ("id", False))


def rank_columns() -> list[str]:
    """Columns the keep rule needs, in priority order."""
    return [column for column, _ in KEEP_ORDER]


def sort_for_keep(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame:
    """Sort so the copy to keep comes first (use `first()` per group after this, or `keep_first`)."""
    return frame.sort(
        [column for column, _ in KEEP_ORDER],
        descending=[desc for _, desc in KEEP_ORDER],
        nulls_last=True,
        maintain_order=True,
    )


def keep_first(frame: pl.DataFrame | pl.LazyFrame, group: str) -> pl.DataFrame | pl.LazyFrame:
    """Add a boolean `keep` column: True for the one copy per `group` value the rule keeps,
    and a `kept_id` column: the id of that copy (for every member of the group)."""
    ordered = sort_for_keep(frame)
    return ordered.with_columns(
        kept_id=pl.col("id").first().over(group),
    ).with_columns(keep=pl.col("id") == pl.col("kept_id"))
