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
from pathlib import Path

import torch.distributed as dist

from opencoder.core.errors import InputError

log = logging.getLogger(__name__)
_ITER = re.compile(r"^iter_(\d{7})$")


def _metadata() -> dict:
    # The content metadata Megatron-LM's trainer writes; it selects the optimizer's sharded format.
    return {"singleton_local_shards": False, "chained_optim_avoid_prefix": True}


def _state(model, optimizer, scheduler, iteration: int, *, loading: bool) -> dict:
    from megatron.core import parallel_state

    metadata = {**_metadata(), "dp_cp_group": parallel_state.get_data_parallel_group(with_context_parallel=True)}
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
                            content_metadata=_metadata())
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
    loaded = dist_checkpointing.load(_state(model, optimizer, scheduler, 0, loading=True), str(path))
    model.load_state_dict(loaded["model"])
    if optimizer is not None:
        optimizer.load_state_dict(loaded["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(loaded["opt_param_scheduler"])
    log.info("loaded checkpoint %s (iteration %d)", path, loaded["iteration"])
    return int(loaded["iteration"])


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
