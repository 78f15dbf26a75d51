"""The memory table (opencoder.training.memory) against CPU measurements of the project's trainer on a
small shape: weights, gradients and optimizer state to the byte (the distributed optimizer's shards
over 2 processes sum to the plain optimizer's state), activations by saved-tensor hooks within 2%."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from opencoder.training import memory
from opencoder.training.launch import torchrun_command
from test_train_resume import cpu_env

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import train_memory_probe as probe  # noqa: E402

# the CPU path: torch's composite RMSNorm, megatron's unfused SwiGLU, SDPA (a flash kernel on CPUs too)
CPU = dict(micro_batch=2, seq_length=64, fused_norm=False, fused_swiglu=False)


def measure(procs: int) -> list[dict]:
    cmd = [sys.executable, str(HERE / "train_memory_probe.py")]
    if procs > 1:
        cmd = torchrun_command([], nnodes=1, nproc=procs)[:-2] + cmd[1:]
    env = {**cpu_env(), "PYTHONPATH": str(HERE.parent / "src")}
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def one_process():
    return measure(1)[0]


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_model_states_of_the_plain_optimizer_to_the_byte(one_process, precision):
    shape = probe.shape(2)
    n = memory.total_params(shape, probe.VOCAB)
    layout = memory.Layout(bf16=precision == "bf16", **CPU)
    assert memory.gpu_params(shape, probe.VOCAB, layout) == n == one_process["states"][precision]["params"]
    expected = memory.model_state_bytes(n, layout)
    measured = one_process["states"][precision]
    assert {k: measured[k] for k in expected} == expected


@pytest.mark.slow
def test_distributed_optimizer_shards_the_state_over_data_parallel_ranks():
    ranks = measure(2)
    shape = probe.shape(2)
    n = memory.total_params(shape, probe.VOCAB)
    for precision in ("fp32", "bf16"):
        plain = memory.model_state_bytes(n, memory.Layout(bf16=precision == "bf16", **CPU))
        sharded = memory.model_state_bytes(n, memory.Layout(bf16=precision == "bf16", dp=2,
                                                            distributed_optimizer=True, **CPU))
        states = [r["states"][precision] for r in ranks]
        # the shards together are exactly the plain optimizer's state; each rank holds half of it
        assert sum(s["optimizer"] for s in states) == plain["optimizer"]
        for s in states:
            assert s["weights"] == sharded["weights"]
            assert s["optimizer"] == pytest.approx(sharded["optimizer"], rel=0.01)
            # the gradient buffer is padded so that it splits evenly over the ranks
            assert sharded["gradients"] <= s["gradients"] <= sharded["gradients"] * 1.01


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("recompute", ["none", "selective", "full"])
def test_activations_match_what_autograd_keeps(one_process, precision, recompute):
    for layers in (2, 4):
        layout = memory.Layout(bf16=precision == "bf16", recompute=recompute, recompute_num_layers=1, **CPU)
        computed = memory.activation_bytes(probe.shape(layers), probe.VOCAB, layout)["stored"]
        measured = one_process["activations"][f"{precision}-{recompute}-{layers}"]
        assert computed == pytest.approx(measured, rel=0.02), (layers, computed, measured)
    # per layer: the difference between 4 and 2 layers
    per_layer = (one_process["activations"][f"{precision}-{recompute}-4"]
                 - one_process["activations"][f"{precision}-{recompute}-2"]) / 2
    expected = memory.activation_bytes(probe.shape(2), probe.VOCAB, layout)
    stored_per_layer = expected["per_layer"] if recompute != "full" else 64 * 2 * 64 * (2 if precision == "bf16" else 4)
    assert stored_per_layer == pytest.approx(per_layer, rel=0.01)


def test_the_paper_shapes_need_the_memory_settings():
    """The README's conclusions, from the table: 8B does not fit on 8 x 80 GB without sharding."""
    from opencoder.core.config import load

    shapes = load()["model"]["shapes"]
    big, small = shapes["opencoder-8b"], shapes["opencoder-1.5b"]
    plain = memory.Layout(tp=1, dp=8, micro_batch=1, seq_length=8192)
    assert not memory.fits(memory.memory(big, 96640, plain)["total"], 80)
    sharded = memory.Layout(tp=2, dp=4, micro_batch=1, seq_length=8192, distributed_optimizer=True,
                            sequence_parallel=True)
    assert memory.fits(memory.memory(big, 96640, sharded)["total"], 80)
    # selective recomputation saves only the flash kernel's log-sum-exp; full keeps one input per layer
    one = memory.Layout(micro_batch=4, seq_length=4096)
    acts = {r: memory.activation_bytes(small, 96640, memory.Layout(**{**one.__dict__, "recompute": r}))["stored"]
            for r in ("none", "selective", "full")}
    assert acts["none"] > acts["selective"] > 0.99 * acts["none"] > 4 * acts["full"]


def test_train_memory_prints_the_table_of_a_recipe(capsys):
    assert memory.main(["--shape", "opencoder-8b"]) == 0
    out = capsys.readouterr().out
    assert "opencoder-8b: 7.77B parameters, sequence 8192, global batch 1024" in out
    assert "| TP2 PP1 DP4, mbs 1x8192, distopt, SP | " in out
