"""Synthetic recipes without generating anything: prompt files, parsing, verification in the sandbox,
dedup, decontamination, the funnel and the traces, from responses already in the cache (the state a
killed job leaves), so the teacher is never loaded."""

from __future__ import annotations

import json

import pytest
from conftest import make_documents
from tiny_llama import build_tiny_llama

from opencoder.cli import main as opencoder
from opencoder.core import config, shards
from opencoder.core.config import ConfigError
from opencoder.release import report
from opencoder.synthesis import recipes, synthesize
from opencoder.synthesis.backends import TransformersTeacher
from opencoder.synthesis.cache import Cache, sample_key

SEED_FILE = '''import math


def add(a, b):
    """Add two numbers."""
    total = a + b
    return total


def area(r):
    """Area of a circle of radius r."""
    value = math.pi * r * r
    return value
'''

GOOD = """Here it is.

```python
def clamp(x, lo, hi):
    return max(lo, min(x, hi))
```

```python
assert clamp(5, 0, 3) == 3
assert clamp(-1, 0, 3) == 0
```
"""
GOOD_AGAIN = GOOD.replace("Here it is.", "Sure.")  # same code: a near-duplicate
WRONG = """```python
def double(x):
    return x * 2

def test_double():
    assert double(2) == 4
    assert double(3) == 7
```"""
SLOW = """```python
def spin(n):
    while True:
        n += 1
```
```python
assert spin(1) == 2
```"""
ESCAPE = """```python
import os

def sneaky(x):
    os._exit(0)
```
```python
assert sneaky(1) == 1
```"""
NO_TESTS = "```python\ndef f(x):\n    return x\n```\nNo tests, sorry."
CONTAMINATED = """```python
def has_close_elements(numbers, threshold):
    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])
```
```python
assert has_close_elements([1.0, 1.05], 0.1)
```"""
SORTED = """```python
def sort_desc(xs):
    return sorted(xs, reverse=True)
```
```python
assert sort_desc([1, 3, 2]) == [3, 2, 1]
```"""


def test_parse_splits_solution_and_tests_and_says_why_not():
    p = recipes.parse(GOOD, "snippet", "stop")
    assert p.entry_points == ("clamp",) and "def clamp" in p.solution and p.tests.count("assert") == 2
    p = recipes.parse(WRONG, "snippet", "stop")  # tests as a test_ function in the same block: called once
    assert p.entry_points == ("double",) and "test_double()" in p.tests and "test_double" not in p.solution
    for text, finish, why in [(GOOD, "length", "truncated"), ("no code at all", "stop", "no python code block"),
                              (NO_TESTS, "stop", "no assert-based tests"),
                              ("```python\ndef f(:\n```", "stop", "does not compile"),
                              ("```python\nassert 1 == 1\n```", "stop", "no function")]:
        with pytest.raises(recipes.ParseError, match=why):
            recipes.parse(text, "snippet", finish)


def test_educational_needs_a_problem_statement():
    p = recipes.parse("Problem: write a function that clamps x into [lo, hi].\n\n" + GOOD.split("\n", 1)[1],
                      "educational", "stop")
    assert p.problem == "write a function that clamps x into [lo, hi]."
    with pytest.raises(recipes.ParseError, match="no problem statement"):
        recipes.parse(GOOD, "educational", "stop")


