"""`opencoder export`: a megatron-core distributed checkpoint → a Hugging Face `LlamaForCausalLM` folder.

The folder is self-contained: sharded safetensors weights, `config.json`, `generation_config.json`
and the tokenizer (with its ChatML chat template), so `AutoModelForCausalLM.from_pretrained` and
`AutoTokenizer.from_pretrained` load it with nothing else.

The checkpoint is read with `torch.distributed.checkpoint` alone, without megatron and without a
process group, whatever TP/PP it was trained with: a distributed checkpoint stores global tensors,
each layer parameter stacked over layers (`decoder.layers.<name>` is `[num_layers, ...]`). Name map
(the local layer spec saves its norms under Transformer Engine's names):

| megatron-core                                        | Hugging Face Llama                       |
|------------------------------------------------------|------------------------------------------|
| embedding.word_embeddings.weight                     | model.embed_tokens.weight                |
| decoder.layers.self_attention.linear_qkv.layer_norm_weight | layers.i.input_layernorm.weight    |
| decoder.layers.self_attention.linear_qkv.weight      | layers.i.self_attn.{q,k,v}_proj.weight   |
| decoder.layers.self_attention.linear_proj.weight     | layers.i.self_attn.o_proj.weight         |
| decoder.layers.mlp.linear_fc1.layer_norm_weight      | layers.i.post_attention_layernorm.weight |
| decoder.layers.mlp.linear_fc1.weight                 | layers.i.mlp.{gate,up}_proj.weight       |
| decoder.layers.mlp.linear_fc2.weight                 | layers.i.mlp.down_proj.weight            |
| decoder.final_layernorm.weight                       | model.norm.weight                        |
| output_layer.weight                                  | lm_head.weight                           |

The fused QKV rows are grouped per KV head (for each group: its query heads, then its key head,
then its value head), not stacked as [Q; K; V]; fc1 is [gate; up]. megatron's RoPE is the
rotate-half convention HF uses, so no row permutation is needed.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from opencoder.core.errors import InputError
from opencoder.core.args import add_io
from opencoder.core.config import add_config_args, stage_params
from opencoder.core.shards import atomic_dir

log = logging.getLogger(__name__)

LAYER_KEYS = {
    "input_layernorm.weight": "decoder.layers.self_attention.linear_qkv.layer_norm_weight",
    "qkv": "decoder.layers.self_attention.linear_qkv.weight",
    "self_attn.o_proj.weight": "decoder.layers.self_attention.linear_proj.weight",
    "post_attention_layernorm.weight": "decoder.layers.mlp.linear_fc1.layer_norm_weight",
    "fc1": "decoder.layers.mlp.linear_fc1.weight",
    "mlp.down_proj.weight": "decoder.layers.mlp.linear_fc2.weight",
}
GLOBAL_KEYS = {
    "model.embed_tokens.weight": "embedding.word_embeddings.weight",
    "model.norm.weight": "decoder.final_layernorm.weight",
    "lm_head.weight": "output_layer.weight",
}


def read_model_tensors(checkpoint: str | Path, keys) -> dict[str, torch.Tensor]:
    """The global tensors `keys` of a distributed checkpoint (no process group needed)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint import FileSystemReader

    reader = FileSystemReader(str(checkpoint))
    stored = reader.read_metadata().state_dict_metadata
    missing = [k for k in keys if k not in stored]
    if missing:
        raise InputError(f"{checkpoint}: checkpoint has no tensors {missing}")
    tensors = {k: torch.empty(stored[k].size, dtype=stored[k].properties.dtype) for k in keys}
    dcp.load(tensors, storage_reader=reader, no_dist=True)
    return tensors


def split_qkv(qkv: torch.Tensor, heads: int, groups: int, head_dim: int):
    """megatron's fused, per-KV-group QKV weight → HF (q_proj, k_proj, v_proj)."""
    per_group = heads // groups
    grouped = qkv.view(groups, per_group + 2, head_dim, qkv.shape[-1])
    hidden = qkv.shape[-1]
    q = grouped[:, :per_group].reshape(heads * head_dim, hidden)
    k = grouped[:, per_group].reshape(groups * head_dim, hidden)
    v = grouped[:, per_group + 1].reshape(groups * head_dim, hidden)
    return q, k, v


