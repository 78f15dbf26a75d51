"""How well the LSH finds near-duplicates: measured candidate rate against exact Jaccard.

For a sample of documents we compute, on the same shingles as the dedup, the exact Jaccard
similarity of three kinds of pairs: the LSH's own candidate pairs (configured bands x rows), the
pairs a far more sensitive LSH finds (64 bands x 4 rows: near-certain to catch any pair above
~0.5, so it stands in for "all similar pairs" without an all-pairs scan), and random pairs.
Binned by Jaccard, the share of pairs that are candidates is printed next to the S-curve's
expectation 1 - (1 - s^r)^b for the same pairs, with its binomial standard error; precision and
recall are reported at the threshold (the configured `threshold`, else the curve's midpoint).
"""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl

from opencoder.data.dedup.fuzzy.components import jaccard
from opencoder.data.dedup.fuzzy.minhash import band_keys, permutations, signatures
from opencoder.data.dedup.fuzzy.params import FuzzyParams, candidate_probability
from opencoder.data.dedup.fuzzy.shingles import hash_batch

BINS = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99, 1.0 + 1e-9)
SENSITIVE = (64, 4)  # bands, rows of the pool-finding LSH


def bucket_pairs(keys: np.ndarray, max_bucket: int, rng: np.random.Generator) -> set[tuple[int, int]]:
    """Pairs of rows sharing a key in any band (buckets over `max_bucket` are sampled down)."""
    pairs: set[tuple[int, int]] = set()
    for band in range(keys.shape[1]):
        frame = pl.DataFrame({"key": keys[:, band], "doc": np.arange(len(keys))})
        for docs in frame.group_by("key").agg("doc").filter(pl.col("doc").list.len() > 1)["doc"].to_list():
            if len(docs) > max_bucket:
                docs = sorted(rng.choice(docs, max_bucket, replace=False).tolist())
            pairs.update(itertools.combinations(sorted(docs), 2))
    return pairs


def pair_table(texts: list[str], params: FuzzyParams, random_pairs: int = 2000, max_bucket: int = 50,
               seed: int = 0) -> pl.DataFrame:
    """One row per sampled pair: `a`, `b` (text positions), `jaccard`, `candidate`, `expected`, `kind`."""
    rng = np.random.default_rng(seed)
    batch = hash_batch(texts, params.ngram, params.unit)
    a, b = permutations(params.num_perm, params.seed)
    sig = signatures(batch, a, b)
    sets = [batch.hashes[batch.offsets[i] : batch.offsets[i + 1]] for i in range(len(texts))]
    long = np.flatnonzero(~batch.is_short)  # short files are matched exactly, not by LSH
    configured = band_keys(sig[long], params.bands, params.rows)
    candidates = {(int(long[i]), int(long[j])) for i, j in bucket_pairs(configured, max_bucket, rng)}
    sensitive = band_keys(sig[long], *SENSITIVE) if SENSITIVE[0] * SENSITIVE[1] <= params.num_perm else configured
    pool = {(int(long[i]), int(long[j])) for i, j in bucket_pairs(sensitive, max_bucket, rng)}
    rand = set()
    if len(long) > 1:
        for i, j in rng.choice(long, size=(random_pairs, 2)):
            if i != j:
                rand.add((int(min(i, j)), int(max(i, j))))
    rows = []
    for kind, pairs in (("candidate", candidates), ("similar", pool - candidates), ("random", rand - pool - candidates)):
        for i, j in sorted(pairs):
            rows.append((i, j, jaccard(sets[i], sets[j]), (i, j) in candidates, kind))
    table = pl.DataFrame(rows, schema={"a": pl.Int64, "b": pl.Int64, "jaccard": pl.Float64, "candidate": pl.Boolean,
                                       "kind": pl.String}, orient="row")
    return table.with_columns(expected=pl.Series(candidate_probability(table["jaccard"].to_numpy(), params.bands, params.rows)))


def report(table: pl.DataFrame, params: FuzzyParams) -> dict:
    """Measured vs theoretical candidate rate per Jaccard bin; precision and recall at the threshold."""
    threshold = params.threshold if params.threshold is not None else params.midpoint
    bins = []
    for lo, hi in zip(BINS[:-1], BINS[1:]):
        part = table.filter((pl.col("jaccard") >= lo) & (pl.col("jaccard") < hi))
        if part.height == 0:
            continue
        expected = float(part["expected"].mean())
        bins.append({
            "jaccard": f"[{lo:.2f}, {min(hi, 1.0):.2f}{']' if hi > 1 else ')'}", "pairs": part.height,
            "measured": float(part["candidate"].mean()), "expected": expected,
            "stderr": float(np.sqrt(max(expected * (1 - expected), 1e-12) / part.height)),
        })
    similar = table.filter(pl.col("jaccard") >= threshold)
    found = table.filter(pl.col("candidate"))
    return {
        "bands": params.bands, "rows": params.rows, "threshold": threshold, "pairs": table.height,
        "precision": float((found["jaccard"] >= threshold).mean()) if found.height else None,
        "expected_precision": float(similar["expected"].sum() / table["expected"].sum()) if table["expected"].sum() else None,
        "recall": float(similar["candidate"].mean()) if similar.height else None,
        "expected_recall": float(similar["expected"].mean()) if similar.height else None,
        "bins": bins,
    }


def format_report(rep: dict) -> str:
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    lines = [
        f"LSH {rep['bands']} x {rep['rows']}, threshold {rep['threshold']:.3f}, {rep['pairs']} pairs",
        f"precision {fmt(rep['precision'])} (S-curve expects {fmt(rep['expected_precision'])})  "
        f"recall {fmt(rep['recall'])} (S-curve expects {fmt(rep['expected_recall'])})",
        "  jaccard          pairs  measured  S-curve  ±stderr",
    ]
    for b in rep["bins"]:
        lines.append(f"  {b['jaccard']:<15} {b['pairs']:6d}  {b['measured']:8.3f}  {b['expected']:7.3f}  {b['stderr']:.3f}")
    return "\n".join(lines)
