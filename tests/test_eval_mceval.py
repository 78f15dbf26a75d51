"""McEval and MdEval: fixtures in their releases' format (one JSON-lines file per language, written
here) for Python, JavaScript and C++ load, render the instruct prompts, and in the sandbox the
reference passes and a wrong solution fails; MdEval's buggy code fails and its fix passes; a
language without a toolchain is "unavailable"; a malformed row is an error naming file and row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opencoder.core import config
from opencoder.evaluation import benchmarks
from opencoder.evaluation.cli import evaluate_canonical, make_sandbox

# McEval generation rows (github.com/MCEVAL/McEval data/<Language>.jsonl), with a wrong solution each
MCEVAL = {
    "Python": ({
        "task_id": "Python/1",
        "prompt": "def add(a: int, b: int) -> int:\n    \"\"\"\n    Adds two integer numbers together.\n    \"\"\"",
        "canonical_solution": "    return a + b",
        "test": "# Test cases:\nassert add(2, 3) == 5\nassert add(-4, -5) == -9\nprint(\"All test cases passed.\")",
        "entry_point": "add", "signature": "def add(a: int, b: int) -> int:",
        "docstring": "\n    Adds two integer numbers together.\n    ",
        "instruction": "Write a python function 'def add(a: int, b: int) -> int:' to solve the following problem:\n\n"
                       "    Adds two integer numbers together.\n    ",
        "level": "easy"}, "    return a - b"),
    "JavaScript": ({
        "task_id": "JavaScript/1",
        "prompt": "/**\n * Return the larger of two numbers.\n * Example: maxOf(1, 2) returns 2\n */\nfunction maxOf(a, b)",
        "canonical_solution": "{\n    return a > b ? a : b;\n}",
        "test": "const testMaxOf = () => {\n    console.assert(maxOf(1, 2) === 2);\n    if (maxOf(5, 3) !== 5) "
                "throw new Error('maxOf(5, 3)');\n};\ntestMaxOf();",
        "entry_point": "maxOf", "signature": "function maxOf(a, b)",
        "docstring": "Return the larger of two numbers.\nExample: maxOf(1, 2) returns 2",
        "instruction": "Write a JavaScript function `function maxOf(a, b)` to solve the following problem:\n"
                       "Return the larger of two numbers.\nExample: maxOf(1, 2) returns 2",
        "level": "easy"}, "{\n    return a;\n}"),  # caught by console.assert alone (made to throw)
    "CPP": ({
        "task_id": "CPP/1",
        "prompt": "#include <cassert>\n#include <cstdio>\n/**\n * Calculates the factorial of N modulo 10007.\n */\n"
                  "int process_request(int n)",
        "canonical_solution": "{\n    int r = 1;\n    for (int i = 2; i <= n; i++) r = (r * i) % 10007;\n    return r;\n}",
        "test": "int main()\n{\n    assert(process_request(1) == 1);\n    assert(process_request(10) == 6266);\n"
                "    return 0;\n}",
        "entry_point": "process_request", "signature": "int process_request(int n)",
        "docstring": "Calculates the factorial of N modulo 10007.",
        "instruction": "Write a CPP function `int process_request(int n)` to solve the following problem:\n"
                       "Calculates the factorial of N modulo 10007.",
        "level": "easy"}, "{\n    return n;\n}"),
    "Rust": ({
        "task_id": "Rust/1", "prompt": "fn add(a: i32, b: i32) -> i32", "canonical_solution": "{\n    a + b\n}",
        "test": "fn main() {\n    assert_eq!(add(2, 3), 5);\n}", "entry_point": "add",
        "signature": "fn add(a: i32, b: i32) -> i32", "docstring": "Adds two numbers.",
        "instruction": "Write a Rust function `fn add(a: i32, b: i32) -> i32` to solve the following problem:\n"
                       "Adds two numbers.", "level": "easy"}, "{\n    a - b\n}"),
}

# MdEval repair rows (github.com/PGCodeLLM/MDEVAL data/raw_data/bug/<Language>.jsonl)
def _mdeval(language: str, fence: str, canonical: str, buggy: str, test: str) -> dict:
    return {"question_id": f"{language}/1", "category": "Logic", "subtype": "operation_error", "level": "easy",
            "example": "", "docstring": "", "canonical_solution": canonical, "buggy_code": buggy,
            "bug_with_line_numbers": "", "fragment_lines": [2], "fragment_content": [""], "test": test,
            "instruction": f"Observe the following faulty {language} code\n```{fence}\n{buggy}\n```\nFix bugs in the "
                           f"given code snippet. The fixed code must be placed between ```{fence}```. Do not generate "
                           "any test, main,example usage or check code!\n"}


MDEVAL = {
    "Python": _mdeval("Python", "python", "def square(x):\n    return x * x", "def square(x):\n    return x + x",
                      "def check():\n    assert square(3) == 9\n    print(\"All tests passed!\")\n\ncheck()"),
    "JavaScript": _mdeval("JavaScript", "javascript", "function square(x) {\n    return x * x;\n}",
                          "function square(x) {\n    return x + x;\n}",
                          "const testSquare = () => {\n    if (square(3) !== 9) throw new Error('square(3)');\n};\n"
                          "testSquare();"),
    "CPP": _mdeval("CPP", "cpp", "int square(int x)\n{\n    return x * x;\n}", "int square(int x)\n{\n    return x + x;\n}",
                   "int main() {\n    assert(square(3) == 9);\n    return 0;\n}"),
}


def write(folder: Path, rows: dict[str, dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for language, row in rows.items():
        (folder / f"{language}.jsonl").write_text(json.dumps(row) + "\n")
    return folder


@pytest.fixture(scope="module")
def params():
    eval_params = config.load()["eval"]
    eval_params["sandbox"] = {**eval_params["sandbox"], "timeout_s": 10, "batch": 4}
    return eval_params


@pytest.fixture(scope="module")
def sandbox(params):
    return make_sandbox(params)


def test_mceval_loads_the_release_folder_and_renders_the_instruct_prompt(tmp_path):
    folder = write(tmp_path / "data", {lang: row for lang, (row, _) in MCEVAL.items()})
    problems = {p.task_id: p for p in benchmarks.load({"name": "mceval", "path": str(folder)}, instruct=True)}
    assert {t: p.language for t, p in problems.items()} == {
        "CPP/1": "cpp", "JavaScript/1": "js", "Python/1": "python", "Rust/1": "rust"}
    for language, (row, _) in MCEVAL.items():
        problem = problems[row["task_id"]]
        user, assistant = problem.instruct_messages()  # McEval's chat request: the instruction, no system turn
        assert user == {"role": "user", "content": row["instruction"]} and assistant["role"] == "assistant"
        assert problem.prompt == row["prompt"] and problem.reference == row["canonical_solution"]
    assert problems["Python/1"].instruct_messages()[1]["content"] == "```python\n"
    # a base completion continues the prompt; an instruct reply's code block is the whole program
    cpp = problems["CPP/1"]
    program = cpp.program(cpp.reference)
    assert program.completion == MCEVAL["CPP"][0]["prompt"] + "\n" + cpp.reference + "\n"
    reply = f"Here it is:\n```cpp\n#include <cassert>\nint process_request(int n) {{ return 1; }}\n```\nDone."
    assert cpp.program(reply, instruct=True).completion == "#include <cassert>\nint process_request(int n) { return 1; }\n\n"
    # instruct-only: a base model's eval skips it with one line
    assert "instruct-only" in benchmarks.available({"name": "mceval", "path": str(folder)})
    assert benchmarks.available({"name": "mceval", "path": str(folder)}, instruct=True) is None
    assert "skipped, no data" in benchmarks.available({"name": "mdeval", "path": None}, instruct=True)


def test_mceval_reference_passes_and_wrong_fails_in_each_language(tmp_path, sandbox):
    path = write(tmp_path / "data", {lang: row for lang, (row, _) in MCEVAL.items()})
    problems = benchmarks.load({"name": "mceval", "path": str(path)})
    wrong = {row["task_id"]: bad for row, bad in MCEVAL.values()}
    programs = [program for p in problems for program in (p.program(p.reference), p.program(wrong[p.task_id]))]
    python = next(p for p in problems if p.language == "python")
    programs.append(python.program("Sure:\n```python\ndef add(a, b):\n    return a + b\n```\n", instruct=True))
    outcomes = sandbox.judge_many(programs, threads=2, progress=False)
    got = {(p.task_id, kind): o.status for p, pair in zip(problems, zip(outcomes[::2], outcomes[1::2]))
           for kind, o in zip(("reference", "wrong"), pair)}
    for language in ("Python", "JavaScript", "CPP"):
        assert got[(f"{language}/1", "reference")] == "passed", (got, [o.output for o in outcomes])
        assert got[(f"{language}/1", "wrong")].startswith("failed"), got
    assert got[("Rust/1", "reference")] == got[("Rust/1", "wrong")] == "unavailable"  # no toolchain: not judged
    assert outcomes[-1].passed


def test_mdeval_buggy_code_fails_and_the_fix_passes(tmp_path, sandbox, params, capsys):
    path = write(tmp_path / "bug", MDEVAL)
    problems = benchmarks.load({"name": "mdeval", "path": str(path)}, instruct=True)
    assert [p.task_id for p in problems] == ["CPP/1", "JavaScript/1", "Python/1"]
    python = problems[2]
    system, user, assistant = python.instruct_messages()  # MdEval's inference/chat.py
    assert system == {"role": "system", "content": "You are a helpful assistant"}
    assert user["content"] == MDEVAL["Python"]["instruction"] and python.entry_points == ("square",)
    assert problems[0].program(problems[0].reference).completion.startswith("#include <cassert>\n")
    fixes = [p.program(f"```{fence}\n{MDEVAL[lang]['canonical_solution']}\n```", instruct=True)
             for p, lang, fence in zip(problems, ("CPP", "JavaScript", "Python"), ("cpp", "javascript", "python"))]
    programs = [p.program(p.buggy) for p in problems] + fixes
    outcomes = sandbox.judge_many(programs, threads=2, progress=False)
    assert [o.passed for o in outcomes] == [False] * 3 + [True] * 3, [(o.status, o.output) for o in outcomes]
    # --canonical: the references pass, the buggy programs fail
    summary = evaluate_canonical({"name": "mdeval", "path": str(path)}, tmp_path / "ref", params, threads=2)
    assert summary["pass_rate"] == 1.0 and summary["evaluated"] == 3
    assert summary["buggy"] == {"evaluated": 3, "failed": 3, "passing": []}
    assert "3/3 buggy programs fail" in capsys.readouterr().out
    assert len(summary["environment"]["toolchains"]) == 2  # cpp, js (python runs in the judge)


@pytest.mark.parametrize("name, rows, field", [
    ("mceval", {"Python": {k: v for k, v in MCEVAL["Python"][0].items() if k != "entry_point"}}, "entry_point"),
    ("mdeval", {"Python": {k: v for k, v in MDEVAL["Python"].items() if k != "buggy_code"}}, "buggy_code"),
])
def test_a_malformed_row_names_file_and_row(tmp_path, name, rows, field):
    folder = write(tmp_path / "data", rows)
    good = MCEVAL["Python"][0] if name == "mceval" else MDEVAL["Python"]
    path = folder / "Python.jsonl"
    path.write_text(json.dumps(good) + "\n" + path.read_text())
    with pytest.raises(benchmarks.BenchmarkError, match=rf"{path}: row 2: missing field\(s\) {field}"):
        benchmarks.load({"name": name, "path": str(folder)}, instruct=True)
    path.write_text(json.dumps({**good, "test": 3}) + "\n")
    with pytest.raises(benchmarks.BenchmarkError, match=rf"{path}: row 1: field\(s\) test must be strings"):
        benchmarks.load({"name": name, "path": str(path)}, instruct=True)
