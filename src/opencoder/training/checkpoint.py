"""megatron-core distributed checkpoints as build targets.

A checkpoint is written into a temporary directory and renamed into place once every rank has
finished, so a directory named `iter_NNNNNNN` is always complete and a killed job never leaves one
that looks usable. Intermediate checkpoints live in the stage's work directory, which is not a
declared output and so survives a killed job; `work/run.json` records what they were trained with,
and a rebuild resumes only from checkpoints of the same run.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import types
from pathlib import Path

import torch
import torch.distributed as dist

from opencoder.core.errors import InputError

log = logging.getLogger(__name__)
_ITER = re.compile(r"^iter_(\d{7})$")


def _distributed_parts(optimizer) -> list:
    """The distributed optimizers inside megatron's chained optimizer (none for the plain one)."""
    from megatron.core.optimizer.distrib_optimizer import DistributedOptimizer

    parts = getattr(optimizer, "chained_optimizers", [optimizer]) if optimizer is not None else []
    return [o for o in parts if isinstance(o, DistributedOptimizer)]


def _metadata(optimizer) -> dict:
    # The content metadata Megatron-LM's trainer writes; it selects the optimizer's sharded format.
    metadata = {"singleton_local_shards": False, "chained_optim_avoid_prefix": True}
    if _distributed_parts(optimizer):
        # the library default ("fully_sharded_model_space") cannot be saved by megatron-core 0.16;
        # "fully_reshardable" also loads at other TP/PP/DP sizes
        metadata["distrib_optim_sharding_type"] = "fully_reshardable"
    return metadata


def _state(model, optimizer, scheduler, iteration: int, *, loading: bool) -> dict:
    from megatron.core import parallel_state

    metadata = {**_metadata(optimizer),
                "dp_cp_group": parallel_state.get_data_parallel_group(with_context_parallel=True)}
    model_sd = model.sharded_state_dict(metadata=metadata)
    state = {"model": model_sd, "iteration": iteration}
    if optimizer is not None:
        # is_loading=True creates the Adam moments to load into; without it they silently stay empty
        state["optimizer"] = optimizer.sharded_state_dict(model_sd, is_loading=loading, metadata=metadata)
    if scheduler is not None:
        state["opt_param_scheduler"] = scheduler.state_dict()
    return state


INFO = "opencoder.json"  # beside the checkpoint files: the shape and vocabulary it was trained with


def save(path: str | Path, model, optimizer, scheduler, iteration: int, info: dict) -> Path:
    """Save model, optimizer, LR schedule and iteration to directory `path`, atomically, with
    `info` (model shape, vocabulary) in `opencoder.json` so the checkpoint explains itself."""
    from megatron.core import dist_checkpointing

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    if dist.get_rank() == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    dist.barrier()
    dist_checkpointing.save(_state(model, optimizer, scheduler, iteration, loading=False), str(tmp),
                            content_metadata=_metadata(optimizer))
    dist.barrier()
    if dist.get_rank() == 0:
        (tmp / INFO).write_text(json.dumps({**info, "iteration": iteration}, indent=1, sort_keys=True) + "\n")
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    dist.barrier()
    log.info("saved checkpoint %s (iteration %d)", path, iteration)
    return path


def load(path: str | Path, model, optimizer=None, scheduler=None) -> int:
    """Load a checkpoint into the given objects (any of optimizer/scheduler may be None: not loaded);
    return its iteration. TP/PP sizes may differ from the saving run's."""
    from megatron.core import dist_checkpointing

    path = Path(path)
    if not dist_checkpointing.check_is_distributed_checkpoint(str(path)):
        raise InputError(f"{path}: not a megatron-core distributed checkpoint")
    distributed = _distributed_parts(optimizer)
    for part in distributed:
        _create_adam_state(part)
    loaded = dist_checkpointing.load(_state(model, optimizer, scheduler, 0, loading=True), str(path))
    model.load_state_dict(loaded["model"])
    if optimizer is not None:
        optimizer.load_state_dict(loaded["optimizer"])
    for part in distributed:
        _restore_adam_steps(part)
    if scheduler is not None:
        scheduler.load_state_dict(loaded["opt_param_scheduler"])
    log.info("loaded checkpoint %s (iteration %d)", path, loaded["iteration"])
    return int(loaded["iteration"])


