"""Annealing data: the keyword-selected algorithmic corpus, encoded, blended with the original
distribution at the paper's weights, in a blend file the training stage reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_documents
from test_train_resume import make_tokenizer

from opencoder.training import anneal_data

from opencoder.core import shards

from opencoder.tokenization import tokens
from opencoder.training.data import read_blend

ALGORITHMIC = [
    "# LeetCode 1: two sum\ndef two_sum(nums, target):\n    seen = {}\n    return seen\n",
    "class Solution:\n    def maxDepth(self, root):\n        return 0 if root is None else 1\n",
    "def solution(n):\n    return sum(range(n))\n",
]
OTHER = [
    "import os\nprint(os.getcwd())\n",
    "def helper(x):\n    return x + 1\n",
    "Some prose about solutions in general.\n",
]


def corpus(tmp: Path, texts: list[str]) -> Path:
    rows = [{"path": f"f{i}.py", "text": t, "language": "python" if i % 2 else "markdown"} for i, t in enumerate(texts)]
    path = tmp / "corpus" / "00000.parquet"
    shards.write_parquet(make_documents(rows), path)
    return path


@pytest.fixture
def setup(tmp_path):
    """A corpus shard, a tokenizer, and the pretraining token datasets of the corpus (tokens stage)."""
    shard = corpus(tmp_path, ALGORITHMIC + OTHER)
    tok = make_tokenizer(tmp_path / "tokenizer")
    groups = {"code": {"languages": ["python"], "weight": 0.9}, "text": {"languages": ["markdown"], "weight": 0.1}}
    tokens.encode([shard], tok, tmp_path / "tokens", groups)
    return tmp_path, shard, tok


def params(**extra) -> dict:
    return {"keywords": ["leetcode", "def solution", "class solution"], "original_weight": 84.21,
            "algorithmic_weight": 12.44, "extra": extra}


def test_selects_keyword_documents_and_blends_them_at_the_paper_weights(setup):
    tmp, shard, tok = setup
    out = tmp / "anneal_data"
    stats = anneal_data.build([shard], tok, tmp / "tokens" / "blend.json", out, params())

    assert stats["in"]["documents"] == 6 and stats["out"]["documents"] == 3
    assert stats["dropped"]["no_keyword"]["documents"] == 3
    assert stats["extra"]["keyword_documents"] == {"leetcode": 1, "def solution": 1, "class solution": 1}
    from megatron.core.datasets.indexed_dataset import IndexedDataset
    from tokenizers import Tokenizer

    data = IndexedDataset(str(out / "algorithmic"))
    backend = Tokenizer.from_file(str(tok / "tokenizer.json"))
    decoded = [backend.decode(list(data[i][:-1])) for i in range(len(data))]
    assert decoded == ALGORITHMIC  # exactly the keyword documents, in corpus order, each ended by EOD

    blend = json.loads((out / "blend.json").read_text())
    weights = {Path(prefix).name: weight for weight, prefix in blend["blend"]}
    assert weights["algorithmic"] == 12.44
    assert weights["code"] == pytest.approx(84.21 * 0.9) and weights["text"] == pytest.approx(84.21 * 0.1)
    loaded = read_blend(out / "blend.json")  # every dataset it names exists, relative to the blend file
    assert (tmp / "tokens" / "code.bin").resolve() == Path(loaded.prefixes[0] + ".bin").resolve()
    assert loaded.vocab_size == json.loads((tmp / "tokens" / "blend.json").read_text())["vocab_size"]


def test_no_keyword_document_leaves_the_original_distribution(setup, caplog):
    tmp, _, tok = setup
    shard = corpus(tmp / "plain", OTHER)
    anneal_data.build([shard], tok, tmp / "tokens" / "blend.json", tmp / "anneal", params())
    blend = json.loads((tmp / "anneal" / "blend.json").read_text())
    assert sorted(Path(p).name for _, p in blend["blend"]) == ["code", "text"]
    assert "left out" in caplog.text


def test_extra_set_from_another_tokenizer_is_refused(setup):
    tmp, shard, tok = setup
    other = tmp / "other"
    other.mkdir()
    (other / "blend.json").write_text(json.dumps({"blend": [[1, "x"]], "groups": {}, "vocab_size": 7,
                                                  "eod_id": 0, "pad_id": None, "tokenizer": "."}))
    with pytest.raises(ValueError, match=str(other / "blend.json")):
        anneal_data.build([shard], tok, tmp / "tokens" / "blend.json", tmp / "anneal",
                          params(textbooks={"blend": str(other / "blend.json"), "weight": 0.91}))


def test_without_high_quality_data_the_blend_is_the_original_distribution_alone(setup):
    """Paper 7's annealing ablation: the algorithmic corpus is still selected and counted, but neither it
    nor the extra sets nor the synthetic recipes enter the blend."""
    tmp, shard, tok = setup
    extra = {"textbooks": {"blend": str(tmp / "tokens" / "blend.json"), "weight": 0.91}}
    stats = anneal_data.build([shard], tok, tmp / "tokens" / "blend.json", tmp / "anneal",
                              {**params(**extra), "high_quality": False, "synthetic": {"snippets": 2.71}},
                              {"snippets": kept_file(tmp / "synthetic" / "snippets" / "kept.jsonl", ["def f():\n    return 1\n"])})
    assert stats["out"]["documents"] == 3
    blend = json.loads((tmp / "anneal" / "blend.json").read_text())
    assert sorted(Path(p).name for _, p in blend["blend"]) == ["code", "text"]
    assert "algorithmic" not in blend["groups"]


def kept_file(path: Path, texts: list[str]) -> Path:
    """A synthetic recipe's kept.jsonl (the synthesize stage's output format for annealing recipes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"id": f"s-{i}", "text": t, "seed": i}) + "\n" for i, t in enumerate(texts)))
    return path


