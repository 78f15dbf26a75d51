"""Running the workflow on the smoke config from a test, with a test's own config on top; planning
targets of the session's shared smoke build (tests/conftest.py) with a changed config; planning a
build over many (empty) ingest shards without running ingest."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import yaml

from opencoder.core.config import load
from opencoder.core.variants import plan

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "config" / "smoke.yaml"
# the rules that run once per shard at file level (once per batch of resources.shards_per_job shards)
PER_SHARD = ["preprocess", "exact_hashes", "exact_dedup", "fuzzy_signatures", "fuzzy_dedup", "transform", "filter", "sample",
             "tokens_shard"]


def snakemake(tmp_path: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    """`snakemake ARGS` on config/smoke.yaml plus `config` (written to tmp_path), 2 cores; must succeed."""
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", *args, "-s", str(REPO / "Snakefile"), "-d", str(REPO), "-c2",
         "--configfile", str(REPO / "config" / "smoke.yaml"), str(tmp_path / "cfg.yaml")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def dry_run(build, tmp_path: Path, *targets: str, extra: dict | None = None) -> str:
    """Plan `targets` of the shared smoke build (with `extra` config on top); return Snakemake's output.
    A dry run changes nothing, so the shared build stays as it was for the other tests."""
    files = list(build.configfiles)
    if extra:
        files.append(tmp_path / "extra.yaml")
        files[-1].write_text(yaml.safe_dump(extra))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", *targets, "-s", str(REPO / "Snakefile"), "-d", str(REPO), "-c2",
         "--configfile", *map(str, files)],
        capture_output=True, text=True, check=False,  # the caller asserts on the output
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def planned_jobs(dry_run_output: str) -> dict[str, int]:
    """Rule → job count from the 'Job stats' table of a dry run (empty when nothing is to be done)."""
    table = dry_run_output.split("Job stats:", 1)[1] if "Job stats:" in dry_run_output else ""
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table.split("total", 1)[0], re.MULTILINE)}


def write_config(tmp_path: Path, config: dict, name: str = "cfg.yaml") -> Path:
    (tmp_path / name).write_text(yaml.safe_dump(config))
    return tmp_path / name


def make_plan(tmp_path: Path, variants: dict, **config):
    """The plan (opencoder.core.variants) of the smoke config with `variants` and the other `config` keys
    on top, written to tmp_path/cfg.yaml, out_dir tmp_path/out."""
    files = [SMOKE, write_config(tmp_path, {"out_dir": str(tmp_path / "out"), "variants": variants, **config})]
    return plan(load(*files), files)


def ingested(p, shards: int, stamp: float | None = None) -> None:
    """The ingest checkpoint of the plan's build as done, with `shards` (empty) shards."""
    folder = Path(p.root("ingest")) / "ingest"
    folder.mkdir(parents=True)
    stamp = stamp or time.time() - 1000
    for i in range(shards):
        (folder / f"{i:05d}.parquet").touch()
        os.utime(folder / f"{i:05d}.parquet", (stamp, stamp))
    os.utime(folder, (stamp, stamp))


def dry_run_plan(tmp_path: Path, *targets: str) -> str:
    """Plan `targets` of the build make_plan wrote to tmp_path; return Snakemake's output."""
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", *targets, "--rerun-triggers", "mtime", "-s", str(REPO / "Snakefile"),
         "-d", str(REPO), "-c2", "--configfile", str(SMOKE), str(tmp_path / "cfg.yaml")],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def planning_cpu(tmp_path: Path, variants: dict, target: str, shards: int = 2000, **config) -> tuple[dict, float]:
    """The jobs a dry run of `target` over `shards` ingest shards plans (make_plan's build), and its CPU
    seconds (wall-clock time measures the machine's load)."""
    ingested(make_plan(tmp_path, variants, **config), shards)
    started = resource.getrusage(resource.RUSAGE_CHILDREN)
    jobs = planned_jobs(dry_run_plan(tmp_path, target))
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    return jobs, ended.ru_utime + ended.ru_stime - started.ru_utime - started.ru_stime
