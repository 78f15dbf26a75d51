"""The one command-line surface: every stage answers --help with --input/--output for its main input
and output, a project error is one line `opencoder <stage>: <message>` with exit status 1 (never a
traceback), and settings and long lists travel as digest-named files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from opencoder.cli import STAGES, main as opencoder
from opencoder.core import shards
from opencoder.core.args import argument_file, expand_argument_files
from opencoder.core.config import ConfigError, read_params, settings_file

# stage (and sub-command) -> which of --input/--output it has; the others have several named inputs
# or outputs (fuzzy-dedup clusters) or none (fuzzy-dedup scurve)
HELP = {
    ("ingest",): {"--output"},
    ("preprocess",): {"--input", "--output"},
    ("exact-dedup", "hashes"): {"--input", "--output"},
    ("exact-dedup", "plan"): {"--input", "--output"},
    ("exact-dedup", "apply"): {"--input", "--output"},
    ("fuzzy-dedup", "signatures"): {"--input"},
    ("fuzzy-dedup", "buckets"): {"--input", "--output"},
    ("fuzzy-dedup", "clusters"): set(),
    ("fuzzy-dedup", "remove"): {"--input", "--output"},
    ("dedup-units", "index"): {"--input", "--output"},
    ("dedup-units", "units"): {"--input", "--output"},
    ("dedup-units", "apply"): {"--input", "--output"},
    ("fuzzy-dedup", "scurve"): set(),
    ("fuzzy-dedup", "quality"): {"--input", "--output"},
    ("dedup",): {"--input", "--output"},
    ("dedup-explain",): {"--input"},
    ("transform",): {"--input", "--output"},
    ("filter",): {"--input", "--output"},
    ("web-recall",): {"--input", "--output"},
    ("sample", "plan"): {"--output"},
    ("sample", "apply"): {"--input", "--output"},
    ("funnel",): {"--input", "--output"},
    ("tokenizer",): {"--input", "--output"},
    ("tokens", "encode"): {"--input", "--output"},
    ("tokens", "merge"): {"--input", "--output"},
    ("anneal-data",): {"--input", "--output"},
    ("synthesize",): {"--input", "--output"},
    ("sft-doctests",): {"--input", "--output"},
    ("sft-data",): {"--output"},
    ("decontaminate",): {"--input", "--output"},
    ("sft-pack",): {"--input", "--output"},
    ("train",): {"--input", "--output"},
    ("train-memory",): set(),
    ("import",): {"--input", "--output"},
    ("export",): {"--input", "--output"},
    ("eval",): {"--input", "--output"},
    ("card",): {"--input", "--output"},
    ("publish",): {"--output"},
    ("report",): {"--input", "--output"},
    ("summary",): {"--input"},
    ("variant",): {"--output"},
    ("compare",): {"--input", "--output"},
    ("batch",): set(),
}
# the flag names stages used before the convention: still accepted, never listed
ALIASES = {
    ("ingest",): ("--out",), ("preprocess",): ("--in", "--out"), ("transform",): ("--in", "--out"),
    ("exact-dedup", "hashes"): ("--in", "--out"), ("exact-dedup", "plan"): ("--out",),
    ("exact-dedup", "apply"): ("--in", "--out"), ("fuzzy-dedup", "signatures"): ("--in",),
    ("fuzzy-dedup", "buckets"): ("--out",), ("fuzzy-dedup", "remove"): ("--in", "--out"),
    ("fuzzy-dedup", "quality"): ("--out",), ("dedup-explain",): ("--dir",), ("funnel",): ("--root",),
    ("tokenizer",): ("--output-dir",), ("tokens", "encode"): ("--output-dir",), ("tokens", "merge"): ("--output-dir",),
    ("anneal-data",): ("--corpus", "--output-dir"), ("train",): ("--blend", "--out"),
    ("export",): ("--checkpoint", "--out"), ("eval",): ("--model", "--out"), ("card",): ("--export", "--out"),
    ("publish",): ("--receipt",), ("summary",): ("--out-dir",),
}


def test_every_stage_is_covered():
    assert {command[0] for command in HELP} == set(STAGES)


@pytest.mark.parametrize("command", sorted(HELP), ids=" ".join)
def test_every_stage_answers_help_with_the_one_flag_convention(command, capsys):
    with pytest.raises(SystemExit) as done:
        opencoder([*command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: opencoder {' '.join(command)}")
    for flag in ("--input", "--output"):
        assert (f"{flag} " in text or f"{flag}\n" in text) == (flag in HELP[command]), flag
    assert not [old for old in ALIASES.get(command, ()) if f"  {old} " in text or f"[{old} " in text]


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opencoder", *argv], capture_output=True, text=True, timeout=300)


def assert_one_line(result: subprocess.CompletedProcess, stage: str, *names: object) -> str:
    """Exit 1 and, after any log lines, exactly one error line naming `names`; no traceback."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith(f"opencoder {stage}: ")]
    assert len(errors) == 1, result.stderr
    for name in names:
        assert str(name) in errors[0]
    return errors[0]


