"""`opencoder dedup --input DIR --output DIR`: exact then fuzzy dedup of a folder of parquet files.

The input files need the columns `id` and `text`; `stars` and `commit_time` are used by the keep
rule where present (a file without them ranks last, then by id). Each step is the workflow's own
function (`opencoder.data.dedup.exact`, then `opencoder.data.dedup.fuzzy`'s four steps), run one shard at a time,
so memory stays bounded by one shard, a batch and the duplicates, however large the folder.

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

from opencoder.data.dedup import exact as exact_dedup

from opencoder.core import shards
from opencoder.core.config import load, section
from opencoder.core.errors import InputError
from opencoder.data.dedup.fuzzy.components import REMOVED_SCHEMA, build_clusters
from opencoder.data.dedup.fuzzy.lsh import range_edges
from opencoder.data.dedup.fuzzy.params import FuzzyParams
from opencoder.data.dedup.fuzzy.removal import remove, removed_rows
from opencoder.data.dedup.fuzzy.signatures import shard_keys, write_keys

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
    names = [p.name for p in inputs]
    if clash := OUTPUT_NAMES & set(names):
        raise InputError(f"input file names {sorted(clash)} would collide with the outputs")
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output, prefix=".work-") as tmp:
        work = Path(tmp)
        # exact: hash every shard, plan once, apply per shard (opencoder.data.dedup.exact)
        hash_files = []
        for i, path in enumerate(tqdm(inputs, desc="exact hashes", unit="shard")):
            hash_files.append(work / "hashes" / f"{i:05d}.parquet")
            shards.write_parquet(exact_dedup.content_hashes(exact_view(read_input(path), path.name)), hash_files[-1])
        exact_removed, exact_summary = exact_dedup.plan(hash_files)
        shards.write_parquet(exact_removed, work / "exact_removed.parquet")
        exact_files = []
        for i, path in enumerate(tqdm(inputs, desc="exact apply", unit="shard")):
            frame = read_input(path)
            kept, _ = exact_dedup.apply(exact_view(frame, path.name), work / "exact_removed.parquet")
            exact_files.append(work / "exact" / f"{i:05d}.parquet")
            shards.write_parquet(kept.select(frame.columns), exact_files[-1])
        # fuzzy: the workflow's four steps
        key_files, doc_files = [], []
        for i, path in enumerate(tqdm(exact_files, desc="fuzzy signatures", unit="shard")):
            keys, docs = shard_keys(shards.read_parquet(path), i, params, threads=threads)
            key_files.append(work / "signatures" / f"{i:05d}.keys.parquet")
            doc_files.append(work / "signatures" / f"{i:05d}.docs.parquet")
            write_keys(keys, key_files[-1])
            shards.write_parquet(docs, doc_files[-1])
        edge_files = []
        for part, bands in enumerate(tqdm(params.band_ranges(), desc="fuzzy LSH", unit="job")):
            edge_files.append(work / "buckets" / f"{part:03d}.parquet")
            shards.write_parquet(range_edges(key_files, bands, params.partition_rows), edge_files[-1])
        clusters, fuzzy_removed, fuzzy_summary = build_clusters(edge_files, doc_files, params, dict(enumerate(exact_files)))
        shards.write_parquet(clusters, output / "clusters.parquet")
        for i, (path, name) in enumerate(zip(exact_files, names)):
            kept, _ = remove(shards.read_parquet(path), removed_rows(output / "clusters.parquet", i))
            shards.write_parquet(kept, output / name)
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
