"""Variants (config `variants`): checked like the base, built side by side, sharing every stage whose
settings agree with another's up to it (opencoder.core.variants, rules/common.smk)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from opencoder.core.config import ConfigError, load
from opencoder.core.variants import BASE, differences, plan, stage_keys
from smoke_workflow import dry_run_plan as dry_run, ingested, make_plan, planned_jobs, planning_cpu, write_config

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "config" / "smoke.yaml"
DATA = ["ingest", "preprocess", "dedup", "transform"]  # the stages before filter
LATE = ["filter", "sample", "tokenizer", "web", "tokens", "pretrain", "anneal", "sft_stage1", "sft_stage2", "hf", "eval", "model"]
SFT_ONLY = {"a": {"sft": {"stage2": {"epochs": 1}}}, "b": {"sft": {"stage2": {"lr": 1.0e-5}}}}
FILTER = {"strict": {"filter": {"groups": {"python": {"qsc_code_num_words": {"lt": 60}}}}}}


# ---------------------------------------------------------------- the keys ---
def test_no_variants_is_the_single_build(tmp_path):
    p = make_plan(tmp_path, {})
    assert p.variants == {} and p.root("filter") == str(tmp_path / "out")


def test_variants_that_differ_in_sft_share_every_stage_before_it(tmp_path):
    p = make_plan(tmp_path, SFT_ONLY)
    assert list(p.variants) == [BASE, "a", "b"]
    keys = p.keys
    for stage in [*DATA, *LATE[:8], "sft_doctests", "hf", "eval", "model"]:  # stage 1 too: they differ in stage 2
        assert keys[BASE][stage] == keys["a"][stage] == keys["b"][stage], stage
    for stage in ["sft_stage2", "hf_instruct", "eval_instruct", "model_instruct"]:
        assert len({keys[n][stage] for n in keys}) == 3, stage


def test_a_filter_threshold_shares_ingest_to_transform_and_splits_from_filter_on(tmp_path):
    keys = make_plan(tmp_path, FILTER).keys
    assert all(keys[BASE][s] == keys["strict"][s] for s in DATA)
    assert all(keys[BASE][s] != keys["strict"][s] for s in LATE)


def test_a_stage_key_changes_with_its_own_settings_and_with_every_upstream_stage():
    base = load()
    keys = stage_keys(base)
    changed = stage_keys({**base, "tokenizer": {**base["tokenizer"], "vocab_size": 1000}})
    assert [s for s in keys if keys[s] != changed[s]] == [
        "tokenizer", "web", "tokens", "pretrain", "anneal", "sft_stage1", "sft_stage2", "hf", "hf_instruct", "eval", "eval_instruct",
        "model", "model_instruct", "report", "publish"]
    assert differences(base, {**base, "seed": 1}) == {"seed": (1234, 1)}


def test_synthesis_is_keyed_by_the_toolchains_its_diverse_recipe_runs_and_no_other_eval_language(tmp_path):
    """The diverse recipe runs JavaScript answers with eval.languages.js: a variant changing java (no
    recipe's toolchain) shares the synthetic stage, one changing js does not; both rebuild eval."""
    keys = make_plan(tmp_path, {"java": {"eval": {"languages": {"java": {"build_timeout_s": 99}}}},
                                "js": {"eval": {"languages": {"js": {"build_timeout_s": 99}}}}}).keys
    assert keys["java"]["synthetic"] == keys[BASE]["synthetic"] != keys["js"]["synthetic"]
    assert keys["java"]["sft_stage1"] == keys[BASE]["sft_stage1"] and keys["java"]["anneal"] == keys[BASE]["anneal"]
    assert len({keys[n]["eval"] for n in keys}) == 3


# -------------------------------------------------------------- bad input ---
@pytest.mark.parametrize(("variants", "message"), [
    ({"a": {"filter": {"sed": 1}}}, "variants.a: filter.sed: unknown key (did you mean 'seed'?)"),
    ({"a": {"filter": {"seed": "x"}}}, "variants.a: filter.seed: 'x' is not of type 'integer'"),
    ({"a": {"filter": {"seed": 1234}}}, "variants.a: equal to the base config"),
    ({"a": {"seed": 7}, "b": {"seed": 7}}, "variants.b: the same config as variant 'a'"),
    ({"base": {"seed": 7}}, "variants.base: reserved for the base config"),
    ({"a-b": {"seed": 7}}, "variants.a-b: a name is a letter"),
    ({"a": {"out_dir": "elsewhere"}}, "variants.a.out_dir: a variant cannot change out_dir"),
    ({"a": {"resources": {}}}, "variants.a.resources: a variant cannot change resources"),
    ({"a": {"web": {"rounds": [{}]}}}, "variants.a: changes web.rounds, which shapes the whole build's jobs"),
    ({"a": "seed: 7"}, "variants.a: 'seed: 7' is not of type 'object'"),
])
def test_a_bad_variant_is_one_line_naming_it_and_the_key(tmp_path, variants, message):
    with pytest.raises(ConfigError) as error:
        make_plan(tmp_path, variants)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert str(tmp_path / "cfg.yaml") in str(error.value)


def test_a_variant_named_twice_in_one_file_is_an_error(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("variants:\n  a: {seed: 1}\n  b: {seed: 2}\n  a: {seed: 3}\n")
    with pytest.raises(ConfigError, match=r"cfg.yaml: variants: 'a' is given twice"):
        plan(load(SMOKE, cfg), [SMOKE, cfg])


def test_the_workflow_refuses_a_bad_variant_before_any_job(tmp_path):
    cfg = write_config(tmp_path, {"out_dir": str(tmp_path / "out"), "variants": {"a": {"filter": {"seed": "x"}}}})
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "compare", "-s", str(REPO / "Snakefile"), "-d", str(REPO), "-c1",
         "--configfile", str(SMOKE), str(cfg)], capture_output=True, text=True)
    assert result.returncode == 1
    assert f"{cfg}: variants.a: filter.seed: 'x' is not of type 'integer'" in result.stdout + result.stderr
    assert not (tmp_path / "out").exists()


