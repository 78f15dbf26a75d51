"""Tokens stage: megatron-core indexed datasets per group, merged from shards, read back by megatron."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from opencoder.core import shards

from opencoder.tokenization import tokenizer, tokens

STDLIB = Path(sysconfig.get_paths()["stdlib"])
GROUPS = {"py": {"languages": ["python"], "weight": 0.7}, "docs": {"doc_types": ["text"], "weight": 0.3}}
TOKENIZER_PARAMS = {
    "path": None, "vocab_size": 700, "sample_bytes": 10**9, "min_frequency": 2, "seed": 1,
    "special_tokens": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"],
    "eod_token": "<|endoftext|>", "pad_token": "<|pad|>",
}


def test_megatron_helpers_are_compiled():
    import megatron.core.datasets.helpers_cpp  # noqa: F401  (GPTDataset and BlendedDataset need it)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Three shards of real code (python) and prose (text, other languages), plus a tokenizer."""
    from conftest import make_documents

    root = tmp_path_factory.mktemp("corpus")
    code = [{"path": str(f.relative_to(STDLIB)), "text": f.read_text()} for f in sorted((STDLIB / "json").glob("*.py"))]
    prose = [
        {"path": f"doc{i}.md", "text": f"Section {i}.\nThe <|endoftext|> marker is text here.\n", "doc_type": "text", "language": "markdown"}
        for i in range(6)
    ]
    other = [{"path": "x.c", "text": "int main(void) { return 0; }\n", "language": "c"}]
    df = make_documents(code + prose + other)
    paths = []
    for i in range(3):
        paths.append(root / f"{i:05d}.parquet")
        shards.write_parquet(df[i::3], paths[-1])
    tokenizer.build(paths, root / "tokenizer", TOKENIZER_PARAMS)
    return {"paths": paths, "tokenizer": root / "tokenizer", "df": df}


def read_documents(prefix: Path) -> list[np.ndarray]:
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    ds = IndexedDataset(str(prefix))
    return [np.array(ds[i]) for i in range(len(ds))]  # copies: the views die with the mmap


def test_encode_documents_appends_eod_and_round_trips(tmp_path, corpus):
    backend, ids = tokenizer.load_backend(corpus["tokenizer"])
    texts = ["def f():\n    return 1\n", "x = '<|endoftext|>'\n", ""]
    counts = tokens.encode_documents(texts, corpus["tokenizer"], tmp_path / "ds")
    docs = read_documents(tmp_path / "ds")
    assert counts == {"documents": 3, "tokens": sum(len(d) for d in docs)}
    assert docs[0].dtype == np.uint16  # 700 entries fit
    for text, doc in zip(texts, docs):
        assert doc[-1] == ids["eod_id"]
        assert ids["eod_id"] not in doc[:-1]  # a literal "<|endoftext|>" in a file is text, not a boundary
        assert backend.decode(doc[:-1].tolist(), skip_special_tokens=False) == text
    # a caller's tokenizer object is left as it was
    tokens.encode_documents(texts, backend, tmp_path / "again", eod_id=ids["eod_id"])
    assert backend.encode_special_tokens is False
    assert (tmp_path / "again.bin").read_bytes() == (tmp_path / "ds.bin").read_bytes()


def test_large_vocabularies_use_int32():
    assert tokens.token_dtype(96_640) is np.int32
    assert tokens.token_dtype(65_536) is np.uint16


def test_no_partial_dataset_on_failure(tmp_path, corpus):
    def texts():
        yield "fine"
        raise RuntimeError("shard went away")

    with pytest.raises(RuntimeError):
        tokens.encode_documents(texts(), corpus["tokenizer"], tmp_path / "ds")
    assert list(tmp_path.iterdir()) == []


def test_groups_take_first_match_and_count_the_rest(tmp_path, corpus):
    stats = tokens.encode(corpus["paths"], corpus["tokenizer"], tmp_path, GROUPS)
    df = corpus["df"]
    assert stats["extra"]["groups"]["py"]["documents"] == (df["language"] == "python").sum()
    assert stats["extra"]["groups"]["docs"]["documents"] == 6
    assert stats["dropped"]["no_group"]["documents"] == 1  # the C file
    assert stats["in"]["documents"] == df.height


def test_merged_shards_equal_one_pass_and_blend_is_relative(tmp_path, corpus):
    whole = tmp_path / "whole"
    tokens.encode(corpus["paths"], corpus["tokenizer"], whole, GROUPS)
    parts = []
    for path in corpus["paths"]:
        parts.append(tmp_path / "shards" / path.stem)
        tokens.encode([path], corpus["tokenizer"], parts[-1], GROUPS)
    merged = tmp_path / "merged"
    tokens.merge_folders(parts, corpus["tokenizer"], merged, GROUPS)
    for group in GROUPS:
        for ext in ("bin", "idx"):
            assert (merged / f"{group}.{ext}").read_bytes() == (whole / f"{group}.{ext}").read_bytes()
    blend = json.loads((merged / "blend.json").read_text())
    assert blend["blend"] == [[0.7, "py"], [0.3, "docs"]]
    assert not Path(blend["tokenizer"]).is_absolute()  # the folder moves as a whole
    assert (merged / blend["tokenizer"]).resolve() == corpus["tokenizer"].resolve()
    assert blend["groups"] == shards.read_json(whole / "blend.json")["groups"]


