"""Training throughput of the OpenCoder-1.5B shape on one GPU: tokens/s, MFU and peak memory per setting.

    PYTHONPATH=src python bench/gpu_train_1p5b.py [--micro-batch 3] [--seq 4096] [--steps 10]

Builds the model, DDP wrapper and optimizer with `opencoder.training.loop.build_trainer` (megatron-core
local layer spec with SDPA core attention, bf16, the torch.compile fusions) and times full optimizer
steps (forward, backward, AdamW) on random tokens of the 96,640-entry vocabulary. MFU counts
6·N FLOPs per token (N: matmul parameters incl. the output layer) against `train.gpu_peak_tflops`
of config/config.yaml.

One run measures, side by side on the same GPU, each setting of the train section against the
plain one (plain optimizer, no recomputation, local spec): the distributed optimizer, selective and
full recomputation, Transformer Engine's layer spec (when `transformer_engine` is importable),
overlapped gradient reduction and parameter gathering; each row also gives the peak memory the
memory table (`opencoder.training.memory`) predicts. Then the OpenCoder-8B layer shape at its
sequence length with as many layers as the table says fit on this GPU, and with half as many: the
difference is the measured memory per layer, against the table's. Last, at a length where it fits,
megatron-core's own local attention (which materialises the seq×seq scores) against SDPA.
Needs only torch, megatron-core and pyyaml.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


SETTINGS = {  # name -> train-section overrides of the plain setting
    "plain": {},
    "distopt": {"distributed_optimizer": True},
    "selective": {"recompute": "selective"},
    "full": {"recompute": "full", "recompute_method": "uniform", "recompute_num_layers": 1},
    "te": {"layer_spec": "transformer_engine"},
    "overlap": {"distributed_optimizer": True, "overlap_grad_reduce": True, "overlap_param_gather": True},
}
PLAIN = {"distributed_optimizer": False, "recompute": "none", "sequence_parallel": False, "layer_spec": "local",
         "overlap_grad_reduce": False, "overlap_param_gather": False}


def predicted_gib(shape: dict, train: dict, vocab: int, attention: str = "sdpa") -> float:
    """Peak GiB per GPU by the memory table, for this one-GPU run."""
    from opencoder.training import memory
    from opencoder.training.model import resolve_layer_spec

    layout = memory.Layout(micro_batch=train["micro_batch"], seq_length=train["seq_length"],
                           distributed_optimizer=train["distributed_optimizer"], recompute=train["recompute"],
                           recompute_method=train["recompute_method"],
                           recompute_num_layers=train["recompute_num_layers"],
                           fused_norm=resolve_layer_spec(train["layer_spec"]) == "transformer_engine",
                           attention="local" if attention == "local" else "flash")
    return memory.memory(shape, vocab, layout)["total"] / memory.GIB


def measure(shape: dict, train: dict, *, attention: str, micro_batch: int, seq: int, steps: int, warmup: int,
            vocab: int, setting: str = "plain") -> dict:
    """Median step time and derived figures of `steps` timed optimizer steps after `warmup` ones."""
    import torch

    from opencoder.training.loop import build_trainer, train_step
    from opencoder.training.metrics import model_flops_utilization
    from opencoder.training.model import matmul_params, transformer_engine_available

    train = {**train, **PLAIN, **SETTINGS[setting], "micro_batch": micro_batch, "global_batch": micro_batch,
             "seq_length": seq}
    head = {"setting": setting, "layers": shape["num_layers"], "attention": attention, "micro_batch": micro_batch,
            "seq": seq}
    if setting == "te" and not transformer_engine_available():
        return {**head, "skipped": "transformer_engine is not importable"}
    head["predicted_gib"] = predicted_gib(shape, train, vocab, attention)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    trainer = None
    try:
        trainer = build_trainer(shape, train, vocab, attention=attention)
        generator = torch.Generator(device=device).manual_seed(0)
        times = []
        for step in range(warmup + steps):
            tokens = torch.randint(0, vocab, (micro_batch, seq + 1), device=device, generator=generator)
            batch = {"tokens": tokens[:, :-1], "labels": tokens[:, 1:],
                     "loss_mask": torch.ones(micro_batch, seq, device=device),
                     "position_ids": torch.arange(seq, device=device).expand(micro_batch, seq)}
            began = time.perf_counter()
            loss, _ = train_step(trainer, iter([batch]), 1, train)  # .item() inside: synchronises
            if step >= warmup:
                times.append(time.perf_counter() - began)
        seconds = sorted(times)[len(times) // 2]
        tokens_per_s = micro_batch * seq / seconds
        peak = train["gpu_peak_tflops"] if device == "cuda" else None
        n = matmul_params(shape, trainer.vocab_size)
        return {**head, "step_s": seconds,
                "tokens_per_s": tokens_per_s, "tflops": 6 * n * tokens_per_s / 1e12, "loss": loss,
                "mfu": model_flops_utilization(tokens_per_s, n, 1, peak),
                "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None}
    except torch.OutOfMemoryError:
        return {**head, "oom": True}
    finally:
        del trainer
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()


def describe(r: dict) -> str:
    head = f"{r['setting']:>9} {r['layers']:>2}L {r['attention']:>5}  {r['micro_batch']} x {r['seq']:>5}"
    if r.get("skipped"):
        return f"{head}  skipped: {r['skipped']}"
    predicted = f"table {r['predicted_gib']:.1f} GiB"
    if r.get("oom"):
        return f"{head}  out of memory ({predicted})"
    mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "n/a (no GPU)"
    mem = f"{r['peak_mem_gib']:.1f} GiB" if r["peak_mem_gib"] is not None else "-"
    return (f"{head}  {r['tokens_per_s']:>9,.0f} tok/s  {r['tflops']:6.1f} TFLOP/s (6N)  MFU {mfu}  "
            f"step {1e3 * r['step_s']:.0f} ms  peak {mem} ({predicted})  loss {r['loss']:.3f}")


def layers_that_fit(shape: dict, train: dict, vocab: int, gib: float) -> int:
    """The most layers of `shape` whose one-GPU run the memory table puts under `gib`."""
    from opencoder.training import memory

    layers = shape["num_layers"]
    while layers > 1 and predicted_gib({**shape, "num_layers": layers}, train, vocab) > (1 - memory.HEADROOM) * gib:
        layers -= 1
    return layers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="opencoder-1.5b", help="model.shapes entry of config/config.yaml")
    parser.add_argument("--micro-batch", type=int, default=3)
    parser.add_argument("--seq", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=10, help="timed steps (median reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (torch.compile)")
    parser.add_argument("--settings", default=",".join(SETTINGS),
                        help=f"comma-separated, the first is the anchor (default: all: {','.join(SETTINGS)})")
    parser.add_argument("--big-shape", default="opencoder-8b", help="shape of the per-layer memory run; '': skip")
    parser.add_argument("--anchor-seq", type=int, default=2048, help="length of the local/SDPA attention pair; 0: skip")
    args = parser.parse_args()

    import torch
    import yaml

    from opencoder.training.loop import init_distributed

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    shape = {"name": args.shape, **config["model"]["shapes"][args.shape]}
    train = {k: v for k, v in config["train"].items() if k != "recipes"}
    train.update(precision="auto", tensor_parallel=1, pipeline_parallel=1)
    vocab = shape["vocab_size"] or config["tokenizer"]["vocab_size"]
    os.environ.setdefault("TORCH_NCCL_AVOID_RECORD_STREAMS", "1")
    init_distributed(1, 1, seed=config["seed"])
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    print(f"{args.shape} on {device}: torch {torch.__version__}, python {sys.version.split()[0]}", flush=True)

    settings = args.settings.split(",")
    runs = [measure(shape, train, attention="sdpa", micro_batch=args.micro_batch, seq=args.seq, steps=args.steps,
                    warmup=args.warmup, vocab=vocab, setting=name) for name in settings]
    for r in runs:
        print(describe(r), flush=True)
    anchor = runs[0]
    for r in runs[1:]:
        if "tokens_per_s" in r and "tokens_per_s" in anchor:
            memory = f", peak {r['peak_mem_gib'] - anchor['peak_mem_gib']:+.1f} GiB" if r["peak_mem_gib"] else ""
            print(f"{r['setting']} / {anchor['setting']}: {r['tokens_per_s'] / anchor['tokens_per_s']:.2f}x tokens/s"
                  f"{memory}", flush=True)

    if args.big_shape and torch.cuda.is_available():
        big = {"name": args.big_shape, **config["model"]["shapes"][args.big_shape]}
        seq = config["train"]["recipes"][args.big_shape].get("seq_length", args.seq)
        probe = {**train, **PLAIN, "micro_batch": 1, "seq_length": seq}
        gib = torch.cuda.get_device_properties(0).total_memory / 2**30
        full = layers_that_fit(big, probe, vocab, gib)
        pair = [measure({**big, "num_layers": n}, train, attention="sdpa", micro_batch=1, seq=seq, steps=args.steps,
                        warmup=args.warmup, vocab=vocab) for n in (full // 2, full)]
        for r in pair:
            print(describe(r), flush=True)
        if not any(r.get("oom") for r in pair):
            layers = pair[1]["layers"] - pair[0]["layers"]
            print(f"{args.big_shape} per layer at 1 x {seq}: measured "
                  f"{(pair[1]['peak_mem_gib'] - pair[0]['peak_mem_gib']) / layers:.2f} GiB, table "
                  f"{(pair[1]['predicted_gib'] - pair[0]['predicted_gib']) / layers:.2f} GiB", flush=True)

    if args.anchor_seq:
        pair = [measure(shape, train, attention=a, micro_batch=1, seq=args.anchor_seq, steps=args.steps,
                        warmup=args.warmup, vocab=vocab) for a in ("local", "sdpa")]
        for r in pair:
            print(describe(r), flush=True)
        if not any(r.get("oom") for r in pair):
            print(f"SDPA / local attention at 1 x {args.anchor_seq}: "
                  f"{pair[1]['tokens_per_s'] / pair[0]['tokens_per_s']:.2f}x tokens/s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