def test_a_prompt_file_without_its_placeholder_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("Write a function.\n")
    with pytest.raises(ConfigError, match=r"bad.txt: prompt file lacks the placeholder\(s\) \{seed\}"):
        recipes.load_template(bad, "snippet")
    unknown = tmp_path / "unknown.txt"
    unknown.write_text("{seed} in {langauge}\n")
    with pytest.raises(ConfigError, match=r"unknown placeholder\(s\) \{langauge\}"):
        recipes.load_template(unknown, "snippet")
    # the stage: one line, exit status 1, before any teacher is loaded
    cfg = config.load()
    params = {**cfg["synthetic"], "decontamination": cfg["sft"]["decontamination"], "seed": 1}
    params["recipes"] = {"snippets": {**params["recipes"]["snippets"], "prompt": str(bad)}}
    shard = tmp_path / "c.parquet"
    shards.write_parquet(make_documents([{"path": "a.py", "text": SEED_FILE}]), shard)
    assert opencoder(["synthesize", "--recipe", "snippets", "--input", str(shard), "--output", str(tmp_path / "o"),
                      "--params", json.dumps(params)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("opencoder synthesize: ") and "{seed}" in err[0]


def test_a_recipe_seeded_from_the_corpus_given_no_corpus_is_a_clear_error(tmp_path, capsys):
    cfg = config.load()
    params = {**cfg["synthetic"], "decontamination": cfg["sft"]["decontamination"], "seed": 1}
    empty = tmp_path / "corpus.args"  # what the workflow passes a package recipe
    empty.write_text("")
    assert opencoder(["synthesize", "--recipe", "snippets", "--input", f"@{empty}", "--output", str(tmp_path / "o"),
                      "--params", json.dumps(params)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["opencoder synthesize: synthetic.recipes.snippets: a snippet recipe draws its seeds from the corpus: "
                   "no corpus shards given (--input)"]


def test_shipped_prompt_files_fill_their_kinds():
    cfg = config.load()
    for name, r in cfg["synthetic"]["recipes"].items():
        t = recipes.load_template(r["prompt"], r["kind"])
        values = recipes.prompt_values({"code": "def f(): pass", "package": "json", "name": "json.dumps"},
                                        {"language": "Go", "difficulty": "easy", "task_type": "debugging"})
        text = t.render(**values)
        assert "{" + "seed}" not in text and "def f(): pass" in text and len(t.sha256) == 16
        for name in recipes.PLACEHOLDERS[r["kind"]]:  # every placeholder it names is filled
            assert "{" + name + "}" not in text


def test_near_duplicates_are_found_by_minhash():
    texts = [GOOD, GOOD_AGAIN, SORTED, "x"]
    assert synthesize.near_duplicates(texts, 0.8, 5, 128) == [None, 0, None, None]


@pytest.fixture(scope="module")
def tiny_teacher(tmp_path_factory):
    return build_tiny_llama(tmp_path_factory.mktemp("teacher"))


def test_a_recipe_from_cached_responses_verifies_rejects_and_traces_every_sample(tmp_path, tiny_teacher):
    """Eight responses already in the cache: one passes, one repeats it, one fails its own tests, one
    loops forever, one kills its process, one has no tests, one copies a HumanEval item, one came
    back cut at max_new_tokens. The teacher is never loaded and nothing is requested."""
    shard = tmp_path / "corpus" / "00000.parquet"
    shards.write_parquet(make_documents([{"path": "m.py", "text": SEED_FILE}]), shard)
    cfg = config.load()
    params = {**cfg["synthetic"], "decontamination": cfg["sft"]["decontamination"], "seed": 7,
              "sandbox": {**cfg["synthetic"]["sandbox"], "timeout_s": 5}}
    params["recipes"] = {"snippets": {**params["recipes"]["snippets"], "samples": 8}}
    recipe = params["recipes"]["snippets"]
    teacher = TransformersTeacher(str(tiny_teacher))
    template = recipes.load_template(recipe["prompt"], "snippet")
    seeds = recipes.seeds([shard], "snippet", recipe["seeds"])
    assert [s["name"] for s in seeds] == ["add", "area"]
    items = synthesize.plan("snippets", recipe, seeds, template, 7)
    texts = [GOOD, GOOD_AGAIN, WRONG, SLOW, ESCAPE, NO_TESTS, CONTAMINATED, SORTED]
    cache = Cache(tmp_path / "work" / "responses.jsonl")
    for it, text in zip(items, texts):
        key = sample_key(teacher.identity, template.sha256, it["messages"], it["sampling"], it["seed"])
        finish = "length" if text is SORTED else "stop"
        cache.put({"key": key, "text": text, "prompt_tokens": 50, "tokens": 40, "finish": finish, "error": None, "extra": {}})
    cache.close()

    stats = synthesize.build("snippets", [shard], params, tmp_path / "out", tmp_path / "work", teacher=teacher)
    assert teacher.model is None and stats["responses_requested"] == 0 and stats["responses_cached"] == 8
    assert stats["funnel"] == {"seeds": 2, "prompts": 8, "responses": 8, "parsed": 6, "executed": 6, "passed": 3,
                               "unverified": 0, "deduplicated": 2, "decontaminated": 1, "kept": 1}
    assert stats["tokens"] == {"prompt": 400, "generated": 320, "kept": 40}
    rows = [json.loads(line) for line in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    why = {r["id"]: (r["status"], r["rejected_at"], r["reason"]) for r in rows}
    assert why["snippets-000000"] == ("kept", None, None)
    assert why["snippets-000001"][1:] == ("dedup", "near-duplicate of sample 0")
    assert why["snippets-000002"][1:] == ("execution", "failed: AssertionError")
    assert why["snippets-000003"][1:] == ("execution", "timed out")
    assert why["snippets-000004"][1] == "execution" and why["snippets-000004"][2].startswith("failed")
    assert why["snippets-000005"][1:] == ("parse", "no assert-based tests")
    assert why["snippets-000006"][1] == "decontamination" and "HumanEval/0" in why["snippets-000006"][2]
    assert why["snippets-000007"][1:] == ("parse", "truncated: cut at max_new_tokens")
    kept = [json.loads(line) for line in (tmp_path / "out" / "kept.jsonl").read_text().splitlines()]
    assert len(kept) == 1 and "def clamp" in kept[0]["text"] and "assert clamp" in kept[0]["text"]
    for row in kept + rows:  # traceability: teacher and weights, template, sampling, seed, outcome
        assert row["teacher"] == teacher.identity and len(row["teacher"]["weights_sha256"]) == 16
        assert row["template"]["sha256"] == template.sha256 and row["template"]["path"].endswith("snippet.v1.txt")
        assert row["sampling"] == {"temperature": 0.7, "top_p": 0.95, "max_new_tokens": 384}
        assert isinstance(row["seed"], int) and row["seed_source"]["name"] in {"add", "area"}
    assert kept[0]["execution"]["status"] == "passed" and kept[0]["verified"] is True

    # the report's page: the funnel beside the first kept and the first rejected samples of each stage
    examples = json.loads((tmp_path / "out" / "examples.json").read_text())
    assert [r["id"] for r in examples["kept"]] == ["snippets-000000"]
    assert [(r["id"], r["rejected_at"]) for r in examples["rejected"]] == [
        ("snippets-000005", "parse"), ("snippets-000007", "parse"), ("snippets-000002", "execution"),
        ("snippets-000003", "execution"), ("snippets-000001", "dedup"), ("snippets-000006", "decontamination")]
    page = tmp_path / "synthetic_snippets.html"
    assert report.main(["synthetic", "--input", str(tmp_path / "out" / "stats.json"), str(tmp_path / "out" / "examples.json"),
                        "--output", str(page)]) == 0
    text = page.read_text()
    funnel, samples = text.split("kept samples (1 shown)")
    assert funnel.index("<th>seeds</th><td>2</td>") < funnel.index("<th>passed</th><td>3</td>") < funnel.index("<th>kept</th><td>1</td>")
    kept_part, rejected_part = samples.split("rejected samples (6 shown)")
    assert "snippets-000000</b> kept, execution passed" in kept_part and "def clamp" in kept_part
    assert "snippets-000002</b> rejected at execution: failed: AssertionError" in rejected_part
    assert "snippets-000003</b> rejected at execution: timed out" in rejected_part
    assert "snippets-000005</b> rejected at parse: no assert-based tests" in rejected_part
    assert "snippets-000001</b> rejected at dedup: near-duplicate of sample 0" in rejected_part
    assert "snippets-000006</b> rejected at decontamination: humaneval/HumanEval/0" in rejected_part
    assert "snippets-000004" not in text  # a third execution rejection: in samples.jsonl only


def test_a_recipe_without_seeds_warns_and_writes_empty_outputs(tmp_path):
    shard = tmp_path / "c.parquet"
    shards.write_parquet(make_documents([{"path": "a.md", "text": "# no code", "language": "markdown"}]), shard)
    cfg = config.load()
    params = {**cfg["synthetic"], "decontamination": cfg["sft"]["decontamination"], "seed": 1}
    stats = synthesize.build("educational", [shard], params, tmp_path / "out", tmp_path / "work")
    assert stats["funnel"]["seeds"] == 0 and stats["funnel"]["kept"] == 0
    assert "kept no sample" in stats["warnings"][0]
    assert (tmp_path / "out" / "kept.jsonl").read_text() == ""
