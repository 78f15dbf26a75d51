"""Training on CPU: a killed run resumes from its last checkpoint and its loss curve matches an
uninterrupted run; the schedule is the paper's WSD; the metrics and checkpoints are complete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from opencoder.core.config import load
from opencoder.tokenization.tokens import write_blend as write_blend_json
from opencoder.training import metrics
from opencoder.training.params import stage_params

VOCAB = 512
STEPS = 40


def write_blend(folder: Path, vocab: int = VOCAB) -> Path:
    """Two indexed datasets of documents with a learnable pattern, and their blend file."""
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in ("code", "text"):
        builder = IndexedDatasetBuilder(str(folder / f"{name}.bin"), dtype=np.uint16)
        for _ in range(200):
            n, start = int(rng.integers(20, 300)), int(rng.integers(1, vocab))
            doc = np.append((start + np.arange(n) % 37) % (vocab - 1) + 1, 0).astype(np.uint16)
            builder.add_document(doc, [len(doc)])
        builder.finalize(str(folder / f"{name}.idx"))
    write_blend_json(folder, [(0.7, "code"), (0.3, "text")], {"code": {}, "text": {}},
                     {"vocab_size": vocab, "eod_id": 0, "pad_id": 1}, folder / "tokenizer")
    return folder / "blend.json"


def make_tokenizer(folder: Path, vocab_size: int = 400) -> Path:
    """A small tokenizer with the project's special tokens and chat template (tokenizer stage code)."""
    from opencoder.tokenization import tokenizer as stage

    params = {"eod_token": "<|endoftext|>", "pad_token": "<|pad|>",
              "special_tokens": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]}
    texts = [f"def solution(x{i}):\n    return x{i} * {i}\n" for i in range(200)]
    backend = stage.train(texts, vocab_size, params["special_tokens"], 2)
    stage.wrap(backend, params).save_pretrained(str(folder))
    return folder


def tiny_params(**train) -> dict:
    params = stage_params(load(), "anneal")
    params["model"].update(num_layers=2, hidden_size=64, ffn_hidden_size=172, num_attention_heads=4,
                           num_query_groups=2, head_dim=16, max_position_embeddings=128)
    # a pretrain min_lr other than the anneal's, as in the tiny recipe: each stage must use its own
    params["train"].update(steps=STEPS, global_batch=8, micro_batch=4, seq_length=64, lr=3e-3, min_lr=1e-4,
                           warmup_steps=4, save_every=5, keep_checkpoints=2, log_every=10)
    params["train"].update(train)
    params["anneal"].update(steps=10)
    return params


def train_command(tmp: Path, run: str, params: dict, blend: Path, stage: str = "pretrain", init_from=None):
    out = tmp / run
    cmd = [sys.executable, "-m", "opencoder", "train", "--stage", stage, "--blend", str(blend),
           "--out", str(out / "checkpoint"), "--work", str(out / "work"), "--metrics", str(out / "metrics.jsonl"),
           "--params", json.dumps(params)]
    return cmd + (["--init-from", str(init_from)] if init_from else [])


def cpu_env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}


