"""An SFT stage's data for the training loop: its packed rows and the number of optimizer steps
(`epochs` passes over the rows at the stage's global batch, rounded up)."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from opencoder.core.errors import InputError
from opencoder.training.schedule import sft_warmup
from opencoder.training.sft.packing import PackedDataset

log = logging.getLogger(__name__)


def open_packed(path: str | Path, params: dict) -> tuple[PackedDataset, str, int]:
    """(dataset, fingerprint of the packed file, steps) of an SFT stage."""
    dataset = PackedDataset(path, params["seed"])
    train, sft = params["train"], params["sft"]
    if dataset.seq_length != train["seq_length"]:
        raise InputError(f"{path}: packed to {dataset.seq_length} tokens, the stage trains at {train['seq_length']}")
    steps = max(2, math.ceil(sft["epochs"] * dataset.rows / train["global_batch"]))
    warmup = sft_warmup(sft["warmup_steps"], steps)
    if warmup != sft["warmup_steps"]:
        log.warning("%s: %d steps; warmup capped at %d steps (config: %d)", sft["stage"], steps, warmup,
                    sft["warmup_steps"])
    stat = Path(path).stat()
    return dataset, json.dumps([str(path), stat.st_size, stat.st_mtime_ns, dataset.rows]), steps
