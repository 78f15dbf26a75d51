"""`opencoder dedup --input DIR --output DIR`: exact then fuzzy dedup of a folder of parquet files.

The input files need the columns `id` and `text`; `stars` and `commit_time` are used by the keep
rule where present (a file without them ranks last, then by id). The chain is the workflow's: the
same step functions its rules' commands call (`exact.run_*`, then `fuzzy.cli.run_*`), one shard at
a time, so memory stays bounded by one shard, a batch and the duplicates, however large the folder.

Output: the kept documents under the input file names, `removed.parquet` (`id`, `reason` exact or
fuzzy, `cluster_id` (fuzzy only), `kept_id`), `clusters.parquet` (every fuzzy cluster's members,
for `opencoder dedup-explain`) and `summary.json`.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from pathlib import Path

import polars as pl
from tqdm import tqdm

from opencoder.core import shards
from opencoder.core.config import load, section
from opencoder.core.errors import InputError
from opencoder.data.dedup import exact
from opencoder.data.dedup.fuzzy import cli as fuzzy
from opencoder.data.dedup.fuzzy.components import REMOVED_SCHEMA
from opencoder.data.dedup.fuzzy.params import FuzzyParams

log = logging.getLogger(__name__)

OUTPUT_NAMES = {"removed.parquet", "clusters.parquet"}


def read_input(path: Path) -> pl.DataFrame:
    """One input shard with what exact dedup's records need (missing optional columns are null)."""
    frame = shards.read_parquet(path)
    missing = {"id", "text"} - set(frame.columns)
    if missing:
        raise InputError(f"{path}: missing required columns {sorted(missing)} (have {frame.columns})")
    return frame


def exact_view(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """The columns exact dedup's hash records and stats read, added where a user's file lacks them."""
    defaults = {
        "path": pl.lit(name), "language": pl.lit("unknown"), "bytes": pl.col("text").str.len_bytes().cast(pl.Int64),
        "stars": pl.lit(None, pl.Int64), "commit_time": pl.lit(None, pl.Datetime("us", "UTC")),
    }
    return frame.with_columns(**{c: e for c, e in defaults.items() if c not in frame.columns})


def dedup(inputs: list[Path], output: Path, params: FuzzyParams, threads: int = 1) -> dict:
    """The workflow's chain (`exact.run_*`, then `fuzzy.cli.run_*`) over `inputs`, in a work folder
    inside `output`; the kept documents keep each input's own columns."""
    names = [p.name for p in inputs]
    if clash := OUTPUT_NAMES & set(names):
        raise InputError(f"input file names {sorted(clash)} would collide with the outputs")
    output.mkdir(parents=True, exist_ok=True)

    def user_shard(path: Path) -> pl.DataFrame:
        return exact_view(read_input(path), path.name)

    with tempfile.TemporaryDirectory(dir=output, prefix=".work-") as tmp:
        work = Path(tmp)
        shard = [f"{i:05d}" for i in range(len(inputs))]  # work files are numbered, as the workflow's shards
        hash_files = [work / "exact" / "hashes" / f"{s}.parquet" for s in shard]
        for path, hashes in zip(tqdm(inputs, desc="exact hashes", unit="shard"), hash_files):
            exact.run_hashes(path, hashes, read=user_shard)
        exact_removed, exact_summary = exact.run_plan(hash_files, work / "exact" / "removed.parquet")
        exact_files = [work / "exact" / f"{s}.parquet" for s in shard]
        for path, kept in zip(tqdm(inputs, desc="exact apply", unit="shard"), exact_files):
            exact.run_apply(path, work / "exact" / "removed.parquet", kept, read=user_shard)
        key_files = [work / "fuzzy" / "signatures" / f"{s}.keys.parquet" for s in shard]
        doc_files = [work / "fuzzy" / "signatures" / f"{s}.docs.parquet" for s in shard]
        for path, keys, docs in zip(tqdm(exact_files, desc="fuzzy signatures", unit="shard"), key_files, doc_files):
            fuzzy.run_signatures(path, keys, docs, params, threads)
        edge_files = [work / "fuzzy" / "buckets" / f"{part:03d}.parquet" for part in range(len(params.band_ranges()))]
        for part, edges in enumerate(tqdm(edge_files, desc="fuzzy LSH", unit="job")):
            fuzzy.run_buckets(key_files, part, edges, params)
        fuzzy_removed, fuzzy_summary = fuzzy.run_clusters(
            edge_files, doc_files, exact_files, output / "clusters.parquet", work / "fuzzy" / "removed.parquet",
            work / "fuzzy" / "clusters.json", params)
        for path, exact_file, name in zip(inputs, exact_files, names):
            kept = work / "fuzzy" / exact_file.name
            fuzzy.run_remove(exact_file, output / "clusters.parquet", kept, read=shards.read_parquet)
            columns = pl.read_parquet_schema(path).names()
            shards.write_parquet(shards.read_parquet(kept).select(columns), output / name)
    removed = pl.concat([
        exact_removed.select("id", "reason", pl.lit(None, pl.Int64).alias("cluster_id"), "kept_id"),
        fuzzy_removed,
    ]).cast(REMOVED_SCHEMA)
    shards.write_parquet(removed, output / "removed.parquet")
    summary = {"exact": exact_summary, "fuzzy": fuzzy_summary,
               "params": {"ngram": params.ngram, "unit": params.unit, "bands": params.bands, "rows": params.rows}}
    shards.write_json(summary, output / "summary.json")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder dedup", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, type=Path, help="folder of parquet files")
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--config", action="append", default=[], metavar="YAML", help="config merged over the default")
    for name, kind in [("ngram", int), ("bands", int), ("rows", int), ("num_perm", int), ("threshold", float),
                       ("verify_jaccard", float), ("unit", str)]:
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, help=f"overrides dedup.fuzzy.{name}")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    cfg = dict(section(load(*args.config), "dedup.fuzzy"))
    cfg.update({k: v for k in ("ngram", "bands", "rows", "num_perm", "threshold", "verify_jaccard", "unit")
                if (v := getattr(args, k)) is not None})
    params = FuzzyParams.from_config(cfg)
    inputs = sorted(args.input.glob("*.parquet"))
    if not inputs:
        raise InputError(f"{args.input}: no parquet files")
    summary = dedup(inputs, args.output, params, threads=args.threads)
    log.info("exact removed %d, fuzzy removed %d of %d documents", summary["exact"]["removed"],
             summary["fuzzy"].get("removed_documents", 0), summary["exact"]["documents"])
    return 0
