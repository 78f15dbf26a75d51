"""Exact dedup on constructed duplicates with a known answer, across shards, incl. the keep rule."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest
import yaml

from opencoder.data.dedup import exact as exact_dedup

from opencoder.core import shards
from opencoder.core.documents import document_id
from opencoder.core.keep_rule import keep_first


def t(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=timezone.utc)


# Group A (same text in three shards): most stars wins though it is oldest.
# Group B: equal stars, the later commit wins. Group C: no metadata at all, smallest id wins.
# Group D: stars known beats stars unknown. `solo` has no duplicate.
SHARDS = [
    [
        {"id": "a1", "path": "a1.py", "text": "A\n", "stars": 5, "commit_time": t(2023)},
        {"id": "b1", "path": "b1.py", "text": "B\n", "stars": 7, "commit_time": t(2020)},
        {"id": "c2", "path": "c2.py", "text": "C\n"},
        {"id": "solo", "path": "solo.py", "text": "only once\n", "stars": 1},
    ],
    [
        {"id": "a2", "path": "a2.py", "text": "A\n", "stars": 50, "commit_time": t(2010)},
        {"id": "b2", "path": "b2.py", "text": "B\n", "stars": 7, "commit_time": t(2022)},
        {"id": "c1", "path": "c1.py", "text": "C\n"},
        {"id": "d1", "path": "d1.py", "text": "D\n", "commit_time": t(2024)},
    ],
    [
        {"id": "a3", "path": "a3.py", "text": "A\n", "stars": None, "commit_time": t(2024)},
        {"id": "d2", "path": "d2.py", "text": "D\n", "stars": 0, "commit_time": t(2000)},
        {"id": "A-not-dup", "path": "x.py", "text": "A\n\n"},  # one byte more: not a duplicate
    ],
]
EXPECTED_REMOVED = {"a1": "a2", "a3": "a2", "b1": "b2", "c2": "c1", "d1": "d2"}


@pytest.fixture
def shard_files(tmp_path, documents) -> list[Path]:
    files = []
    for i, rows in enumerate(SHARDS):
        files.append(tmp_path / "pre" / f"{i:05d}.parquet")
        shards.write_parquet(documents(rows), files[-1])
    return files


def run_steps(shard_files: list[Path], out: Path) -> None:
    """The three CLI steps, as the workflow runs them."""
    hash_files = [out / "hashes" / f.name for f in shard_files]
    for src, dst in zip(shard_files, hash_files):
        assert exact_dedup.main(["hashes", "--input", str(src), "--output", str(dst), "--params", '{"hash":"sha256"}']) == 0
    assert exact_dedup.main(["plan", "--input", *map(str, hash_files), "--output", str(out / "removed.parquet")]) == 0
    for src in shard_files:
        assert exact_dedup.main(["apply", "--input", str(src), "--removed", str(out / "removed.parquet"),
                                 "--output", str(out / src.name)]) == 0


def test_known_answer_across_shards_with_the_keep_rule(tmp_path, shard_files):
    run_steps(shard_files, tmp_path / "exact")
    removed = shards.read_parquet(tmp_path / "exact" / "removed.parquet")
    assert dict(removed.select("id", "kept_id").iter_rows()) == EXPECTED_REMOVED
    assert set(removed["reason"]) == {"exact"}
    assert removed.filter(pl.col("id") == "a1")["kept_path"][0] == "a2.py"

    kept = pl.concat([shards.read_documents(tmp_path / "exact" / f.name) for f in shard_files])
    all_ids = {row["id"] for rows in SHARDS for row in rows}
    assert set(kept["id"]) == all_ids - set(EXPECTED_REMOVED)
    assert kept["text"].is_duplicated().sum() == 0

    summary = json.loads((tmp_path / "exact" / "removed.summary.json").read_text())
    assert summary == {"documents": 11, "unique": 6, "removed": 5, "duplicate_groups": 4}
    first = json.loads((tmp_path / "exact" / "00000.stats.json").read_text())
    assert first["dropped"]["exact"] == {"documents": 3, "bytes": 6}  # a1, b1, c2
    assert first["extra"]["duplicate_kept_in_other_shard"] == 3
    assert first["out"]["documents"] == 1


def test_plan_is_independent_of_shard_order(tmp_path, shard_files):
    hash_files = []
    for f in shard_files:
        hash_files.append(tmp_path / f"h{f.name}")
        shards.write_parquet(exact_dedup.content_hashes(shards.read_documents(f)), hash_files[-1])
    forward, _ = exact_dedup.plan(hash_files)
    backward, _ = exact_dedup.plan(hash_files[::-1])
    assert forward.equals(backward)


def test_keep_rule_orders_stars_then_commit_time_then_id_nulls_last():
    frame = pl.DataFrame(
        {"id": ["z", "y", "x", "w", "v"], "stars": [None, 3, 3, 3, None],
         "commit_time": [t(2030), None, t(2020), t(2020), None], "g": [1] * 5},
        schema_overrides={"commit_time": pl.Datetime("us", "UTC")},
    )
    ranked = keep_first(frame, group="g")
    assert ranked["id"].to_list() == ["w", "x", "y", "z", "v"]
    assert ranked["kept_id"].unique().to_list() == ["w"]


@pytest.mark.slow
def test_workflow_runs_ingest_to_exact_dedup(tmp_path):
    """Snakemake: ingest checkpoint → preprocess → hashes → plan → per-shard dedup, on real files."""
    repo = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.py", "b.py", "copy_of_a.py"):
        (src / name).write_text("def f():\n    return 1\n" if name != "b.py" else "def g():\n    return 2\n")
    (src / "data.csv").write_text("1,2\n")
    config = {"out_dir": str(tmp_path / "out"), "ingest": {"shard_bytes": 1000, "sources": [
        {"name": "mini", "type": "directory", "path": str(src)}]}}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(config))

    def snakemake(*targets: str) -> None:
        subprocess.run([sys.executable, "-m", "snakemake", *targets, "-s", str(repo / "Snakefile"), "-d", str(repo),
                        "-c1", "--quiet", "all", "--configfile", str(repo / "config" / "smoke.yaml"),
                        str(tmp_path / "cfg.yaml")], check=True, capture_output=True)

    snakemake(str(tmp_path / "out" / "ingest"))
    targets = [str(tmp_path / "out" / "exact" / p.name) for p in sorted((tmp_path / "out" / "ingest").glob("0*.parquet"))]
    snakemake(*targets)
    kept = pl.concat([shards.read_documents(p) for p in targets])
    # equal text, no stars or dates: the smaller id survives; data.csv is an excluded type
    survivor, duplicate = sorted(["a.py", "copy_of_a.py"], key=lambda p: document_id("mini", "src", p))
    assert sorted(kept["path"]) == sorted(["b.py", survivor])
    removed = shards.read_parquet(tmp_path / "out" / "exact" / "removed.parquet")
    assert removed.select("path", "kept_path").rows() == [(duplicate, survivor)]