# --------------------------------------------------- the plan (dry runs) ---
def test_two_sft_variants_plan_every_upstream_job_once(tmp_path):
    p = make_plan(tmp_path, SFT_ONLY)
    ingested(p, 3)
    jobs = planned_jobs(dry_run(tmp_path, "compare"))
    once = ["preprocess", "exact_hashes", "exact_dedup", "fuzzy_signatures", "fuzzy_dedup", "transform", "filter",
            "sample", "tokens_shard"]
    assert {rule: jobs[rule] for rule in once} == {rule: 3 for rule in once}  # one per shard
    single = ["exact_dedup_plan", "fuzzy_clusters", "sample_plan", "corpus", "tokenizer", "tokens", "tokens_web",
              "anneal_data", "pretrain", "anneal", "hf", "eval", "model", "sft_doctests", "sft_stage1"]
    assert {rule: jobs[rule] for rule in single} == {rule: 1 for rule in single}
    assert jobs["web_round"] == 3  # three rounds, once
    assert jobs["sft_data"] == jobs["sft_pack"] == 1 + 3  # stage 1's once, stage 2's per variant
    three = ["sft_stage2", "hf_instruct", "eval_instruct", "model_instruct"]
    assert {rule: jobs[rule] for rule in three} == {rule: 3 for rule in three}  # base, a, b
    assert jobs["variant_base"] == jobs["variant_a"] == jobs["variant_b"] == 1


def test_a_filter_variant_shares_ingest_to_transform_and_rebuilds_filter_onwards(tmp_path):
    p = make_plan(tmp_path, FILTER)
    ingested(p, 3)
    jobs = planned_jobs(dry_run(tmp_path, "compare"))
    assert {r: jobs[r] for r in ["preprocess", "exact_dedup", "fuzzy_dedup", "transform"]} == dict.fromkeys(
        ["preprocess", "exact_dedup", "fuzzy_dedup", "transform"], 3)
    assert {r: jobs[r] for r in ["filter", "sample", "tokens_shard"]} == dict.fromkeys(["filter", "sample", "tokens_shard"], 6)
    assert {r: jobs[r] for r in ["tokenizer", "pretrain", "anneal", "sft_stage2", "model"]} == dict.fromkeys(
        ["tokenizer", "pretrain", "anneal", "sft_stage2", "model"], 2)


def test_a_repository_level_dedup_variant_shares_ingest_and_preprocess_and_rebuilds_dedup_onwards(tmp_path):
    p = make_plan(tmp_path, {"repo": {"dedup": {"level": "repository"}}})
    ingested(p, 3)
    jobs = planned_jobs(dry_run(tmp_path, "compare"))
    assert jobs["preprocess"] == 3  # shared
    # the variant's repositories: one index, then one units job per shard; the base dedups files and runs neither
    assert jobs["dedup_units_index"] == 1 and jobs["dedup_units"] == 3
    per_shard = ["exact_hashes", "exact_dedup", "fuzzy_signatures", "fuzzy_dedup", "transform", "filter", "sample"]
    assert {r: jobs[r] for r in per_shard} == dict.fromkeys(per_shard, 6)
    once = ["exact_dedup_plan", "fuzzy_clusters", "tokenizer", "pretrain", "anneal", "model"]
    assert {r: jobs[r] for r in once} == dict.fromkeys(once, 2)


