"""Shard batches (config resources.shards_per_job, rules/common.smk: each_member): a per-shard rule runs one
job per batch of N shards, so a build submits a bounded number of jobs, and builds the same files as
one job per shard."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys

import polars as pl
import pytest

from opencoder.core.config import ConfigError, load, typed_overrides
from smoke_workflow import PER_SHARD, REPO, SMOKE, dry_run_plan, ingested, make_plan, planned_jobs, planning_cpu, snakemake, write_config



# ------------------------------------------------------------------ config ---
@pytest.mark.parametrize("value", [7, 0, 10000, "10"])
def test_shards_per_job_is_1_10_100_or_1000(tmp_path, value):
    path = write_config(tmp_path, {"resources": {"shards_per_job": value}})
    with pytest.raises(ConfigError) as error:
        load(path)
    assert str(error.value) == f"{path}: resources.shards_per_job: {value!r} is not one of [1, 10, 100, 1000]"


def test_a_nested_config_override_is_read_back_with_its_types():
    """What `--config resources={shards_per_job: 100}` (or a profile's `config:` mapping) reaches the workflow as."""
    assert typed_overrides({"resources": {"shards_per_job": "100", "cluster": {"partition": "gpu"}}, "seed": 7}) == {
        "resources": {"shards_per_job": 100, "cluster": {"partition": "gpu"}}, "seed": 7}


def snakemake_n(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", "-n", "corpus", "-s", str(REPO / "Snakefile"), "-d", str(REPO),
                           "-c1", *args], capture_output=True, text=True)


def test_the_slurm_profile_batches_100_shards_and_never_silently_overrides_a_config_file(tmp_path):
    """profiles/slurm sets 100 through its `config:`; a config file asking for 10 beside it stops the build
    before any job with both values and how to choose; --config on the command line chooses."""
    p = make_plan(tmp_path, {}, resources={"shards_per_job": 10})
    ingested(p, 3)
    profile = ["--workflow-profile", str(REPO / "profiles" / "slurm")]
    files = ["--configfile", str(SMOKE), str(tmp_path / "cfg.yaml")]
    refused = snakemake_n(tmp_path, *profile, *files)
    assert refused.returncode == 1
    assert (f"{tmp_path / 'cfg.yaml'}: resources.shards_per_job: 10 here, but --config sets 100 (given on the command line,"
            " or by the workflow profile's `config:`: profiles/slurm sets 100) and would win; choose one: remove the key from"
            f" {tmp_path / 'cfg.yaml'} to build at 100, or pass --config 'resources={{shards_per_job: 10}}'"
            " (it replaces the profile's) to build at 10") in refused.stdout + refused.stderr
    assert not (tmp_path / "out" / "preprocess").exists()
    chosen = snakemake_n(tmp_path, *profile, "-p", "--config", "resources={shards_per_job: 10}", *files)
    assert chosen.returncode == 0, chosen.stderr[-3000:]
    assert "for i in {0..9}" in chosen.stdout and planned_jobs(chosen.stdout)["preprocess"] == 1
    write_config(tmp_path, {"out_dir": str(tmp_path / "out")})  # the key only in the profile: 100
    alone = snakemake_n(tmp_path, *profile, "-p", *files)
    assert alone.returncode == 0 and "for i in {0..99}" in alone.stdout


def test_a_variant_cannot_change_shards_per_job(tmp_path):
    with pytest.raises(ConfigError, match=r"variants.a.resources: a variant cannot change resources \(one for the whole build\)"):
        make_plan(tmp_path, {"a": {"resources": {"shards_per_job": 10}}})


# ------------------------------------------------------------------- plan ---
def test_one_shard_a_job_is_the_per_shard_build(tmp_path):
    """At 1 a job (the default) every per-shard rule's command is the one-shard command, and its job the shard's."""
    ingested(make_plan(tmp_path, {}), 2)
    out = dry_run_plan(tmp_path, "-p", "corpus")
    assert "for i in" not in out and f"preprocess --input {tmp_path}/out/ingest/00001.parquet --output" in out
    assert "filter 00001 -> " in out
    assert {rule: planned_jobs(out)[rule] for rule in PER_SHARD[:-1]} == dict.fromkeys(PER_SHARD[:-1], 2)


