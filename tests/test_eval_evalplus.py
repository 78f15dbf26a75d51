"""HumanEval+ / MBPP+ from EvalPlus's own release files (base_input, plus_input, atol,
canonical_solution): the judge runs the reference on every input and compares the completion's
outputs with EvalPlus's rules, so a completion right on the base inputs can fail a plus input."""

from __future__ import annotations

import gzip
import json

import pytest

from opencoder.evaluation import benchmarks
from opencoder.evaluation.benchmarks import BenchmarkError
from opencoder.evaluation.sandbox import Limits, Sandbox
from opencoder.evaluation.score import score

# records in HumanEvalPlus.jsonl's form (its `test` is HumanEval's original check, unused here)
HE_PLUS = [
    {"task_id": "HumanEval/0", "entry_point": "is_prime",
     "prompt": "def is_prime(n: int) -> bool:\n    \"\"\"True if n is prime.\"\"\"\n",
     "canonical_solution": "    if n < 2:\n        return False\n    return all(n % k for k in range(2, int(n ** 0.5) + 1))\n",
     "base_input": [[2], [4], [7]], "plus_input": [[1], [0], [9], [97]], "atol": 0,
     "test": "def check(candidate):\n    assert candidate(7)\n", "contract": ""},
    {"task_id": "HumanEval/1", "entry_point": "mean",
     "prompt": "def mean(xs: list) -> float:\n    \"\"\"The mean of xs.\"\"\"\n",
     "canonical_solution": "    return sum(xs) / len(xs)\n",
     "base_input": [[[1.0, 2.0]], [[0.1, 0.2, 0.3]]], "plus_input": [[[1e-3, 2e-3, 4e-3]]], "atol": 0,
     "test": "", "contract": ""},
    {"task_id": "HumanEval/2", "entry_point": "fib",  # a recursive reference: it must call itself, not the completion
     "prompt": "def fib(n: int) -> int:\n    \"\"\"The n-th Fibonacci number.\"\"\"\n",
     "canonical_solution": "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
     "base_input": [[1], [5]], "plus_input": [[10]], "atol": 0, "test": "", "contract": ""},
]

# a record in MbppPlus.jsonl's form
MBPP_PLUS = [
    {"task_id": "Mbpp/2", "entry_point": "similar_elements",
     "prompt": "Write a function to find the shared elements from the given two lists.",
     "code": "def similar_elements(a, b):\n    return sorted(set(a) & set(b))\n",
     "test_list": ["assert similar_elements([3, 4, 5, 6], [5, 7, 4, 10]) == [4, 5]"], "test_imports": [],
     "base_input": [[[3, 4, 5, 6], [5, 7, 4, 10]]], "plus_input": [[[1, 2, 2], [2, 2, 3]], [[], [1]]], "atol": 0},
]


@pytest.fixture(scope="module")
def sandbox():
    return Sandbox(Limits(timeout_s=10, memory_mb=2048, nproc=32, file_size_mb=8))


def write(tmp_path, name, records):
    path = tmp_path / name
    with gzip.open(path, "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    return path


def test_plus_inputs_catch_what_the_base_inputs_miss(tmp_path, sandbox):
    path = write(tmp_path, "HumanEvalPlus.jsonl.gz", HE_PLUS)
    problems = benchmarks.load({"name": "humaneval_plus", "path": str(path)})
    is_prime, mean, fib = problems
    completions = {
        # right on 2, 4, 7 (the base inputs), wrong on 1 and 0 (plus): EvalPlus's point
        is_prime.task_id: ["    return all(n % k for k in range(2, n))\n", is_prime.reference],
        # float outputs within EvalPlus's default 1e-6: a different summation order still passes
        mean.task_id: ["    return sum(x / len(xs) for x in xs)\n", "    return sum(xs) / len(xs) + 1e-3\n"],
        fib.task_id: ["    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
                      "    return 0\n"],
    }
    results, summary = score(problems, completions, sandbox, threads=2)
    got = {(r["task_id"], r["sample"]): r["result"] for r in results}
    assert got[(is_prime.task_id, 0)] == "failed: AssertionError"
    assert got[(is_prime.task_id, 1)] == "passed"
    assert got[(mean.task_id, 0)] == "passed" and got[(mean.task_id, 1)] == "failed: AssertionError"
    assert got[(fib.task_id, 0)] == "passed" and got[(fib.task_id, 1)] == "failed: AssertionError"
    # the same wrong is_prime passes the base inputs alone: the plus inputs are what fail it
    base_only = dict(HE_PLUS[0], plus_input=[])
    base = benchmarks.load({"name": "humaneval_plus", "path": str(write(tmp_path, "base.jsonl.gz", [base_only]))})
    results, _ = score(base, {base[0].task_id: [completions[is_prime.task_id][0]]}, sandbox)
    assert results[0]["result"] == "passed"


def test_mbpp_plus_release_and_references_pass(tmp_path, sandbox):
    path = write(tmp_path, "MbppPlus.jsonl.gz", MBPP_PLUS)
    (problem,) = benchmarks.load({"name": "mbpp_plus", "path": str(path)})
    assert problem.entry_points == ("similar_elements",) and "similar_elements([3, 4, 5, 6]" in problem.prompt
    wrong = "def similar_elements(a, b):\n    return [x for x in a if x in b]\n"  # keeps duplicates: fails plus
    results, _ = score([problem], {problem.task_id: [problem.reference, wrong]}, sandbox)
    assert [r["result"] for r in results] == ["passed", "failed: AssertionError"]
    he = benchmarks.load({"name": "humaneval_plus", "path": str(write(tmp_path, "he.jsonl.gz", HE_PLUS))})
    results, _ = score(he, {p.task_id: [p.reference] for p in he}, sandbox)
    assert all(r["passed"] for r in results)


def test_a_release_record_without_inputs_or_reference_is_refused(tmp_path):
    bad = dict(HE_PLUS[0], base_input=[], plus_input=[])
    with pytest.raises(BenchmarkError, match=r"record 1: base_input / plus_input must be lists"):
        benchmarks.load({"name": "humaneval_plus", "path": str(write(tmp_path, "a.jsonl.gz", [bad]))})
    bad = {k: v for k, v in MBPP_PLUS[0].items() if k != "code"}
    with pytest.raises(BenchmarkError, match=r"task Mbpp/2: missing field canonical_solution"):
        benchmarks.load({"name": "mbpp_plus", "path": str(write(tmp_path, "b.jsonl.gz", [bad]))})