def test_missing_or_damaged_inputs_are_one_line_naming_the_file(tmp_path, documents):
    missing = tmp_path / "missing.parquet"
    assert_one_line(run("preprocess", "--input", str(missing), "--output", str(tmp_path / "o.parquet"),
                        "--params", '{"max_file_bytes": 100, "keep_doc_types": ["code"]}'), "preprocess", missing)

    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(b"PAR1 not really")
    assert_one_line(run("filter", "--input", str(damaged), "--output", str(tmp_path / "kept.parquet")), "filter", damaged)
    assert not (tmp_path / "kept.parquet").exists()

    no_text = tmp_path / "no_text.parquet"
    shards.write_parquet(documents([{"path": "a.py", "text": "x = 1\n"}]).drop("text"), no_text)
    assert_one_line(run("filter", "--input", str(no_text), "--output", str(tmp_path / "kept.parquet")),
                    "filter", no_text, "text")

    plan = tmp_path / "plan.json"
    plan.write_text("{not json")
    good = tmp_path / "00000.parquet"
    shards.write_parquet(documents([{"path": "a.py", "text": "x = 1\n"}]), good)
    assert_one_line(run("sample", "apply", "--plan", str(plan), "--input", str(good), "--output", str(tmp_path / "s.parquet")),
                    "sample", plan)

    settings = tmp_path / "settings" / "filter.0123456789ab.json"
    assert_one_line(run("filter", "--input", str(good), "--output", str(tmp_path / "kept.parquet"), "--params", str(settings)),
                    "filter", settings)
    assert_one_line(run("exact-dedup", "plan", "--input", f"@{tmp_path / 'hashes.args'}", "--output", str(tmp_path / "r.parquet")),
                    "exact-dedup", tmp_path / "hashes.args")
    assert_one_line(run("summary", "--input", str(tmp_path / "no_build")), "summary", tmp_path / "no_build")


def test_old_flag_names_still_work(tmp_path, documents):
    shard = tmp_path / "00000.parquet"
    shards.write_parquet(documents([{"path": "a.py", "text": "x = 1\n"}]), shard)
    params = json.dumps({"max_file_bytes": 100, "keep_doc_types": ["code"]})
    assert opencoder(["preprocess", "--in", str(shard), "--out", str(tmp_path / "pre.parquet"), "--params", params]) == 0
    assert shards.read_documents(tmp_path / "pre.parquet")["path"].to_list() == ["a.py"]


def test_settings_files_are_named_by_their_content(tmp_path):
    strict = {"rules": {"max_lines": 20}, "seed": 1}
    first = settings_file(tmp_path, "filter", strict, write=False)
    assert not first.exists()  # a dry run only names it
    assert settings_file(tmp_path, "filter", strict) == first and read_params(str(first)) == strict
    assert settings_file(tmp_path, "filter", {"seed": 1, "rules": {"max_lines": 20}}) == first  # key order is no change
    changed = settings_file(tmp_path, "filter", {**strict, "rules": {"max_lines": 21}})
    assert changed != first and changed.name.startswith("filter.") and changed.suffix == ".json"
    assert read_params('{"a": 1}') == {"a": 1}
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_params("{oops")


def test_argument_files_expand_in_place(tmp_path):
    listing = argument_file(tmp_path, "docs", ["a b.parquet", "c.parquet"])
    assert listing == argument_file(tmp_path, "docs", ["a b.parquet", "c.parquet"])
    assert listing != argument_file(tmp_path, "docs", ["c.parquet"])
    assert expand_argument_files(["--input", f"@{listing}", "--output", "o"]) == ["--input", "a b.parquet", "c.parquet", "--output", "o"]
    assert expand_argument_files(["@"]) == ["@"]


def test_web_recall_errors_are_one_line_naming_the_input(tmp_path, documents):
    files = tmp_path / "00000.parquet"
    shards.write_parquet(documents([{"path": "a.py", "text": "x = 1\n"}]), files)  # no url: no web page
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text("{}")
    common = ["--tokenizer", str(tokenizer), "--output", str(tmp_path / "round1")]
    assert_one_line(run("web-recall", "--input", str(files), "--round", "1", *common), "web-recall", files, "no web pages")
    assert_one_line(run("web-recall", "--input", str(files), "--round", "2", *common), "web-recall", "needs --seeds")
    assert_one_line(run("web-recall", "--input", str(files), "--round", "1", "--tokenizer", str(tmp_path / "none"),
                        "--output", str(tmp_path / "round1")), "web-recall", tmp_path / "none")

    pages = tmp_path / "00001.parquet"
    shards.write_parquet(documents([{"path": "https://news.example/a", "text": "Rain today."}])
                         .with_columns(url=pl.col("path"), domain=pl.lit("news.example")), pages)
    assert_one_line(run("web-recall", "--input", str(files), str(pages), "--round", "1", *common),
                    "web-recall", "web.seeds.positive_urls", "no URL of the 1 web pages")
    assert not (tmp_path / "round1").exists()
