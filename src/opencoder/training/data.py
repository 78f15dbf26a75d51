"""A blend file (`tokens/blend.json`) → megatron-core's blended GPT dataset, and batches from it.

The blend file lists `[weight, prefix]` pairs (prefixes of `.bin/.idx` indexed datasets, relative to
the blend file) with the tokenizer's vocabulary size and end-of-document id. megatron-core builds
the shuffle and blending indices once (cached under `cache_dir`, keyed on everything that shapes
them) and reads samples by index, so the batch of step k is a pure function of k: a resumed run
sees exactly the batches the killed one would have.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from opencoder.core.shards import ShardError
from opencoder.tokenization.tokens import Blend, load_blend


def read_blend(path: str | Path) -> Blend:
    """The blend file of the tokens stage; a dataset it names that is missing is an error naming both."""
    blend = load_blend(path)
    for prefix in blend.prefixes:
        for ext in (".bin", ".idx"):
            if not Path(prefix + ext).is_file():
                raise ShardError(f"{path}: dataset file {prefix + ext} is missing")
    return blend


def fingerprint(blend: Blend) -> str:
    """Identifies the data (paths, weights, size and time of the dataset files): a resumed run must
    see the same data as the run that wrote its checkpoints."""
    files = [Path(p + ext).stat() for p in blend.prefixes for ext in (".bin", ".idx")]
    return json.dumps([blend.prefixes, blend.weights, [(f.st_size, f.st_mtime_ns) for f in files],
                       blend.vocab_size, blend.eod_id])


def build_dataset(blend: Blend, *, seq_length: int, num_samples: int, seed: int, cache_dir: str | Path):
    """The training dataset with `num_samples` samples of `seq_length` tokens, blended by weight."""
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig

    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    config = GPTDatasetConfig(
        random_seed=seed,
        sequence_length=seq_length,
        blend=blend.megatron(),
        split="1,0,0",
        path_to_cache=str(cache_dir),
        tokenizer=blend.megatron_tokenizer(),
        reset_position_ids=False,
        reset_attention_mask=False,
        eod_mask_loss=False,
        create_attention_mask=False,  # the SDPA attention is causal by construction
        mmap_bin_files=True,
    )
    train, _, _ = BlendedMegatronDatasetBuilder(GPTDataset, [num_samples, 0, 0], lambda: True, config).build()
    return train


def micro_batches(dataset, *, step: int, global_batch: int, micro_batch: int, dp_rank: int, dp_size: int):
    """The micro-batches of one optimizer step for one data-parallel rank.

    Sample i of step k is dataset[k·global_batch + i]; ranks take interleaved micro-batches, so the
    set of samples per step does not depend on the data-parallel size.
    """
    per_rank = global_batch // (micro_batch * dp_size)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for j in range(per_rank):
        start = step * global_batch + (j * dp_size + dp_rank) * micro_batch
        samples = [dataset[start + i] for i in range(micro_batch)]
        yield {
            key: torch.stack([s[key] for s in samples]).to(device, non_blocking=True)
            for key in ("tokens", "labels", "loss_mask", "position_ids", "attention_mask") if key in samples[0]
        }