def test_empty_group_is_left_out_of_the_blend(tmp_path, corpus):
    groups = {**GROUPS, "rust": {"languages": ["rust"], "weight": 0.5}}
    tokens.encode(corpus["paths"], corpus["tokenizer"], tmp_path, groups)
    blend = tokens.load_blend(tmp_path / "blend.json")
    assert [Path(p).name for p in blend.prefixes] == ["py", "docs"]
    assert blend.groups["rust"] == {"documents": 0, "tokens": 0}
    only_rust = {"rust": {"languages": ["rust"], "weight": 1}}
    tokens.encode(corpus["paths"], corpus["tokenizer"], tmp_path / "none", only_rust)  # one shard may hold none
    with pytest.raises(ValueError, match="no group has any documents"):  # the whole build may not
        tokens.merge_folders([tmp_path / "none"], corpus["tokenizer"], tmp_path / "merged", only_rust)


def test_megatron_builds_a_blended_gpt_dataset_from_the_blend(tmp_path, corpus):
    """The real consumer: megatron-core's BlendedMegatronDatasetBuilder + GPTDataset over blend.json."""
    import torch.distributed as dist
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig

    tokens.encode(corpus["paths"], corpus["tokenizer"], tmp_path / "tokens", GROUPS)
    blend = tokens.load_blend(tmp_path / "tokens" / "blend.json")
    cfg = GPTDatasetConfig(
        random_seed=1234, sequence_length=32, blend=blend.megatron(), split="100,0,0",
        path_to_cache=str(tmp_path / "cache"), tokenizer=blend.megatron_tokenizer(),
        reset_position_ids=False, reset_attention_mask=False, eod_mask_loss=False, create_attention_mask=False,
    )
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        train, valid, test = BlendedMegatronDatasetBuilder(GPTDataset, [400, 0, 0], lambda: True, cfg).build()
    finally:
        dist.destroy_process_group()
    assert valid is None and test is None and len(train) == 400
    samples = [train[i] for i in range(len(train))]
    share = np.bincount([int(s["dataset_id"]) for s in samples], minlength=2) / len(samples)
    assert share == pytest.approx([0.7, 0.3], abs=0.02)
    for s in samples[:50]:
        assert s["tokens"].shape == (32,) and int(s["tokens"].max()) < blend.vocab_size
        assert (s["tokens"][1:] == s["labels"][:-1]).all()
    docs_samples = [s for s in samples if int(s["dataset_id"]) == 1]
    assert any((s["tokens"] == blend.eod_id).any() for s in docs_samples)  # short documents: EOD inside samples


def test_bad_inputs_are_named(tmp_path, corpus):
    (tmp_path / "tok").mkdir()
    (tmp_path / "tok" / "tokenizer.json").write_text("{}")
    with pytest.raises(ValueError, match="tok/tokenizer.json"):
        tokens.encode(corpus["paths"], tmp_path / "tok", tmp_path / "out", GROUPS)
    bad = tmp_path / "00009.parquet"
    bad.write_bytes(b"PAR1 truncated")
    with pytest.raises(shards.ShardError, match="00009.parquet"):
        tokens.encode([bad], corpus["tokenizer"], tmp_path / "out", GROUPS)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_index_writer_writes_what_megatrons_builder_writes(tmp_path, dtype):
    """The stage writes `.bin`/`.idx` itself (no megatron import per job): byte for byte megatron's files,
    for documents added one by one and for datasets concatenated (`add_index`), empty ones included."""
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    rng = np.random.default_rng(17)
    parts = [[rng.integers(0, 60000, rng.integers(1, 50)).astype(dtype) for _ in range(n)] for n in (5, 0, 3)]
    for k, docs in enumerate(parts):
        builder = IndexedDatasetBuilder(str(tmp_path / f"m{k}.bin"), dtype=dtype)
        for doc in docs:
            builder.add_document(doc, [doc.size])
        builder.finalize(str(tmp_path / f"m{k}.idx"))
        writer = tokens.IndexWriter(tmp_path / f"o{k}.bin", dtype)
        if docs:
            writer.add_documents(np.concatenate(docs[:2]), [d.size for d in docs[:2]])
            writer.add_documents(np.concatenate(docs[2:]), [d.size for d in docs[2:]])
        writer.finalize(tmp_path / f"o{k}.idx")
        for ext in ("bin", "idx"):
            assert (tmp_path / f"o{k}.{ext}").read_bytes() == (tmp_path / f"m{k}.{ext}").read_bytes()
    builder = IndexedDatasetBuilder(str(tmp_path / "m.bin"), dtype=dtype)
    writer = tokens.IndexWriter(tmp_path / "o.bin", dtype)
    for k in range(3):
        builder.add_index(str(tmp_path / f"m{k}"))
        writer.add_index(tmp_path / f"o{k}")
    builder.finalize(str(tmp_path / "m.idx"))
    writer.finalize(tmp_path / "o.idx")
    for ext in ("bin", "idx"):
        assert (tmp_path / f"o.{ext}").read_bytes() == (tmp_path / f"m.{ext}").read_bytes()


def test_encoding_is_encode_batch_per_document(tmp_path, corpus):
    """Batched, flattened encoding gives each document's `encode` ids plus the end-of-document id."""
    backend, ids = tokenizer.load_backend(corpus["tokenizer"])
    texts = corpus["df"]["text"].to_list() + ["", "<|endoftext|> literally", "x" * 5000]
    tokens.encode_documents(texts, corpus["tokenizer"], tmp_path / "ds")
    backend.encode_special_tokens = True
    expected = [np.array(backend.encode(t, add_special_tokens=False).ids + [ids["eod_id"]]) for t in texts]
    got = read_documents(tmp_path / "ds")
    assert len(got) == len(expected) and all(np.array_equal(g, e) for g, e in zip(got, expected))
