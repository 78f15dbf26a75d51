"""GitHub text-file recall: the fastText classifier on a labelled split, and the filter keeping only
code-related text files (by name or by classifier score).

Labelled data the environment holds: code-related prose from the reStructuredText sources of Debian's
`python3.11-doc` (a system package of the project's set-up) and non-code prose from the license texts
every Debian system ships (`/usr/share/common-licenses`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from opencoder.core.config import ConfigError, load
from opencoder.data.filter.cli import complete
from opencoder.data.filter.engine import Engine
from opencoder.data.web import classifier
from opencoder.tokenization.tokenizer import train as train_tokenizer

PYTHON_DOC_SOURCES = Path("/usr/share/doc/python3.11/html/_sources/library")
LICENSES = Path("/usr/share/common-licenses")
SMALL = {"dim": 16, "word_ngrams": 2, "epoch": 10, "min_count": 1, "lr": 0.5, "bucket": 20000}


def paragraphs(files: list[Path], limit: int) -> list[str]:
    """Paragraphs of at least 200 characters, in file order, at most `limit`."""
    out = []
    for file in files:
        for block in file.read_text(encoding="utf-8", errors="replace").split("\n\n"):
            if len(block.strip()) >= 200:
                out.append(block.strip())
    return out[:limit]


def held_out(text: str) -> bool:
    """One in five examples, by content hash: the split does not depend on order."""
    return hashlib.blake2b(text.encode(), digest_size=4).digest()[0] % 5 == 0


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> dict:
    if not PYTHON_DOC_SOURCES.is_dir():
        pytest.fail(f"{PYTHON_DOC_SOURCES}: missing; the Debian package python3.11-doc is part of the set-up (Makefile)")
    code = paragraphs(sorted(PYTHON_DOC_SOURCES.glob("*.rst.txt")), 600)
    other = paragraphs(sorted(p for p in LICENSES.iterdir() if p.is_file()), 600)
    tokenizer = train_tokenizer(code + other, vocab_size=1000, special_tokens=["<|endoftext|>"])
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tokenizer.save(str(path))
    split = {name: ([t for t in texts if not held_out(t)], [t for t in texts if held_out(t)])
             for name, texts in (("code", code), ("other", other))}
    return {"tokenizer": path, **split}


@pytest.fixture(scope="module")
def trained(labelled, tmp_path_factory) -> tuple[classifier.Classifier, Path]:
    segment = classifier.Segmenter(labelled["tokenizer"])
    model = classifier.train(labelled["code"][0], labelled["other"][0], segment, SMALL, seed=1)
    path = tmp_path_factory.mktemp("model") / "model.bin"
    model.save(path)
    return model, path


def test_classifier_separates_a_held_out_split_far_better_than_chance(labelled, trained):
    model, _ = trained
    code, other = labelled["code"][1], labelled["other"][1]
    assert len(code) >= 30 and len(other) >= 10
    scores = model.score(code + other)
    truth = np.array([True] * len(code) + [False] * len(other))
    report = classifier.precision_recall(scores, truth, threshold=0.5)
    majority = max(truth.mean(), 1 - truth.mean())
    assert report["accuracy"] >= majority + 0.5 * (1 - majority)  # at least half the way from chance to perfect
    assert report["precision"] >= 0.9 and report["recall"] >= 0.8


def test_training_is_deterministic(labelled, trained):
    """A second training in the same process gives the same model (each trains in a fresh interpreter)."""
    model, _ = trained
    again = classifier.train(labelled["code"][0], labelled["other"][0], classifier.Segmenter(labelled["tokenizer"]),
                             SMALL, seed=1)
    texts = labelled["code"][1][:20] + labelled["other"][1][:20]
    np.testing.assert_allclose(again.score(texts), model.score(texts), rtol=1e-6)


def recall_engine(**text_recall) -> Engine:
    params = load()["filter"]
    return Engine({**params, "text_recall": {**params["text_recall"], **text_recall}})


def test_filter_keeps_text_files_recalled_by_name_or_classifier(labelled, trained):
    _, model_path = trained
    about_code = "\n".join(labelled["code"][1][:4]) + "\n"
    legal = "\n".join(labelled["other"][1][:4]) + "\n"
    docs = complete(pl.DataFrame({
        "id": ["a", "b", "c", "d"],
        "path": ["docs/usage.txt", "legal/terms.txt", "README.md", "pkg/tool.py"],
        "text": [about_code, legal, legal, "def f(x):\n    return x + 1\n" * 10],
    }), "test")
    decisions, _ = recall_engine(model=str(model_path), tokenizer=str(labelled["tokenizer"])).decide(docs, 10**6)
    by_path = {row["path"]: row for row in decisions.iter_rows(named=True)}
    assert "text_recall" not in by_path["docs/usage.txt"]["dropped_by"]  # the classifier recalls it
    assert by_path["docs/usage.txt"]["code_score"] >= 0.5
    assert "text_recall" in by_path["legal/terms.txt"]["dropped_by"]
    assert by_path["legal/terms.txt"]["code_score"] < 0.5
    assert "text_recall" not in by_path["README.md"]["dropped_by"]  # recalled by its name
    assert by_path["pkg/tool.py"]["code_score"] is None and "text_recall" not in by_path["pkg/tool.py"]["fired"]

    names_only, _ = recall_engine().decide(docs, 10**6)  # the default: no model, file names decide
    dropped = {row["path"] for row in names_only.iter_rows(named=True) if "text_recall" in row["dropped_by"]}
    assert dropped == {"docs/usage.txt", "legal/terms.txt"}


def test_model_without_tokenizer_or_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="needs `tokenizer`"):
        recall_engine(model=str(tmp_path / "m.bin"))
    with pytest.raises(ConfigError, match=r"text_recall.model: .*m.bin: no such file"):
        recall_engine(model=str(tmp_path / "m.bin"), tokenizer=str(tmp_path / "t.json"))
