"""The shared building blocks: atomic shard I/O, stats, config validation, the CLI entry."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest

from opencoder.core import config, shards, stats
from opencoder.core.documents import conform


def test_parquet_round_trip_and_no_partial_file_on_failure(tmp_path, documents):
    df = documents([{"path": "a.py", "text": "print(1)\n"}, {"path": "b.py", "text": "x = 2\n"}])
    target = tmp_path / "out" / "00000.parquet"
    shards.write_parquet(df, target)
    assert shards.read_documents(target).equals(df)

    with pytest.raises(RuntimeError):
        with shards.atomic_path(tmp_path / "half.parquet") as tmp:
            tmp.write_bytes(b"PAR1 half written")
            raise RuntimeError("killed mid-write")
    assert not (tmp_path / "half.parquet").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_corrupt_shard_error_names_the_file(tmp_path):
    bad = tmp_path / "00003.parquet"
    bad.write_bytes(b"PAR1" + b"\x00" * 64)
    with pytest.raises(shards.ShardError, match="00003.parquet"):
        shards.read_parquet(bad)


def test_missing_columns_are_named(documents):
    df = documents([{"path": "a.py", "text": "x"}]).drop("language")
    with pytest.raises(ValueError, match=r"missing document columns \['language'\]"):
        conform(df, where="shard 7")


def test_stage_stats_counts_languages_and_reasons(documents):
    before = documents(
        [
            {"path": "a.py", "text": "aaaa"},
            {"path": "b.c", "text": "bb", "language": "c"},
            {"path": "c.py", "text": "c"},
        ]
    )
    after = before.filter(pl.col("path") != "b.c")
    s = stats.stage_stats("demo", before, after, dropped={"too_short": before.filter(pl.col("path") == "b.c")})
    assert s["in"] == {"documents": 3, "bytes": 7}
    assert s["out"] == {"documents": 2, "bytes": 5}
    assert s["languages"]["c"] == {"in_documents": 1, "in_bytes": 2, "out_documents": 0, "out_bytes": 0}
    assert s["dropped"] == {"too_short": {"documents": 1, "bytes": 2}}
    merged = stats.merge([s, s])
    assert merged["in"] == {"documents": 6, "bytes": 14}
    assert merged["stage"] == "demo"


def test_config_default_and_smoke_validate():
    default = config.load()
    smoke = config.load("config/smoke.yaml")
    assert default["dedup"]["fuzzy"]["num_perm"] == 2048
    assert smoke["out_dir"] != default["out_dir"]


@pytest.mark.parametrize(
    "override, message",
    [
        ("preprocess: {max_file_bytes: lots}\n", "'lots' is not of type 'integer'"),
        ("preprocess: {max_file_byte: 10}\n", "Additional properties are not allowed"),
        ("no_such_section: 1\n", "Additional properties are not allowed"),
    ],
)
def test_invalid_config_is_a_clear_error(tmp_path, override, message):
    path = tmp_path / "bad.yaml"
    path.write_text(override)
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert "bad.yaml" in str(err.value) and message in str(err.value)


def test_cli_lists_stages_and_rejects_unknown():
    ok = subprocess.run([sys.executable, "-m", "opencoder", "--help"], capture_output=True, text=True)
    assert ok.returncode == 0 and "filter" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "opencoder", "frobnicate"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown stage 'frobnicate'" in bad.stderr
