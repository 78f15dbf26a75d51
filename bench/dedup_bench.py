"""Fuzzy dedup benchmark: ours vs datatrove's MinHash pipeline, side by side on the same shards.

    .venv/bin/python bench/dedup_bench.py [--corpus DIR] [--limit-mb 60] [--workers 2]

The corpus is the embedded default's Python and C/C++ files (the project environment's standard
library and site-packages) or any folder (`--corpus`), written as document shards. Each tool runs
as a subprocess whose whole process tree is sampled for memory. For each LSH shape (2,048 hashes
as 16 x 128, and datatrove's default 14 x 8) it reports documents/s, MB/s, peak memory of the
largest single process (a worker) and of the whole tree, and documents removed; then how far
the two tools agree, among files with at least one shingle (datatrove passes shorter files through;
we deduplicate them by their exact normalised text): on duplicate pairs (two documents in one
cluster), which does not depend on which member each tool keeps, and on the removed sets, which
does. Then the floor (read + normalise + shingle only) and the memory of our pipeline on 1x, 4x,
16x copies of a corpus (each copy with one small random edit).
datatrove runs in its own environment, bench/.venv-datatrove (bench/setup_datatrove.sh).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shlex
import subprocess
import sys
import sysconfig
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl
import psutil

from opencoder.core import shards
from opencoder.core.config import load, section
from opencoder.core.documents import conform, document_id
from opencoder.data.dedup.fuzzy.shingles import shingles

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
EXTENSIONS = {".py": "python", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp",
              ".hh": "cpp", ".cu": "cuda", ".cuh": "cuda"}
SHARD_BYTES = 8_000_000


def source_files(roots: list[Path], limit_bytes: int) -> list[tuple[str, str]]:
    """(relative path, text) of the code files under `roots`, in sorted order, up to `limit_bytes`."""
    out, total = [], 0
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.suffix not in EXTENSIONS or not path.is_file() or "__pycache__" in path.parts or ".venv-" in str(path):
                continue
            try:
                text = path.read_bytes().decode("utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            if len(text) > 8_000_000:
                continue
            out.append((f"{root.name}/{path.relative_to(root)}", text))
            total += len(text.encode())
            if total >= limit_bytes:
                return out
    return out


def write_shards(files: list[tuple[str, str]], folder: Path) -> Path:
    """Document shards of about SHARD_BYTES each; the folder is reused when already complete."""
    if (folder / "done").exists():
        return folder
    rows, size, n = [], 0, 0

    def flush():
        nonlocal rows, size, n
        frame = pl.DataFrame(rows).with_columns(
            doc_type=pl.lit("code"), repo=pl.lit(None, pl.String), stars=pl.lit(None, pl.Int64),
            commit_time=pl.lit(None, pl.Datetime("us", "UTC")), source=pl.lit("bench"),
            bytes=pl.col("text").str.len_bytes().cast(pl.Int64))
        shards.write_parquet(conform(frame), folder / f"{n:05d}.parquet")
        rows, size, n = [], 0, n + 1

    for path, text in files:
        rows.append({"id": document_id("bench", None, path), "text": text, "path": path,
                     "language": EXTENSIONS[Path(path).suffix]})
        size += len(text.encode())
        if size >= SHARD_BYTES:
            flush()
    if rows:
        flush()
    (folder / "done").touch()
    return folder


def edited_copies(files: list[tuple[str, str]], copies: int, seed: int) -> list[tuple[str, str]]:
    """The files plus `copies - 1` copies of each, every copy with one random word inserted."""
    rng = random.Random(seed)
    out = list(files)
    for c in range(1, copies):
        for path, text in files:
            at = rng.randrange(len(text) + 1)
            out.append((f"copy{c}/{path}", f"{text[:at]} edit{rng.randrange(10**9)} {text[at:]}"))
    return out


def measure(cmd: list[str]) -> dict:
    """Run `cmd`; wall time, peak RSS of its largest process and of its whole tree, its JSON output."""
    started = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
    peak_proc = peak_tree = 0
    while proc.poll() is None:
        try:
            tree = [proc] + proc.children(recursive=True)
            rss = []
            for p in tree:
                try:
                    rss.append(p.memory_info().rss)
                except psutil.Error:
                    pass
            peak_proc, peak_tree = max(peak_proc, max(rss, default=0)), max(peak_tree, sum(rss))
        except psutil.Error:
            pass
        time.sleep(0.05)
    out = proc.stdout.read()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed (exit {proc.returncode})")
    return {"wall_s": wall, "peak_proc_gib": peak_proc / 2**30, "peak_tree_gib": peak_tree / 2**30,
            **json.loads(out.strip().splitlines()[-1])}


def pairs(clusters: pl.DataFrame, *by: str) -> int:
    """Duplicate pairs of an `id, cluster` table, C(n, 2) per group of `by`: counted, not listed,
    since one cluster can hold thousands of documents."""
    n = clusters.group_by(*by).len()["len"]
    return int((n * (n - 1) // 2).sum())


def share(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else "-"


def ours(corpus: Path, work: Path, workers: int, cfg: dict, floor: bool = False) -> dict:
    cmd = [sys.executable, str(BENCH / "dedup_run_ours.py"), "--input", str(corpus), "--work", str(work),
           "--workers", str(workers), "--params", json.dumps(cfg)] + (["--floor"] if floor else [])
    result = measure(cmd)
    if not floor:
        removed = pl.read_parquet(result["removed"])
        result["removed_ids"] = set(removed["id"])
        # a cluster is its removed documents and the one it keeps
        result["clusters"] = pl.concat([removed.select("id", cluster="cluster_id"),
                                        removed.select(id="kept_id", cluster="cluster_id")]).unique()
    return result


def datatrove(corpus: Path, work: Path, workers: int, bands: int, rows: int) -> dict:
    python = subprocess.run(["bash", str(BENCH / "setup_datatrove.sh")], check=True, capture_output=True, text=True).stdout.strip()
    result = measure([python, str(BENCH / "dedup_run_datatrove.py"), "--input", str(corpus), "--work", str(work),
                      "--workers", str(workers), "--bands", str(bands), "--rows", str(rows)])
    kept, removed, remove_ids = (Path(result[k]) for k in ("kept", "removed", "clusters"))
    result["removed_ids"], clusters = set(), []
    for name in sorted({f.name for folder in (kept, removed) for f in folder.glob("*.jsonl.gz")}):
        # datatrove names a document by its index among its shard's documents as read: the kept and
        # removed ones merged back by the indices it removed (its filter's cluster-id metadata would
        # miss the shards with nothing removed)
        gone_ids, kept_ids = jsonl_ids(removed / name), jsonl_ids(kept / name)
        result["removed_ids"].update(gone_ids)
        stem = remove_ids / f"{int(name.split('.')[0]):06d}"
        gone = np.zeros(len(gone_ids) + len(kept_ids), dtype=bool)
        gone[uint32s(stem.with_suffix(".remove"))] = True
        ids = np.empty(len(gone), dtype=object)
        ids[gone], ids[~gone] = gone_ids, kept_ids
        doc, cluster = uint32s(stem.with_suffix(".clusters")).reshape(-1, 2).T
        clusters.append(pl.DataFrame({"id": ids[doc].tolist(), "cluster": cluster.astype(np.int64)}))
    result["clusters"] = pl.concat(clusters)
    return result


def jsonl_ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    with gzip.open(path, "rt") as fh:
        return [json.loads(line)["id"] for line in fh]


def uint32s(path: Path) -> np.ndarray:
    """A datatrove binary file of little-endian uint32s; none when it wrote no such file."""
    return np.fromfile(path, dtype="<u4") if path.exists() else np.zeros(0, dtype="<u4")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, help="folder of source files (default: the embedded default's)")
    p.add_argument("--limit-mb", type=float, default=60.0, help="corpus size cap")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--shapes", default="16x128,14x8", help="LSH bands x rows to compare")
    p.add_argument("--scaling", default="1,4,16", help="corpus multiples for the memory-scaling run ('' to skip)")
    p.add_argument("--scaling-mb", type=float, default=5.0)
    p.add_argument("--no-datatrove", action="store_true")
    p.add_argument("--results", type=Path, default=BENCH / "RESULTS.md")
    args = p.parse_args()
    work = BENCH / "work"
    roots = [args.corpus] if args.corpus else [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    files = source_files(roots, int(args.limit_mb * 1e6))
    mb = sum(len(t.encode()) for _, t in files) / 1e6
    corpus = write_shards(files, work / f"corpus-{len(files)}")
    base = section(load(), "dedup.fuzzy")
    # files with no 5-gram: we dedup them by exact normalised text, datatrove passes them through
    short = {document_id("bench", None, path) for path, text in files if not shingles(text, base["ngram"])}
    lines = [f"corpus: {len(files)} files, {mb:.1f} MB, {len(list(corpus.glob('*.parquet')))} shards; {args.workers} workers", "",
             "| tool | LSH | docs/s | MB/s | peak/process GiB | peak/tree GiB | removed (of them shingled) | duplicate pairs among shingled files | seconds |",
             "|---|---|---|---|---|---|---|---|---|"]
    agreement = ["", "agreement among shingled files, on duplicate pairs (two documents in one cluster) and on removed documents:", "",
                 ("| LSH | pairs ours | pairs datatrove | pairs shared | shared / union | shared / datatrove's | shared / ours "
                  "| removed ours, datatrove | removed shared / union |"), "|---|---|---|---|---|---|---|---|---|"]
    floor = ours(corpus, work / "floor", args.workers, base, floor=True)
    for shape in args.shapes.split(","):
        bands, rows = map(int, shape.split("x"))
        cfg = {**base, "bands": bands, "rows": rows, "lsh_jobs": bands + 1}
        runs = {"ours": ours(corpus, work / f"ours-{shape}", args.workers, cfg)}
        if not args.no_datatrove:
            runs["datatrove"] = datatrove(corpus, work / f"datatrove-{shape}-{time.time_ns()}", args.workers, bands, rows)
        for tool, r in runs.items():
            r["shingled"] = r["clusters"].filter(~pl.col("id").is_in(list(short)))
            r["pairs"] = pairs(r["shingled"], "cluster")
            secs = r["seconds"]["total"]
            lines.append(f"| {tool} | {shape} | {len(files) / secs:.0f} | {mb / secs:.2f} | {r['peak_proc_gib']:.2f} | "
                         f"{r['peak_tree_gib']:.2f} | {len(r['removed_ids'])} ({len(r['removed_ids'] - short)}) | {r['pairs']} | "
                         + ", ".join(f"{k} {v:.1f}" for k, v in r["seconds"].items()) + " |")
        a = runs["ours"]
        if d := runs.get("datatrove"):
            lines.append(f"| **ratio ours/datatrove** | {shape} | **{d['seconds']['total'] / a['seconds']['total']:.1f}x** "
                         f"| | {a['peak_proc_gib'] / d['peak_proc_gib']:.2f}x | | | | |")
            # a pair is in both when its two documents share a cluster in each tool
            both = pairs(a["shingled"].join(d["shingled"], on="id", suffix="_dt"), "cluster", "cluster_dt")
            mine, theirs = a["removed_ids"] - short, d["removed_ids"] - short
            agreement.append(f"| {shape} | {a['pairs']} | {d['pairs']} | {both} | {share(both, a['pairs'] + d['pairs'] - both)} | "
                             f"{share(both, d['pairs'])} | {share(both, a['pairs'])} | {len(mine)}, {len(theirs)} | "
                             f"{share(len(mine & theirs), len(mine | theirs))} |")
        if shape == "16x128":
            lines.append(f"| floor (read+normalise+shingle) | - | {len(files) / floor['floor_s']:.0f} | {mb / floor['floor_s']:.2f} "
                         f"| {floor['peak_proc_gib']:.2f} | {floor['peak_tree_gib']:.2f} | - | ours/floor time: "
                         f"**{a['seconds']['total'] / floor['floor_s']:.2f}x** | {floor['floor_s']:.1f} |")
    if not args.no_datatrove:
        lines += agreement
    if args.scaling:
        small = source_files(roots, int(args.scaling_mb * 1e6))
        lines += ["", f"memory scaling, 16x128, {args.workers} workers, base {len(small)} files "
                      f"({sum(len(t.encode()) for _, t in small) / 1e6:.1f} MB), copies with one random edit each:", "",
                  "| copies | files | MB | docs/s | peak/process GiB | peak/tree GiB | removed | seconds |", "|---|---|---|---|---|---|---|---|"]
        for k in map(int, args.scaling.split(",")):
            grown = edited_copies(small, k, seed=k)
            folder = write_shards(grown, work / f"scaling-{len(small)}x{k}")
            r = ours(folder, work / f"scaling-run-{k}", args.workers, base)
            gmb = sum(len(t.encode()) for _, t in grown) / 1e6
            lines.append(f"| {k} | {len(grown)} | {gmb:.0f} | {len(grown) / r['seconds']['total']:.0f} | {r['peak_proc_gib']:.2f} | "
                         f"{r['peak_tree_gib']:.2f} | {len(r['removed_ids'])} | {r['seconds']['total']:.1f} |")
    report = "\n".join(lines)
    print(report)
    cmd = shlex.join([".venv/bin/python", "bench/dedup_bench.py", *sys.argv[1:]])
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    with args.results.open("a") as fh:
        fh.write(f"\n## Fuzzy dedup vs datatrove ({stamp})\n\n`{cmd}`\n\n{report}\n")


if __name__ == "__main__":
    main()
