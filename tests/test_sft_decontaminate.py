"""Decontamination: HumanEval items injected verbatim and reformatted are found (recall), each
removal is in the audit table with its item and match, clean code is kept, the command's files."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import polars as pl
import pytest

from opencoder.core.config import load
from opencoder.evaluation.benchmarks import BENCHMARKS, read_records
from opencoder.training.sft.decontaminate import Index, benchmark_items, decontaminate, tokens


@pytest.fixture(scope="module")
def index():
    params = load()["sft"]["decontamination"]
    return Index(benchmark_items(params["benchmarks"]), params["ngram"], params["whitelist"],
                 params["common_entry_points"])


@pytest.fixture(scope="module")
def humaneval():
    return read_records(BENCHMARKS["humaneval"].builtin())


def conversation(i, user, answer):
    return {"id": str(i), "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]}


def rewrap(code: str) -> str:
    """The same tokens laid out differently: 2-space indents, other quotes, prose re-wrapped."""
    lines = [" " * ((len(ln) - len(ln.lstrip(" "))) // 2) + ln.lstrip(" ").replace("'", '"') for ln in code.splitlines()]
    return "\n".join(textwrap.fill(ln, 31, subsequent_indent="  ") if ln.lstrip().startswith(("Given", "Return", ">>>"))
                     else ln for ln in lines)


def test_tokens_ignore_whitespace_wrapping_and_quotes():
    assert tokens("x  =  foo( 'a',\n     b )**2") == tokens('x = foo("a", b) ** 2') == \
        ["x", "=", "foo", "(", "a", ",", "b", ")", "**", "2"]


def test_injected_items_are_found_verbatim_and_reformatted(index, humaneval):
    verbatim = [conversation(r["task_id"], "Complete this:\n" + r["prompt"], r["canonical_solution"]) for r in humaneval]
    moved = [conversation(r["task_id"], "Complete this:\n" + rewrap(r["prompt"]), rewrap(r["canonical_solution"]))
             for r in humaneval]
    for rows in (verbatim, moved):
        kept, audit = decontaminate(rows, index)
        assert len(audit) / len(rows) >= 0.99, [r["id"] for r in kept]
        # each removal names the item it copies
        assert sum(a["item"] == a["sample_id"] for a in audit) / len(audit) >= 0.97
        assert {a["kind"] for a in audit} <= {"ngram", "entry_point"} and all(a["match"] for a in audit)


def test_entry_points_whitelist_and_clean_code(index):
    calls = conversation("c", "Use it", "result = has_close_elements([1.0, 2.0], 0.5)")
    common = conversation("d", "Add", "def add(a, b):\n    return a + b")  # `add` is whitelisted
    words = conversation("e", "What is has_close_elements?", "A name.")  # a mention, not code
    clean = conversation("f", "Parse JSON", "import json\n\ndef load(path):\n    with open(path) as f:\n        return json.load(f)")
    kept, audit = decontaminate([calls, common, words, clean], index)
    assert [k["id"] for k in kept] == ["d", "e", "f"]
    assert audit == [{"sample_id": "c", "benchmark": "humaneval", "item": "HumanEval/0", "kind": "entry_point",
                      "match": "has_close_elements"}]


def test_command_writes_kept_rows_audit_and_stats(tmp_path, humaneval):
    rows = [conversation("leak", "Do this:\n" + humaneval[5]["prompt"], humaneval[5]["canonical_solution"]),
            conversation("ok", "Reverse a list.", "def rev(xs):\n    return xs[::-1]")]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out, removed = tmp_path / "clean.jsonl", tmp_path / "removed.parquet"
    done = subprocess.run([sys.executable, "-m", "opencoder", "decontaminate", "--input", str(src), "--output", str(out),
                           "--removed", str(removed)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["ok"]
    audit = pl.read_parquet(removed)
    assert audit["sample_id"].to_list() == ["leak"] and audit["item"].to_list() == ["HumanEval/5"]
    stats = json.loads((tmp_path / "clean.stats.json").read_text())
    assert (stats["in"], stats["kept"], stats["removed"]) == (2, 1, 1)
