"""Data path throughput: every data stage next to its floor and the anchor a user would otherwise run.

For each stage (ingest, preprocess, exact dedup, fuzzy dedup, transform, filter, sample, tokenizer
training, tokens) the script takes the stage's real input from a default build (`--results`, the
folder of a finished `snakemake` run of the embedded default), cut to `--mb` MB of text, and runs in
child processes, one after another and `--repeat` times in turns so a busy machine slows them alike:

* the stage, by its own command line (`opencoder <stage> …`, every step of a multi-step stage);
* its floor: a process that reads the same input shards and writes them back (`opencoder.core.shards`),
  no work;
* its anchor, where one exists: datatrove's `PIIFormatter` for transform (e-mail and IP addresses only),
  datatrove's MinHash pipeline for fuzzy dedup (bench/dedup_run_datatrove.py), Hugging Face
  `tokenizers` training for the tokenizer (the same trainer settings, no sampling or stats), and
  Megatron-LM's `preprocess_data.py` approach for tokens (`Tokenizer.encode` per document into
  megatron-core's `IndexedDatasetBuilder`). datatrove runs in bench/.venv-datatrove
  (bench/setup_datatrove.sh); `--no-datatrove` skips it.

Each child's CPU time (user + system) and peak resident memory come from `os.wait4`. MB/s per core is
input MB of text over CPU seconds (the stages run with one thread, as their rules request by default;
CPU time is what a busy machine disturbs least); wall seconds are printed too. The ratio columns are
the stage's CPU time over its floor's and over its anchor's.

    .venv/bin/python bench/data_path.py [--results results/default] [--mb 8] [--repeat 2] [--stages transform,tokens]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
PY = sys.executable
STAGES = ["ingest", "preprocess", "exact", "fuzzy", "transform", "filter", "sample", "tokenizer", "tokens"]
INPUT_OF = {"preprocess": "ingest", "exact": "preprocess", "fuzzy": "exact", "transform": "fuzzy",
            "filter": "transform", "sample": "filter", "tokenizer": "corpus", "tokens": "corpus"}


# Each command is started by a small launcher (python -S, a few MiB), not forked from this process: a
# child's peak RSS as wait4 reports it starts from its parent's at the fork.
LAUNCHER = """
import json, os, sys
pid = os.fork()
if pid == 0:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"code": os.waitstatus_to_exitcode(status), "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024}, out)
"""


def run(cmd: list[str], env: dict | None = None) -> dict:
    """Run `cmd` to the end; its CPU seconds, wall seconds and peak RSS (MiB) from wait4."""
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, report.name, *map(str, cmd)], stderr=subprocess.PIPE,
                              env={**os.environ, **(env or {})}, cwd=REPO)
        wall = time.perf_counter() - start
        usage = json.loads(Path(report.name).read_text() or "{}")
    if proc.returncode or usage.get("code"):
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{proc.stderr.decode()[-3000:]}")
    return {"cpu": usage["cpu"], "wall": wall, "rss": usage["rss"]}


def identical(a: Path, b: Path) -> bool:
    """Whether two runs' output folders hold the same files, byte for byte."""
    files = lambda root: sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())  # noqa: E731
    return files(a) == files(b) and all((a / f).read_bytes() == (b / f).read_bytes() for f in files(a))


def total(runs: list[dict]) -> dict:
    return {"cpu": sum(r["cpu"] for r in runs), "wall": sum(r["wall"] for r in runs), "rss": max(r["rss"] for r in runs)}


def settings(results: Path, section: str, work: Path) -> Path:
    """The config's `section` (config/config.yaml: the embedded default) as a --params file."""
    from opencoder.core import config

    path = work.parent / f"{section}.json"
    if not path.exists():
        path.write_text(json.dumps(config.section(config.load(), section)))
    return path


def cut(results: Path, stage_dir: str, mb: float, out: Path) -> tuple[Path, float]:
    """The first `mb` MB of text of the build's `stage_dir` shards, as one shard (whole documents)."""
    frames, size = [], 0
    for path in sorted(glob.glob(str(results / stage_dir / "[0-9][0-9][0-9][0-9][0-9].parquet"))):
        df = pl.read_parquet(path)
        n = df["text"].str.len_bytes().cum_sum().search_sorted(int((mb * 1e6) - size)) + 1
        frames.append(df.head(n))
        size += int(frames[-1]["text"].str.len_bytes().sum())
        if size >= mb * 1e6:
            break
    out.parent.mkdir(parents=True, exist_ok=True)
    pl.concat(frames, how="vertical_relaxed").write_parquet(out)
    return out, size / 1e6


