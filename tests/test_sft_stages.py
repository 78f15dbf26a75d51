"""The two SFT stages through the training loop on CPU: each follows its own warmup + cosine
schedule step by step (never the previous stage's lr bounds, which its checkpoint carries), stage 2
starts from stage 1's weights, and a stage killed mid-run resumes with the same loss curve."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import time

import pytest
from test_train_resume import cpu_env, make_tokenizer, tiny_params, train, train_command, write_blend

from opencoder.core.config import load
from opencoder.training import metrics
from opencoder.training.params import sft_params
from opencoder.training.schedule import sft_warmup
from opencoder.training.sft import packing


def expected_lrs(peak: float, low: float, warmup: int, steps: int) -> list[float]:
    """megatron's linear warmup from 0 and cosine decay, at steps 0 .. steps-1."""
    out = []
    for k in range(steps):
        if k < warmup:
            out.append(peak * k / warmup)
        else:
            ratio = (k - warmup) / (steps - warmup)
            out.append(low + (peak - low) * 0.5 * (math.cos(math.pi * ratio) + 1))
    return out


def stage_params(stage: str, **own) -> dict:
    params = sft_params(load(), stage)
    params["model"] = tiny_params()["model"]
    params["train"].update(global_batch=4, micro_batch=2, seq_length=64, save_every=3, log_every=10)
    params["train"].update({k: v for k, v in own.items() if k != "epochs"})
    params["sft"].update(epochs=own.get("epochs", 1), warmup_steps=2)
    return params


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A short pretraining run to start from, and a packed instruction set in its tokenizer."""
    from transformers import AutoTokenizer

    tmp = tmp_path_factory.mktemp("sft")
    tok = AutoTokenizer.from_pretrained(str(make_tokenizer(tmp / "tok")))
    blend = write_blend(tmp / "data", vocab=len(tok))
    pre = tiny_params(steps=5, warmup_steps=1)
    base = train(tmp, "pretrain", pre, blend) / "checkpoint"
    convs = [[{"role": "user", "content": f"def f{i}(x):"}, {"role": "assistant", "content": f"return x * {i}"}]
             for i in range(120)]
    packed = packing.pack([packing.render(tok, c) for c in convs], 64)
    path = tmp / "packed.npz"
    packing.save(path, packed, {"seq_length": 64, "pad_id": tok.pad_token_id, "vocab_size": len(tok), "eod_id": 0})
    rows = len(packed["bin_offsets"]) - 1
    return tmp, base, path, rows


def test_sft_stages_train_with_the_local_spec_that_applies_the_packing_mask():
    from opencoder.core.config import deep_merge

    gpu = deep_merge(load(), {"train": {"layer_spec": "transformer_engine"}})
    assert {sft_params(gpu, stage)["train"]["layer_spec"] for stage in ("stage1", "stage2")} == {"local"}


@pytest.mark.slow
def test_each_stage_follows_its_own_schedule(setup):
    tmp, base, packed, rows = setup
    assert sft_warmup(2, math.ceil(3 * rows / 4)) == 2  # stage 2 has a warmup to check
    one = stage_params("stage1", lr=2e-3, min_lr=1e-4)
    two = stage_params("stage2", lr=5e-4, min_lr=3e-5, epochs=3)
    s1 = train(tmp, "stage1", one, packed, stage="sft_stage1", init_from=base)
    s2 = train(tmp, "stage2", two, packed, stage="sft_stage2", init_from=s1 / "checkpoint")
    for run, params in ((s1, one), (s2, two)):
        records = metrics.read(run / "metrics.jsonl")
        steps = math.ceil(params["sft"]["epochs"] * rows / params["train"]["global_batch"])
        assert len(records) == steps
        warmup = sft_warmup(params["sft"]["warmup_steps"], steps)  # at most a tenth of the steps
        expected = expected_lrs(params["train"]["lr"], params["train"]["min_lr"], warmup, steps)
        assert [r["lr"] for r in records] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # stage 2 starts from stage 1's weights, not from the pretrained ones
    first1, first2 = metrics.read(s1 / "metrics.jsonl")[0]["loss"], metrics.read(s2 / "metrics.jsonl")[0]["loss"]
    assert first2 < first1


@pytest.mark.slow
def test_sft_stage_killed_mid_run_resumes_exactly(tmp_path, setup):
    tmp, base, packed, rows = setup
    params = stage_params("stage2", lr=5e-4, min_lr=3e-5, epochs=3)
    whole = train(tmp_path, "whole", params, packed, stage="sft_stage2", init_from=base)
    cmd = train_command(tmp_path, "killed", params, packed, stage="sft_stage2", init_from=base)
    proc = subprocess.Popen(cmd, env=cpu_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    work = tmp_path / "killed" / "work"
    deadline = time.monotonic() + 300
    while not list(work.glob("iter_*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed mid-run"
    resumed_from = max(int(p.name[5:]) for p in work.glob("iter_*"))
    resumed = subprocess.run(cmd, env=cpu_env(), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert f"(iteration {resumed_from})" in resumed.stderr
    a, b = metrics.read(whole / "metrics.jsonl"), metrics.read(tmp_path / "killed" / "metrics.jsonl")
    assert [r["step"] for r in b] == [r["step"] for r in a]
    assert [r["loss"] for r in a] == pytest.approx([r["loss"] for r in b], abs=1e-6)
    assert [r["lr"] for r in a] == [r["lr"] for r in b]
