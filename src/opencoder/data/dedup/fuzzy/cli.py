"""`opencoder fuzzy-dedup <step>`: the four scatter/gather steps of fuzzy dedup, as the workflow runs them.

    signatures  per shard       band keys + doc table            fuzzy/signatures/<shard>.{keys,docs}.parquet
    buckets     per band range  candidate edges (LSH join)       fuzzy/buckets/<part>.parquet
    clusters    once            components + keep rule           fuzzy/clusters.parquet, removed.parquet
    remove      per shard       the kept documents + stats       fuzzy/<shard>.parquet, <shard>.stats.json
    scurve      -               print the LSH S-curve of the configured bands x rows
    quality     -               measured candidate rate vs exact Jaccard on a sample (quality.py)

A shard's index in the doc keys is its file name's number (`00042.parquet` → 42).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import polars as pl

from opencoder.core import shards
from opencoder.core.args import add_io
from opencoder.core.config import ConfigError, add_config_args, stage_params
from opencoder.core.errors import InputError
from opencoder.data.dedup.fuzzy.lsh import range_edges
from opencoder.data.dedup.fuzzy.params import FuzzyParams
from opencoder.core.stats import stats_path

# Each step imports what only it needs (numba kernels, datasketch, scipy) in its function: a build runs
# `buckets` once per band range, and these imports cost a second of CPU per process.

log = logging.getLogger(__name__)


def shard_index(path: Path) -> int:
    """`.../00042.parquet` or `.../00042.keys.parquet` → 42."""
    stem = path.name.split(".")[0]
    if not stem.isdigit():
        raise InputError(f"{path}: shard file names must be numbers (00000.parquet, ...)")
    return int(stem)


def sample_texts(files: list[Path], sample: int, seed: int) -> list[str]:
    """Texts of `sample` documents drawn (seeded) from the files, reading one file at a time."""
    if not files:
        raise InputError("no parquet files to sample")
    sizes = [shards.read_parquet(f, columns=["id"]).height for f in files]
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(sum(sizes), size=min(sample, sum(sizes)), replace=False))
    texts, start = [], 0
    for file, size in zip(files, sizes):
        rows = chosen[(chosen >= start) & (chosen < start + size)] - start
        if len(rows):
            texts += shards.read_parquet(file, columns=["text"])["text"].gather(rows).fill_null("").to_list()
        start += size
    return texts


def load_params(args) -> FuzzyParams:
    return FuzzyParams.from_config(stage_params(args, "dedup.fuzzy"))


# The four steps as the workflow's rules run them (files in, files out); `opencoder dedup` chains
# the same functions. A shard's index is its file name's number (`shard_index`).

def run_signatures(inp: Path, keys_out: Path, docs_out: Path, params: FuzzyParams, threads: int = 1) -> None:
    from opencoder.data.dedup.fuzzy.signatures import shard_keys, write_keys

    keys, docs = shard_keys(shards.read_parquet(inp), shard_index(inp), params, threads=threads, progress=inp.name)
    write_keys(keys, keys_out)
    shards.write_parquet(docs, docs_out)


def run_buckets(key_files: list[Path], part: int, out: Path, params: FuzzyParams) -> None:
    shards.write_parquet(range_edges(key_files, params.band_ranges()[part], params.partition_rows), out)


def run_clusters(edges: list[Path], docs: list[Path], documents: list[Path], clusters_out: Path, removed_out: Path,
                 summary_out: Path, params: FuzzyParams) -> tuple[pl.DataFrame, dict]:
    """Write the clusters, the removed documents and the summary; return (removed, summary)."""
    from opencoder.data.dedup.fuzzy.components import build_clusters

    clusters, removed, stats = build_clusters(edges, docs, params, {shard_index(p): p for p in documents})
    shards.write_parquet(clusters, clusters_out)
    shards.write_parquet(removed, removed_out)
    shards.write_json(stats, summary_out)
    return removed, stats


def run_remove(inp: Path, clusters: Path, out: Path, read=shards.read_documents, dropped_out: Path | None = None,
               files: Path | None = None, exact_removed: Path | None = None) -> dict:
    """Write the shard's kept documents to `out` and their stats beside it; return the stats. With
    `dropped_out`, also every file of the shard dedup removed, by either step (`dedup.units.DROPPED_SCHEMA`):
    that needs `files` (the shard as exact dedup read it) and `exact_removed` (exact/removed.parquet)."""
    from opencoder.data.dedup.fuzzy.removal import remove, removed_rows, shard_stats

    if dropped_out is not None and (files is None or exact_removed is None):
        raise ConfigError(f"{dropped_out}: the dropped files of both dedup steps need the shard before exact dedup"
                          " (--files) and exact/removed.parquet (--exact-removed)")
    frame = read(inp)
    kept, dropped = remove(frame, removed_rows(clusters, shard_index(inp)))
    shards.write_parquet(kept, out)
    stats = shard_stats(frame, kept, dropped)
    shards.write_json(stats, stats_path(out))
    if dropped_out is not None:
        from opencoder.data.dedup.units import file_level_dropped

        kept_ids = (pl.scan_parquet(clusters).select("id", "kept_id")
                    .filter(pl.col("id").is_in(dropped["id"].implode())).collect())
        fuzzy = dropped.select("id").join(kept_ids, on="id", how="left", maintain_order="left")
        shards.write_parquet(file_level_dropped(files, exact_removed, fuzzy), dropped_out)
    return stats


def run(args) -> None:
    params = load_params(args)
    if args.step == "scurve":
        print(params.s_curve())
    elif args.step == "quality":
        from opencoder.data.dedup.fuzzy.quality import format_report, pair_table, report

        texts = sample_texts(sorted(args.input.glob("*.parquet")), args.sample, args.seed)
        rep = report(pair_table(texts, params, seed=args.seed), params)
        print(format_report(rep))
        if args.output:
            shards.write_json(rep, args.output)
    elif args.step == "signatures":
        log.info("%s", params.s_curve())
        run_signatures(args.input, args.keys, args.docs, params, args.threads)
    elif args.step == "buckets":
        run_buckets(args.input, args.part, args.output, params)
    elif args.step == "clusters":
        run_clusters(args.edges, args.docs, args.documents, args.clusters, args.removed, args.summary, params)
    elif args.step == "remove" and args.members:  # dedup.level repository or chunk
        from opencoder.data.dedup import units

        units.run_apply(args.input, args.members, args.exact_removed, args.clusters, args.output, args.dropped,
                        {"level": args.level}, args.index)
    elif args.step == "remove":
        run_remove(args.input, args.clusters, args.output, dropped_out=args.dropped, files=args.files,
                   exact_removed=args.exact_removed)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="opencoder fuzzy-dedup", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    steps = p.add_subparsers(dest="step", required=True)
    s = steps.add_parser("signatures", help="band keys of one shard")
    add_io(s, "input", "--in", type=Path, help="document shard")
    s.add_argument("--keys", required=True, type=Path)
    s.add_argument("--docs", required=True, type=Path)
    s.add_argument("--threads", type=int, default=1)
    s = steps.add_parser("buckets", help="candidate edges of one band range")
    s.add_argument("--part", required=True, type=int, help="band range number (0 .. lsh_jobs-1)")
    add_io(s, "input", nargs="*", type=Path, help="every shard's keys file")
    add_io(s, "output", "--out", type=Path, help="candidate edges to write")
    s = steps.add_parser("clusters", help="connected components and the keep rule, over all edges")
    s.add_argument("--edges", nargs="+", required=True, type=Path)
    s.add_argument("--docs", nargs="+", required=True, type=Path)
    s.add_argument("--documents", nargs="*", default=[], type=Path, help="document shards (for verify_jaccard)")
    s.add_argument("--clusters", required=True, type=Path)
    s.add_argument("--removed", required=True, type=Path)
    s.add_argument("--summary", required=True, type=Path)
    s = steps.add_parser("remove", help="drop one shard's removed documents")
    add_io(s, "input", "--in", type=Path, help="document shard")
    s.add_argument("--clusters", required=True, type=Path)
    add_io(s, "output", "--out", type=Path, help="output shard; stats go beside it")
    s.add_argument("--dropped", type=Path, help="every file of the shard dedup removed (either step), with its reason and kept file (or unit)")
    s.add_argument("--files", type=Path, help="file level, with --dropped: the shard as exact dedup read it (preprocess)")
    s.add_argument("--exact-removed", type=Path, help="with --dropped or --level: exact/removed.parquet (of the files or units)")
    s.add_argument("--level", choices=["repository", "chunk"], help="dedup.level above file: drop the files of removed units")
    s.add_argument("--members", nargs="+", type=Path, help="with --level: every unit shard's members file; with --index, the shard's own")
    s.add_argument("--index", type=Path, help="with --level: exact/units/index, to read only the members files it names")
    steps.add_parser("scurve", help="print the S-curve of the configured LSH")
    s = steps.add_parser("quality", help="precision/recall of the LSH against exact Jaccard on a sample")
    s.add_argument("--input", required=True, type=Path, help="folder of document shards")
    s.add_argument("--sample", type=int, default=5000, help="documents to sample")
    s.add_argument("--seed", type=int, default=0)
    add_io(s, "output", "--out", required=False, type=Path, help="write the report as JSON")
    for sub in steps.choices.values():
        add_config_args(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    run(parser().parse_args(argv))
    return 0
