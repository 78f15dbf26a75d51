"""The workflow end to end, on the session's smoke build: source files → corpus (with its funnel) →
tokenizer → Megatron datasets → model, and the incremental-build promises: a second run does nothing; a
changed filter threshold reruns the filter stage and everything after it, nothing before it; an eval
setting reruns evaluation only; a model change retrains."""

from __future__ import annotations

import pytest

from opencoder.core import shards
from smoke_workflow import dry_run, planned_jobs

UPSTREAM = {"ingest", "preprocess", "exact_hashes", "exact_dedup_plan", "exact_dedup",
            "fuzzy_signatures", "fuzzy_buckets", "fuzzy_clusters", "fuzzy_dedup", "transform"}
DOWNSTREAM = {"filter", "sample_plan", "sample", "corpus", "tokenizer", "tokens_shard", "tokens", "web_round", "tokens_web"}


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the first user of the shared smoke build waits for it
def test_data_workflow_builds_corpus_tokenizer_tokens_and_reruns_only_what_changed(smoke_build, tmp_path):
    out = smoke_build.out
    assert len(list((out / "ingest").glob("0*.parquet"))) == 4  # config/smoke.yaml: ~7 MB of stdlib and web pages, 4 shards
    funnel = shards.read_json(out / "corpus" / "funnel.json")
    assert [s["stage"] for s in funnel["stages"]] == ["ingest", "preprocess", "exact_dedup", "fuzzy_dedup", "transform", "filter", "sample"]
    assert funnel["missing"] == [] and funnel["checks"] == []  # every stage reported, and the numbers add up
    corpus = funnel["stages"][-1]["out"]
    assert 0 < corpus["documents"] <= funnel["stages"][0]["out"]["documents"]

    blend = shards.read_json(out / "tokens" / "blend.json")
    tokens_stats = shards.read_json(out / "tokens" / "stats.json")
    web = shards.read_json(out / "tokens" / "shards" / "web" / "stats.json")  # the last web-recall round's pages
    assert tokens_stats["in"]["documents"] == corpus["documents"] + web["in"]["documents"]
    assert sum(g["documents"] for g in blend["groups"].values()) == tokens_stats["out"]["documents"] > 0
    assert blend["vocab_size"] == 2048 and (out / "tokens" / blend["tokenizer"] / "tokenizer.json").exists()
    for _, prefix in blend["blend"]:
        assert (out / "tokens" / f"{prefix}.bin").stat().st_size > 0

    # nothing changed: nothing to do
    assert planned_jobs(dry_run(smoke_build, tmp_path, "tokens", "corpus")) == {}

    # a stricter filter threshold: the filter stage and everything after it, nothing before it
    stricter = {"filter": {"groups": {"python": {"qsc_code_num_lines": {"lt": 20}}}}}
    jobs = planned_jobs(dry_run(smoke_build, tmp_path, "tokens", "corpus", extra=stricter))
    assert set(jobs) == DOWNSTREAM
    assert not set(jobs) & UPSTREAM


TRAINING = {"pretrain", "anneal", "hf", "eval", "model"}


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the first user of the shared smoke build waits for it
def test_eval_setting_reruns_eval_only_and_model_shape_retrains(smoke_build, tmp_path):
    """An eval setting reruns the evaluation (and the model folder that carries its table), never
    training; a change of the model's shape retrains from pretraining on, and touches no data stage."""
    assert planned_jobs(dry_run(smoke_build, tmp_path, "model")) == {}

    jobs = planned_jobs(dry_run(smoke_build, tmp_path, "model", extra={"eval": {"max_new_tokens": 96}}))
    assert set(jobs) == {"eval", "model"}

    wider = {"model": {"shapes": {"tiny": {"ffn_hidden_size": 384}}}}
    jobs = planned_jobs(dry_run(smoke_build, tmp_path, "model", extra=wider))
    assert TRAINING <= set(jobs)
    assert not set(jobs) & (UPSTREAM | DOWNSTREAM)


# the report's eval table shows the chat model's scores too
SFT_STAGE2_ON = {"sft_stage2", "hf_instruct", "eval_instruct", "model_instruct", "report_eval"}
# replanned by any extra config file: a model card's rebuild command names the build's config files
CARDS = {"model", "model_instruct"}


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the first user of the shared smoke build waits for it
def test_a_stage2_setting_reruns_stage2_and_what_follows_only(smoke_build, tmp_path):
    """The default target includes the SFT chain; a stage-2 setting reruns stage 2 and what follows
    it (the chat model's export, evaluation, card and the report's eval table), nothing of stage 1
    or before; stage 2's sequence length repacks stage 2's data as well."""
    assert planned_jobs(dry_run(smoke_build, tmp_path, "all")) == {}
    assert (smoke_build.out / "model_instruct" / "README.md").is_file()

    jobs = planned_jobs(dry_run(smoke_build, tmp_path, "all", extra={"sft": {"stage2": {"epochs": 2}}}))
    assert set(jobs) - CARDS - {"all"} == SFT_STAGE2_ON - CARDS

    longer = {"sft": {"recipes": {"tiny": {"stage2": {"seq_length": 256}}}}}
    jobs = planned_jobs(dry_run(smoke_build, tmp_path, "all", extra=longer))
    assert set(jobs) - CARDS - {"all"} == SFT_STAGE2_ON - CARDS | {"sft_pack"} and jobs["sft_pack"] == 1
