"""`opencoder import`: a Hugging Face Llama-family checkpoint → a megatron-core distributed checkpoint.

The reverse of `opencoder export` with the same name map and QKV packing (`training.export`), so a
released base model (OpenCoder-1.5B/8B-Base, SmolLM2, ...) can be fine-tuned, annealed or further
pretrained by the build's own training driver. The source is a local folder, a GGUF file
(dequantized to float32 by transformers), a file shipped inside an installed Python package
(`package://NAME/FILE`), or a Hub id when the Hub is reachable. The model shape is read from the HF
config; shapes megatron's Llama layout cannot express (biases, scaled RoPE, other activations) are
refused rather than imported wrong.

The stage runs under `opencoder.training.launch` with tensor x pipeline parallel processes: each
rank builds its part of the `GPTModel` with the training code, copies its shards out of the HF
weights, and megatron's `dist_checkpointing` writes the checkpoint (model only, iteration 0, with
the `opencoder.json` every checkpoint carries). The tokenizer and its chat template are saved
beside it; tokenizers that ship their own code load only with `trust_remote_code: true`.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
from pathlib import Path

import torch

from opencoder.core.errors import InputError
from opencoder.training.export import megatron_tensors

log = logging.getLogger(__name__)
PACKAGE = "package://"


class SourceError(InputError):
    """A source that cannot be imported (missing, or not a Llama layout)."""


def resolve(source: str) -> tuple[str, str | None]:
    """(folder or Hub id, GGUF file name or None) of a configured source."""
    if source.startswith(PACKAGE):
        package, _, name = source[len(PACKAGE):].partition("/")
        spec = importlib.util.find_spec(package)  # located, not imported: the package may not import
        if spec is None or not spec.submodule_search_locations:
            raise SourceError(f"{source}: Python package {package!r} is not installed")
        source = str(Path(list(spec.submodule_search_locations)[0]) / name)
    path = Path(source)
    if path.suffix == ".gguf":
        if not path.is_file():
            raise SourceError(f"{source}: no such GGUF file")
        return str(path.parent), path.name
    if not path.exists() and (source.startswith((".", "/")) or source.count("/") != 1):
        raise SourceError(f"{source}: no such folder (and not a Hub id)")
    return source, None


def load_hf(source: str, *, trust_remote_code: bool = False):
    """(model in float32, tokenizer) of a source; GGUF weights are dequantized."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    where, gguf = resolve(source)
    kwargs = {"trust_remote_code": trust_remote_code}
    if gguf:
        kwargs["gguf_file"] = gguf
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
        if gguf:
            kwargs["quantization_config"] = GgufConfig(dequantize=True)
        model = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32, **kwargs)
    except (OSError, ValueError) as exc:  # unreachable Hub, no weights, code not trusted: say which
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(f"{source}: cannot be loaded ({first})") from exc
    return model.eval(), tokenizer


def _rope_theta(config) -> float:
    rope = getattr(config, "rope_parameters", None) or {}
    if rope.get("rope_type", "default") != "default":
        raise SourceError(f"RoPE scaling {rope.get('rope_type')!r}: only plain RoPE imports")
    return float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0)))


def shape_from_hf(config, name: str) -> dict:
    """The model shape (config `model.shapes` keys) of a HF Llama-family config."""
    problems = [f"{key}={getattr(config, key)}" for key in ("attention_bias", "mlp_bias")
                if getattr(config, key, False)]
    if getattr(config, "hidden_act", "silu") != "silu":
        problems.append(f"hidden_act={config.hidden_act}")
    if config.model_type not in ("llama", "mistral") or getattr(config, "sliding_window", None):
        problems.append(f"model_type={config.model_type}")
    if problems:
        raise SourceError(f"{name}: not a Llama layout megatron's GPTModel reproduces ({', '.join(problems)})")
    heads = config.num_attention_heads
    return {
        "name": name,
        "num_layers": config.num_hidden_layers,
        "hidden_size": config.hidden_size,
        "ffn_hidden_size": config.intermediate_size,
        "num_attention_heads": heads,
        "num_query_groups": config.num_key_value_heads or heads,
        "head_dim": getattr(config, "head_dim", None) or config.hidden_size // heads,
        "rotary_base": _rope_theta(config),
        "max_position_embeddings": config.max_position_embeddings,
        "vocab_size": config.vocab_size,
        "norm_epsilon": config.rms_norm_eps,
        "init_method_std": config.initializer_range,
        "tied_embeddings": bool(config.tie_word_embeddings),
    }


