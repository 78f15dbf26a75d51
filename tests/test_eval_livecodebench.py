"""LiveCodeBench: problems read from files in the release's own format (code_generation_lite's
test*.jsonl rows, private tests compressed as the lite release compresses them), judged in the
sandbox as LiveCodeBench judges them: stdin/stdout programs and LeetCode-style functional tests."""

from __future__ import annotations

import base64
import json
import pickle
import zlib
from pathlib import Path

import pytest

from opencoder.core import config
from opencoder.evaluation import benchmarks, livecodebench, prompts
from opencoder.evaluation.benchmarks import BenchmarkError
from opencoder.evaluation.sandbox import Limits, Sandbox
from opencoder.evaluation.score import score


def compress(value) -> str:
    """As the lite release stores private tests: base64(zlib(pickle(json string)))."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(value)))).decode()


def stdin_row(qid: str, date: str, private_compressed: bool = True) -> dict:
    private = [{"input": "10 20\n", "output": "30\n", "testtype": "stdin"},
               {"input": "1.5 1\n", "output": "2.50\n", "testtype": "stdin"}]  # "2.5" = "2.50" (Decimal)
    return {
        "question_title": "A + B", "question_content": "Read two numbers A and B and print A + B.",
        "platform": "atcoder", "question_id": qid, "contest_id": "abc300", "contest_date": f"{date}T00:00:00",
        "starter_code": "", "difficulty": "easy",
        "public_test_cases": json.dumps([{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]),
        "private_test_cases": compress(private) if private_compressed else json.dumps(private),
        "metadata": "{}",
    }


def functional_row(qid: str, date: str) -> dict:
    tests = [{"input": "[2,7,11,15]\n9", "output": "[0,1]", "testtype": "functional"},
             {"input": "[3,2,4]\n6", "output": "[1,2]", "testtype": "functional"}]
    return {
        "question_title": "two-sum", "question_content": "Return the indices of the two numbers adding up to target.",
        "platform": "leetcode", "question_id": qid, "contest_id": "weekly-contest-350",
        "contest_date": f"{date}T00:00:00",
        "starter_code": "class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n        ",
        "difficulty": "easy", "public_test_cases": json.dumps(tests[:1]), "private_test_cases": compress(tests[1:]),
        "metadata": json.dumps({"func_name": "twoSum"}),
    }


def write_release(folder: Path, files: dict[str, list[dict]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in files.items():
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


STDIN_OK = "a, b = input().split()\nx = float(a) + float(b)\nprint(int(x) if x == int(x) else x)\n"
STDIN_WRONG = "a, b = map(float, input().split())\nprint(a * b)\n"
FUNC_OK = ("class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
           "        seen = {}\n        for i, n in enumerate(nums):\n            if target - n in seen:\n"
           "                return (seen[target - n], i)\n            seen[n] = i\n")
FUNC_WRONG = "class Solution:\n    def twoSum(self, nums, target):\n        return [0, 1]\n"


def fenced(code: str) -> str:
    """A base model's answer: the code in a fenced block, as LiveCodeBench extracts it."""
    return f"```python\n{code}```\n"


@pytest.fixture(scope="module")
def sandbox():
    return Sandbox(Limits(timeout_s=10, memory_mb=2048, nproc=32, file_size_mb=8))


@pytest.fixture
def release(tmp_path):
    return write_release(tmp_path / "code_generation_lite", {
        "test.jsonl": [stdin_row("abc300_a", "2023-04-30"), stdin_row("abc301_a", "2023-05-01"),
                       functional_row("1", "2023-06-10")],
        "test2.jsonl": [stdin_row("abc350_a", "2024-09-30", private_compressed=False),
                        stdin_row("abc360_a", "2024-10-01")],
    })


def test_release_version_and_date_window_select_the_problems(release):
    spec = {"name": "livecodebench", "path": str(release), "release_version": "release_v2",
            "start_date": "2023-05-01", "end_date": "2024-09-30"}
    assert [p.task_id for p in benchmarks.load(spec)] == ["abc301_a", "1", "abc350_a"]
    assert [p.task_id for p in benchmarks.load({**spec, "release_version": "release_v1"})] == ["abc301_a", "1"]
    assert [p.task_id for p in benchmarks.load({**spec, "release_version": "v2", "start_date": None})] == \
        ["abc350_a"]
    assert len(benchmarks.load({"name": "livecodebench", "path": str(release / "test2.jsonl")})) == 2  # a file: whole
    with pytest.raises(BenchmarkError, match=r"release_v3 needs test3.jsonl"):
        benchmarks.load({**spec, "release_version": "release_v3"})
    with pytest.raises(BenchmarkError, match=r"no problem with a contest_date in \[2030-01-01"):
        benchmarks.load({**spec, "start_date": "2030-01-01", "end_date": None})
    with pytest.raises(BenchmarkError, match=r"mbpp: release_version apply to livecodebench only"):
        benchmarks.load({"name": "mbpp", "path": str(release), "release_version": "release_v1"})


def test_compressed_private_tests_decode(release):
    problems = {p.task_id: p for p in benchmarks.load({"name": "livecodebench", "path": str(release),
                                                      "release_version": "release_v2"})}
    assert problems["abc301_a"].cases == (("1 2\n", "3\n"), ("10 20\n", "30\n"), ("1.5 1\n", "2.50\n"))
    assert problems["abc350_a"].cases == problems["abc301_a"].cases  # the same tests stored as plain JSON
    assert problems["1"].func_name == "twoSum"
    assert problems["1"].cases == (([[2, 7, 11, 15], 9], [0, 1]), ([[3, 2, 4], 6], [1, 2]))