FLOOR = """
import sys
from opencoder.core import shards
for i, path in enumerate(sys.argv[2:]):
    shards.write_parquet(shards.read_documents(path), f"{sys.argv[1]}/{i:05d}.parquet")
"""

MEGATRON_ANCHOR = """
# Megatron-LM tools/preprocess_data.py, reduced to what it does per document: Tokenizer.encode, append
# the end-of-document id, IndexedDatasetBuilder.add_document; finalize writes the index.
import sys, numpy as np, pyarrow.parquet as pq
from tokenizers import Tokenizer
from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder
tok = Tokenizer.from_file(sys.argv[1] + "/tokenizer.json")
eod = tok.token_to_id("<|endoftext|>")
builder = IndexedDatasetBuilder(sys.argv[2] + ".bin", dtype=np.uint16 if tok.get_vocab_size() <= 65536 else np.int32)
for path in sys.argv[3:]:
    for text in pq.read_table(path, columns=["text"]).column("text").to_pylist():
        ids = tok.encode(text, add_special_tokens=False).ids + [eod]
        builder.add_document(np.array(ids, dtype=builder.dtype), [len(ids)])
builder.finalize(sys.argv[2] + ".idx")
"""

HF_TRAINER_ANCHOR = """
# Hugging Face tokenizers: byte-level BPE with the tokenizer section's vocabulary, frequency floor and
# special tokens, trained straight on the texts.
import json, sys, pyarrow.parquet as pq
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
p = json.load(open(sys.argv[1]))
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
trainer = trainers.BpeTrainer(vocab_size=p["vocab_size"], min_frequency=p["min_frequency"], special_tokens=p["special_tokens"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
texts = [t for path in sys.argv[3:] for t in pq.read_table(path, columns=["text"]).column("text").to_pylist()]
tok.train_from_iterator(texts, trainer)
tok.save(sys.argv[2] + "/tokenizer.json")
"""

PII_ANCHOR = """
# datatrove's PII formatter (e-mail and IP addresses) over the same shard, written back as parquet.
import sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.formatters import PIIFormatter
from datatrove.pipeline.readers import ParquetReader
from datatrove.pipeline.writers import ParquetWriter
LocalPipelineExecutor(pipeline=[ParquetReader(sys.argv[1], glob_pattern="*.parquet"), PIIFormatter(),
                                ParquetWriter(sys.argv[2])], tasks=1, workers=1, logging_dir=sys.argv[3]).run()
"""


def stage_runs(stage: str, inp: Path, work: Path, results: Path, args) -> list[list[str]]:
    """The command lines of `stage` on the shard `inp`, writing under `work` (a fresh folder)."""
    oc = [PY, "-m", "opencoder"]
    s = lambda section: str(settings(results, section, work))  # noqa: E731
    if stage == "ingest":
        return [oc + ["ingest", "--output", str(work / "ingest"), "--params", str(inp)]]
    if stage in ("preprocess", "transform"):
        return [oc + [stage, "--input", str(inp), "--output", str(work / "out.parquet"), "--params", s(stage)]]
    if stage == "exact":
        return [oc + ["exact-dedup", "hashes", "--input", str(inp), "--output", str(work / "h.parquet"), "--params", s("dedup.exact")],
                oc + ["exact-dedup", "plan", "--input", str(work / "h.parquet"), "--output", str(work / "removed.parquet")],
                oc + ["exact-dedup", "apply", "--input", str(inp), "--removed", str(work / "removed.parquet"),
                      "--output", str(work / "out.parquet")]]
    if stage == "fuzzy":
        jobs = json.loads(Path(s("dedup.fuzzy")).read_text())["lsh_jobs"]
        return [oc + ["fuzzy-dedup", "signatures", "--input", str(inp), "--keys", str(work / "keys.parquet"),
                      "--docs", str(work / "docs.parquet"), "--threads", "1", "--params", s("dedup.fuzzy")],
                *[oc + ["fuzzy-dedup", "buckets", "--part", str(part), "--input", str(work / "keys.parquet"),
                        "--output", str(work / f"edges{part}.parquet"), "--params", s("dedup.fuzzy")] for part in range(jobs)],
                oc + ["fuzzy-dedup", "clusters", "--edges", *[str(work / f"edges{part}.parquet") for part in range(jobs)],
                      "--docs", str(work / "docs.parquet"), "--documents", str(inp), "--clusters", str(work / "clusters.parquet"),
                      "--removed", str(work / "removed.parquet"), "--summary", str(work / "clusters.json"), "--params", s("dedup.fuzzy")],
                oc + ["fuzzy-dedup", "remove", "--input", str(inp), "--clusters", str(work / "clusters.parquet"),
                      "--output", str(work / "out.parquet"), "--params", s("dedup.fuzzy")]]
    if stage == "filter":
        return [oc + ["filter", "--input", str(inp), "--output", str(work / "out.parquet"), "--explain", str(work / "d.parquet"),
                      "--stats", str(work / "out.stats.json"), "--samples", str(work / "s.parquet"), "--threads", "1",
                      "--params", s("filter")]]
    if stage == "sample":
        return [oc + ["sample", "apply", "--plan", str(results / "sample" / "plan.json"), "--input", str(inp),
                      "--output", str(work / "out.parquet"), "--stats", str(work / "out.stats.json")]]
    if stage == "tokenizer":
        return [oc + ["tokenizer", "--input", str(inp), "--output", str(work / "tok"), "--threads", "1", "--params", s("tokenizer")]]
    if stage == "tokens":
        tok = str(results / "tokenizer")
        return [oc + ["tokens", "encode", "--input", str(inp), "--tokenizer", tok, "--output", str(work / "shard"),
                      "--threads", "1", "--params", s("tokens")],
                oc + ["tokens", "merge", "--input", str(work / "shard"), "--tokenizer", tok, "--output", str(work / "merged"),
                      "--params", s("tokens")]]
    raise ValueError(stage)


