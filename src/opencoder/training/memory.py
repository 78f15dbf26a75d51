"""GPU memory of a training layout, computed: model states and activations per GPU.

`opencoder train-memory` prints the table for the configured shapes and the layouts of the README.

Model states (bytes per parameter; Megatron's distributed-optimizer accounting): bf16 weights (2),
fp32 gradient buffer (4, `grad_reduce_in_fp32`), fp32 main weights and the two Adam moments (12),
the last sharded over the data-parallel ranks by the distributed optimizer: 18, or 6 + 12/DP. In
fp32 (CPUs) the weights are the main weights: 16, or 8 + 8/DP.

Activations follow Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large Transformer
Models"): every tensor a layer keeps for its backward pass, counted for this architecture (RMSNorm,
GQA, RoPE, SwiGLU, no dropout, no biases) rather than the paper's GPT (whose 34·sbh + 5·a·s²·b
bytes include dropout masks and a 4h MLP). Per layer and micro-batch, in elements (s sequence,
b micro-batch, h hidden, q = heads·head_dim, k = KV heads·head_dim, f = ffn, t = TP):

    attention  norm (`_norm_bytes`), QKV input sbh, QKV output sb(q+2k)/t (V is a view of it),
               Q and K after RoPE sb(q+k)/t, RoPE's cos/sin 4·s·d, attention output sbq/t (the
               projection's input too), the kernel's log-sum-exp (fp32, a·sb/t; megatron's local
               attention: the softmax a·s²·b/t)
    MLP        norm, fc1 input sbh, fc1 output 2sbf/t (the fused SwiGLU keeps only this; unfused
               also the silu output and the up half, 2sbf/t), fc2 input sbf/t

The norm and linear inputs are replicated over the TP ranks unless sequence parallelism shards
them (/t). Selective recomputation drops the core attention kernel's own state: the a·s²·b softmax
of the local attention, but only the log-sum-exp of a flash kernel (its output is the projection's
input, kept anyway), so with SDPA or TE attention it saves almost nothing;
full recomputation keeps only each recomputed group's input and rebuilds one group at a time.
The last pipeline stage also keeps the final norm and output-layer inputs and the fp32 softmax of
the vocabulary-parallel cross entropy (4·sbV/t bytes; in bf16 the logits beside it while the loss
is computed, 2·sbV/t, a transient of the peak); the first stage holds the activations of
PP micro-batches at once (1F1B). Small per-token terms (norm statistics, targets) are included;
what is not: allocator fragmentation, CUDA/NCCL workspaces, transient buffers of a kernel
(`HEADROOM` is kept free for them).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, replace

GIB = 2**30
HEADROOM = 0.10  # of a card's memory, kept free for what the table leaves out


@dataclass(frozen=True)
class Layout:
    tp: int = 1
    pp: int = 1
    dp: int = 1
    micro_batch: int = 1
    seq_length: int = 4096
    num_microbatches: int = 1  # per optimizer step and DP rank: global_batch / (micro_batch · dp)
    distributed_optimizer: bool = False
    recompute: str = "none"  # none | selective | full
    recompute_method: str = "uniform"
    recompute_num_layers: int = 1
    sequence_parallel: bool = False
    bf16: bool = True
    fused_swiglu: bool = True  # GPUs: megatron's fused bias-SwiGLU keeps only its input (unfused: 5·sbf)
    fused_norm: bool = False  # the local spec's torch RMSNorm is composite; TE's fused one: True (_norm_bytes)
    attention: str = "flash"  # flash (SDPA / TE kernels) | local (megatron's, materialises the scores)

    def describe(self) -> str:
        parts = [f"TP{self.tp} PP{self.pp} DP{self.dp}", f"mbs {self.micro_batch}x{self.seq_length}"]
        parts += ["distopt"] if self.distributed_optimizer else []
        parts += ["SP"] if self.sequence_parallel and self.tp > 1 else []
        if self.recompute == "full":
            parts.append(f"full recompute ({self.recompute_method} {self.recompute_num_layers})")
        elif self.recompute == "selective":
            parts.append("selective recompute")
        return ", ".join(parts)


def layer_params(shape: dict) -> int:
    """Parameters of one transformer layer (2 norms, QKV, output projection, SwiGLU MLP)."""
    h, d, f = shape["hidden_size"], shape["head_dim"], shape["ffn_hidden_size"]
    qkv = h * d * (shape["num_attention_heads"] + 2 * shape["num_query_groups"])
    return qkv + shape["num_attention_heads"] * d * h + 3 * h * f + 2 * h


def total_params(shape: dict, vocab: int) -> int:
    """All parameters: layers, final norm, embedding and (untied) output layer."""
    h = shape["hidden_size"]
    return shape["num_layers"] * layer_params(shape) + h + vocab * h * (1 if shape["tied_embeddings"] else 2)


def gpu_params(shape: dict, vocab: int, layout: Layout) -> int:
    """Parameters on the most loaded GPU: a first/last pipeline stage with its share of the layers,
    linear weights divided over the TP ranks (norms are replicated)."""
    h = shape["hidden_size"]
    layers = math.ceil(shape["num_layers"] / layout.pp)
    norms = 2 * h
    per_layer = (layer_params(shape) - norms) // layout.tp + norms
    embedding = vocab // layout.tp * h
    ends = embedding * (1 if shape["tied_embeddings"] else 2) + h if layout.pp == 1 else embedding + h
    return layers * per_layer + ends


def model_state_bytes(params: int, layout: Layout) -> dict:
    """Weights, gradients and optimizer state (main weights, Adam moments) of `params` parameters."""
    weights = params * (2 if layout.bf16 else 4)
    optimizer = params * (12 if layout.bf16 else 8)
    if layout.distributed_optimizer:
        optimizer = math.ceil(optimizer / layout.dp)
    return {"weights": weights, "gradients": params * 4, "optimizer": optimizer}


def _norm_bytes(sb: int, h: int, e: int, layout: Layout) -> int:
    """A fused RMSNorm keeps its input and the fp32 1/rms per token; torch's composite one (CPUs)
    keeps its input and the normalized input, both upcast to fp32."""
    sp = layout.tp if layout.sequence_parallel and layout.tp > 1 else 1
    return (sb * h * (e if layout.fused_norm else 8) + sb * 4) // sp


def layer_activation_bytes(shape: dict, layout: Layout) -> dict:
    """What one layer keeps for its backward pass for one micro-batch, by part (bytes)."""
    e, t = (2 if layout.bf16 else 4), layout.tp
    s, sb = layout.seq_length, layout.seq_length * layout.micro_batch
    h, f, d, heads = shape["hidden_size"], shape["ffn_hidden_size"], shape["head_dim"], shape["num_attention_heads"]
    q, k = heads * d, shape["num_query_groups"] * d
    sp = t if layout.sequence_parallel and t > 1 else 1
    norm = _norm_bytes(sb, h, e, layout)
    linear_in = sb * h * e // sp
    # the QKV output stays alive (V is a view of it), Q and K after RoPE are new, RoPE's cos/sin
    qkv = sb * (q + 2 * k) * e // t + sb * (q + k) * e // t + 4 * s * d * e
    # the attention output (also the projection's input) and, unless recomputed, the kernel's own state
    core = sb * q * e // t
    if layout.recompute != "selective":
        core += sb * heads * 4 // t if layout.attention == "flash" else layout.micro_batch * heads * s * s * e // t
    return {"attention": norm + linear_in + qkv + core,
            "mlp": norm + linear_in + sb * f * e * (3 if layout.fused_swiglu else 5) // t}


def output_activation_bytes(shape: dict, vocab: int, layout: Layout) -> int:
    """The final norm and output-layer inputs, the loss's fp32 softmax and the token ids and targets."""
    e, t = (2 if layout.bf16 else 4), layout.tp
    sb = layout.seq_length * layout.micro_batch
    sp = t if layout.sequence_parallel and t > 1 else 1
    h = shape["hidden_size"]
    norm = _norm_bytes(sb, h, e, layout)
    return norm + sb * h * e // sp + sb * vocab * 4 // t + sb * 17