class Boom:
    def __reduce__(self):
        return (print, ("pwned",))


def test_a_pickle_naming_code_is_refused_with_file_and_row(tmp_path, capsys):
    bad = stdin_row("abc999_a", "2023-07-01")
    bad["private_test_cases"] = base64.b64encode(zlib.compress(pickle.dumps(Boom()))).decode()
    folder = write_release(tmp_path / "lcb", {"test.jsonl": [stdin_row("abc301_a", "2023-05-01"), bad]})
    with pytest.raises(BenchmarkError, match=r"lcb/test.jsonl: row 2: private_test_cases: unsafe pickle "
                                             r"refused: the pickle names builtins.print") as caught:
        benchmarks.load({"name": "livecodebench", "path": str(folder), "release_version": "release_v1"})
    assert "pwned" not in capsys.readouterr().out
    assert "row 2" in str(caught.value)
    bad["private_test_cases"] = "not base64 !!"
    write_release(folder, {"test.jsonl": [bad]})
    with pytest.raises(BenchmarkError, match=r"row 1: private_test_cases are neither JSON nor base64"):
        benchmarks.load({"name": "livecodebench", "path": str(folder), "release_version": "release_v1"})


def test_stdin_and_functional_programs_pass_and_fail(release, sandbox):
    problems = benchmarks.load({"name": "livecodebench", "path": str(release), "release_version": "release_v1",
                                "start_date": "2023-05-01", "test_timeout_s": 2})
    stdin, functional = problems
    completions = {
        stdin.task_id: [fenced(STDIN_OK), fenced(STDIN_WRONG), fenced("raise SystemExit(3)\n"),
                        fenced("while True:\n    pass\n"), "no code block at all"],
        functional.task_id: [fenced(FUNC_OK), fenced(FUNC_WRONG), fenced("class Solution:\n    pass\n")],
    }
    results, summary = score(problems, completions, sandbox, ks=[1], threads=2, name="livecodebench")
    got = {(r["task_id"], r["sample"]): r["result"] for r in results}
    assert got[(stdin.task_id, 0)] == "passed"  # "2.5" matches "2.50": LiveCodeBench's Decimal comparison
    assert got[(stdin.task_id, 1)] == "failed: AssertionError"  # 1 * 2 = 2.0, not 3
    assert got[(stdin.task_id, 2)] == "failed: RuntimeError"  # a nonzero exit status
    assert got[(stdin.task_id, 3)] == "timed out"  # the per-test limit (2 s), not the whole run's
    assert got[(stdin.task_id, 4)].startswith("failed")  # nothing extracted: an empty program prints nothing
    assert got[(functional.task_id, 0)] == "passed"  # a tuple result counts as the list LiveCodeBench expects
    assert got[(functional.task_id, 1)] == "failed: AssertionError"  # right on the public test, wrong on the private
    assert got[(functional.task_id, 2)] == "failed: AttributeError"
    timed_out = next(r for r in results if r["result"] == "timed out")
    assert timed_out["completion"].startswith("```python\nwhile True")
    assert summary["problems"] == 2 and summary["passed"] == 2


def test_instruct_replies_are_judged_and_prompts_follow_livecodebench(release, sandbox):
    stdin, functional = benchmarks.load({"name": "livecodebench", "path": str(release),
                                         "release_version": "release_v1", "start_date": "2023-05-01"})
    messages = functional.instruct_messages()
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert messages[0]["content"] == prompts.LCB_SYSTEM
    assert messages[1]["content"].startswith("### Question:\nReturn the indices")
    assert "### Format: You will use the following starter code" in messages[1]["content"]
    assert messages[1]["content"].endswith("### Answer: (use the provided format with backticks)\n\n")
    assert "Read the inputs from stdin" in stdin.instruct_messages()[1]["content"]
    assert stdin.prompt == f"### Question\n{stdin.content}\n\n### Answer\n\n"
    assert "### Starter Code\nclass Solution" in functional.prompt and stdin.stop == ("###",)
    # a chat reply continues the prefilled code block and ends at its fence (cut by the stop)
    results, _ = score([stdin, functional], {stdin.task_id: [STDIN_OK], functional.task_id: [FUNC_OK]},
                       sandbox, instruct=True)
    assert [r["result"] for r in results] == ["passed", "passed"]


def test_canonical_says_there_are_no_references_and_default_config_skips(release, tmp_path, capsys):
    params = config.load()["eval"]
    spec = next(b for b in params["benchmarks"] if b["name"] == "livecodebench")
    assert spec["start_date"] == "2023-05-01" and spec["end_date"] == "2024-09-30"
    assert benchmarks.available(spec).startswith("livecodebench: skipped, no data")
    argv = ["--benchmark", "livecodebench", "--data", str(release / "test.jsonl"), "--canonical", "--output", str(tmp_path),
            "--params", json.dumps(params)]
    from opencoder.cli import main as opencoder_main

    assert opencoder_main(["eval", *argv]) == 1
    err = capsys.readouterr().err
    assert "livecodebench: ships no reference solutions" in err and "--canonical does not apply" in err


def test_bad_config_values_are_schema_errors():
    cfg = config.load()
    for bad in ({"release_version": "release_v9"}, {"start_date": "May 2023"}):
        cfg["eval"]["benchmarks"] = [{"name": "livecodebench", **bad}]
        with pytest.raises(Exception, match=r"release_v9|May 2023"):
            config.validate(cfg)
