"""Memory settings on CPU (gloo): with 2 processes the distributed optimizer trains like the plain one
(also with overlapped gradient reduction and parameter gathering) and resumes exactly, and sequence
parallelism with TP = 2 trains like TP = 2 alone; activation recomputation (selective, full; one
process) changes neither losses nor gradient norms."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from opencoder.training import metrics
from opencoder.training.launch import torchrun_command
from test_train_resume import cpu_env, tiny_params, train_command, write_blend

STEPS = 6


def params(**train) -> dict:
    p = tiny_params(steps=STEPS, save_every=3, warmup_steps=2, global_batch=4, micro_batch=2, seq_length=32)
    p["train"].update(train)
    return p


def run(tmp, name: str, blend, procs: int = 1, expect: str = "", **train) -> list[dict]:
    """`opencoder train` in `procs` processes (torchrun, gloo), whose log must show `expect`; its metrics."""
    cmd = train_command(tmp, name, params(**train), blend)
    if procs > 1:
        cmd = torchrun_command(cmd[3:], nnodes=1, nproc=procs)
    result = subprocess.run(cmd, env=cpu_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    assert expect in result.stderr
    return metrics.read(tmp / name / "metrics.jsonl")


def same_curves(a: list[dict], b: list[dict], tol: float = 1e-5) -> None:
    assert [r["step"] for r in a] == [r["step"] for r in b] == list(range(1, STEPS + 1))
    assert [r["loss"] for r in a] == pytest.approx([r["loss"] for r in b], abs=tol)
    assert [r["grad_norm"] for r in a] == pytest.approx([r["grad_norm"] for r in b], rel=tol)


@pytest.fixture(scope="module")
def blend(tmp_path_factory):
    return write_blend(tmp_path_factory.mktemp("data"))


@pytest.mark.slow
def test_distributed_optimizer_trains_like_the_plain_one_and_resumes_exactly(tmp_path, blend):
    plain = run(tmp_path, "plain", blend, procs=2, distributed_optimizer=False)
    sharded = run(tmp_path, "sharded", blend, procs=2, distributed_optimizer=True)
    same_curves(plain, sharded)
    # the reduce-scatter during the backward pass and the all-gather during the next forward
    overlap = {"distributed_optimizer": True, "overlap_grad_reduce": True, "overlap_param_gather": True}
    overlapped = run(tmp_path, "overlapped", blend, procs=2, **overlap)
    same_curves(sharded, overlapped)

    # the same run again, its final outputs gone: it resumes from work/iter_0000003 (the sharded
    # Adam state of both ranks, parameters gathered before saving) and reproduces steps 4-6 exactly
    shutil.rmtree(tmp_path / "overlapped" / "checkpoint")
    (tmp_path / "overlapped" / "metrics.jsonl").unlink()
    resumed = run(tmp_path, "overlapped", blend, procs=2, expect="iter_0000003 (iteration 3)", **overlap)
    assert [r["loss"] for r in resumed] == [r["loss"] for r in overlapped]
    assert [r["grad_norm"] for r in resumed] == [r["grad_norm"] for r in overlapped]


@pytest.fixture(scope="module")
def no_recompute(tmp_path_factory, blend):
    return run(tmp_path_factory.mktemp("none"), "none", blend)


@pytest.mark.slow
@pytest.mark.parametrize("recompute", [{"recompute": "selective"},
                                       {"recompute": "full", "recompute_method": "uniform", "recompute_num_layers": 1},
                                       {"recompute": "full", "recompute_method": "block", "recompute_num_layers": 1}],
                         ids=["selective", "full-uniform", "full-block"])
def test_recomputation_changes_neither_losses_nor_gradients(tmp_path, blend, no_recompute, recompute):
    same_curves(no_recompute, run(tmp_path, "recompute", blend, **recompute), tol=1e-6)


@pytest.mark.slow
def test_sequence_parallel_trains_like_tensor_parallel_alone(tmp_path, blend):
    tp = run(tmp_path, "tp", blend, procs=2, tensor_parallel=2)
    sp = run(tmp_path, "sp", blend, procs=2, tensor_parallel=2, sequence_parallel=True)
    same_curves(tp, sp)
