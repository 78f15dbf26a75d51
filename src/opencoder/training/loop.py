"""The training loop shared by pretraining and annealing: one code path on CPU (gloo, fp32) and GPU
(NCCL, bf16), with tensor, pipeline and data parallelism from the stage's params.

Megatron-core pieces, used as a library: parallel state, `GPTModel` wrapped in its
`DistributedDataParallel` (gradient buckets, all-reduce, optionally overlapped with the backward
pass), `get_megatron_optimizer` (AdamW with gradient clipping; plain, or distributed: its state
sharded over the data-parallel ranks), the pipeline schedules (micro-batches and gradient
accumulation), and distributed checkpoints. The memory settings (distributed optimizer, activation
recomputation, sequence parallelism) and the layer spec come from the train section
(`trainer_settings`); `opencoder.training.memory` computes what they save.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from opencoder.training import checkpoint, cpu_shim
from opencoder.training.model import (build_gpt, matmul_params, padded_vocab_size, resolve_layer_spec,
                                      transformer_config)
from opencoder.training.schedule import own_lr_bounds, stage_scheduler

log = logging.getLogger(__name__)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_distributed(tp: int, pp: int, seed: int) -> None:
    """Process group (from torchrun's environment) and megatron's TP/PP/DP groups; seeds."""
    cpu = cpu_shim.install()
    from megatron.core import parallel_state, tensor_parallel

    if not dist.is_initialized():
        if "RANK" not in os.environ:  # one process, started without torchrun
            os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1",
                              MASTER_PORT=str(_free_port()))
        if not cpu:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("gloo" if cpu else "nccl")
    world = dist.get_world_size()
    if world % (tp * pp):
        raise ValueError(f"world size {world} is not a multiple of tensor_parallel {tp} x pipeline_parallel {pp}")
    parallel_state.initialize_model_parallel(tensor_model_parallel_size=tp, pipeline_model_parallel_size=pp)
    torch.manual_seed(seed)
    # the training RNG tracker keeps CUDA RNG states; on the CPU use the tracker that keeps none
    tensor_parallel.model_parallel_cuda_manual_seed(seed, inference_rng_tracker=cpu)


def precision_is_bf16(train: dict) -> bool:
    """`precision: auto` is bf16 on GPUs and fp32 on CPUs (bf16 matmuls are slow there)."""
    if train["precision"] == "auto":
        return torch.cuda.is_available()
    return train["precision"] == "bf16"


@dataclass
class Trainer:
    model: object  # megatron DistributedDataParallel around the GPTModel
    optimizer: object
    config: object  # TransformerConfig
    vocab_size: int


def trainer_settings(train: dict) -> dict:
    """The memory and speed settings of the train section, checked against each other."""
    from opencoder.core.config import ConfigError

    settings = {k: train[k] for k in ("distributed_optimizer", "recompute", "recompute_method", "recompute_num_layers",
                                      "sequence_parallel", "overlap_grad_reduce", "overlap_param_gather")}
    settings["layer_spec"] = resolve_layer_spec(train["layer_spec"])
    if settings["overlap_param_gather"] and not settings["distributed_optimizer"]:
        raise ConfigError("config train: overlap_param_gather needs distributed_optimizer")
    return settings


def build_trainer(shape: dict, train: dict, tokenizer_vocab: int, attention: str = "sdpa") -> Trainer:
    """Model, DDP wrapper and optimizer for the current parallel state, with the memory and speed
    settings of `train` (see `trainer_settings`; `attention`: see `model.layer_spec`)."""
    from megatron.core import parallel_state
    from megatron.core.distributed import DistributedDataParallel, DistributedDataParallelConfig, finalize_model_grads
    from megatron.core.optimizer import OptimizerConfig, get_megatron_optimizer
    from megatron.core.transformer.module import Float16Module

    s = trainer_settings(train)
    bf16 = precision_is_bf16(train)
    tp, pp = train["tensor_parallel"], train["pipeline_parallel"]
    config = transformer_config(shape, tp=tp, pp=pp, bf16=bf16, fused=torch.cuda.is_available(),
                                sequence_parallel=s["sequence_parallel"], recompute=s["recompute"],
                                recompute_method=s["recompute_method"], recompute_num_layers=s["recompute_num_layers"])
    vocab = padded_vocab_size(shape, tokenizer_vocab, tp)
    gpt = build_gpt(shape, config, vocab, pre_process=parallel_state.is_pipeline_first_stage(),
                    post_process=parallel_state.is_pipeline_last_stage(), attention=attention, spec=s["layer_spec"])
    module = Float16Module(config, gpt) if bf16 else gpt
    model = DistributedDataParallel(
        config=config,
        ddp_config=DistributedDataParallelConfig(
            grad_reduce_in_fp32=True, use_distributed_optimizer=s["distributed_optimizer"],
            overlap_grad_reduce=s["overlap_grad_reduce"], overlap_param_gather=s["overlap_param_gather"]),
        module=module,
    )
    optimizer = get_megatron_optimizer(
        OptimizerConfig(
            optimizer="adam", lr=train["lr"], min_lr=train["min_lr"], weight_decay=train["weight_decay"],
            adam_beta1=train["adam_beta1"], adam_beta2=train["adam_beta2"], adam_eps=train["adam_eps"],
            clip_grad=train["clip_grad"], bf16=bf16, use_distributed_optimizer=s["distributed_optimizer"],
        ),
        [model],
    )
    config.finalize_model_grads_func = finalize_model_grads
    config.no_sync_func = model.no_sync
    config.grad_scale_func = optimizer.scale_loss
    if s["overlap_grad_reduce"]:
        config.grad_sync_func = model.start_grad_sync  # the pipeline schedule starts each bucket's reduce
    return Trainer(model, optimizer, config, vocab)


def sync_params(trainer: Trainer) -> None:
    """With `overlap_param_gather` the distributed optimizer's updated parameters are gathered during
    the next forward pass; gather them now (before a checkpoint is written)."""
    if trainer.model.ddp_config.overlap_param_gather:
        trainer.model.disable_forward_pre_hook(param_sync=True)  # as Megatron-LM does before saving
        trainer.model.enable_forward_pre_hook()


def _forward_step(data_iterator, model):
    batch = next(data_iterator)
    per_token = model(batch["tokens"], batch["position_ids"], None, labels=batch["labels"])

    def loss_func(output):
        mask = batch["loss_mask"].float()
        loss = (output.float() * mask).sum() / mask.sum()
        return loss, {"loss": loss.detach()}

    return per_token, loss_func


def train_step(trainer: Trainer, batches, num_microbatches: int, train: dict) -> tuple[float | None, float]:
    """One optimizer step over `batches`; returns (mean loss or None off the last PP stage, grad norm)."""
    from megatron.core import parallel_state
    from megatron.core.pipeline_parallel import get_forward_backward_func

    trainer.model.zero_grad_buffer()
    trainer.optimizer.zero_grad()
    losses = get_forward_backward_func()(
        forward_step_func=_forward_step, data_iterator=batches, model=[trainer.model],
        num_microbatches=num_microbatches, seq_length=train["seq_length"],
        micro_batch_size=train["micro_batch"], decoder_seq_length=train["seq_length"], forward_only=False,
    )
    _, grad_norm, _ = trainer.optimizer.step()
    if not parallel_state.is_pipeline_last_stage():
        return None, float(grad_norm or 0.0)
    loss = torch.stack([x["loss"] for x in losses]).mean()
    dist.all_reduce(loss, group=parallel_state.get_data_parallel_group())
    return loss.item() / parallel_state.get_data_parallel_world_size(), float(grad_norm or 0.0)


def run(stage: str, params: dict, *, blend_path: str | Path, out: str | Path, work: str | Path,
        metrics_out: str | Path, init_from: str | Path | None = None) -> None:
    """Train `stage` ("pretrain"/"anneal") to the final checkpoint `out`, resuming from `work`.

    Annealing starts from the model and optimizer state of `init_from` (the pretrain checkpoint)
    with its own data and schedule.
    """
    from megatron.core import parallel_state
    from tqdm import tqdm

    from opencoder.training import metrics
    from opencoder.training.data import build_dataset, fingerprint, micro_batches, read_blend

    shape, train = params["model"], params["train"]
    steps = params["anneal"]["steps"] if stage == "anneal" else train["steps"]
    tp, pp = train["tensor_parallel"], train["pipeline_parallel"]
    init_distributed(tp, pp, params["seed"])
    world, rank = dist.get_world_size(), dist.get_rank()
    dp_size, dp_rank = parallel_state.get_data_parallel_world_size(), parallel_state.get_data_parallel_rank()
    if train["global_batch"] % (train["micro_batch"] * dp_size):
        raise ValueError(f"global_batch {train['global_batch']} is not a multiple of micro_batch "
                         f"{train['micro_batch']} x data-parallel size {dp_size}")
    num_microbatches = train["global_batch"] // (train["micro_batch"] * dp_size)
    reporter = rank == world - 1  # on the last pipeline stage, where the loss is known

    blend = read_blend(blend_path)
    work = Path(work)
    if rank == 0:
        source = {"init_from": [str(init_from), checkpoint.identity(init_from)]} if init_from else {}
        checkpoint.prepare_work(work, {"stage": stage, "params": params, "data": fingerprint(blend), **source})
    dist.barrier()
    dataset = build_dataset(blend, seq_length=train["seq_length"], num_samples=steps * train["global_batch"],
                            seed=params["seed"], cache_dir=work / "data_cache")

    trainer = build_trainer(shape, train, blend.vocab_size)
    scheduler = stage_scheduler(trainer.optimizer, stage, params)
    start = 0
    resume = checkpoint.latest(work)
    if resume is not None:
        start = checkpoint.load(resume, trainer.model.module, trainer.optimizer, scheduler)
    elif init_from is not None:
        checkpoint.load(init_from, trainer.model.module, trainer.optimizer)
    own_lr_bounds(scheduler)
    scheduler.step(0)  # the lr of step `start` (an optimizer loaded from pretraining carries its lr)
    info = {"model": shape, "vocab_size": trainer.vocab_size, "tokenizer_vocab_size": blend.vocab_size,
            "eod_id": blend.eod_id, "stage": stage, "tensor_parallel": tp, "pipeline_parallel": pp}

    n_matmul = matmul_params(shape, trainer.vocab_size)
    tokens_per_step = train["global_batch"] * train["seq_length"]
    peak = train["gpu_peak_tflops"] if torch.cuda.is_available() else None
    log_file = metrics.MetricsLog(work / "metrics.jsonl", resume_step=start) if reporter else None
    progress = tqdm(total=steps, initial=start, desc=stage, unit="step", disable=not reporter)
    for step in range(start, steps):
        lr = trainer.optimizer.param_groups[0]["lr"]
        batches = micro_batches(dataset, step=step, global_batch=train["global_batch"],
                                micro_batch=train["micro_batch"], dp_rank=dp_rank, dp_size=dp_size)
        began = time.perf_counter()
        loss, grad_norm = train_step(trainer, batches, num_microbatches, train)
        scheduler.step(1)
        seconds = time.perf_counter() - began
        done = step + 1
        if reporter:
            tokens_per_s = tokens_per_step / seconds
            record = {"stage": stage, "step": done, "loss": loss, "lr": lr, "grad_norm": grad_norm,
                      "tokens": done * tokens_per_step, "tokens_per_s": round(tokens_per_s, 1),
                      "mfu": metrics.model_flops_utilization(tokens_per_s, n_matmul, world, peak)}
            log_file.write(record)
            progress.update(1)
            progress.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}")
            if done % train["log_every"] == 0 or done == steps:
                log.info("%s step %d/%d loss %.4f lr %.3e grad_norm %.3f %.0f tok/s", stage, done, steps,
                         loss, lr, grad_norm, tokens_per_s)
        if done % train["save_every"] == 0 and done < steps:
            sync_params(trainer)
            checkpoint.save(checkpoint.iteration_dir(work, done), trainer.model.module, trainer.optimizer,
                            scheduler, done, info)
            if rank == 0:
                checkpoint.prune(work, train["keep_checkpoints"])
    progress.close()
    sync_params(trainer)
    checkpoint.save(out, trainer.model.module, trainer.optimizer, scheduler, steps, info)
    if reporter:
        log_file.publish(metrics_out)
    dist.barrier()
