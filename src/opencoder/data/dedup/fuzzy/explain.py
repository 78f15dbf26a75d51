"""`opencoder dedup-explain ID`: show a fuzzy-dedup cluster, given a document id or a cluster id.

Reads `clusters.parquet` from `--dir` (the workflow's `<out_dir>/fuzzy` or the output folder of
`opencoder dedup`). With `--documents` (the folder of the shards the cluster step read) it also
computes each member's exact Jaccard similarity to the kept document on the configured shingles
(texts found by id: the workflow's `<out_dir>/exact` or the input folder of `opencoder dedup`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from opencoder.core import shards
from opencoder.core.args import add_io
from opencoder.core.config import add_config_args, stage_params
from opencoder.core.errors import InputError
from opencoder.data.dedup.fuzzy.components import jaccard
from opencoder.data.dedup.fuzzy.params import FuzzyParams
from opencoder.data.dedup.fuzzy.shingles import hash_batch


def find_cluster(clusters: pl.DataFrame, ident: str) -> pl.DataFrame:
    """Members of the cluster that `ident` names (a document id, else a cluster number)."""
    by_doc = clusters.filter(pl.col("id") == ident)
    if by_doc.height:
        cluster = by_doc["cluster_id"][0]
    elif ident.isdigit():
        cluster = int(ident)
    else:
        raise InputError(f"{ident!r} is neither a clustered document id nor a cluster number")
    members = clusters.filter(pl.col("cluster_id") == cluster)
    if members.height == 0:
        raise InputError(f"no cluster {cluster} (there are {clusters['cluster_id'].n_unique()})")
    return members.sort(pl.col("keep"), pl.col("id"), descending=[True, False])


def with_similarity(members: pl.DataFrame, documents: Path, params: FuzzyParams) -> pl.DataFrame:
    """Add each member's exact Jaccard similarity to the kept document (texts looked up by id)."""
    files = [str(p) for p in sorted(documents.glob("*.parquet")) if "text" in pl.read_parquet_schema(p)]
    if not files:
        raise InputError(f"{documents}: no document shards (parquet files with a text column)")
    texts = (
        pl.scan_parquet(files).select("id", "text")
        .filter(pl.col("id").is_in(members["id"].implode()))
        .unique("id", keep="first", maintain_order=True)
        .collect()
    )
    batch = hash_batch(texts["text"].fill_null("").to_list(), params.ngram, params.unit)
    sets = {ident: batch.hashes[batch.offsets[i] : batch.offsets[i + 1]] for i, ident in enumerate(texts["id"])}
    kept = sets.get(members["kept_id"][0])
    sims = [jaccard(sets[i], kept) if i in sets and kept is not None else None for i in members["id"]]
    return members.with_columns(jaccard_to_kept=pl.Series(sims, dtype=pl.Float64))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder dedup-explain", description=__doc__.split("\n\n")[0])
    parser.add_argument("ident", help="a document id or a cluster number")
    add_io(parser, "input", "--dir", required=False, type=Path, default=Path("."),
           help="folder holding clusters.parquet (the build's fuzzy/)")
    parser.add_argument("--documents", type=Path, help="folder of the shards the clusters were built from")
    add_config_args(parser)
    args = parser.parse_args(argv)
    members = find_cluster(shards.read_parquet(args.input / "clusters.parquet"), args.ident)
    if args.documents:
        members = with_similarity(members, args.documents, FuzzyParams.from_config(stage_params(args, "dedup.fuzzy")))
    cluster = members["cluster_id"][0]
    print(f"cluster {cluster}: {members.height} documents, kept {members['kept_id'][0]}")
    with pl.Config(tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=40, tbl_hide_dataframe_shape=True):
        print(members.drop("cluster_id", "kept_id"))
    return 0
