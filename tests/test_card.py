"""The model card: built from a real export, a real funnel, training logs and a real eval run."""

from __future__ import annotations

import json

import polars as pl
import pytest

from opencoder.release import card as cards

from opencoder.core import config, shards
from opencoder.core.errors import InputError

from opencoder.data import funnel
from opencoder.core.stats import stage_stats
from opencoder.training import metrics
from opencoder.training.params import stage_params as training_params
from tiny_llama import build_tiny_llama


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """A build folder holding everything the `model` rule reads, each made by the code that makes it."""
    import torch

    root = tmp_path_factory.mktemp("build")
    export = build_tiny_llama(root / "hf_export")
    # corpus funnel: two stages of stats, gathered by the funnel stage
    docs = pl.DataFrame({"language": ["python"] * 3 + ["c"] * 2, "bytes": [100, 200, 300, 400, 500]})
    kept = docs.filter(pl.col("bytes") != 200)
    shards.write_json(stage_stats("ingest", docs, docs), root / "ingest" / "stats.json")
    shards.write_json(stage_stats("preprocess", docs, kept, {"too_large": docs.filter(pl.col("bytes") == 200)}),
                      root / "preprocess" / "stats.json")
    shards.write_json(funnel.gather(root, [("ingest", "ingest"), ("preprocess", "preprocess")]),
                      root / "corpus" / "funnel.json")
    # training logs in the trainer's format
    for stage, steps, per_step in (("pretrain", 4, 4096), ("anneal", 2, 4096)):
        log = metrics.MetricsLog(root / stage / "work.jsonl")
        for step in range(1, steps + 1):
            log.write({"stage": stage, "step": step, "loss": 9.0 / step, "lr": 1e-3 / step, "grad_norm": 1.0,
                       "tokens": step * per_step, "tokens_per_s": 1000.0, "mfu": None})
        log.publish(root / stage / "metrics.jsonl")
    # a real evaluation of the export on 3 problems
    from opencoder.evaluation.cli import main as eval_main

    params = config.load()["eval"]
    params.update(limit=3, max_new_tokens=8, device="cpu")
    threads = torch.get_num_threads()
    eval_main(["--model", str(export), "--out", str(root / "eval"), "--threads", "1", "--params", json.dumps(params)])
    torch.set_num_threads(threads)
    return root


def make_card(build, out_name="model"):
    cfg = config.load()
    out = build / out_name
    cards.main([
        "--export", str(build / "hf_export"), "--out", str(out), "--funnel", str(build / "corpus" / "funnel.json"),
        "--pretrain-metrics", str(build / "pretrain" / "metrics.jsonl"),
        "--anneal-metrics", str(build / "anneal" / "metrics.jsonl"),
        "--eval", str(build / "eval" / "humaneval" / "summary.json"),
        "--training", json.dumps(training_params(cfg, "anneal")),
        "--rebuild", 'make run TARGET=model CONFIG="config/smoke.yaml"',
        "--params", json.dumps(cfg["card"]),
    ])
    return out


def test_model_folder_holds_the_export_and_a_card(build):
    from huggingface_hub import ModelCard
    from transformers import AutoModelForCausalLM

    out = make_card(build)
    export_files = sorted(f.name for f in (build / "hf_export").iterdir())
    assert sorted(f.name for f in out.iterdir()) == sorted([*export_files, "README.md"])
    weights = out / "model.safetensors"
    assert weights.stat().st_ino == (build / "hf_export" / "model.safetensors").stat().st_ino  # hardlinked
    model = AutoModelForCausalLM.from_pretrained(out)
    card = ModelCard.load(out / "README.md")
    assert card.data.library_name == "transformers"
    summary = json.loads((build / "eval" / "humaneval" / "summary.json").read_text())
    (result,) = card.data.eval_results
    assert (result.dataset_name, result.metric_type) == ("HumanEval", "pass@1")
    assert result.metric_value == round(summary["pass@1"], 4)
    text = card.text
    assert f"{model.num_parameters():,}" in text  # parameters counted from the weights
    assert "| layers | 2 |" in text and "2 / 2" not in text and "4 / 2 (grouped-query)" in text
    # funnel: 5 documents ingested, 4 kept by preprocess, the drop reason named
    assert "| preprocess | 5 | 4 | 80.0% |" in text and "too_large (1)" in text
    assert "| python | 2 |" in text and "| c | 2 |" in text
    # tokens seen: the last `tokens` of each stage, summed
    assert "| pretraining | 4 | 16,384 |" in text and "| annealing | 2 | 8,192 |" in text
    assert "**24,576**" in text
    assert 'make run TARGET=model CONFIG="config/smoke.yaml"' in text
    assert f"| HumanEval | 3 | pass@1 | {100 * summary['pass@1']:.1f} |" in text


def test_card_is_deterministic(build):
    first = (make_card(build, "a") / "README.md").read_bytes()
    assert first == (make_card(build, "b") / "README.md").read_bytes()


def test_missing_export_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no config.json"):
        cards.build(tmp_path, tmp_path / "out", funnel=None, pretrain_metrics=None, anneal_metrics=None,
                    eval_summaries=[], training={}, card={}, rebuild="")


def test_markdown_table_aligns_numbers_right():
    assert cards.markdown_table(["a", "n"], [["x", 1]]) == "| a | n |\n| --- | ---: |\n| x | 1 |"


def test_card_names_the_checkout_commit():
    import subprocess

    head = subprocess.run(["git", "-C", str(config.CONFIG_DIR.parent), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert cards.recipe_revision() == f"commit `{head}`"
