"""The code-related-text classifier (paper 2): fastText over text segmented by the project's BPE tokenizer.

The paper segments text with a BPE tokenizer before fastText, which bounds the vocabulary and copes with
languages written without spaces; here the segmenter is the project's own byte-level BPE (`tokenizer.json`),
so its tokens (`Ġdef`, `Ċ`) never hold whitespace and one document is one fastText line. Every fastText
setting comes from config (`classifier`: dim, word_ngrams, epoch, min_count, lr, bucket, threshold); the
paper reports none of them, the defaults are DeepSeekMath's. Training uses one thread, a fixed seed and a
fresh interpreter per model (see `train`), so the same seeds give the same model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from opencoder.core.config import ConfigError
from opencoder.core.errors import InputError

POSITIVE, NEGATIVE = "__label__code", "__label__other"
MAX_CHARS = 100_000  # a page's first characters are enough to tell its kind; bounds segmenting time


class Segmenter:
    """Text → space-separated BPE tokens of its first `max_chars` characters, with the tokenizer of a
    `tokenizer.json` file or HF folder."""

    def __init__(self, path: str | Path, max_chars: int = MAX_CHARS):
        self.max_chars = max_chars
        from tokenizers import Tokenizer

        path = Path(path)
        file = path / "tokenizer.json" if path.is_dir() else path
        try:
            self.tokenizer = Tokenizer.from_file(str(file))
        except Exception as exc:  # tokenizers raises a bare Exception for a missing or damaged file
            raise InputError(f"{file}: not a readable tokenizer.json ({str(exc)[:200]})") from None
        self.vocab = [""] * self.tokenizer.get_vocab_size()
        for token, i in self.tokenizer.get_vocab().items():
            self.vocab[i] = token

    def __call__(self, texts: Sequence[str]) -> list[str]:
        # ids without offsets, then the vocabulary: the same tokens as `encode_batch(...).tokens` at
        # ~1.4x the speed (bench/web_speed.py); `encode_batch_fast`'s own `.tokens` differ from them
        encoded = self.tokenizer.encode_batch_fast([t[:self.max_chars] for t in texts], add_special_tokens=False)
        vocab = self.vocab
        return [" ".join([vocab[i] for i in e.ids]) for e in encoded]


@dataclass
class Classifier:
    """A trained fastText model and its segmenter; `score` gives P(code-related) per text."""
    model: object
    segment: Segmenter

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return self.predict(self.segment(texts))

    def predict(self, segmented: Sequence[str]) -> np.ndarray:
        """P(code-related) of texts already segmented (a caller that reuses the segmentation)."""
        if not segmented:
            return np.zeros(0)
        labels, probs = self.model.predict(list(segmented), k=2)
        return np.array([dict(zip(ls, ps)).get(POSITIVE, 0.0) for ls, ps in zip(labels, probs)]).clip(0.0, 1.0)

    def save(self, path: str | Path) -> None:
        self.model.save_model(str(path))


def _fasttext():
    import fasttext

    fasttext.FastText.eprint = lambda *a, **k: None  # its load-time warning goes to stderr on every load
    return fasttext


# fastText trains in a fresh interpreter: a second training in one process can read memory the first one
# left behind (fasttext-numpy2 0.10.4: the same file and seed then give other weights, at times NaN), while
# a process's first training is reproducible. Costs ~0.4 s per model.
_TRAIN = """
import json, sys
import fasttext
job = json.loads(sys.argv[1])
try:
    fasttext.train_supervised(**job["args"]).save_model(job["model"])
except RuntimeError as exc:
    sys.exit(f"fastText: {exc}")
"""


def train(positives: Sequence[str], negatives: Sequence[str], segment: Segmenter, settings: dict, seed: int) -> Classifier:
    """A classifier trained on labelled texts (one thread, seeded: the same inputs give the same model)."""
    return fit(segment(positives), segment(negatives), segment, settings, seed)


def fit(positives: Sequence[str], negatives: Sequence[str], segment: Segmenter, settings: dict, seed: int) -> Classifier:
    """`train` on texts already segmented by `segment`."""
    if not positives or not negatives:
        raise InputError(f"classifier: needs positives and negatives, got {len(positives)} and {len(negatives)}")
    lines = [f"{POSITIVE} {t}" for t in positives] + [f"{NEGATIVE} {t}" for t in negatives]
    order = np.random.default_rng(seed).permutation(len(lines))
    with tempfile.TemporaryDirectory(prefix="opencoder-fasttext-") as tmp:
        data, model_path = os.path.join(tmp, "train.txt"), os.path.join(tmp, "model.bin")
        with open(data, "w", encoding="utf-8") as fh:
            fh.writelines(lines[i] + "\n" for i in order)
        args = {"input": data, "dim": settings["dim"], "wordNgrams": settings["word_ngrams"], "epoch": settings["epoch"],
                "minCount": settings["min_count"], "lr": settings["lr"], "bucket": settings["bucket"],
                "thread": 1, "seed": seed, "verbose": 0}
        done = subprocess.run([sys.executable, "-c", _TRAIN, json.dumps({"args": args, "model": model_path})],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit status {done.returncode}"
            raise ConfigError(f"classifier: training failed ({why}); with NaN, lower the learning rate (lr {settings['lr']})")
        model = _fasttext().load_model(model_path)
    return Classifier(model, segment)


def load(model_path: str | Path, segment: Segmenter) -> Classifier:
    return Classifier(_fasttext().load_model(str(model_path)), segment)


def precision_recall(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    """Precision and recall of `score >= threshold` against boolean `labels` (None where undefined)."""
    predicted = scores >= threshold
    true_pos = int((predicted & labels).sum())
    return {
        "threshold": threshold, "examples": int(labels.size), "positives": int(labels.sum()),
        "precision": true_pos / int(predicted.sum()) if predicted.any() else None,
        "recall": true_pos / int(labels.sum()) if labels.any() else None,
        "accuracy": float((predicted == labels).mean()) if labels.size else None,
    }
