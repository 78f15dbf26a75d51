"""A batch job's members: one `opencoder` process each (a shell loop) vs one `opencoder batch`.

With resources.shards_per_job N, a per-shard rule's job runs N one-shard commands, and the last batch
is padded with empty shards. The members are measured here on such pads, where a member's cost is all
overhead: the loop starts a Python and imports the stage per member, `opencoder batch` imports it once
and forks a child per member (opencoder.core.batch). The commands are the rules' own (the default
config's settings as `--params` files, as the workflow passes them); the two sides' outputs are
compared byte for byte. CPU time is the children's user + system (`RUSAGE_CHILDREN`).

    .venv/bin/python bench/batch_jobs.py [--members 20] [--stages preprocess,transform,filter]
"""

from __future__ import annotations

import argparse
import filecmp
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opencoder.core.config import load, section, settings_file

PY = sys.executable


def commands(stage: str, work: Path, params: Path, side: str, i: int) -> list[str]:
    """The rule's one-shard command of `stage` for member i, on the empty shard."""
    out = work / side / f"{stage}.{i:05d}"
    if stage == "preprocess":
        return ["preprocess", "--empty", "--output", f"{out}.parquet", "--params", str(params)]
    if stage == "transform":
        return ["transform", "--input", str(work / "empty.parquet"), "--output", f"{out}.parquet", "--params", str(params)]
    return ["filter", "--input", str(work / "empty.parquet"), "--output", f"{out}.parquet", "--explain", f"{out}.decisions.parquet",
            "--stats", f"{out}.json", "--samples", f"{out}.samples.jsonl", "--threads", "1", "--params", str(params)]


def timed(script: str) -> tuple[float, float]:
    """(wall s, CPU s of children) of a bash script."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(["bash", "-euo", "pipefail", "-c", script], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - start, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--stages", default="preprocess,transform,filter")
    args = parser.parse_args()
    config = load()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for side in ("loop", "batch"):
            (work / side).mkdir()
        subprocess.run([PY, "-m", "opencoder", "preprocess", "--empty", "--output", str(work / "empty.parquet")],
                       check=True, stderr=subprocess.DEVNULL)
        print(f"{args.members} pads a job, CPU s per member (children's user + system), wall s in brackets")
        print(f"{'stage':<11} {'loop':>14} {'batch':>14} {'loop / batch':>13}")
        for stage in args.stages.split(","):
            params = settings_file(work, stage, section(config, stage))
            loop = "; ".join(f"{shlex.quote(PY)} -m opencoder {shlex.join(commands(stage, work, params, 'loop', i))} 2> /dev/null"
                             for i in range(args.members))
            records = "".join(f" /dev/null {len(c)} {shlex.join(c)}" for c in
                              (commands(stage, work, params, "batch", i) for i in range(args.members)))
            batch = f"printf '%s\\0'{records} | {shlex.quote(PY)} -m opencoder batch"
            (loop_wall, loop_cpu), (batch_wall, batch_cpu) = timed(loop), timed(batch)
            same = filecmp.dircmp(work / "loop", work / "batch")
            if same.diff_files or same.left_only or same.right_only:
                raise SystemExit(f"{stage}: the two sides' outputs differ: {same.diff_files + same.left_only + same.right_only}")
            n = args.members
            print(f"{stage:<11} {loop_cpu / n:>6.3f} ({loop_wall / n:5.2f}) {batch_cpu / n:>6.3f} ({batch_wall / n:5.2f})"
                  f" {loop_cpu / batch_cpu:>12.1f}x")


if __name__ == "__main__":
    main()
