"""The corpus funnel: every stage's stats gathered, checked to add up, printed as a table."""

from __future__ import annotations

import logging

import polars as pl

from opencoder.data import funnel

from opencoder.core import shards, stats


def write_chain(root, documents):
    """Stats of a three-stage chain on two shards: ingest (one stats.json), filter and sample (per shard)."""
    df = documents(
        [{"path": f"f{i}", "text": "y" * (10 + i), "language": ["python", "java"][i % 2]} for i in range(40)]
    )
    ingest = stats.stage_stats("ingest", df, df)
    shards.write_json(ingest, root / "ingest" / "stats.json")
    for i in range(2):
        part = df[i::2]
        kept_f, dropped_f = part.filter(pl.col("bytes") > 20), part.filter(pl.col("bytes") <= 20)
        shards.write_json(stats.stage_stats("filter", part, kept_f, dropped={"too_short": dropped_f}), root / "filter" / f"0000{i}.stats.json")
        kept_s = kept_f.filter(pl.col("language") == "python")
        dropped_s = kept_f.filter(pl.col("language") != "python")
        shards.write_json(stats.stage_stats("sample", kept_f, kept_s, dropped={"sampled_out": dropped_s}), root / "corpus" / f"0000{i}.stats.json")
    return df


def test_funnel_gathers_stages_in_order_and_adds_up(tmp_path, documents):
    df = write_chain(tmp_path, documents)
    f = funnel.gather(tmp_path)
    assert [s["stage"] for s in f["stages"]] == ["ingest", "filter", "sample"]
    assert f["missing"] == ["preprocess", "exact_dedup", "fuzzy_dedup", "transform"]
    assert f["checks"] == []
    ingest, filt, samp = f["stages"]
    assert ingest["in"]["documents"] == 40 and ingest["files"] == 1 and filt["files"] == 2
    assert filt["dropped"]["too_short"]["documents"] == 11  # texts of 10..20 bytes
    assert samp["out"]["documents"] == 14 == (df.filter((pl.col("bytes") > 20) & (pl.col("language") == "python")).height)
    java = df.filter(pl.col("language") == "java")
    assert f["languages"]["java"]["ingest"] == {"documents": 20, "bytes": java["bytes"].sum()}
    assert f["languages"]["java"]["sample"] == {"documents": 0, "bytes": 0}


def test_funnel_reports_what_does_not_add_up(tmp_path, documents):
    write_chain(tmp_path, documents)
    broken = shards.read_json(tmp_path / "corpus" / "00000.stats.json")
    broken["in"]["documents"] += 3  # three documents appear from nowhere
    shards.write_json(broken, tmp_path / "corpus" / "00000.stats.json")
    problems = funnel.gather(tmp_path)["checks"]
    assert any(p.startswith("sample:") and "drop reasons account for" in p for p in problems)
    assert any(p.startswith("sample:") and "filter put out" in p for p in problems)


def test_one_document_with_several_drop_reasons_is_not_a_mismatch(tmp_path, documents):
    df = documents([{"path": f"f{i}", "text": "z" * (i + 1)} for i in range(10)])
    kept, dropped = df[:6], df[6:]
    # the 4 dropped documents each broke two rules
    s = stats.stage_stats("filter", df, kept, dropped={"rule_a": dropped, "rule_b": dropped})
    shards.write_json(s, tmp_path / "filter" / "00000.stats.json")
    f = funnel.gather(tmp_path, [("filter", "filter")])
    assert f["checks"] == [] and f["stages"][0]["reasons_overlap"] is True
    s["dropped"]["rule_b"]["documents"] = s["dropped"]["rule_a"]["documents"] = 1  # 3 documents vanish
    shards.write_json(s, tmp_path / "filter" / "00000.stats.json")
    assert funnel.gather(tmp_path, [("filter", "filter")])["checks"] == [
        "filter: 10 documents in - 6 out = 4, but drop reasons account for 2"]


def test_cli_writes_json_and_logs_table(tmp_path, documents, caplog):
    write_chain(tmp_path, documents)
    out = tmp_path / "corpus" / "funnel.json"
    with caplog.at_level(logging.INFO, logger="opencoder.data.funnel"):
        assert funnel.main(["--root", str(tmp_path), "--output", str(out), "--stage", "first=ingest", "--stage", "last=corpus"]) == 0
    f = shards.read_json(out)
    assert [s["stage"] for s in f["stages"]] == ["first", "last"]
    assert any(p.startswith("last:") for p in f["checks"])  # filter left out: its drops are unaccounted
    table = caplog.text
    assert "first" in table and "40" in table and "sampled_out" in table


def test_stats_of_shards_no_longer_ingested_are_left_out(tmp_path, documents):
    """An out_dir reused after the shard layout changed keeps old per-shard stats; they must not count."""
    write_chain(tmp_path, documents)
    for shard in ("00000", "00001"):
        (tmp_path / "ingest" / f"{shard}.parquet").write_bytes(b"")
    before = funnel.gather(tmp_path)
    stale = shards.read_json(tmp_path / "filter" / "00001.stats.json")
    shards.write_json(stale, tmp_path / "filter" / "00007.stats.json")  # a shard of an earlier layout
    after = funnel.gather(tmp_path)
    assert after["stages"] == before["stages"] and after["checks"] == []
