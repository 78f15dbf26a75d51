"""`opencoder dedup` on a user's folder (exact then fuzzy) and `opencoder dedup-explain` on its output."""

from __future__ import annotations

import json
import random

import polars as pl
import pytest

from dedup_corpus import as_code, edit, words
from opencoder.cli import main as opencoder


@pytest.fixture
def folder(tmp_path):
    rng = random.Random(21)
    a, b = words(rng, 1500), words(rng, 1500)
    near = as_code(edit(a, rng), style=1)
    src = tmp_path / "in"
    src.mkdir()
    pl.DataFrame({  # no commit_time column at all
        "id": ["a", "a-exact", "b", "tiny", "lone"],
        "text": [as_code(a), as_code(a), as_code(b), "return None", as_code(words(rng, 200))],
        "stars": [5, 9, 1, None, 2],
    }).write_parquet(src / "part-a.parquet")
    pl.DataFrame({  # id and text only
        "id": ["a-near", "a-near-exact", "tiny-2", "b-near"],
        "text": [near, near, "RETURN  None;", as_code(edit(b, rng))],
    }).write_parquet(src / "part-b.parquet")
    return src


def test_standalone_dedup_exact_then_fuzzy(tmp_path, folder):
    out = tmp_path / "out"
    assert opencoder(["dedup", "--input", str(folder), "--output", str(out), "--threads", "2"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["clusters.parquet", "part-a.parquet", "part-b.parquet",
                                                      "removed.parquet", "summary.json"]
    removed = pl.read_parquet(out / "removed.parquet")
    assert removed.columns == ["id", "reason", "cluster_id", "kept_id"]
    got = {r["id"]: (r["reason"], r["kept_id"]) for r in removed.iter_rows(named=True)}
    assert got == {
        "a": ("exact", "a-exact"),             # 9 stars beat 5
        "a-near-exact": ("exact", "a-near"),   # no stars either: the smaller id
        "a-near": ("fuzzy", "a-exact"),        # known stars beat unknown
        "b-near": ("fuzzy", "b"),
        "tiny-2": ("fuzzy", "tiny"),           # too short for a shingle: equal normalised text
    }
    assert removed.filter(pl.col("reason") == "exact")["cluster_id"].null_count() == 2
    kept = pl.concat([pl.read_parquet(out / "part-a.parquet"), pl.read_parquet(out / "part-b.parquet")], how="diagonal")
    assert sorted(kept["id"]) == ["a-exact", "b", "lone", "tiny"]
    assert pl.read_parquet(out / "part-b.parquet").columns == ["id", "text"]
    # exact + fuzzy never remove a whole group: every removal leads, via kept_id, to a kept document
    kept_of = dict(zip(removed["id"], removed["kept_id"]))
    for ident in kept_of:
        while ident in kept_of:
            ident = kept_of[ident]
        assert ident in set(kept["id"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["exact"]["removed"] == 2 and summary["fuzzy"]["removed_documents"] == 3


def test_standalone_bands_rows_options_and_bad_input(tmp_path, folder, capsys):
    out = tmp_path / "out"
    assert opencoder(["dedup", "--input", str(folder), "--output", str(out), "--bands", "14", "--rows", "8", "--threads", "1"]) == 0
    assert json.loads((out / "summary.json").read_text())["params"]["bands"] == 14
    pl.DataFrame({"id": ["x"], "content": ["y"]}).write_parquet(folder / "bad.parquet")
    assert opencoder(["dedup", "--input", str(folder), "--output", str(tmp_path / "out2")]) == 1
    err = capsys.readouterr().err
    assert "bad.parquet" in err and "text" in err


def test_explain_shows_a_cluster_by_document_or_cluster_id(tmp_path, folder, capsys):
    out = tmp_path / "out"
    assert opencoder(["dedup", "--input", str(folder), "--output", str(out)]) == 0
    capsys.readouterr()
    assert opencoder(["dedup-explain", "b-near", "--dir", str(out), "--documents", str(folder)]) == 0
    shown = capsys.readouterr().out
    assert "kept b" in shown and "b-near" in shown and "jaccard_to_kept" in shown
    cluster = pl.read_parquet(out / "clusters.parquet").filter(pl.col("id") == "b")["cluster_id"][0]
    assert opencoder(["dedup-explain", str(cluster), "--dir", str(out)]) == 0
    assert "b-near" in capsys.readouterr().out
    assert opencoder(["dedup-explain", "lone", "--dir", str(out)]) == 1
    assert "neither" in capsys.readouterr().err
