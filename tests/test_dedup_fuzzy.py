"""Fuzzy dedup through its four workflow steps (the CLI the rules call) on corpora with a known answer."""

from __future__ import annotations

import json
import random

import polars as pl
import pytest

from dedup_corpus import as_code, edit, when, words
from opencoder.cli import main as opencoder
from opencoder.core import shards
from opencoder.core.config import load, section
from opencoder.data.dedup.fuzzy import cli
from opencoder.data.dedup.fuzzy.lsh import band_edges
from opencoder.data.dedup.fuzzy.params import FuzzyParams

DEFAULTS = section(load(), "dedup.fuzzy")


def run_workflow(tmp_path, shard_frames, **overrides):
    """Run signatures → buckets → clusters → remove like the workflow does; return the out folder."""
    cfg = json.dumps({**DEFAULTS, **overrides})
    exact, out = tmp_path / "exact", tmp_path / "fuzzy"
    names = [f"{i:05d}" for i in range(len(shard_frames))]
    for name, frame in zip(names, shard_frames):
        shards.write_parquet(frame, exact / f"{name}.parquet")
        assert cli.main(["signatures", "--input", str(exact / f"{name}.parquet"), "--keys", str(out / f"signatures/{name}.keys.parquet"),
                         "--docs", str(out / f"signatures/{name}.docs.parquet"), "--params", cfg]) == 0
    keys = [str(out / f"signatures/{n}.keys.parquet") for n in names]
    parts = FuzzyParams.from_config(json.loads(cfg)).band_ranges()
    for part in range(len(parts)):
        assert cli.main(["buckets", "--part", str(part), "--output", str(out / f"buckets/{part:03d}.parquet"), "--params", cfg,
                         "--input", *keys]) == 0
    assert cli.main(["clusters", "--edges", *[str(out / f"buckets/{p:03d}.parquet") for p in range(len(parts))],
                     "--docs", *[str(out / f"signatures/{n}.docs.parquet") for n in names],
                     "--documents", *[str(exact / f"{n}.parquet") for n in names],
                     "--clusters", str(out / "clusters.parquet"), "--removed", str(out / "removed.parquet"),
                     "--summary", str(out / "clusters.json"), "--params", cfg]) == 0
    for name in names:
        assert cli.main(["remove", "--input", str(exact / f"{name}.parquet"), "--clusters", str(out / "clusters.parquet"),
                         "--output", str(out / f"{name}.parquet"), "--params", cfg]) == 0
    return out


@pytest.fixture
def corpus(documents):
    """Two shards: near-duplicate clusters across shards, short files, unrelated files."""
    rng = random.Random(7)
    a, b, c = words(rng, 2000), words(rng, 2000), words(rng, 2000)
    s0 = documents([
        {"id": "a-orig", "path": "a0.py", "text": as_code(a), "stars": 10, "commit_time": when(5)},
        {"id": "a-edit", "path": "a1.py", "text": as_code(edit(a, rng)), "stars": 50, "commit_time": when(1)},
        {"id": "b-1", "path": "b1.py", "text": as_code(b), "stars": 3, "commit_time": when(2)},
        {"id": "short-1", "path": "s1.py", "text": "x = 1\n", "stars": None},
        {"id": "empty-1", "path": "e1.py", "text": "", "stars": 1},
        {"id": "lone-1", "path": "l1.py", "text": as_code(words(rng, 300))},
    ])
    s1 = documents([
        {"id": "a-reformatted", "path": "a2.py", "text": as_code(edit(a, rng), style=1), "stars": 50, "commit_time": when(9)},
        {"id": "b-2", "path": "b2.py", "text": as_code(edit(b, rng)), "stars": 3, "commit_time": when(2)},
        {"id": "c-1", "path": "c1.py", "text": as_code(c), "stars": 7},
        {"id": "short-2", "path": "s2.py", "text": "X  =  1", "stars": 0},
        {"id": "short-other", "path": "s3.py", "text": "y = 2\n", "stars": 0},
        {"id": "empty-2", "path": "e2.py", "text": "\n\n", "stars": None},
        {"id": "lone-2", "path": "l2.py", "text": as_code(words(rng, 300))},
    ])
    return [s0, s1]


def test_known_clusters_and_keep_rule(tmp_path, corpus):
    out = run_workflow(tmp_path, corpus)
    removed = pl.read_parquet(out / "removed.parquet")
    assert removed.columns == ["id", "reason", "cluster_id", "kept_id"]
    got = {row["id"]: row["kept_id"] for row in removed.iter_rows(named=True)}
    assert got == {
        "a-orig": "a-reformatted",   # most stars (50), then the latest commit wins over a-edit
        "a-edit": "a-reformatted",
        "b-2": "b-1",                # same stars, same commit time: the smallest id
        "short-1": "short-2",        # too short for a shingle: same normalised text; 0 stars beat unknown
        "empty-2": "empty-1",
    }
    assert set(removed["reason"]) == {"fuzzy"}
    clusters = pl.read_parquet(out / "clusters.parquet")
    # every removed document's cluster holds its kept representative, kept exactly once
    for row in removed.iter_rows(named=True):
        members = clusters.filter(pl.col("cluster_id") == row["cluster_id"])
        assert members.filter(pl.col("keep"))["id"].to_list() == [row["kept_id"]]
    summary = json.loads((out / "clusters.json").read_text())
    assert summary["clusters"] == 4 and summary["removed_documents"] == 5


