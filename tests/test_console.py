"""A readable console: a dry run of the smoke build prints short lines (settings and shard lists go
as files, not as the command line), one line per job without shell commands by default, and a
build ends with a summary of what exists, read from the stats files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from opencoder.core import shards
from opencoder.release.summary import summary

REPO = Path(__file__).resolve().parents[1]


def smoke_dry_run(tmp_path: Path, *args: str) -> str:
    """`snakemake -n ARGS` of the smoke config as a user runs it (out_dir results/smoke, relative),
    in a scratch view of the checkout, after an ingest of four shards, so every rule's job is planned."""
    tmp_path.mkdir()
    for name in ("Snakefile", "rules", "config", "profiles", "report"):
        (tmp_path / name).symlink_to(REPO / name)
    ingest = tmp_path / "results" / "smoke" / "ingest"
    ingest.mkdir(parents=True)
    for shard in range(4):
        (ingest / f"{shard:05d}.parquet").touch()
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", *args, "--configfile", "config/smoke.yaml"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert not (tmp_path / "results" / "smoke" / "settings").exists()  # a dry run writes no settings file
    return result.stdout + result.stderr


def test_a_dry_run_prints_short_lines_and_each_job_once(tmp_path):
    quiet = smoke_dry_run(tmp_path / "quiet")
    jobs = [line for line in quiet.splitlines() if re.match(r"Job \d+: ", line)]
    total = int(quiet.split("Job stats:", 1)[1].split("\ntotal", 1)[1].split()[0])
    assert len(jobs) == total  # one line per job (its rule's message)
    assert "Shell command" not in quiet and "--params" not in quiet  # the default profile prints no commands

    printed = smoke_dry_run(tmp_path / "printed", "-p")
    commands = re.findall(r"^Shell command: .* -m opencoder", printed, re.MULTILINE)
    assert len(commands) >= total - 2  # the commands are there (`all` and `report_figures` have none)...
    # (Snakemake's closing summary of reasons lists rule names on one line, however many rules: not ours)
    longest = max(printed.split("\nReasons:\n", 1)[0].splitlines(), key=len)
    assert len(longest) <= 500, longest  # ...and short: settings and shard lists travel as files


def test_summary_lists_what_exists(tmp_path):
    assert summary(tmp_path) == f"build {tmp_path}: nothing built yet"
    stage = {"in": {"documents": 10, "bytes": 4000}, "out": {"documents": 6, "bytes": 2500}}
    shards.write_json({"stages": [{**stage, "stage": "ingest", "out": stage["in"]}, {**stage, "stage": "sample"}]},
                      tmp_path / "corpus" / "funnel.json")
    partial = summary(tmp_path)
    assert "6 documents, 2.5 kB (of 10 documents, 4.0 kB ingested)" in partial
    assert "tokens" not in partial and "pretrain" not in partial

    shards.write_json({"extra": {"groups": {"code": {"documents": 5, "tokens": 1200}, "text": {"documents": 1, "tokens": 34}}}},
                      tmp_path / "tokens" / "stats.json")
    (tmp_path / "pretrain").mkdir()
    (tmp_path / "pretrain" / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": s, "loss": 9.0 - s}) + "\n" for s in (1, 2, 3)))
    shards.write_json({"pass@1": 0.125, "problems": 8}, tmp_path / "eval" / "humaneval" / "summary.json")
    for k, (recalled, precision) in {2: (40, None), 1: (30, 0.9)}.items():
        shards.write_json({"extra": {"pages_scored": 500, "pages_recalled": recalled, "domains_marked": 2,
                                     "pages_added_by_url_patterns": 7, "held_out": {"precision": precision, "recall": 0.8}}},
                          tmp_path / "web" / f"round{k}" / "stats.json")
    full = summary(tmp_path)
    assert "1,234 tokens in 2 group(s)" in full and "web pages" not in full
    rounds = [line for line in full.splitlines() if "web round" in line]
    assert "web round 1" in rounds[0] and "web round 2" in rounds[1]
    assert rounds[0].endswith("30/500 pages recalled, 2 domains marked, +7 seeds by URL pattern, precision 0.90 recall 0.80")
    assert "precision n/a" in rounds[1]
    assert "final loss 6.0000 after 3 steps" in full
    assert "pass@1 0.125 (8 problems)" in full
    assert all(len(line) < 200 for line in full.splitlines())

    shards.write_json({"extra": {"groups": {"code": {"documents": 5, "tokens": 900}, "web": {"documents": 2, "tokens": 100}}}},
                      tmp_path / "tokens" / "stats.json")
    assert "1,000 tokens in 2 group(s); web pages 100 (10.0%)" in summary(tmp_path)

    # the chat model: samples per SFT stage after decontamination, its loss, its pass@1
    shards.write_json({"in": 120, "kept": 117, "removed": 3}, tmp_path / "sft" / "stage1" / "clean.stats.json")
    (tmp_path / "sft" / "stage1" / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": s, "loss": 2.0 / s}) + "\n" for s in (1, 2, 4)))
    shards.write_json({"pass@1": 0.25, "problems": 8}, tmp_path / "eval_instruct" / "humaneval" / "summary.json")
    shards.write_json({"benchmark": "mbpp", "skipped": "mbpp: no data (give eval.benchmarks[].path)"},
                      tmp_path / "eval_instruct" / "mbpp" / "summary.json")
    chat = summary(tmp_path).splitlines()
    assert any(re.search(r"sft data stage1 .* 117 samples after decontamination \(of 120; 3 removed\)", l) for l in chat)
    assert any(re.search(r"sft stage1 .* final loss 0.5000 after 4 steps", l) for l in chat)
    assert any(re.search(r"eval instruct humaneval .* pass@1 0.250 \(8 problems\)", l) for l in chat)
    assert any(re.search(r"eval instruct \(skipped\) .* no data: mbpp$", l) for l in chat)