def llama_state_dict(tensors: dict[str, torch.Tensor], shape: dict, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """HF Llama weights from megatron's global checkpoint tensors."""
    out = {hf: tensors[mc] for hf, mc in GLOBAL_KEYS.items() if mc in tensors}
    if shape["tied_embeddings"]:
        out.pop("lm_head.weight", None)
    for i in range(shape["num_layers"]):
        p = f"model.layers.{i}."
        q, k, v = split_qkv(tensors[LAYER_KEYS["qkv"]][i], shape["num_attention_heads"],
                            shape["num_query_groups"], shape["head_dim"])
        gate, up = torch.chunk(tensors[LAYER_KEYS["fc1"]][i], 2, dim=0)
        out.update({
            p + "self_attn.q_proj.weight": q, p + "self_attn.k_proj.weight": k, p + "self_attn.v_proj.weight": v,
            p + "mlp.gate_proj.weight": gate, p + "mlp.up_proj.weight": up,
        })
        for hf in ("input_layernorm.weight", "self_attn.o_proj.weight", "post_attention_layernorm.weight",
                   "mlp.down_proj.weight"):
            out[p + hf] = tensors[LAYER_KEYS[hf]][i]
    return {k: v.to(dtype, copy=True).contiguous() for k, v in out.items()}  # own storage each


def llama_config(shape: dict, vocab_size: int, tokenizer, dtype: torch.dtype):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=shape["hidden_size"],
        intermediate_size=shape["ffn_hidden_size"],
        num_hidden_layers=shape["num_layers"],
        num_attention_heads=shape["num_attention_heads"],
        num_key_value_heads=shape["num_query_groups"],
        head_dim=shape["head_dim"],
        hidden_act="silu",
        max_position_embeddings=shape["max_position_embeddings"],
        rms_norm_eps=shape["norm_epsilon"],
        rope_parameters={"rope_type": "default", "rope_theta": float(shape["rotary_base"])},
        initializer_range=shape["init_method_std"],
        tie_word_embeddings=shape["tied_embeddings"],
        attention_bias=False,
        mlp_bias=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        dtype=dtype,
        architectures=["LlamaForCausalLM"],
    )


def generation_config(tokenizer):
    """Greedy decoding (the paper's evaluation setting) that stops at the end of a document or of a
    chat turn."""
    from transformers import GenerationConfig

    stop = [tokenizer.eos_token_id]
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id and im_end not in stop:
        stop.append(im_end)
    return GenerationConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=stop,
                            pad_token_id=tokenizer.pad_token_id, do_sample=False)


def export(checkpoint: str | Path, tokenizer_dir: str | Path, out: str | Path, *, dtype: str = "bfloat16") -> dict:
    """Write the HF folder `out`; return a summary (parameters, vocabulary, source iteration)."""
    from huggingface_hub import save_torch_state_dict
    from transformers import AutoTokenizer

    from opencoder.training.checkpoint import read_info

    info = read_info(checkpoint)
    shape, vocab = info["model"], info["vocab_size"]
    torch_dtype = getattr(torch, dtype)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    if len(tokenizer) > vocab:
        raise InputError(f"{tokenizer_dir}: tokenizer has {len(tokenizer)} entries, the model only {vocab}")
    if not tokenizer.chat_template:
        raise InputError(f"{tokenizer_dir}: tokenizer has no chat template")
    keys = list(GLOBAL_KEYS.values()) + list(LAYER_KEYS.values())
    if shape["tied_embeddings"]:
        keys.remove(GLOBAL_KEYS["lm_head.weight"])
    weights = llama_state_dict(read_model_tensors(checkpoint, keys), shape, torch_dtype)
    with atomic_dir(out) as tmp:
        save_torch_state_dict(weights, str(tmp), max_shard_size="5GB")
        llama_config(shape, vocab, tokenizer, torch_dtype).save_pretrained(str(tmp))
        generation_config(tokenizer).save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
    summary = {"parameters": sum(w.numel() for w in weights.values()), "vocab_size": vocab,
               "iteration": info["iteration"], "model": shape["name"]}
    log.info("exported %s (iteration %d, %d parameters) to %s", checkpoint, info["iteration"],
             summary["parameters"], out)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder export", description=__doc__.splitlines()[0])
    add_io(parser, "input", "--checkpoint", help="final checkpoint directory (of `opencoder train`)")
    parser.add_argument("--tokenizer", required=True, help="tokenizer folder (of the tokenizer stage)")
    add_io(parser, "output", "--out", help="Hugging Face folder to write")
    add_config_args(parser)
    args = parser.parse_args(argv)
    params = stage_params(args, "export")
    export(args.input, args.tokenizer, args.output, dtype=params["dtype"])
    return 0