def test_the_mixture_includes_the_synthetic_recipes_and_renormalises_without_an_empty_one(setup):
    tmp, shard, tok = setup
    snippets = kept_file(tmp / "synthetic" / "snippets" / "kept.jsonl",
                         ["def clamp(x, lo, hi):\n    return max(lo, min(x, hi))\n\nassert clamp(5, 0, 3) == 3\n",
                          "def sort_desc(xs):\n    return sorted(xs, reverse=True)\n\nassert sort_desc([1, 2]) == [2, 1]\n"])
    empty = kept_file(tmp / "synthetic" / "textbooks" / "kept.jsonl", [])
    out = tmp / "anneal_data"
    stats = anneal_data.build([shard], tok, tmp / "tokens" / "blend.json", out,
                              {**params(), "synthetic": {"snippets": 2.71, "textbooks": 0.91}},
                              {"snippets": snippets, "textbooks": empty})
    blend = json.loads((out / "blend.json").read_text())
    weights = {Path(prefix).name: weight for weight, prefix in blend["blend"]}
    assert weights["synthetic_snippets"] == 2.71 and "synthetic_textbooks" not in weights
    assert stats["extra"]["synthetic"]["snippets"]["documents"] == 2
    assert stats["extra"]["synthetic"]["textbooks"]["documents"] == 0
    assert any("textbooks kept no sample" in w for w in stats["extra"]["warnings"])
    assert sum(stats["extra"]["share"].values()) == pytest.approx(1.0, abs=1e-3)
    assert stats["extra"]["share"]["synthetic_snippets"] == pytest.approx(2.71 / (84.21 + 12.44 + 2.71), abs=1e-4)
    read_blend(out / "blend.json")  # the synthetic dataset files exist

    from megatron.core.datasets.indexed_dataset import IndexedDataset
    from tokenizers import Tokenizer

    data = IndexedDataset(str(out / "synthetic_snippets"))
    backend = Tokenizer.from_file(str(tok / "tokenizer.json"))
    assert backend.decode(list(data[0][:-1])).startswith("def clamp")


def test_a_weighted_recipe_without_its_file_is_a_config_error(setup):
    tmp, shard, tok = setup
    with pytest.raises(anneal_data.ConfigError, match="no kept samples given for \\['snippets'\\]"):
        anneal_data.build([shard], tok, tmp / "tokens" / "blend.json", tmp / "a", {**params(), "synthetic": {"snippets": 1}})