def fill_model(model, tensors: dict[str, torch.Tensor]) -> int:
    """Copy each local shard of `model` out of the global megatron tensors; return the count."""
    from megatron.core.dist_checkpointing.dict_utils import nested_values
    from megatron.core.dist_checkpointing.mapping import ShardedTensor, apply_factories

    state = model.sharded_state_dict()
    apply_factories(state)  # SwiGLU's fc1 becomes its gate and up shards (views of the parameter)
    filled = 0
    for shard in nested_values(state):
        if not isinstance(shard, ShardedTensor) or shard.key.endswith("_extra_state"):
            continue
        tensor = tensors[shard.key]
        n = shard.prepend_axis_num
        for layer in shard.global_offset[:n]:
            tensor = tensor[layer]
        window = tuple(slice(o, o + s) for o, s in zip(shard.global_offset[n:], shard.local_shape))
        with torch.no_grad():
            shard.data.copy_(tensor[window])
        filled += 1
    return filled


def import_checkpoint(source: str, out: str | Path, tokenizer_out: str | Path, *, tp: int = 1, pp: int = 1,
                      trust_remote_code: bool = False, name: str | None = None) -> dict:
    """Write the checkpoint `out` and the tokenizer folder `tokenizer_out` (the current process group
    holds tp x pp ranks, or one process); return a summary."""
    import torch.distributed as dist
    from megatron.core import parallel_state

    from opencoder.core.shards import atomic_dir
    from opencoder.training import checkpoint
    from opencoder.training.loop import init_distributed
    from opencoder.training.model import build_gpt, padded_vocab_size, transformer_config

    init_distributed(tp, pp, seed=0)
    hf, tokenizer = load_hf(source, trust_remote_code=trust_remote_code)
    shape = shape_from_hf(hf.config, name or Path(resolve(source)[1] or source).name)
    vocab = padded_vocab_size(shape, hf.config.vocab_size, tp)
    tensors = megatron_tensors(hf.state_dict(), shape, vocab)
    del hf
    model = build_gpt(shape, transformer_config(shape, tp=tp, pp=pp), vocab,
                      pre_process=parallel_state.is_pipeline_first_stage(),
                      post_process=parallel_state.is_pipeline_last_stage())
    filled = fill_model(model, tensors)
    info = {"model": shape, "vocab_size": vocab, "tokenizer_vocab_size": len(tokenizer),
            "eod_id": tokenizer.eos_token_id, "stage": "import", "source": source,
            "tensor_parallel": tp, "pipeline_parallel": pp}
    checkpoint.save(out, model, None, None, 0, info)
    if dist.get_rank() == 0:
        with atomic_dir(tokenizer_out) as tmp:
            tokenizer.save_pretrained(str(tmp))
    dist.barrier()
    summary = {"source": source, "model": shape, "vocab_size": vocab, "tensors_per_rank": filled,
               "parameters": sum(t.numel() for t in tensors.values()), "tensor_parallel": tp,
               "pipeline_parallel": pp, "chat_template": bool(tokenizer.chat_template)}
    log.info("imported %s (%d parameters, TP=%d PP=%d) to %s", source, summary["parameters"], tp, pp, out)
    return summary


def main(argv: list[str] | None = None) -> int:
    from opencoder.core.args import add_io
    from opencoder.core.config import ConfigError, add_config_args, stage_params
    from opencoder.core.shards import write_json

    parser = argparse.ArgumentParser(prog="opencoder import", description=__doc__.splitlines()[0])
    add_io(parser, "input", required=False,
           help="the model to import: a folder, .gguf file, package://PACKAGE/FILE or Hub id (default: import.source)")
    add_io(parser, "output", help="checkpoint directory to write")
    parser.add_argument("--tokenizer", required=True, help="folder to write the source's tokenizer to")
    parser.add_argument("--stats", required=True, help="stats JSON to write")
    add_config_args(parser)
    args = parser.parse_args(argv)
    params = stage_params(args, "import")
    source = args.input or params["source"]
    if not source:
        raise ConfigError("import.source: not set (a folder, .gguf file, package://PACKAGE/FILE or Hub id)")
    logging.getLogger("megatron").setLevel(logging.WARNING)
    import torch.distributed as dist

    summary = import_checkpoint(source, args.output, args.tokenizer,
                                tp=params["tensor_parallel"], pp=params["pipeline_parallel"],
                                trust_remote_code=params["trust_remote_code"], name=params["name"])
    if dist.get_rank() == 0:
        write_json({"stage": "import", "extra": summary}, args.stats)
    dist.destroy_process_group()
    return 0
