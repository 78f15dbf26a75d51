"""Our fuzzy dedup on a folder of shards, the workflow's four steps on a pool of workers (as `snakemake -c N`).

Run by bench/dedup_bench.py; prints one JSON line: seconds per step and where the removed ids are.
`--floor` only reads, normalises and shingles every shard (the lower bound of any MinHash dedup).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from pathlib import Path

import polars as pl


def step(argv: list[str]) -> None:
    from opencoder.data.dedup.fuzzy import cli

    if cli.main(argv) != 0:
        raise RuntimeError(f"fuzzy-dedup {' '.join(argv[:3])} failed")


def shingle_only(path: str, ngram: int) -> int:
    from opencoder.data.dedup.fuzzy.shingles import hash_batch
    from opencoder.data.dedup.fuzzy.signatures import batches

    text = pl.read_parquet(path, columns=["text"])["text"]
    return sum(len(hash_batch(text[s:e].fill_null("").to_list(), ngram).hashes) for s, e in batches(text, 4_000_000))


def warm_up() -> None:
    """Compile (or load from numba's cache) the kernels in each worker, before any timing."""
    from opencoder.data.dedup.fuzzy.minhash import band_keys, permutations, signatures
    from opencoder.data.dedup.fuzzy.shingles import hash_batch

    a, b = permutations(16, 1)
    band_keys(signatures(hash_batch(["a b c d e f", "x"], 5), a, b), 4, 4)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--input", required=True, type=Path)
    p.add_argument("--work", required=True, type=Path)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--params", required=True, help="dedup.fuzzy section as JSON")
    p.add_argument("--floor", action="store_true")
    args = p.parse_args()
    cfg = json.loads(args.params)
    shards = sorted(str(s) for s in args.input.glob("*.parquet"))
    # spawn, not fork: numba's thread pool does not survive a fork; each worker loads the cached kernels
    ctx = multiprocessing.get_context("spawn")
    times = {}
    with ctx.Pool(args.workers, initializer=warm_up) as pool:
        if args.floor:
            t = time.perf_counter()
            shingles = sum(pool.starmap(shingle_only, [(s, cfg["ngram"]) for s in shards]))
            print(json.dumps({"floor_s": time.perf_counter() - t, "shingles": shingles}))
            return
        sig, out = args.work / "signatures", args.work
        names = [Path(s).stem for s in shards]
        t = time.perf_counter()
        pool.map(step, [["signatures", "--input", s, "--keys", f"{sig}/{n}.keys.parquet", "--docs", f"{sig}/{n}.docs.parquet",
                         "--params", args.params] for s, n in zip(shards, names)])
        times["signatures"] = time.perf_counter() - (t0 := t)
        from opencoder.data.dedup.fuzzy.params import FuzzyParams

        parts = len(FuzzyParams.from_config(cfg).band_ranges())
        t = time.perf_counter()
        pool.map(step, [["buckets", "--part", str(i), "--output", f"{out}/buckets/{i:03d}.parquet", "--params", args.params,
                         "--input", *[f"{sig}/{n}.keys.parquet" for n in names]] for i in range(parts)])
        times["buckets"] = time.perf_counter() - t
        t = time.perf_counter()
        pool.map(step, [["clusters", "--edges", *[f"{out}/buckets/{i:03d}.parquet" for i in range(parts)],
                         "--docs", *[f"{sig}/{n}.docs.parquet" for n in names], "--clusters", f"{out}/clusters.parquet",
                         "--removed", f"{out}/removed.parquet", "--summary", f"{out}/clusters.json", "--params", args.params]])
        times["clusters"] = time.perf_counter() - t
        t = time.perf_counter()
        pool.map(step, [["remove", "--input", s, "--clusters", f"{out}/clusters.parquet", "--output", f"{out}/kept/{n}.parquet",
                         "--params", args.params] for s, n in zip(shards, names)])
        times["remove"] = time.perf_counter() - t
        times["total"] = time.perf_counter() - t0
    print(json.dumps({"seconds": times, "removed": str(out / "removed.parquet")}))


if __name__ == "__main__":
    main()
