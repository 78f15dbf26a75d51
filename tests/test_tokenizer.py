"""Tokenizer stage: a byte-level BPE trained on a seeded corpus sample, or a given tokenizer adopted."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pytest

from opencoder.core import config, shards

from opencoder.tokenization import tokenizer

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def params(**over) -> dict:
    base = config.load(config.CONFIG_DIR / "smoke.yaml")["tokenizer"]
    return {**base, "vocab_size": 600, "sample_bytes": 10**9, **over}


def stdlib_corpus(documents, folder: Path, n_shards: int) -> list[Path]:
    """Real code (the interpreter's json and email packages) split into `n_shards` shards."""
    files = sorted((STDLIB / "json").glob("*.py")) + sorted((STDLIB / "email").glob("*.py"))
    df = documents([{"path": str(f.relative_to(STDLIB)), "text": f.read_text()} for f in files])
    paths = []
    for i in range(n_shards):
        paths.append(folder / f"{i:05d}.parquet")
        shards.write_parquet(df[i::n_shards], paths[-1])
    return paths


def test_training_is_deterministic_and_independent_of_sharding(tmp_path, documents):
    one = stdlib_corpus(documents, tmp_path / "one", 1)
    three = stdlib_corpus(documents, tmp_path / "three", 3)
    p = params(sample_bytes=200_000)
    tokenizer.build(one, tmp_path / "a", p)
    tokenizer.build(three, tmp_path / "b", p)
    tokenizer.build(one, tmp_path / "c", params(sample_bytes=200_000, seed=7))
    a, b, c = ((tmp_path / d / "tokenizer.json").read_bytes() for d in "abc")
    assert a == b  # same seed, same documents, other sharding: the same tokenizer, byte for byte
    assert a != c  # another seed draws another sample


def test_sample_respects_byte_budget(tmp_path, documents):
    paths = stdlib_corpus(documents, tmp_path / "corpus", 2)
    stats = tokenizer.build(paths, tmp_path / "tok", params(sample_bytes=50_000))
    sampled = stats["out"]["bytes"]
    largest = max(c["in_bytes"] for c in stats["languages"].values())
    assert 50_000 <= sampled < 50_000 + largest  # stops at the first document that crosses the budget
    assert stats["in"]["documents"] == stats["out"]["documents"] + stats["dropped"]["not_in_sample"]["documents"]


def test_trained_tokenizer_round_trips_code_and_speaks_chatml(tmp_path, documents):
    paths = stdlib_corpus(documents, tmp_path / "corpus", 1)
    stats = tokenizer.build(paths, tmp_path / "tok", params())
    tok = tokenizer.load(tmp_path / "tok")
    assert len(tok) == 600 == stats["extra"]["vocab_size"]
    # every special token is one id; EOD and pad are the configured ones
    for special in ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"):
        assert len(tok.encode(special, add_special_tokens=False)) == 1
    assert tok.eos_token == "<|endoftext|>" and tok.pad_token == "<|pad|>"
    assert stats["extra"]["eod_id"] == tok.convert_tokens_to_ids("<|endoftext|>")
    # byte-level: anything round-trips, including text never seen in training
    text = 'def f(x):\n\treturn x * 12345  # héllo, 世界 🙂\r\n'
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text
    # digits are split one by one
    digits = [tok.decode([i]) for i in tok.encode("x = 90817", add_special_tokens=False)]
    assert digits[-5:] == ["9", "0", "8", "1", "7"]
    chat = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert chat == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert stats["extra"]["bytes_per_token"] > 1.5  # BPE compresses code well beyond one byte per token


def test_given_tokenizer_gets_missing_special_tokens(tmp_path, documents):
    paths = stdlib_corpus(documents, tmp_path / "corpus", 1)
    plain = tokenizer.train([p.read_text() for p in sorted((STDLIB / "json").glob("*.py"))], 400, ["<|endoftext|>"])
    plain.save(str(tmp_path / "given.json"))
    stats = tokenizer.build(paths, tmp_path / "tok", params(path=str(tmp_path / "given.json")))
    tok = tokenizer.load(tmp_path / "tok")
    assert stats["extra"]["trained"] is False
    assert tok.convert_tokens_to_ids("<|endoftext|>") == plain.token_to_id("<|endoftext|>")
    assert {"<|im_start|>", "<|im_end|>", "<|pad|>"} <= set(tok.get_vocab())
    assert len(tok) == 403
    # ids of the given tokenizer are unchanged
    text = (STDLIB / "json" / "decoder.py").read_text()
    assert tok.encode(text, add_special_tokens=False) == plain.encode(text).ids


def test_bad_given_tokenizer_is_named(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    with pytest.raises(config.ConfigError, match="broken.json"):
        tokenizer.build([], tmp_path / "tok", params(path=str(bad)))
    assert not (tmp_path / "tok").exists()


def test_cli_writes_hf_folder_and_stats(tmp_path, documents):
    paths = stdlib_corpus(documents, tmp_path / "corpus", 2)
    out = tmp_path / "tok"
    assert tokenizer.main(["--input", *map(str, paths), "--output-dir", str(out), "--params", json.dumps(params())]) == 0
    assert {"tokenizer.json", "tokenizer_config.json", "stats.json"} <= {p.name for p in out.iterdir()}
    stats = shards.read_json(out / "stats.json")
    assert stats["stage"] == "tokenizer" and stats["out"]["documents"] == stats["in"]["documents"] > 0
