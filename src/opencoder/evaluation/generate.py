"""Batched decoding of completions from an exported Hugging Face model (greedy by default).

The paper evaluates with greedy decoding (temperature 0, one sample per problem). Prompts are
sorted by length and left-padded into batches, so a batch holds prompts of similar length;
generation stops at the model's end-of-text token or at a benchmark's stop sequence, and the
completion is cut right before the first stop sequence.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from opencoder.core.errors import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decoding:
    max_new_tokens: int = 512
    batch_size: int = 16
    samples: int = 1           # per prompt; more than 1 needs temperature > 0
    temperature: float = 0.0   # 0: greedy
    top_p: float = 1.0
    seed: int = 1234

    def __post_init__(self):
        if self.samples > 1 and self.temperature == 0:
            raise ValueError("several samples per problem need temperature > 0 (greedy samples are identical)")


def load_model(path: str | Path, device: str = "auto", dtype: str = "auto"):
    """The exported causal LM and its tokenizer, ready for batched left-padded generation."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    if not (path / "config.json").is_file():
        raise InputError(f"{path}: not a Hugging Face model folder (no config.json)")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).to(device).eval()
    log.info("model %s on %s (%s), %.1fM parameters", path, device, dtype, model.num_parameters() / 1e6)
    return model, tokenizer


def truncate(text: str, stop: Sequence[str]) -> str:
    """`text` up to (not including) the earliest stop sequence."""
    cut = min((i for s in stop if (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]


@torch.inference_mode()
def generate(model, tokenizer, prompts: Sequence[str], stop: Sequence[str], decoding: Decoding) -> list[list[str]]:
    """`decoding.samples` completions per prompt, in prompt order."""
    from transformers import GenerationConfig

    config = GenerationConfig(
        max_new_tokens=decoding.max_new_tokens,
        do_sample=decoding.temperature > 0,
        temperature=decoding.temperature if decoding.temperature > 0 else None,
        top_p=decoding.top_p if decoding.temperature > 0 else None,
        num_return_sequences=decoding.samples,
        eos_token_id=model.generation_config.eos_token_id or tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        stop_strings=list(stop) or None,
    )
    lengths = [len(tokenizer(p)["input_ids"]) for p in prompts]
    context = getattr(model.config, "max_position_embeddings", None)
    if context and max(lengths, default=0) + decoding.max_new_tokens > context:
        log.warning("longest prompt (%d tokens) + max_new_tokens (%d) exceeds the model's context (%d)",
                    max(lengths), decoding.max_new_tokens, context)
    order = sorted(range(len(prompts)), key=lambda i: (-lengths[i], i))
    out: list[list[str]] = [[] for _ in prompts]
    batches = [order[i : i + decoding.batch_size] for i in range(0, len(order), decoding.batch_size)]
    for number, batch in enumerate(tqdm(batches, desc="generate", unit="batch")):
        torch.manual_seed(decoding.seed + number)  # sampling reproducible batch by batch
        enc = tokenizer([prompts[i] for i in batch], return_tensors="pt", padding=True).to(model.device)
        tokens = model.generate(**enc, generation_config=config, tokenizer=tokenizer)
        texts = tokenizer.batch_decode(tokens[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        for j, text in enumerate(texts):
            out[batch[j // decoding.samples]].append(truncate(text, stop))
    return out