@pytest.mark.slow
def test_2000_shards_at_100_a_job_plan_20_jobs_of_each_per_shard_rule_quickly(tmp_path):
    """`all` over 2,000 shards at 100 a job: ceil(2000 / 100) = 20 jobs of each per-shard rule, every other
    rule as many jobs as at any shard count (counted from plans over 2 and 3 shards, which also tell the
    per-shard rules: those whose count grows)."""
    small = {}
    for shards in (2, 3):
        (tmp_path / str(shards)).mkdir()
        ingested(make_plan(tmp_path / str(shards), {}), shards)
        small[shards] = planned_jobs(dry_run_plan(tmp_path / str(shards), "all"))
    assert sorted(rule for rule in small[3] if small[3][rule] != small[2][rule]) == sorted(PER_SHARD)
    others = {rule: count for rule, count in small[3].items() if rule not in PER_SHARD}
    (tmp_path / "batched").mkdir()
    jobs, cpu_seconds = planning_cpu(tmp_path / "batched", {}, "all", 2000, resources={"shards_per_job": 100})
    assert jobs == {**dict.fromkeys(PER_SHARD, math.ceil(2000 / 100)), **others}
    assert sum(jobs.values()) == 20 * len(PER_SHARD) + sum(others.values())  # 239 on the smoke config; 18,059 at 1 a job
    assert cpu_seconds < 30, cpu_seconds


# -------------------------------------------------------------- real runs ---
SHARD_BYTES = 500_000  # the smoke sources in 14 ingest shards: the second batch of 10 has 6 pads
# every file of the data stages, the tokenizer and the tokens (the web rounds' fastText models are not
# byte-stable; their recalled pages are in tokens/shards/web)
COMPARED = ["preprocess/*", "exact/*", "exact/hashes/*", "exact/units/*", "fuzzy/*", "fuzzy/signatures/*", "fuzzy/buckets/*",
            "transform/*", "filter/*", "filter/samples/*", "corpus/*", "tokenizer/*", "tokens/*", "tokens/shards/*/*"]


def digests(out, patterns: list[str]) -> dict[str, str]:
    files = sorted({p for pattern in patterns for p in out.glob(pattern) if p.is_file()})
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.mark.slow
@pytest.mark.timeout(2700)
@pytest.mark.parametrize("level", ["file", "repository"])
def test_ten_shards_a_job_build_the_same_files_as_one(tmp_path, level):
    """The smoke build to the corpus and the tokens at 10 shards a job and at 1: the same bytes in every
    real shard's preprocess, dedup (removal lists included), transform, filter, corpus and token files, the
    same tokenizer, token datasets and funnel; the pads past ingest's last shard are empty shards, which
    nothing whole-build reads."""
    builds = {}
    for n in (1, 10):
        out = tmp_path / str(n) / "out"
        out.parent.mkdir()
        config = {"out_dir": str(out), "ingest": {"shard_bytes": SHARD_BYTES}, "dedup": {"level": level},
                  "resources": {"shards_per_job": n}}
        snakemake(out.parent, config, str(out / "corpus" / "funnel.json"), str(out / "tokens" / "blend.json"))
        builds[n] = out
    real = sorted(p.stem for p in (builds[1] / "ingest").glob("[0-9]*.parquet"))
    assert 10 < len(real) < 20, real  # not a multiple of 10: the last batch has pads
    one, ten = digests(builds[1], COMPARED), digests(builds[10], COMPARED)
    assert len(one) > 14 * 10 and {path: ten[path] for path in one} == one
    pads = [f"{i:05d}" for i in range(len(real), 20)]
    extra = sorted(set(ten) - set(one))
    assert extra and all(any(pad in path for pad in pads) for path in extra), extra
    for pad in pads:
        for stage in ("preprocess", "exact", "fuzzy", "transform", "filter", "corpus"):
            assert pl.read_parquet(builds[10] / stage / f"{pad}.parquet").is_empty(), (stage, pad)
    funnel = {n: json.loads((builds[n] / "corpus" / "funnel.json").read_text()) for n in builds}
    assert funnel[10] == funnel[1] and not funnel[1]["checks"]
    assert funnel[1]["stages"][1]["files"] == len(real)  # preprocess: the real shards' stats only
    assert json.loads((builds[10] / "tokens" / "stats.json").read_text()) == json.loads((builds[1] / "tokens" / "stats.json").read_text())