def anchor_runs(stage: str, inp: Path, work: Path, results: Path, args) -> tuple[str, list[list[str]]] | None:
    if stage == "tokens":
        return "Megatron preprocess_data (HF encode + IndexedDatasetBuilder)", [[PY, "-c", MEGATRON_ANCHOR, str(results / "tokenizer"), str(work / "ds"), str(inp)]]
    if stage == "tokenizer":
        return "HF tokenizers BpeTrainer", [[PY, "-c", HF_TRAINER_ANCHOR, str(settings(results, "tokenizer", work)), str(work), str(inp)]]
    if args.no_datatrove or stage not in ("transform", "fuzzy"):
        return None
    python = subprocess.run(["bash", str(BENCH / "setup_datatrove.sh")], check=True, capture_output=True, text=True).stdout.strip()
    (work / "in").mkdir(parents=True, exist_ok=True)
    shutil.copy(inp, work / "in" / "00000.parquet")
    if stage == "transform":
        return "datatrove PIIFormatter (e-mail, IP)", [[python, "-c", PII_ANCHOR, str(work / "in"), str(work / "out"), str(work / "logs")]]
    return "datatrove MinHash (4 stages)", [[python, str(BENCH / "dedup_run_datatrove.py"), "--input", str(work / "in"),
                                             "--work", str(work / "dt"), "--workers", "1"]]


