"""The shared building blocks: atomic shard I/O, stats, config validation, the CLI entry."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest

from opencoder.core import config, shards, stats
from opencoder.core.documents import conform


def test_parquet_round_trip_and_no_partial_file_on_failure(tmp_path, documents):
    df = documents([{"path": "a.py", "text": "print(1)\n"}, {"path": "b.py", "text": "x = 2\n"}])
    target = tmp_path / "out" / "00000.parquet"
    shards.write_parquet(df, target)
    assert shards.read_documents(target).equals(df)

    with pytest.raises(RuntimeError):
        with shards.atomic_path(tmp_path / "half.parquet") as tmp:
            tmp.write_bytes(b"PAR1 half written")
            raise RuntimeError("killed mid-write")
    assert not (tmp_path / "half.parquet").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_corrupt_shard_error_names_the_file(tmp_path):
    bad = tmp_path / "00003.parquet"
    bad.write_bytes(b"PAR1" + b"\x00" * 64)
    with pytest.raises(shards.ShardError, match="00003.parquet"):
        shards.read_parquet(bad)


def test_missing_columns_are_named(documents):
    df = documents([{"path": "a.py", "text": "x"}]).drop("language")
    with pytest.raises(ValueError, match=r"missing document columns \['language'\]"):
        conform(df, where="shard 7")


def test_stage_stats_counts_languages_and_reasons(documents):
    before = documents(
        [
            {"path": "a.py", "text": "aaaa"},
            {"path": "b.c", "text": "bb", "language": "c"},
            {"path": "c.py", "text": "c"},
        ]
    )
    after = before.filter(pl.col("path") != "b.c")
    s = stats.stage_stats("demo", before, after, dropped={"too_short": before.filter(pl.col("path") == "b.c")})
    assert s["in"] == {"documents": 3, "bytes": 7}
    assert s["out"] == {"documents": 2, "bytes": 5}
    assert s["languages"]["c"] == {"in_documents": 1, "in_bytes": 2, "out_documents": 0, "out_bytes": 0}
    assert s["dropped"] == {"too_short": {"documents": 1, "bytes": 2}}
    merged = stats.merge([s, s])
    assert merged["in"] == {"documents": 6, "bytes": 14}
    assert merged["stage"] == "demo"


def test_config_default_and_smoke_validate():
    default = config.load()
    smoke = config.load("config/smoke.yaml")
    assert default["dedup"]["fuzzy"]["num_perm"] == 2048
    assert smoke["out_dir"] != default["out_dir"]


@pytest.mark.parametrize(
    "override, message",
    [
        ("preprocess: {max_file_bytes: lots}\n", "preprocess.max_file_bytes: 'lots' is not of type 'integer'"),
        ("preprocess: {max_file_byte: 10}\n", "preprocess.max_file_byte: unknown key (did you mean 'max_file_bytes'?)"),
        ("no_such_section: 1\n", "no_such_section: unknown key"),
        ("ingest: {sources: [{name: a, type: directory, pathh: x}]}\n", "ingest.sources.0.pathh: unknown key"),
        # a key naming another: checked after the schema
        ("sft: {stage2: {sources: [{name: p, synthetic: packge, weight: 1}]}}\n",
         "sft.stage2.sources.0.synthetic: 'packge' is not a recipe of synthetic.recipes (did you mean 'package'?)"),
        ("anneal: {data: {synthetic: {snipets: 1.0}}}\n", "anneal.data.synthetic.snipets: 'snipets' is not a recipe"),
    ],
)
def test_invalid_config_is_one_line_naming_file_and_key(tmp_path, override, message):
    path = tmp_path / "bad.yaml"
    path.write_text(override)
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert str(err.value).startswith(f"{path}: {message}") and "\n" not in str(err.value)
    assert len(str(err.value)) < 200  # the message, the key, its file: not the merged config


@pytest.mark.parametrize("override, message", [
    ("preprocess: {max_file_byte: 10}\n", "preprocess.max_file_byte: unknown key (did you mean 'max_file_bytes'?)"),
    ("sft: {stage1: {sources: [{name: d, synthetic: nope, weight: 1}]}}\n",
     "sft.stage1.sources.0.synthetic: 'nope' is not a recipe of synthetic.recipes"),
])
def test_workflow_validates_with_the_same_function(tmp_path, override, message):
    """The Snakefile's check is `config.validate`: a misspelled key, or an SFT source naming no synthetic
    recipe, is the same one line before any job, no config dump."""
    path = tmp_path / "bad.yaml"
    path.write_text(override)
    repo = config.CONFIG_DIR.parent
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-s", str(repo / "Snakefile"), "-d", str(repo), "-c1",
         "--configfile", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"{path}: {message}" in output
    assert "keep_doc_types" not in output and len(output.splitlines()) < 20


def test_a_bad_value_given_with_snakemakes_config_is_named_as_such():
    """`--config dedup={level: planet}`: the error names --config, not config.yaml, which also sets the key."""
    repo = config.CONFIG_DIR.parent
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-s", str(repo / "Snakefile"), "-d", str(repo), "-c1",
                             "--config", "dedup={level: planet}"], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "--config: dedup.level: 'planet' is not one of ['file', 'repository', 'chunk']" in result.stdout + result.stderr


def test_cli_lists_stages_and_rejects_unknown():
    ok = subprocess.run([sys.executable, "-m", "opencoder", "--help"], capture_output=True, text=True)
    assert ok.returncode == 0 and "filter" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "opencoder", "frobnicate"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown stage 'frobnicate'" in bad.stderr


RESOURCES = {
    "default": {"threads": 1, "mem_mb": 2000, "runtime": 60, "gpus": 0, "nodes": 1},
    "rules": {"pretrain": {"gpus": "node", "runtime": 4320}, "eval": {"threads": 4}, "wide": {"gpus": 2, "nodes": 3}},
    "cluster": {"partition": None, "account": None, "gpus_per_node": 8, "gpu_model": None, "extra": ""},
}


def test_rule_resources_default_overrides_and_gpus():
    from opencoder.core.resources import rule_resources

    assert rule_resources(RESOURCES, "ingest") == RESOURCES["default"]
    assert rule_resources(RESOURCES, "eval") == {**RESOURCES["default"], "threads": 4}
    pretrain = rule_resources(RESOURCES, "pretrain")
    assert (pretrain["gpus"], pretrain["gres"], pretrain["runtime"]) == (8, "gpu:8", 4320)
    assert "mpi" not in pretrain and not any(k.startswith("slurm_") for k in pretrain)
    assert RESOURCES["rules"]["pretrain"]["gpus"] == "node"  # the config is not changed in place


def test_rule_resources_of_a_batch_job_ask_for_its_shards_runtime():
    """A per-shard rule's job at resources.shards_per_job N runs N shards in turn: N times the runtime."""
    from opencoder.core.resources import rule_resources

    assert rule_resources(RESOURCES, "filter", shards=100) == {**RESOURCES["default"], "runtime": 6000}
    assert rule_resources(RESOURCES, "eval", shards=10)["threads"] == 4


def test_rule_resources_slurm_request():
    from opencoder.core.resources import rule_resources

    cluster = {"partition": "gpu", "account": "lab", "gpus_per_node": 4, "gpu_model": "a100", "extra": "--exclusive"}
    wide = rule_resources({**RESOURCES, "cluster": cluster}, "wide")
    assert wide["gres"] == "gpu:a100:2"  # per node
    assert (wide["mpi"], wide["tasks"], wide["tasks_per_gpu"]) == ("srun", 3, 0)  # one launcher per node
    assert (wide["slurm_partition"], wide["slurm_account"], wide["slurm_extra"]) == ("gpu", "lab", "--exclusive")
    assert "gres" not in rule_resources({**RESOURCES, "cluster": cluster}, "ingest")
