"""Sampling: per-language keep fractions from weights and byte caps, a seeded per-document draw."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from opencoder.data import sample

from opencoder.core import draw, shards, stats


def corpus(documents, n: int = 3000) -> pl.DataFrame:
    langs = ["java", "html", "python"]
    return documents(
        [{"path": f"f{i}.{langs[i % 3]}", "text": "x" * (100 + i % 50), "language": langs[i % 3]} for i in range(n)]
    )


def test_keep_fractions_combine_weights_and_caps():
    keep = sample.keep_fractions(
        {"java": 1000, "html": 1000, "python": 500},
        weights={"java": 0.445, "html": 0.5},
        byte_caps={"html": 100, "go": 10},
    )
    assert keep == {"go": 1.0, "html": 0.1, "java": 0.445, "python": 1.0}  # the smaller of weight and cap wins


def test_draw_is_deterministic_and_independent_of_layout(documents):
    df = corpus(documents)
    plan = sample.make_plan({"java": 1, "html": 1, "python": 1}, {"seed": 1234, "weights": {"java": 0.445, "html": 0.135}, "byte_caps": {}})
    kept, dropped = sample.apply(df, plan)
    assert kept.height + dropped.height == df.height
    # the same documents survive when the corpus is split and shuffled differently
    parts = [sample.apply(part, plan)[0] for part in (df[::2].reverse(), df[1::2])]
    assert sorted(pl.concat(parts)["id"]) == sorted(kept["id"])
    assert sample.apply(df, plan)[0].equals(kept)
    # another seed, another draw
    other = sample.apply(df, {**plan, "seed": 99})[0]
    assert set(other["id"]) != set(kept["id"])


def test_kept_shares_follow_the_plan(documents):
    df = corpus(documents, 9000)
    plan = sample.make_plan({}, {"seed": 5, "weights": {"java": 0.445, "html": 0.135}, "byte_caps": {}})
    kept, _ = sample.apply(df, plan)
    share = {lang: kept.filter(pl.col("language") == lang).height / 3000 for lang in ("java", "html", "python")}
    assert share["python"] == 1.0
    assert share["java"] == pytest.approx(0.445, abs=0.03)
    assert share["html"] == pytest.approx(0.135, abs=0.03)


def test_byte_caps_from_stats_are_met_in_expectation(tmp_path, documents):
    df = corpus(documents, 9000)
    paths = []
    for i in range(3):  # the filter stage's per-shard stats are the plan's input
        part = df[i::3]
        paths.append(tmp_path / f"{i:05d}.stats.json")
        shards.write_json(stats.stage_stats("filter", part, part), paths[-1])
    java_bytes = df.filter(pl.col("language") == "java")["bytes"].sum()
    assert sample.bytes_from_stats(paths)["java"] == java_bytes
    plan = sample.make_plan(sample.bytes_from_stats(paths), {"seed": 1, "weights": {}, "byte_caps": {"java": java_bytes // 4}})
    kept, _ = sample.apply(df, plan)
    assert kept.filter(pl.col("language") == "java")["bytes"].sum() == pytest.approx(java_bytes / 4, rel=0.08)


def test_cli_plan_then_apply_writes_corpus_and_stats(tmp_path, documents):
    df = corpus(documents, 600)
    shard = tmp_path / "filter" / "00000.parquet"
    shards.write_parquet(df, shard)
    params = json.dumps({"seed": 1234, "weights": {"html": 0.135}, "byte_caps": {}})
    plan = tmp_path / "plan.json"
    assert sample.main(["plan", "--shards", str(shard), "--output", str(plan), "--params", params]) == 0
    out, st = tmp_path / "corpus" / "00000.parquet", tmp_path / "corpus" / "00000.stats.json"
    assert sample.main(["apply", "--plan", str(plan), "--input", str(shard), "--output", str(out), "--stats", str(st)]) == 0
    written, s = shards.read_documents(out), shards.read_json(st)
    assert s["out"]["documents"] == written.height
    assert s["in"]["documents"] - s["out"]["documents"] == s["dropped"]["sampled_out"]["documents"]
    assert s["languages"]["java"]["out_documents"] == s["languages"]["java"]["in_documents"] == 200
    assert s["languages"]["html"]["out_documents"] < 60
    # without a plan, the shard plans for itself: the same result here
    again = tmp_path / "again.parquet"
    assert sample.main(["apply", "--input", str(shard), "--output", str(again), "--params", params]) == 0
    assert shards.read_documents(again).equals(written)


def test_damaged_shard_is_named(tmp_path):
    bad = tmp_path / "00002.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(shards.ShardError, match="00002.parquet"):
        sample.main(["apply", "--input", str(bad), "--output", str(tmp_path / "o.parquet"), "--params", '{"seed":1,"weights":{},"byte_caps":{}}'])
    assert not (tmp_path / "o.parquet").exists()


def test_draws_for_different_purposes_are_independent():
    ids = [f"doc-{i}" for i in range(20000)]
    a, b = draw.uniform(1, ids, "sample"), draw.uniform(1, ids, "tokenizer")
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.03
    assert 0.49 < a.mean() < 0.51 and a.min() >= 0 and a.max() < 1
    assert np.array_equal(a, draw.uniform(1, ids, "sample"))


def test_min_stars_drops_repositories_below_it_and_keeps_documents_without_stars(documents, tmp_path):
    """Paper 7's star filter (>= 5) before the draw: known stars below the minimum are dropped with
    the reason `few_stars`, unknown stars kept; with every weight 1 the draw keeps the rest whole."""
    stars = {"none.py": None, "zero.py": 0, "four.py": 4, "five.py": 5, "many.py": 1200}
    df = documents([{"path": path, "text": f"x = {i}\n", "repo": f"r/{path}", "stars": n}
                    for i, (path, n) in enumerate(stars.items())])
    shards.write_parquet(df, tmp_path / "in.parquet")
    plan = sample.make_plan({"python": 100}, {"seed": 1, "weights": {}, "byte_caps": {}, "min_stars": 5})
    result = sample.run_apply(plan, tmp_path / "in.parquet", tmp_path / "out.parquet", tmp_path / "stats.json")
    assert sorted(shards.read_documents(tmp_path / "out.parquet")["path"]) == ["five.py", "many.py", "none.py"]
    assert {r: d["documents"] for r, d in result["dropped"].items()} == {"few_stars": 2}
    off = sample.make_plan({"python": 100}, {"seed": 1, "weights": {}, "byte_caps": {}, "min_stars": None})
    assert sample.apply(df, off)[0].height == 5
    assert "few_stars" not in sample.run_apply(off, tmp_path / "in.parquet", tmp_path / "o2.parquet", None)["dropped"]