def train(tmp: Path, run: str, params: dict, blend: Path, **kw) -> Path:
    result = subprocess.run(train_command(tmp, run, params, blend, **kw), env=cpu_env(),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return tmp / run


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """An uninterrupted pretraining run: (folder, its blend, its params)."""
    tmp = tmp_path_factory.mktemp("pretrain")
    blend, params = write_blend(tmp / "data"), tiny_params()
    return train(tmp, "whole", params, blend), blend, params


@pytest.mark.slow
def test_killed_run_resumes_with_the_same_loss_curve(tmp_path, pretrained):
    whole, blend, params = pretrained

    # the same run, killed (SIGKILL, no clean-up) as soon as its first checkpoint is complete
    cmd = train_command(tmp_path, "killed", params, blend)
    proc = subprocess.Popen(cmd, env=cpu_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    work = tmp_path / "killed" / "work"
    deadline = time.monotonic() + 300
    while not list(work.glob("iter_*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed mid-run"
    assert not (tmp_path / "killed" / "checkpoint").exists()
    resumed_from = max(int(p.name[5:]) for p in work.glob("iter_*"))
    assert 0 < resumed_from < STEPS

    resumed = subprocess.run(cmd, env=cpu_env(), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert f"iter_{resumed_from:07d} (iteration {resumed_from})" in resumed.stderr

    a = metrics.read(whole / "metrics.jsonl")
    b = metrics.read(tmp_path / "killed" / "metrics.jsonl")
    assert [r["step"] for r in b] == list(range(1, STEPS + 1))
    assert [r["loss"] for r in a] == pytest.approx([r["loss"] for r in b], abs=1e-6)
    assert [r["lr"] for r in a] == [r["lr"] for r in b]
    # the final checkpoint is a complete megatron-core distributed checkpoint with its description
    ckpt = tmp_path / "killed" / "checkpoint"
    assert (ckpt / "metadata.json").is_file() and list(ckpt.glob("*.distcp"))
    assert json.loads((ckpt / "opencoder.json").read_text())["iteration"] == STEPS


@pytest.mark.slow
def test_pretrain_then_anneal_follow_the_wsd_schedule_and_learn(tmp_path, pretrained):
    pre, blend, params = pretrained
    records = metrics.read(pre / "metrics.jsonl")
    lrs = [r["lr"] for r in records]
    peak, warmup = params["train"]["lr"], params["train"]["warmup_steps"]
    assert lrs[0] == 0.0 and lrs[warmup] == pytest.approx(peak)  # linear warmup from 0
    assert all(lr == pytest.approx(peak) for lr in lrs[warmup:])  # stable: no decay while pretraining
    first, last = np.mean([r["loss"] for r in records[:5]]), np.mean([r["loss"] for r in records[-5:]])
    assert last < 0.7 * first, (first, last)
    assert all(r["tokens_per_s"] > 0 and r["mfu"] is None for r in records)  # no MFU without a GPU peak

    ann = train(tmp_path, "anneal", params, blend, stage="anneal", init_from=pre / "checkpoint")
    anneal = metrics.read(ann / "metrics.jsonl")
    # from the peak where pretraining stood, megatron's exponential WSD decay to the anneal's min_lr
    low, steps = params["anneal"]["min_lr"], params["anneal"]["steps"]
    assert low != params["train"]["min_lr"]
    expected = [low + (peak - low) * (2 * 0.5 ** (k / steps) - 1) for k in range(steps)]
    assert [r["lr"] for r in anneal] == pytest.approx(expected, rel=1e-9)
    # annealing continues from the pretrained weights, not from scratch
    assert anneal[0]["loss"] < records[0]["loss"] - 1.0


def test_changed_params_do_not_resume_from_old_checkpoints(tmp_path):
    from opencoder.training.checkpoint import prepare_work

    work = tmp_path / "work"
    prepare_work(work, {"params": 1})
    (work / "iter_0000005").mkdir()
    prepare_work(work, {"params": 1})
    assert (work / "iter_0000005").exists()
    prepare_work(work, {"params": 2})
    assert not (work / "iter_0000005").exists()


def test_stage_params_hold_only_the_chosen_model_and_its_recipe():
    config = load()
    base = stage_params(config, "pretrain")
    config["model"]["shapes"]["opencoder-8b"]["num_layers"] = 40  # a shape not being built
    config["train"]["recipes"]["opencoder-8b"]["steps"] = 7
    assert stage_params(config, "pretrain") == base
    config["model"]["shapes"][config["model"]["name"]]["num_layers"] += 1
    assert stage_params(config, "pretrain") != base
    assert stage_params(load(), "anneal")["anneal"]["steps"] == load()["anneal"]["recipes"]["tiny"]["steps"]


def test_paper_shapes():
    shapes = load()["model"]["shapes"]
    small, big = shapes["opencoder-1.5b"], shapes["opencoder-8b"]
    assert (small["num_layers"], small["hidden_size"], small["ffn_hidden_size"]) == (24, 2240, 6144)
    assert (small["num_attention_heads"], small["num_query_groups"], small["head_dim"]) == (14, 14, 160)
    assert (big["num_layers"], big["hidden_size"], big["ffn_hidden_size"]) == (32, 4096, 14336)
    assert (big["num_attention_heads"], big["num_query_groups"], big["rotary_base"]) == (32, 8, 500000)
    assert small["vocab_size"] == big["vocab_size"] == 96640
    assert not small["tied_embeddings"] and not big["tied_embeddings"]