def test_one_variant_plans_only_its_own_jobs_and_the_shared_ones(tmp_path):
    p = make_plan(tmp_path, FILTER)
    ingested(p, 2)
    out = dry_run(tmp_path, "variant_strict")
    jobs = planned_jobs(out)
    assert jobs["filter"] == 2 and jobs["transform"] == 2 and "variant_base" not in jobs
    base_only = {p.variant_root(BASE, s) for s in LATE}
    assert not any(f"{root}/" in out for root in base_only)


@pytest.mark.slow
def test_dry_run_of_8_variants_over_2000_shards_is_quick(tmp_path):
    """`compare` over 2,000 shards with the base and 7 SFT variants (every data job once, SFT stage 1
    once, stage 2 8 times) plans in under twice the CPU time of the base build alone (measured side by side)."""
    (tmp_path / "one").mkdir()
    (tmp_path / "grid").mkdir()
    _, alone = planning_cpu(tmp_path / "one", {}, "all")
    jobs, grid = planning_cpu(tmp_path / "grid", {f"v{i}": {"sft": {"stage2": {"epochs": 4 + i}}} for i in range(7)}, "compare")
    assert jobs["filter"] == jobs["tokens_shard"] == 2000 and jobs["pretrain"] == jobs["sft_stage1"] == 1 and jobs["sft_stage2"] == 8
    assert grid < 2 * alone, (grid, alone)


def test_sft_strategy_variants_train_and_export_the_stages_they_name(tmp_path):
    """sft.strategy stage1 and mixed train stage 1 only and export it; the base trains both stages."""
    p = make_plan(tmp_path, {"stage1": {"sft": {"strategy": "stage1"}}, "mixed": {"sft": {"strategy": "mixed"}}})
    ingested(p, 1)
    out = dry_run(tmp_path, "compare", "-p")
    jobs = planned_jobs(out)
    assert (jobs["sft_stage1"], jobs["sft_stage2"], jobs["hf_instruct"], jobs["anneal"]) == (3, 1, 3, 1)
    exported = sorted(line.split("export --input ")[1].split()[0].rsplit("/", 2)[-2]
                      for line in out.splitlines() if "opencoder export --input" in line and "/sft/" in line)
    assert exported == ["stage1", "stage1", "stage2"]


# ------------------------------------------------------------- real runs ---
def files_under(folder: Path) -> dict[str, int]:
    return {str(f): f.stat().st_mtime_ns for f in folder.rglob("*") if f.is_file()}


@pytest.mark.slow
def test_building_one_variant_never_reruns_another_s_finished_targets(tmp_path):
    """Two variants differing in the filter: the second's corpus reuses the first's ingest to transform
    files as they are, leaves the first's filter and corpus untouched, and afterwards both are done."""
    from smoke_workflow import snakemake

    src = tmp_path / "src"
    src.mkdir()
    for i in range(6):
        (src / f"m{i}.py").write_text("".join(f"def f{i}_{j}(x):\n    return x * {j} + {i}\n\n" for j in range(12)))
    (src / "tiny.py").write_text("x = 1\n")  # too short for the python rules: kept only with them off
    config = {"out_dir": str(tmp_path / "out"), "ingest": {"sources": [{"name": "mini", "type": "directory", "path": str(src)}]},
              "variants": {"nopy": {"filter": {"groups_off": ["python"]}}}}
    write_config(tmp_path, config, "plan.yaml")
    files = [SMOKE, tmp_path / "plan.yaml"]
    p = plan(load(*files), files)
    funnel = {name: f"{p.variant_root(name, 'sample')}/corpus/funnel.json" for name in p.variants}
    snakemake(tmp_path, config, funnel[BASE])
    before = {s: files_under(Path(p.variant_root(BASE, s))) for s in ["ingest", *DATA[1:], "filter", "sample"]}
    snakemake(tmp_path, config, funnel["nopy"])
    for stage, seen in before.items():
        assert files_under(Path(p.variant_root(BASE, stage))) == seen, stage  # nothing rewritten
    kept = {n: json.loads(Path(f).read_text())["stages"][-1]["out"]["documents"] for n, f in funnel.items()}
    assert kept["nopy"] == 7 and kept[BASE] < 7  # every file passes with the python rules off
    for name in p.variants:
        done = snakemake(tmp_path, config, "-n", funnel[name])
        assert "Nothing to be done" in done.stdout + done.stderr
