"""A model shape from config → a Llama-style megatron-core `GPTModel` (SwiGLU, RMSNorm, RoPE, GQA).

Two layer specs (`train.layer_spec`): Transformer Engine's (fused norm+linear, TE attention kernels)
when `transformer_engine` is importable, which is the GPU path, and otherwise megatron-core's *local*
spec with two changes: the core attention calls PyTorch's scaled-dot-product attention (the local
`DotProductAttention` materialises the [batch, heads, seq, seq] score matrix and runs out of memory
at the OpenCoder-1.5B shape with 4,096 tokens on an 80 GB GPU; SDPA picks a flash or memory-efficient
kernel there and is exact on the CPU), and the norms are a torch RMSNorm that takes part in sequence
parallelism (megatron's torch-norm wrapper refuses it).

Shape keys (config `model.shapes.<name>`): num_layers, hidden_size, ffn_hidden_size,
num_attention_heads, num_query_groups (KV heads), head_dim, rotary_base, max_position_embeddings,
vocab_size (null: the tokenizer's), norm_epsilon, init_method_std, tied_embeddings. There are no
biases anywhere, as in the paper's models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def padded_vocab_size(shape: dict, tokenizer_vocab: int, tp: int) -> int:
    """The embedding rows: the shape's vocabulary (or the tokenizer's), a multiple of TP."""
    vocab = shape.get("vocab_size") or tokenizer_vocab
    if vocab < tokenizer_vocab:
        raise ValueError(
            f"model vocab_size {vocab} is smaller than the tokenizer's vocabulary ({tokenizer_vocab})"
        )
    return -(-vocab // tp) * tp


def transformer_config(shape: dict, *, tp: int = 1, pp: int = 1, bf16: bool = False, fused: bool = False,
                       sequence_parallel: bool = False, recompute: str = "none", recompute_method: str = "uniform",
                       recompute_num_layers: int = 1):
    """megatron `TransformerConfig` of a shape. `fused`: the torch.compile fusions (GPU only);
    `sequence_parallel`: norms and residuals sharded along the sequence over the TP ranks (TP > 1);
    `recompute`: "none", "selective" (core attention) or "full" (whole layers, `recompute_method`
    "uniform": groups of `recompute_num_layers` layers, "block": the first `recompute_num_layers`
    layers of each pipeline stage)."""
    from megatron.core.transformer.transformer_config import TransformerConfig

    full = recompute == "full"

    return TransformerConfig(
        num_layers=shape["num_layers"],
        hidden_size=shape["hidden_size"],
        ffn_hidden_size=shape["ffn_hidden_size"],
        num_attention_heads=shape["num_attention_heads"],
        num_query_groups=shape["num_query_groups"],
        kv_channels=shape["head_dim"],
        gated_linear_unit=True,  # SwiGLU: silu(gate) * up
        activation_func=F.silu,
        normalization="RMSNorm",
        layernorm_epsilon=shape["norm_epsilon"],
        add_bias_linear=False,
        add_qkv_bias=False,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        init_method_std=shape["init_method_std"],
        tensor_model_parallel_size=tp,
        pipeline_model_parallel_size=pp,
        sequence_parallel=sequence_parallel and tp > 1,
        recompute_granularity=None if recompute == "none" else recompute,
        recompute_method=recompute_method if full else None,
        recompute_num_layers=recompute_num_layers if full else None,
        use_cpu_initialization=True,  # the same initial weights for every TP size
        bf16=bf16,
        params_dtype=torch.bfloat16 if bf16 else torch.float32,
        pipeline_dtype=torch.bfloat16 if bf16 else torch.float32,
        bias_activation_fusion=fused,
        bias_dropout_fusion=fused,
        cross_entropy_loss_fusion=fused,
        cross_entropy_fusion_impl="native",
        gradient_accumulation_fusion=False,
        masked_softmax_fusion=False,
        persist_layer_norm=False,
        apply_rope_fusion=False,
    )


def _sdpa_attention_class():
    from megatron.core.transformer.dot_product_attention import DotProductAttention

    class SDPACoreAttention(DotProductAttention):
        """Causal core attention through `F.scaled_dot_product_attention`; the mask argument is
        ignored (plain causal pretraining, documents are not masked from each other)."""

        def forward(self, query, key, value, attention_mask, attn_mask_type=None,
                    attention_bias=None, packed_seq_params=None):
            if packed_seq_params is not None or attention_bias is not None:
                raise NotImplementedError("SDPA core attention: packed sequences and attention bias")
            groups = self.num_query_groups_per_partition
            q, k, v = (t.permute(1, 2, 0, 3) for t in (query, key, value))  # [b, heads, s, d]
            out = F.scaled_dot_product_attention(
                q, k, v, is_causal=True, scale=self.softmax_scale,
                enable_gqa=groups != self.num_attention_heads_per_partition,
            )
            seq, batch = query.shape[0], query.shape[1]
            return out.permute(2, 0, 1, 3).reshape(seq, batch, self.hidden_size_per_partition)

    return SDPACoreAttention


class RMSNorm(torch.nn.RMSNorm):
    """torch's RMSNorm with megatron's norm signature; under sequence parallelism each TP rank sees
    part of the sequence, so its weight is marked for the gradient all-reduce over the TP group."""

    def __init__(self, config, hidden_size: int, eps: float = 1e-5):
        super().__init__(hidden_size, eps=eps, dtype=config.params_dtype)
        self.weight.sequence_parallel = config.sequence_parallel


def transformer_engine_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("transformer_engine") is not None


def resolve_layer_spec(name: str) -> str:
    """`train.layer_spec`: "auto" is "transformer_engine" when it is importable, else "local"."""
    if name == "auto":
        return "transformer_engine" if transformer_engine_available() else "local"
    if name == "transformer_engine" and not transformer_engine_available():
        from opencoder.core.config import ConfigError

        raise ConfigError("config train: layer_spec is transformer_engine, but transformer_engine is not importable")
    return name


def layer_spec(spec: str = "local", attention: str = "sdpa"):
    """The layer spec: megatron-core's local one (norms: `RMSNorm`, core attention: SDPA, or with
    `attention="local"` the spec's own, the baseline the GPU benchmark compares against), or
    Transformer Engine's (its own norms and attention)."""
    from megatron.core.models.gpt import gpt_layer_specs

    if spec == "transformer_engine":
        return gpt_layer_specs.get_gpt_layer_with_transformer_engine_spec()
    if spec != "local":
        raise ValueError(f"layer spec {spec!r}: expected 'local' or 'transformer_engine'")
    layer = gpt_layer_specs.get_gpt_layer_local_spec(normalization="RMSNorm")
    layer.submodules.input_layernorm = layer.submodules.pre_mlp_layernorm = RMSNorm
    if attention == "sdpa":
        layer.submodules.self_attention.submodules.core_attention = _sdpa_attention_class()
    elif attention != "local":
        raise ValueError(f"attention {attention!r}: expected 'sdpa' or 'local'")
    return layer


