"""Exact deduplication (paper 1.3): one copy per SHA-256 of the content, across all shards.

Three steps, so that no job ever holds more than one shard's texts:

1. `hashes`  — per shard: (id, sha256, path, stars, commit_time, language, bytes) of every document.
2. `plan`    — once, over all hash files (polars lazy, no texts): in each group of equal hashes the
   keep rule (`opencoder.core.keep_rule`: most stars, then latest commit, then smallest id) picks the
   survivor; every other copy is written to `removed.parquet` with `reason="exact"` and `kept_id`.
3. `apply`   — per shard: the documents minus the removed ones, with per-shard stats.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from pathlib import Path

import polars as pl

from opencoder.core import shards
from opencoder.core.args import add_io
from opencoder.core.config import add_config_args, stage_params
from opencoder.core.keep_rule import keep_first, rank_columns
from opencoder.core.stats import stats_path
from opencoder.core.stats import stage_stats

log = logging.getLogger(__name__)

HASH_COLUMNS = ["id", "sha256", "path", "language", "bytes", *[c for c in rank_columns() if c != "id"]]
REMOVED_SCHEMA = {"id": pl.String(), "reason": pl.String(), "kept_id": pl.String(), "sha256": pl.String(),
                  "path": pl.String(), "kept_path": pl.String()}


def content_hashes(docs: pl.DataFrame, algorithm: str = "sha256") -> pl.DataFrame:
    """The hash record of every document of a shard (the text itself is not kept)."""
    digests = [hashlib.new(algorithm, text.encode()).hexdigest() for text in docs["text"]]
    return docs.with_columns(sha256=pl.Series(digests, dtype=pl.String())).select(HASH_COLUMNS)


def plan(hash_files: list[Path]) -> tuple[pl.DataFrame, dict]:
    """(removed documents, summary) over every shard's hash file."""
    for file in hash_files:  # name a damaged file before the lazy scan fails somewhere inside it
        shards.read_parquet(file, columns=["id"])
    ranked = keep_first(pl.scan_parquet([str(f) for f in hash_files]).select(HASH_COLUMNS), group="sha256")
    removed = (
        ranked.filter(~pl.col("keep"))
        .join(ranked.filter(pl.col("keep")).select("kept_id", kept_path="path"), on="kept_id", how="left")
        .select(pl.col("id"), pl.lit("exact").alias("reason"), "kept_id", "sha256", "path", "kept_path")
        .sort("id")
        .collect()
    )
    summary = (
        pl.scan_parquet([str(f) for f in hash_files])
        .select(documents=pl.len(), unique=pl.col("sha256").n_unique())
        .collect()
        .row(0, named=True)
    )
    summary |= {"removed": removed.height, "duplicate_groups": removed["kept_id"].n_unique()}
    return removed.cast(REMOVED_SCHEMA), summary


def apply(docs: pl.DataFrame, removed_file: Path) -> tuple[pl.DataFrame, dict]:
    """(kept documents, stats) of one shard, given the global plan."""
    removed = (
        pl.scan_parquet(str(removed_file)).select("id", "kept_id")
        .filter(pl.col("id").is_in(docs["id"].implode()))
        .collect()
    )
    dropped = docs.join(removed, on="id", how="semi")
    kept = docs.join(removed, on="id", how="anti")
    cross_shard = removed.filter(~pl.col("kept_id").is_in(docs["id"].implode())).height
    return kept, stage_stats("exact_dedup", docs, kept, {"exact": dropped},
                             extra={"duplicate_kept_in_other_shard": cross_shard})


# The three steps as the workflow's rules run them (files in, files out); `opencoder dedup` chains
# the same functions. `read` turns an input file into documents (the document schema by default).

def run_hashes(inp: Path, out: Path, algorithm: str = "sha256", read=shards.read_documents) -> None:
    shards.write_parquet(content_hashes(read(inp), algorithm), out)


def run_plan(hash_files: list[Path], out: Path) -> tuple[pl.DataFrame, dict]:
    """Write `out` (removed.parquet) and its summary JSON beside it; return both."""
    removed, summary = plan(hash_files)
    shards.write_parquet(removed, out)
    shards.write_json(summary, out.with_name(out.stem + ".summary.json"))
    log.info("exact dedup: %(removed)d of %(documents)d documents are duplicates", summary)
    return removed, summary


def run_apply(inp: Path, removed_file: Path, out: Path, read=shards.read_documents, members: Path | None = None) -> dict:
    """Write the kept documents to `out` and their stats beside it; return the stats. With `members`
    (dedup.level repository or chunk) the documents are units and the stats count their files."""
    docs = read(inp)
    kept, stats = apply(docs, removed_file)
    if members is not None:
        from opencoder.data.dedup.units import exact_stats

        stats = exact_stats(docs, kept, members)
    shards.write_parquet(kept, out)
    shards.write_json(stats, stats_path(out))
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder exact-dedup", description=__doc__.split("\n\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)
    p = steps.add_parser("hashes", help="hash the documents of one shard")
    add_io(p, "input", "--in", type=Path, help="document shard")
    add_io(p, "output", "--out", type=Path, help="hash file to write")
    add_config_args(p)
    p = steps.add_parser("plan", help="decide, over all hash files, which documents to remove")
    add_io(p, "input", nargs="+", type=Path, help="every shard's hash file")
    add_io(p, "output", "--out", type=Path, help="removed.parquet; a summary JSON goes beside it")
    p = steps.add_parser("apply", help="drop the removed documents from one shard")
    add_io(p, "input", "--in", type=Path, help="document shard")
    p.add_argument("--removed", required=True, type=Path)
    add_io(p, "output", "--out", type=Path, help="output shard; stats go beside it")
    p.add_argument("--members", type=Path, help="dedup.level repository or chunk: the unit shard's members file")
    args = parser.parse_args(argv)
    if args.step == "hashes":
        run_hashes(args.input, args.output, stage_params(args, "dedup.exact").get("hash", "sha256"))
    elif args.step == "plan":
        run_plan(args.input, args.output)
    else:
        run_apply(args.input, args.removed, args.output, members=args.members)
    return 0