# megatron-core's distributed optimizer around torch's AdamW (no Transformer Engine or Apex optimizer)
# needs three repairs to resume exactly; each is checked by tests/test_train_parallel.py.

def _create_adam_state(part) -> None:
    """torch's AdamW creates its state at the first step, and the loader copies into that state:
    take one step of zero gradients at lr 0 (a no-op on the weights) so the state exists."""
    if part.optimizer.state:
        return
    lrs = [group["lr"] for group in part.optimizer.param_groups]
    for group in part.optimizer.param_groups:
        group["lr"] = 0.0
    part._init_optimizer_states_with_dummy_values()
    for group, lr in zip(part.optimizer.param_groups, lrs):
        group["lr"] = lr
    part._set_main_param_and_optimizer_states = types.MethodType(_set_main_param_and_states, part)


def _set_main_param_and_states(self, model_param, tensors):
    """The loader's copy into the sharded fp32 weights and moments, under no_grad (the weights are
    leaves that require grad) and without AdamW's per-parameter `step`, which the checkpoint keeps
    in the parameter groups only."""
    from megatron.core.optimizer.distrib_optimizer import DistributedOptimizer

    tensors = dict(tensors)
    group_index, group_order = self.model_param_group_index_map[model_param]
    main_param = self.optimizer.param_groups[group_index]["params"][group_order]
    tensors.setdefault("step", self.optimizer.state[main_param].get("step"))
    with torch.no_grad():
        DistributedOptimizer._set_main_param_and_optimizer_states(self, model_param, tensors)


def _restore_adam_steps(part) -> None:
    """Give every parameter its own AdamW `step`, the one its parameter group was saved with (the
    loader leaves the dummy step's, or one tensor shared by all parameters, which AdamW would then
    advance once per parameter and so skew the bias correction)."""
    for group in part.optimizer.param_groups:
        for param in group["params"]:
            state = part.optimizer.state[param]
            if "step" in group and torch.is_tensor(state.get("step")):
                state["step"] = torch.tensor(float(group["step"]), dtype=state["step"].dtype)


def iteration_dir(work: str | Path, iteration: int) -> Path:
    return Path(work) / f"iter_{iteration:07d}"


def read_info(path: str | Path) -> dict:
    """The `opencoder.json` of a checkpoint."""
    from opencoder.core.shards import read_json

    return read_json(Path(path) / INFO)


def prune(work: str | Path, keep: int) -> None:
    """Delete all but the newest `keep` checkpoints of a work directory. Rank 0 only."""
    found = sorted(p for p in Path(work).glob("iter_*") if _ITER.match(p.name))
    for old in found[:-keep] if keep > 0 else found:
        shutil.rmtree(old)


def latest(work: str | Path) -> Path | None:
    """The newest complete checkpoint in a work directory, if any."""
    work = Path(work)
    found = sorted(p for p in work.glob("iter_*") if _ITER.match(p.name) and p.is_dir())
    return found[-1] if found else None


def identity(path: str | Path) -> list:
    """Names, sizes and times of a checkpoint's files: changes when the checkpoint is rewritten."""
    return [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(Path(path).iterdir()) if p.is_file()]


def prepare_work(work: str | Path, run: dict) -> None:
    """Keep the work directory's checkpoints only if they come from this very run (same params and
    data); otherwise start afresh. Rank 0 only."""
    work = Path(work)
    record = work / "run.json"
    text = json.dumps(run, sort_keys=True, indent=1)
    if record.exists() and record.read_text() != text:
        log.warning("%s: checkpoints come from other parameters or data; starting afresh", work)
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    if not record.exists():
        record.write_text(text)