def ingest_input(mb: float, work: Path) -> tuple[Path, float]:
    """A folder of the Python standard library's files (the embedded default's main source) of about
    `mb` MB, and the ingest settings reading it as one directory source."""
    import sysconfig

    src, size = Path(sysconfig.get_paths()["stdlib"]), 0
    root = work / "stdlib"
    for path in sorted(src.rglob("*.py")):
        if "__pycache__" in path.parts or "site-packages" in path.parts:
            continue
        dest = root / path.relative_to(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, dest)
        size += path.stat().st_size
        if size >= mb * 1e6:
            break
    params = work / "ingest.json"
    params.write_text(json.dumps({"notebooks": {"max_output_chars": 1000}, "shard_bytes": 64_000_000,
                                  "sources": [{"name": "stdlib", "type": "directory", "path": str(root)}]}))
    return params, size / 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, help="a default build's results folder (default: results/default, else /tmp/fresh*/results/default)")
    p.add_argument("--mb", type=float, default=8.0, help="MB of text per stage")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--stages", default=",".join(STAGES))
    p.add_argument("--no-datatrove", action="store_true")
    p.add_argument("--json", type=Path, help="also write the rows as JSON")
    p.add_argument("--baseline", type=Path, help="a `src` folder of another revision (e.g. a worktree of main): its stage runs "
                   "in turn with the others, and stage/baseline is printed (CPU time; outputs compared byte for byte)")
    args = p.parse_args()
    results = args.results or next((Path(c) for c in [REPO / "results/default", *sorted(glob.glob("/tmp/fresh*/results/default"))]
                                    if (Path(c) / "corpus").is_dir()), None)
    if results is None:
        raise SystemExit("no default build found: pass --results")
    env = {"PYTHONPATH": f"{REPO / 'src'}:{os.environ.get('PYTHONPATH', '')}", "POLARS_MAX_THREADS": "1", "RAYON_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1"}
    rows = []
    with tempfile.TemporaryDirectory(prefix="data_path.") as tmp:
        tmp = Path(tmp)
        for stage in args.stages.split(","):
            if stage == "ingest":
                inp, mb = ingest_input(args.mb, tmp / stage)
                floor_inputs = None
            else:
                inp, mb = cut(results, INPUT_OF[stage], args.mb, tmp / stage / "input" / "00000.parquet")
                floor_inputs = [str(inp)]
            timings = {"run": [], "floor": [], "anchor": [], "baseline": []}
            anchor_name, row_same = None, True
            for r in range(args.repeat):
                work = tmp / stage / f"run{r}"
                for kind in ("run", "floor", "anchor", "baseline"):
                    folder = work / kind
                    folder.mkdir(parents=True)
                    kind_env = env
                    if kind == "run":
                        cmds = stage_runs(stage, inp, folder, results, args)
                    elif kind == "baseline":
                        if not args.baseline:
                            continue
                        cmds = stage_runs(stage, inp, folder, results, args)
                        kind_env = {**env, "PYTHONPATH": str(args.baseline.resolve())}
                    elif kind == "floor":
                        # ingest's floor: read every file of its folder and write their texts as one shard
                        cmds = [[PY, "-c", FLOOR, str(folder), *floor_inputs]] if floor_inputs else [[PY, "-c", INGEST_FLOOR, str(folder), str(inp)]]
                    else:
                        anchor = anchor_runs(stage, inp, folder, results, args)
                        if anchor is None:
                            continue
                        anchor_name, cmds = anchor
                    timings[kind].append(total([run(cmd, kind_env) for cmd in cmds]))
                if args.baseline:
                    row_same = row_same and identical(work / "run", work / "baseline")
            row = {"stage": stage, "mb": round(mb, 2), "anchor_name": anchor_name}
            for kind, runs in timings.items():
                if runs:
                    best = min(runs, key=lambda t: t["cpu"])
                    row[kind] = {"cpu_s": round(best["cpu"], 2), "wall_s": round(best["wall"], 2), "mb_per_core_s": round(mb / best["cpu"], 2),
                                 "peak_rss_mib": round(max(t["rss"] for t in runs))}
            row["stage_over_floor"] = round(row["run"]["cpu_s"] / row["floor"]["cpu_s"], 2)
            if args.baseline:
                row["stage_over_baseline"] = round(row["run"]["cpu_s"] / row["baseline"]["cpu_s"], 3)
                row["identical_to_baseline"] = row_same
            if "anchor" in row:
                row["stage_over_anchor"] = round(row["run"]["cpu_s"] / row["anchor"]["cpu_s"], 2)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| stage | MB | MB/s/core | wall s | peak MiB | floor MB/s/core | floor peak MiB | stage/floor CPU | anchor | anchor MB/s/core | anchor peak MiB | stage/anchor CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        run_, floor, anchor = row["run"], row["floor"], row.get("anchor")
        anchor_cells = (f"{row['anchor_name']} | {anchor['mb_per_core_s']} | {anchor['peak_rss_mib']} | {row['stage_over_anchor']}"
                        if anchor else "- | - | - | -")
        print(f"| {row['stage']} | {row['mb']} | {run_['mb_per_core_s']} | {run_['wall_s']} | {run_['peak_rss_mib']} | "
              f"{floor['mb_per_core_s']} | {floor['peak_rss_mib']} | {row['stage_over_floor']} | {anchor_cells} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


INGEST_FLOOR = """
import sys
from pathlib import Path
import polars as pl
from opencoder.core import shards
files = sorted(p for p in Path(sys.argv[2]).parent.joinpath("stdlib").rglob("*") if p.is_file())
texts = [p.read_bytes().decode("utf-8", "replace") for p in files]
shards.write_parquet(pl.DataFrame({"path": [str(p) for p in files], "text": texts}), f"{sys.argv[1]}/00000.parquet")
"""


if __name__ == "__main__":
    main()