def activation_bytes(shape: dict, vocab: int, layout: Layout) -> dict:
    """Activations kept on the most loaded GPU: `stored` (between forward and backward) and `peak`
    (stored plus the recomputed group being rebuilt during the backward pass)."""
    layers = math.ceil(shape["num_layers"] / layout.pp)
    per_layer = sum(layer_activation_bytes(shape, layout).values())
    e, t = (2 if layout.bf16 else 4), layout.tp
    sp = t if layout.sequence_parallel and t > 1 else 1
    layer_input = layout.seq_length * layout.micro_batch * shape["hidden_size"] * e // sp
    rebuilt = 0
    if layout.recompute == "full":
        n = min(layout.recompute_num_layers, layers)
        if layout.recompute_method == "uniform":
            stored, rebuilt = math.ceil(layers / n) * layer_input, n * per_layer
        else:
            stored, rebuilt = n * layer_input + (layers - n) * per_layer, per_layer
    else:
        stored = layers * per_layer
    in_flight = max(1, min(layout.pp, layout.num_microbatches))  # 1F1B: micro-batches held by the first stage
    stored *= in_flight
    if layout.pp == 1:
        stored += output_activation_bytes(shape, vocab, layout)
        if layout.bf16:  # the bf16 logits beside their fp32 copy while the loss is computed
            rebuilt = max(rebuilt, layout.seq_length * layout.micro_batch * vocab * 2 // t)
    return {"per_layer": per_layer, "stored": stored, "peak": stored + rebuilt}


def memory(shape: dict, vocab: int, layout: Layout) -> dict:
    """Bytes per GPU: model states, activations and their total at the peak."""
    states = model_state_bytes(gpu_params(shape, vocab, layout), layout)
    acts = activation_bytes(shape, vocab, layout)
    return {**states, "activations": acts["peak"], "per_layer": acts["per_layer"],
            "total": sum(states.values()) + acts["peak"]}


def fits(total: int, card_gib: float) -> bool:
    return total <= (1 - HEADROOM) * card_gib * GIB


CARDS = (80, 141)  # GB: H100 / A100-80GB and H200


def layouts(train: dict) -> list[Layout]:
    """The settings the README compares for a recipe, from plain to everything on, on 1 to 64 GPUs."""
    seq, gbs, mbs = train["seq_length"], train["global_batch"], train["micro_batch"]
    rows = []
    for gpus, tp, pp in ((1, 1, 1), (8, 1, 1), (8, 2, 1), (8, 4, 1), (16, 2, 2), (64, 2, 1)):
        dp = gpus // (tp * pp)
        if gbs % (mbs * dp):
            continue  # the global batch does not split over this many data-parallel ranks
        base = Layout(tp=tp, pp=pp, dp=dp, micro_batch=mbs, seq_length=seq, num_microbatches=gbs // (mbs * dp))
        sharded = replace(base, distributed_optimizer=dp > 1, sequence_parallel=tp > 1)
        rows += [base, sharded] if gpus > 1 else [base]
        rows += [replace(sharded, recompute="selective"), replace(sharded, recompute="full")]
    return rows


def table(shape: dict, vocab: int, rows: list[Layout]) -> str:
    head = ("| layout | weights | grads | optimizer | act./layer | activations | total | "
            + " | ".join(f"{c} GB" for c in CARDS) + " |")
    lines = [head, "|" + "---|" * (7 + len(CARDS))]
    for layout in rows:
        m = memory(shape, vocab, layout)
        keys = ("weights", "gradients", "optimizer", "per_layer", "activations", "total")
        cells = [f"{m[k] / GIB:.1f}" for k in keys]
        marks = ["fits" if fits(m["total"], c) else "-" for c in CARDS]
        lines.append(f"| {layout.describe()} | " + " | ".join(cells + marks) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """`opencoder train-memory`: the memory table (GiB per GPU) of the paper's shapes."""
    from opencoder.core.config import add_config_args, load
    from opencoder.training.params import stage_params

    parser = argparse.ArgumentParser(prog="opencoder train-memory", description=main.__doc__.split(":")[1].strip())
    parser.add_argument("--shape", action="append", help="model.shapes entry (default: opencoder-1.5b, opencoder-8b)")
    add_config_args(parser)
    args = parser.parse_args(argv)
    config = load(*args.config)
    for name in args.shape or ["opencoder-1.5b", "opencoder-8b"]:
        config["model"]["name"] = name
        params = stage_params(config, "pretrain")
        shape, train = params["model"], params["train"]
        vocab = shape["vocab_size"] or config["tokenizer"]["vocab_size"]
        print(f"\n{name}: {total_params(shape, vocab) / 1e9:.2f}B parameters, sequence {train['seq_length']}, "
              f"global batch {train['global_batch']}; GiB per GPU, bf16; 'fits': total <= {1 - HEADROOM:.0%} "
              "of the card\n")
        print(table(shape, vocab, layouts(train)))
    return 0
