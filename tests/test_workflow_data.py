"""The data half of the workflow end to end: source files → corpus (with its funnel) → tokenizer →
Megatron datasets, then the incremental-build promises: a second run does nothing, and a changed
filter threshold reruns the filter stage and everything after it, nothing before it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from opencoder import shards

REPO = Path(__file__).resolve().parents[1]
STDLIB = Path(sysconfig.get_paths()["stdlib"])
UPSTREAM = {"ingest", "preprocess", "exact_hashes", "exact_dedup_plan", "exact_dedup",
            "fuzzy_signatures", "fuzzy_buckets", "fuzzy_clusters", "fuzzy_dedup", "transform"}
DOWNSTREAM = {"filter", "sample_plan", "sample", "corpus", "tokenizer", "tokens_shard", "tokens"}


def snakemake(tmp_path: Path, out: Path, *args: str, extra: dict | None = None) -> str:
    """Run the project's workflow on the smoke config, out_dir in `tmp_path`; return its output."""
    config = {
        "ingest": {"shard_bytes": 160_000, "sources": [{"name": "stdlib", "type": "directory", "path": str(tmp_path / "src")}]},
        "dedup": {"fuzzy": {"lsh_jobs": 2}},  # fewer, larger LSH jobs: same result, less start-up time
    }
    files = [tmp_path / "cfg.yaml"]
    files[0].write_text(yaml.safe_dump(config))
    if extra:
        files.append(tmp_path / "extra.yaml")
        files[1].write_text(yaml.safe_dump(extra))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", *args, "-s", str(REPO / "Snakefile"), "-d", str(REPO), "-c2",
         "--configfile", str(REPO / "config" / "smoke.yaml"), *map(str, files), "--config", f"out_dir={out}"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def planned_jobs(dry_run_output: str) -> dict[str, int]:
    """Rule → job count from the 'Job stats' table of a dry run (empty when nothing is to be done)."""
    table = dry_run_output.split("Job stats:", 1)[1] if "Job stats:" in dry_run_output else ""
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table.split("total", 1)[0], re.M)}


@pytest.mark.slow
def test_data_workflow_builds_corpus_tokenizer_tokens_and_reruns_only_what_changed(tmp_path):
    src = tmp_path / "src"
    for package in ("json", "html", "urllib"):  # 0.3 MB of real Python: two shards
        shutil.copytree(STDLIB / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "out"
    snakemake(tmp_path, out, "tokens", "corpus")

    assert len(list((out / "ingest").glob("0*.parquet"))) == 2
    funnel = shards.read_json(out / "corpus" / "funnel.json")
    assert [s["stage"] for s in funnel["stages"]] == ["ingest", "preprocess", "exact_dedup", "fuzzy_dedup", "transform", "filter", "sample"]
    assert funnel["missing"] == [] and funnel["checks"] == []  # every stage reported, and the numbers add up
    corpus = funnel["stages"][-1]["out"]
    assert 0 < corpus["documents"] <= funnel["stages"][0]["out"]["documents"]

    blend = shards.read_json(out / "tokens" / "blend.json")
    tokens_stats = shards.read_json(out / "tokens" / "stats.json")
    assert tokens_stats["in"]["documents"] == corpus["documents"]
    assert sum(g["documents"] for g in blend["groups"].values()) == tokens_stats["out"]["documents"] > 0
    assert blend["vocab_size"] == 2048 and (out / "tokens" / blend["tokenizer"] / "tokenizer.json").exists()
    for _, prefix in blend["blend"]:
        assert (out / "tokens" / f"{prefix}.bin").stat().st_size > 0

    # nothing changed: nothing to do
    assert planned_jobs(snakemake(tmp_path, out, "-n", "tokens", "corpus")) == {}

    # a stricter filter threshold: the filter stage and everything after it, nothing before it
    stricter = {"filter": {"groups": {"python": {"qsc_code_num_lines": {"lt": 20}}}}}
    jobs = planned_jobs(snakemake(tmp_path, out, "-n", "tokens", "corpus", extra=stricter))
    assert set(jobs) == DOWNSTREAM
    assert not set(jobs) & UPSTREAM
