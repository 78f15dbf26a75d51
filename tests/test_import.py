"""Import: a Hugging Face Llama checkpoint → megatron-core. megatron's logits on the imported
checkpoint equal transformers' on the source (grouped-query attention, a head dim other than
hidden/heads, a RoPE theta other than the default, tied and untied embeddings, TP = 1 and 2), and
exporting the import gives back the source's weights exactly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from test_export import megatron_logits
from test_train_resume import cpu_env, make_tokenizer


def tiny_hf(folder: Path, *, tied: bool, **config) -> Path:
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    make_tokenizer(folder)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    torch.manual_seed(0)
    shape = dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, head_dim=24, max_position_embeddings=128,
                 rope_parameters={"rope_type": "default", "rope_theta": 50000.0}, tie_word_embeddings=tied,
                 eos_token_id=tokenizer.eos_token_id)
    LlamaForCausalLM(LlamaConfig(**{**shape, **config})).save_pretrained(str(folder))
    return folder


def import_command(source: Path | str, tmp: Path, tp: int) -> list[str]:
    """`opencoder import` of `source` at TP = `tp` into tmp/checkpoint, tmp/tokenizer, tmp/stats.json."""
    params = {"source": None, "name": "tiny-hf", "trust_remote_code": False, "tensor_parallel": tp,
              "pipeline_parallel": 1}
    return [sys.executable, "-m", "opencoder.training.launch", "--gpus-per-node", str(tp), "--", "import",
            "--input", str(source), "--output", str(tmp / "checkpoint"), "--tokenizer", str(tmp / "tokenizer"),
            "--stats", str(tmp / "stats.json"), "--params", json.dumps(params)]


def run_import(source: Path | str, tmp: Path, tp: int) -> Path:
    result = subprocess.run(import_command(source, tmp, tp), env=cpu_env(), capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return tmp / "checkpoint"


def hf_logits(folder: Path, tokens: torch.Tensor) -> torch.Tensor:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    with torch.no_grad():
        return model(tokens).logits


@pytest.mark.parametrize("tied,tp", [
    (True, 1), pytest.param(False, 2, marks=pytest.mark.slow), pytest.param(True, 2, marks=pytest.mark.slow)])
def test_imported_logits_equal_hf_and_export_gives_the_source_back(tmp_path, tied, tp):
    from opencoder.training.export import export

    source = tiny_hf(tmp_path / "hf", tied=tied)
    checkpoint = run_import(source, tmp_path, tp)
    info = json.loads((checkpoint / "opencoder.json").read_text())
    assert info["model"]["tied_embeddings"] is tied and info["model"]["head_dim"] == 24
    assert info["model"]["rotary_base"] == 50000.0 and info["tensor_parallel"] == tp
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["extra"]["chat_template"] is True

    vocab = info["vocab_size"]
    tokens = torch.randint(0, vocab, (2, 40), generator=torch.Generator().manual_seed(3))
    expected = hf_logits(source, tokens)
    actual = megatron_logits(checkpoint, tokens, tmp_path, tp)
    assert expected.abs().max() > 0.05
    torch.testing.assert_close(actual, expected, atol=2e-5, rtol=1e-4)

    out = tmp_path / "export"
    export(checkpoint, tmp_path / "tokenizer", out, dtype="float32")
    assert torch.equal(hf_logits(out, tokens), expected)
    config = json.loads((out / "config.json").read_text())
    assert config["tie_word_embeddings"] is tied and config["head_dim"] == 24


def test_import_refuses_what_megatron_cannot_reproduce(tmp_path):
    from transformers import AutoConfig

    from opencoder.training.import_hf import SourceError, resolve, shape_from_hf

    with pytest.raises(SourceError, match="no such GGUF file"):
        resolve(str(tmp_path / "model.gguf"))
    with pytest.raises(SourceError, match="no such folder"):
        resolve(str(tmp_path / "missing"))
    with pytest.raises(SourceError, match="not installed"):
        resolve("package://no_such_package_here/model.gguf")
    source = tiny_hf(tmp_path / "hf", tied=False, attention_bias=True)
    with pytest.raises(SourceError, match="attention_bias=True"):
        shape_from_hf(AutoConfig.from_pretrained(str(source)), "hf")
