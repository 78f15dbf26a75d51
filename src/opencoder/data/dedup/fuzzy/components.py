"""Step 3, once: candidate pairs → clusters → which document of each cluster is kept.

Everything here is sized by the documents that have a candidate partner, never by the corpus:
the edges, the optional exact-Jaccard check (which re-reads only those documents' text), the
connected components (scipy's sparse graph routine over the involved documents only) and the
keep rule (stars, then commit time, then id: `opencoder.core.keep_rule`, shared with exact dedup).

Clusters are numbered 0, 1, ... in the order of their smallest `doc` key, so the numbering is
the same on every rebuild of the same shards.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from opencoder.data.dedup.fuzzy.params import FuzzyParams
from opencoder.data.dedup.fuzzy.shingles import hash_batch, sorted_distinct
from opencoder.data.dedup.fuzzy.signatures import split_doc
from opencoder.core.errors import InputError
from opencoder.core.keep_rule import keep_first
from opencoder.core.shards import read_parquet

log = logging.getLogger(__name__)

CLUSTER_SCHEMA = {"doc": pl.UInt64, "id": pl.String, "cluster_id": pl.Int64, "kept_id": pl.String, "keep": pl.Boolean,
                  "stars": pl.Int64, "commit_time": pl.Datetime("us", "UTC")}
REMOVED_SCHEMA = {"id": pl.String, "reason": pl.String, "cluster_id": pl.Int64, "kept_id": pl.String}


def shingle_sets(docs: np.ndarray, documents: Mapping[int, Path], params: FuzzyParams) -> dict[int, np.ndarray]:
    """Distinct shingle hashes of the given docs, reading only their rows, one shard at a time."""
    frame = pl.DataFrame({"doc": docs}, schema={"doc": pl.UInt64})
    shard, row = split_doc(pl.col("doc"))
    frame = frame.with_columns(shard=shard, row=row)
    out: dict[int, np.ndarray] = {}
    for (index,), part in frame.group_by("shard", maintain_order=True):
        if index not in documents:
            raise InputError(f"no document shard given for shard index {index}")
        text = read_parquet(documents[index], columns=["text"])["text"]
        batch = hash_batch(text.gather(part["row"]).fill_null("").to_list(), params.ngram, params.unit)
        for i, doc in enumerate(part["doc"].to_list()):
            out[doc] = batch.hashes[batch.offsets[i] : batch.offsets[i + 1]]
    return out


def jaccard(x: np.ndarray, y: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted sets of distinct shingle hashes."""
    union = len(x) + len(y)
    if union == 0:
        return 1.0
    inter = len(np.intersect1d(x, y, assume_unique=True))
    return inter / (union - inter)


def verify(edges: pl.DataFrame, documents: Mapping[int, Path], params: FuzzyParams) -> pl.DataFrame:
    """Keep only the edges whose exact Jaccard similarity reaches `params.verify_jaccard`.

    Edges of the short-file band are exact matches of the normalised text and pass as they are.
    """
    long = edges.filter(pl.col("band") != params.short_band)
    if long.height == 0:
        return edges
    sets = shingle_sets(sorted_distinct(np.concatenate([long["a"].to_numpy(), long["b"].to_numpy()])), documents, params)
    sims = [jaccard(sets[a], sets[b]) for a, b in long.select("a", "b").iter_rows()]
    passed = long.with_columns(jaccard=pl.Series(sims)).filter(pl.col("jaccard") >= params.verify_jaccard)
    return pl.concat([edges.filter(pl.col("band") == params.short_band), passed.drop("jaccard")])


def cluster_ids(edges: pl.DataFrame) -> pl.DataFrame:
    """`doc` → `cluster_id` for every document on an edge (connected components)."""
    a, b = edges["a"].to_numpy(), edges["b"].to_numpy()
    nodes = sorted_distinct(np.concatenate([a, b]))
    n = len(nodes)
    graph = coo_matrix((np.ones(len(a), np.int8), (np.searchsorted(nodes, a), np.searchsorted(nodes, b))), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # renumber by first appearance in sorted doc order: stable across runs and scipy versions
    _, first = np.unique(labels, return_index=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return pl.DataFrame({"doc": nodes, "cluster_id": rank[labels]}, schema={"doc": pl.UInt64, "cluster_id": pl.Int64})


def build_clusters(edge_files: Sequence[Path], docs_files: Sequence[Path], params: FuzzyParams,
                   documents: Mapping[int, Path] | None = None) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """(clusters, removed, stats) from the LSH edges and the per-shard doc tables."""
    edges = pl.concat([read_parquet(p) for p in edge_files]) if edge_files else pl.DataFrame()
    if edges.height == 0:
        return pl.DataFrame(schema=CLUSTER_SCHEMA), pl.DataFrame(schema=REMOVED_SCHEMA), {"candidate_pairs": 0, "clusters": 0}
    per_band = edges.group_by("band").len().sort("band")
    # one edge per pair, from its lowest band
    edges = edges.sort("band", "a", "b").unique(["a", "b"], keep="first", maintain_order=True)
    stats = {
        "candidate_edges_per_band": {str(b): n for b, n in per_band.iter_rows()},
        "candidate_pairs": edges.height,
    }
    if params.verify_jaccard is not None:
        if documents is None:
            raise InputError("verify_jaccard is set: the document shards are needed to compute exact Jaccard")
        verified = verify(edges, documents, params)
        stats.update(verify_jaccard=params.verify_jaccard, verified_pairs=verified.height,
                     rejected_pairs=edges.height - verified.height)
        edges = verified
    if edges.height == 0:
        return pl.DataFrame(schema=CLUSTER_SCHEMA), pl.DataFrame(schema=REMOVED_SCHEMA), {**stats, "clusters": 0}
    members = cluster_ids(edges)
    meta = (
        pl.scan_parquet([str(p) for p in docs_files])
        .filter(pl.col("doc").is_in(members["doc"].implode()))
        .collect()
    )
    clusters = keep_first(members.join(meta, on="doc", how="left"), "cluster_id")
    clusters = clusters.select(list(CLUSTER_SCHEMA)).cast(CLUSTER_SCHEMA).sort("cluster_id", "doc")
    removed = clusters.filter(~pl.col("keep")).select(
        "id", pl.lit("fuzzy").alias("reason"), "cluster_id", "kept_id"
    )
    sizes = clusters.group_by("cluster_id").len()["len"]
    stats.update(clusters=sizes.len(), clustered_documents=clusters.height, removed_documents=removed.height,
                 largest_cluster=int(sizes.max()))
    log.info("%d clusters over %d documents; %d removed", stats["clusters"], clusters.height, removed.height)
    return clusters, removed.sort("cluster_id", "id"), stats
