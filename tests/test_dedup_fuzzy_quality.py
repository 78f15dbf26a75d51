"""The LSH's measured candidate rate follows its S-curve; the quality tool reports it."""

from __future__ import annotations

import json
import random

import numpy as np
import polars as pl

from dedup_corpus import as_code, edit, words
from opencoder.core.config import load, section
from opencoder.data.dedup.fuzzy import cli
from opencoder.data.dedup.fuzzy.params import FuzzyParams
from opencoder.data.dedup.fuzzy.quality import pair_table, report

DEFAULTS = section(load(), "dedup.fuzzy")


def pairs_across_the_curve(n_pairs: int, seed: int) -> list[str]:
    """Independent (original, edited) pairs; 1-5 changed words in 1,000 put Jaccard at ~0.95-0.99."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n_pairs):
        base = words(rng, 1000)
        texts += [as_code(base), as_code(edit(base, rng, rng.randint(1, 5)))]
    return texts


def test_measured_candidate_rate_matches_the_s_curve():
    params = FuzzyParams.from_config(DEFAULTS)  # the paper's 16 x 128
    table = pair_table(pairs_across_the_curve(300, seed=1), params, random_pairs=500)
    similar = table.filter(pl.col("kind") != "random")
    assert similar.height >= 290  # the sensitive pool finds (nearly) every constructed pair
    # overall: candidates found vs expected, as a z-score of independent Bernoulli trials
    p = similar["expected"].to_numpy()
    z = (similar["candidate"].sum() - p.sum()) / np.sqrt((p * (1 - p)).sum())
    assert abs(z) < 4, z
    rep = report(table, params)
    for b in rep["bins"]:
        assert abs(b["measured"] - b["expected"]) <= 4 * b["stderr"] + 0.02, b
    assert abs(rep["precision"] - rep["expected_precision"]) < 0.1
    assert abs(rep["recall"] - rep["expected_recall"]) < 0.1
    # random pairs of unrelated files are never candidates
    assert not table.filter(pl.col("kind") == "random")["candidate"].any()


def test_quality_command_prints_measured_next_to_theory(tmp_path, capsys):
    texts = pairs_across_the_curve(60, seed=2)
    pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts}).write_parquet(tmp_path / "00000.parquet")
    params = json.dumps({**DEFAULTS, "threshold": 0.9})
    assert cli.main(["quality", "--input", str(tmp_path), "--sample", "1000", "--out", str(tmp_path / "q.json"), "--params", params]) == 0
    shown = capsys.readouterr().out
    assert "measured  S-curve" in shown and "precision" in shown
    rep = json.loads((tmp_path / "q.json").read_text())
    assert rep["threshold"] == 0.9 and rep["pairs"] >= 60 and rep["recall"] > 0.9
