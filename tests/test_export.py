"""Export: the Hugging Face model's logits equal megatron-core's on the same tokens, for a
grouped-query shape, a plain multi-head shape, and a checkpoint trained with tensor parallel 2.

The megatron side runs in its own processes (this file is also the worker script, under torchrun
for TP=2): the model is built by the project's training code at the checkpoint's TP size and loaded
from the checkpoint; the HF side is `transformers`' own LlamaForCausalLM loading the export folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from test_train_resume import cpu_env, make_tokenizer, tiny_params, train_command, write_blend

VOCAB = 512
SHAPES = {
    "gqa": {"num_attention_heads": 4, "num_query_groups": 2},
    "mha": {"num_attention_heads": 4, "num_query_groups": 4},
}


def train_checkpoint(tmp: Path, name: str, attention: dict, tp: int) -> Path:
    params = tiny_params(steps=3, warmup_steps=1, save_every=100, tensor_parallel=tp)
    params["model"].update(attention)
    blend = write_blend(tmp / "data")
    launch = [sys.executable, "-m", "opencoder.training.launch", "--gpus-per-node", str(tp), "--"]
    cmd = launch + train_command(tmp, name, params, blend)[3:]  # drop "python -m opencoder"
    result = subprocess.run(cmd, env=cpu_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return tmp / name / "checkpoint"


def megatron_logits(checkpoint: Path, tokens: torch.Tensor, tmp: Path, tp: int) -> torch.Tensor:
    torch.save(tokens, tmp / "tokens.pt")
    runner = [sys.executable] if tp == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={tp}"]
    cmd = runner + [__file__, str(checkpoint), str(tmp / "tokens.pt"), str(tmp / "logits.pt"), str(tp)]
    result = subprocess.run(cmd, env=cpu_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return torch.load(tmp / "logits.pt")


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    return make_tokenizer(tmp_path_factory.mktemp("tokenizer"))


@pytest.mark.slow
@pytest.mark.parametrize("name,tp", [("gqa", 1), ("mha", 1), ("gqa", 2)])
def test_hf_logits_equal_megatron_logits(tmp_path, tokenizer_dir, name, tp):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from opencoder.training.export import export

    checkpoint = train_checkpoint(tmp_path, name, SHAPES[name], tp)
    out = tmp_path / "hf"
    summary = export(checkpoint, tokenizer_dir, out, dtype="float32")
    assert summary["iteration"] == 3 and summary["vocab_size"] == VOCAB

    tokens = torch.randint(1, VOCAB, (2, 48), generator=torch.Generator().manual_seed(7))
    expected = megatron_logits(checkpoint, tokens, tmp_path, tp)
    model = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    with torch.no_grad():
        actual = model(tokens).logits
    assert actual.shape == expected.shape == (2, 48, VOCAB)
    assert expected.abs().max() > 0.1  # a trained model, not zeros
    torch.testing.assert_close(actual, expected, atol=2e-5, rtol=1e-4)

    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and config["tie_word_embeddings"] is False
    assert config["num_key_value_heads"] == SHAPES[name]["num_query_groups"]
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    chat = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                         add_generation_prompt=True)
    assert chat.endswith("<|im_start|>assistant\n")
    generation = json.loads((out / "generation_config.json").read_text())
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in generation["eos_token_id"]


def test_export_refuses_a_directory_that_is_not_a_checkpoint(tmp_path):
    from opencoder.training.export import export
    from opencoder.core.shards import ShardError

    with pytest.raises(ShardError, match="opencoder.json"):
        export(tmp_path, tmp_path, tmp_path / "hf")


def _megatron_worker(checkpoint: str, tokens_path: str, out_path: str, tp: str) -> None:
    """Logits of the checkpoint's model on the tokens, computed by megatron-core at TP=`tp`."""
    import torch.distributed as dist

    from opencoder.training import checkpoint as ckpt
    from opencoder.training.loop import init_distributed
    from opencoder.training.model import build_gpt, transformer_config

    info = ckpt.read_info(checkpoint)
    init_distributed(int(tp), 1, seed=0)
    shape = info["model"]
    model = build_gpt(shape, transformer_config(shape, tp=int(tp)), info["vocab_size"], parallel_output=False)
    ckpt.load(checkpoint, model)
    tokens = torch.load(tokens_path)
    positions = torch.arange(tokens.shape[1]).expand_as(tokens)
    with torch.no_grad():
        logits = model.eval()(tokens, positions, None)
    if dist.get_rank() == 0:
        torch.save(logits.float(), out_path)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    _megatron_worker(*sys.argv[1:])
