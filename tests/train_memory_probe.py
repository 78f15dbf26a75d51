"""Measures, on the CPU, what the memory table computes: the bytes of weights, gradient buffers and
optimizer state of the project's trainer, and the activations a forward pass keeps for its backward
(every tensor the autograd graph saves, through saved-tensor hooks, by distinct storage, weights
excluded). Prints one JSON object; run by tests/test_train_memory.py (under torchrun for DP = 2)."""

from __future__ import annotations

import json
import sys

import torch
import torch.distributed as dist

VOCAB = 512


def shape(layers: int) -> dict:
    return {"name": "probe", "num_layers": layers, "hidden_size": 64, "ffn_hidden_size": 176, "num_attention_heads": 4,
            "num_query_groups": 2, "head_dim": 16, "rotary_base": 10000, "max_position_embeddings": 256,
            "vocab_size": VOCAB, "norm_epsilon": 1e-5, "init_method_std": 0.02, "tied_embeddings": False}


def train_settings(precision: str, distributed_optimizer: bool, **extra) -> dict:
    return {"precision": precision, "tensor_parallel": 1, "pipeline_parallel": 1, "lr": 1e-3, "min_lr": 1e-4,
            "weight_decay": 0.1, "adam_beta1": 0.9, "adam_beta2": 0.95, "adam_eps": 1e-8, "clip_grad": 1.0,
            "distributed_optimizer": distributed_optimizer, "recompute": "none", "recompute_method": "uniform",
            "recompute_num_layers": 1, "sequence_parallel": False, "overlap_grad_reduce": False,
            "overlap_param_gather": False, "layer_spec": "local", "micro_batch": 2,
            "global_batch": 2 * dist.get_world_size(), "seq_length": 64, **extra}


def model_states(precision: str, distributed_optimizer: bool) -> dict:
    """Bytes of weights, gradient buffers and optimizer state (main weights, Adam moments) after a step."""
    from opencoder.training.loop import build_trainer, train_step

    train = train_settings(precision, distributed_optimizer)
    trainer = build_trainer(shape(2), train, VOCAB)
    tokens = torch.randint(0, VOCAB, (2, 65), generator=torch.Generator().manual_seed(dist.get_rank()))
    batch = {"tokens": tokens[:, :-1], "labels": tokens[:, 1:], "loss_mask": torch.ones(2, 64),
             "position_ids": torch.arange(64).expand(2, 64)}
    train_step(trainer, iter([batch]), 1, train)
    params = list(trainer.model.module.parameters())
    weights = {p.untyped_storage().data_ptr(): p for p in params}
    optimizer = 0
    for part in trainer.optimizer.chained_optimizers:
        for group in part.optimizer.param_groups:
            for main in group["params"]:
                if main.untyped_storage().data_ptr() not in weights:  # fp32: the weights are the main weights
                    optimizer += main.numel() * main.element_size()
                state = part.optimizer.state[main]
                optimizer += sum(state[k].numel() * state[k].element_size() for k in ("exp_avg", "exp_avg_sq"))
    return {"params": sum(p.numel() for p in params),
            "weights": sum(p.numel() * p.element_size() for p in params),
            "gradients": sum(b.grad_data.numel() * b.grad_data.element_size() for b in trainer.model.buffers),
            "optimizer": optimizer}


def saved_activations(layers: int, precision: str, recompute: dict) -> int:
    """Bytes the autograd graph keeps from one forward pass (loss included) of a micro-batch 2 x 64."""
    from opencoder.training.model import build_gpt, transformer_config

    bf16 = precision == "bf16"
    config = transformer_config(shape(layers), bf16=bf16, **recompute)
    model = build_gpt(shape(layers), config, VOCAB)
    if bf16:
        from megatron.core.transformer.module import Float16Module

        model = Float16Module(config, model)
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    kept: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in weights:
            kept[storage.data_ptr()] = storage.nbytes()
        return t

    tokens = torch.randint(0, VOCAB, (2, 65), generator=torch.Generator().manual_seed(0))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(tokens[:, :-1], torch.arange(64).expand(2, 64), None, labels=tokens[:, 1:])
    loss.sum().backward()
    return sum(kept.values())


def main() -> int:
    from opencoder.training.loop import init_distributed

    init_distributed(1, 1, seed=0)
    single = dist.get_world_size() == 1  # one process: the plain optimizer; several: the distributed one
    out = {"states": {p: model_states(p, not single) for p in ("fp32", "bf16")}}
    if single:
        settings = {"none": {}, "selective": {"recompute": "selective"},
                    "full": {"recompute": "full", "recompute_method": "uniform", "recompute_num_layers": 1}}
        out["activations"] = {f"{p}-{name}-{layers}": saved_activations(layers, p, r)
                              for p in ("fp32", "bf16") for name, r in settings.items() for layers in (2, 4)}
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, out)
    if dist.get_rank() == 0:
        print(json.dumps(gathered))
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