def block_spec(config, spec: str = "local", attention: str = "sdpa"):
    """This pipeline stage's layers and the final norm (megatron's default final norm is its torch
    wrapper, which refuses sequence parallelism)."""
    from megatron.core.transformer.transformer_block import TransformerBlockSubmodules, get_num_layers_to_build

    if spec == "transformer_engine":
        from megatron.core.extensions.transformer_engine import TENorm as final_norm
    else:
        final_norm = RMSNorm
    layer = layer_spec(spec, attention)
    return TransformerBlockSubmodules(layer_specs=[layer] * get_num_layers_to_build(config), layer_norm=final_norm)


def build_gpt(shape: dict, config, vocab_size: int, *, parallel_output: bool = True,
              pre_process: bool = True, post_process: bool = True, attention: str = "sdpa", spec: str = "local"):
    """The GPTModel of `shape` on the current device (parallel state must be initialised);
    `pre_process`/`post_process`: whether this pipeline stage holds the embedding / output layer;
    `spec`: "local" or "transformer_engine" (see `resolve_layer_spec`)."""
    from megatron.core.models.gpt import GPTModel

    model = GPTModel(
        config=config,
        transformer_layer_spec=block_spec(config, spec, attention),
        vocab_size=vocab_size,
        max_sequence_length=shape["max_position_embeddings"],
        position_embedding_type="rope",
        rotary_base=shape["rotary_base"],
        share_embeddings_and_output_weights=shape["tied_embeddings"],
        parallel_output=parallel_output,
        pre_process=pre_process,
        post_process=post_process,
    )
    return model.cuda() if torch.cuda.is_available() else model


def matmul_params(shape: dict, vocab_size: int) -> int:
    """Parameters that take part in matmuls (all but the embedding lookup and the norms): the N of
    the 6·N FLOPs-per-token estimate behind MFU."""
    h, d = shape["hidden_size"], shape["head_dim"]
    qkv = h * d * (shape["num_attention_heads"] + 2 * shape["num_query_groups"])
    proj = shape["num_attention_heads"] * d * h
    mlp = 3 * h * shape["ffn_hidden_size"]
    return shape["num_layers"] * (qkv + proj + mlp) + vocab_size * h
