"""GitHub text-file recall (paper 2, Appendix C.2): a text file is kept only when it is code-related.

The code sources hold READMEs, notes, changelogs and prose of every kind; the paper keeps the ones
that are about code: a file whose name says so (`qsc_doc_cate_code_related_file_name`: readme, notes,
todo, description, cmakelists, requirement*) or one the code-related-text classifier scores at or above
`threshold` (`opencoder.data.web.classifier`: a fastText `model` and the `tokenizer` that segments
for it; with `model: null` the file names alone decide). Other text files are dropped with the rule
id `text_recall`; every text file's classifier score is kept in the decisions (`code_score`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl

from opencoder.core.config import ConfigError
from opencoder.core.languages import WEB_PAGE
from opencoder.data.filter import signals
from opencoder.data.web import classifier

class TextRecall:
    """The `filter.text_recall` section, ready to judge frames of documents."""

    RULE = "text_recall"

    def __init__(self, params: Mapping):
        self.enabled = bool(params["enabled"])
        self.threshold = float(params["threshold"])
        self.model = None
        if self.enabled and params["model"]:
            if not params["tokenizer"]:
                raise ConfigError("filter.text_recall: `model` needs `tokenizer` (the tokenizer.json it was trained with)")
            for key in ("model", "tokenizer"):
                if not Path(params[key]).exists():
                    raise ConfigError(f"filter.text_recall.{key}: {params[key]}: no such file")
            self.model = classifier.load(params["model"], classifier.Segmenter(params["tokenizer"]))

    def judge(self, frame: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
        """(dropped, code_score) per document: only text files not recalled by name or classifier are dropped;
        the score is null for other documents or without a model."""
        is_text = ((frame["doc_type"] == "text") & (frame["language"] != WEB_PAGE[0])).fill_null(False)  # files, not pages
        if not self.enabled:
            return pl.Series(self.RULE, [False] * frame.height), pl.Series("code_score", [None] * frame.height, pl.Float64)
        by_name = frame.select(signals.cate_code_related_file_name())[:, 0].fill_null(False)
        score = np.full(frame.height, np.nan)
        rows = np.flatnonzero(is_text.to_numpy())
        if self.model is not None and rows.size:
            score[rows] = self.model.score(frame["text"].gather(rows).to_list())
        scores = pl.Series("code_score", score).fill_nan(None)
        by_model = (scores >= self.threshold).fill_null(False)
        return (is_text & ~by_name & ~by_model).alias(self.RULE), scores