def test_removal_per_shard_and_stats(tmp_path, corpus):
    out = run_workflow(tmp_path, corpus)
    kept = [pl.read_parquet(out / f"{i:05d}.parquet") for i in range(2)]
    assert kept[0]["id"].to_list() == ["b-1", "empty-1", "lone-1"]
    assert kept[1]["id"].to_list() == ["a-reformatted", "c-1", "short-2", "short-other", "lone-2"]
    assert kept[0].columns == corpus[0].columns
    stats = json.loads((out / "00000.stats.json").read_text())
    assert stats["stage"] == "fuzzy_dedup"
    assert stats["in"]["documents"] == 6 and stats["out"]["documents"] == 3
    assert stats["dropped"]["fuzzy_duplicate"]["documents"] == 3
    assert stats["dropped"]["fuzzy_duplicate"]["bytes"] == corpus[0].filter(
        pl.col("id").is_in(["a-orig", "a-edit", "short-1"]))["bytes"].sum()


def test_outputs_are_deterministic(tmp_path, corpus):
    first = run_workflow(tmp_path / "one", corpus)
    second = run_workflow(tmp_path / "two", corpus)
    for name in ["clusters.parquet", "removed.parquet", "clusters.json", "00000.parquet", "00001.parquet",
                 "signatures/00001.keys.parquet", "buckets/000.parquet"]:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_band_buckets_give_star_edges_and_partitioning_does_not_change_them(tmp_path, corpus):
    out = run_workflow(tmp_path, corpus)
    keys = sorted(out.glob("signatures/*.keys.parquet"))
    params = FuzzyParams.from_config(DEFAULTS)
    one_pass = band_edges(keys, params.short_band, partition_rows=10**9)
    many_passes = band_edges(keys, params.short_band, partition_rows=1)
    assert one_pass.sort("a", "b").equals(many_passes.sort("a", "b"))
    # short band: {short-1 (0,3), short-2 (1,3)} and {empty-1 (0,4), empty-2 (1,5)}: one edge each
    doc = lambda shard, row: shard << 32 | row  # noqa: E731
    assert sorted(one_pass.select("a", "b").iter_rows()) == [(doc(0, 3), doc(1, 3)), (doc(0, 4), doc(1, 5))]
    # a bucket of three gives two edges from its smallest member
    band0 = band_edges(keys, 0, partition_rows=10**9)
    a_cluster = band0.filter(pl.col("a") == doc(0, 0))
    assert a_cluster.height in (1, 2) and set(a_cluster["b"]) <= {doc(0, 1), doc(1, 0)}


def test_verify_jaccard_rejects_pairs_below_the_check(tmp_path, corpus):
    out = run_workflow(tmp_path, corpus, verify_jaccard=0.999)
    summary = json.loads((out / "clusters.json").read_text())
    assert summary["verified_pairs"] + summary["rejected_pairs"] == summary["candidate_pairs"]
    assert summary["rejected_pairs"] > 0
    removed = set(pl.read_parquet(out / "removed.parquet")["id"])
    # one changed word in 2,000 is ~0.995 Jaccard: rejected; the short/empty exact matches stay
    assert removed == {"short-1", "empty-2"}


def test_chain_of_edits_is_one_cluster(tmp_path, documents):
    rng = random.Random(3)
    base = words(rng, 3000)
    chain = [base]
    for _ in range(4):
        chain.append(edit(chain[-1], rng))
    frame = documents([{"id": f"v{i}", "path": f"v{i}.py", "text": as_code(t), "stars": i} for i, t in enumerate(chain)])
    out = run_workflow(tmp_path, [frame])
    removed = pl.read_parquet(out / "removed.parquet")
    assert sorted(removed["id"]) == ["v0", "v1", "v2", "v3"]
    assert set(removed["kept_id"]) == {"v4"} and removed["cluster_id"].n_unique() == 1


def test_no_duplicates_nothing_removed(tmp_path, documents):
    rng = random.Random(5)
    frame = documents([{"path": f"f{i}.py", "text": as_code(words(rng, 200))} for i in range(20)])
    out = run_workflow(tmp_path, [frame])
    assert pl.read_parquet(out / "removed.parquet").height == 0
    assert pl.read_parquet(out / "00000.parquet").equals(frame)


def test_damaged_shard_is_named(tmp_path, capsys):
    bad = tmp_path / "00000.parquet"
    bad.write_bytes(b"not parquet")
    rc = opencoder(["fuzzy-dedup", "signatures", "--input", str(bad), "--keys", str(tmp_path / "k.parquet"), "--docs", str(tmp_path / "d.parquet"),
                   "--params", json.dumps(DEFAULTS)])
    assert rc == 1 and str(bad) in capsys.readouterr().err
    assert not (tmp_path / "k.parquet").exists()


def test_threshold_picks_bands_and_prints_the_s_curve(capsys):
    params = FuzzyParams.from_config({**DEFAULTS, "threshold": 0.8})
    assert (params.bands, params.rows) == (89, 23)
    assert cli.main(["scurve", "--params", json.dumps({**DEFAULTS, "threshold": 0.8})]) == 0
    text = capsys.readouterr().out
    assert "89 bands x 23 rows" in text and "midpoint ~0.823" in text
    with pytest.raises(ValueError, match="num_perm"):
        FuzzyParams.from_config({**DEFAULTS, "bands": 32, "rows": 128})
