"""HumanEval harness: the benchmark's own solutions score 164/164 in the sandbox, wrong ones fail,
pass@k matches the exact binomial formula, the other benchmarks load from files, and greedy
generation from a real (tiny, random) Llama is batched, stop-aware and deterministic."""

from __future__ import annotations

import gzip
import json
from math import comb

import pytest

from opencoder.cli import main as opencoder_main
from opencoder.evaluation import benchmarks
from opencoder.evaluation.benchmarks import BenchmarkError
from opencoder.evaluation.passk import pass_at_k
from opencoder.evaluation.sandbox import Limits, Sandbox
from opencoder.evaluation.score import score
from tiny_llama import build_tiny_llama


@pytest.fixture(scope="module")
def sandbox():
    return Sandbox(Limits(timeout_s=10, memory_mb=2048, nproc=32, file_size_mb=8))


@pytest.fixture(scope="module")
def humaneval():
    return benchmarks.load({"name": "humaneval"})


def test_canonical_solutions_score_164_of_164(tmp_path, capsys):
    from opencoder.core import config
    from opencoder.evaluation.cli import main

    params = config.load()["eval"]
    argv = ["--benchmark", "humaneval", "--canonical", "--output", str(tmp_path), "--threads", "2",
            "--params", json.dumps(params)]
    assert main(argv) == 0
    assert "humaneval: 164/164 reference solutions pass" in capsys.readouterr().out
    results = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(results) == 164 and [r for r in results if not r["passed"]] == []
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["pass_rate"] == 1.0 and summary["results"] == {"passed": 164}
    assert summary["environment"]["sandbox"]["python"].startswith("3.")


def test_wrong_solutions_fail(sandbox, humaneval):
    problems = humaneval[:20]
    wrong = {
        p.task_id: ["    return None\n", "    raise NotImplementedError\n", "    while True:\n        pass\n"]
        for p in problems[:2]
    }
    # a plausible wrong answer for every problem: another problem's canonical solution
    wrong.update({p.task_id: [problems[(i + 1) % len(problems)].reference] for i, p in enumerate(problems) if i >= 2})
    results, summary = score(problems, wrong, Sandbox(Limits(timeout_s=2)), ks=[1], threads=2)
    assert not any(r["passed"] for r in results)
    assert summary["pass@1"] == 0.0
    statuses = {r["result"] for r in results}
    assert "timed out" in statuses and "failed: NotImplementedError" in statuses


# HumanEval/0 (has_close_elements) asserts `candidate(...) == True` / `== False`: each completion
# below would pass it in a harness that runs the tests in the completion's own interpreter.
HOSTILE = {
    "equal to everything": "    class Any:\n        def __eq__(self, other):\n            return True\n"
                           "    return Any()\n",
    "a bool-like int": "    class B(int):\n        def __eq__(self, other):\n            return True\n"
                       "        __hash__ = int.__hash__\n    return B(0)\n",
    "exit 0 at import": "    pass\nimport os\nos._exit(0)\n",
    "exit 0 in the call": "    import sys\n    sys.exit(0)\n",
    "exit 200 (no signal)": "    pass\nimport sys\nsys.exit(200)\n",
    "a patched assert": "    return None\nimport builtins\nbuiltins.AssertionError = type('Q', (Exception,), {})\n",
    "a printed success": "    return None\nprint('passed')\n",
}


def test_hostile_completions_of_humaneval_0_fail(sandbox, humaneval):
    problem = humaneval[0]
    assert problem.task_id == "HumanEval/0" and "== True" in problem.tests
    results, summary = score([problem], {problem.task_id: [problem.reference, *HOSTILE.values()]}, sandbox, threads=2)
    assert results[0]["passed"]
    assert [r["passed"] for r in results[1:]] == [False] * len(HOSTILE), results
    assert all(r["result"].startswith("failed: ") for r in results[1:])


def test_eval_samples_scores_completions_made_elsewhere(tmp_path, humaneval):
    from opencoder.core import config
    from opencoder.evaluation.cli import main

    problems = humaneval[:3]
    samples = tmp_path / "samples.jsonl"
    rows = [{"task_id": p.task_id, "completion": p.reference} for p in problems]
    rows += [{"task_id": problems[0].task_id, "completion": HOSTILE["equal to everything"]},
             {"task_id": problems[1].task_id, "completion": HOSTILE["exit 200 (no signal)"]}]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    params = config.load("config/smoke.yaml")["eval"]
    out = tmp_path / "scored"
    argv = ["--benchmark", "humaneval", "--samples", str(samples), "--output", str(out), "--threads", "2",
            "--params", json.dumps(params)]
    assert main(argv) == 0
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(r["task_id"], r["passed"]) for r in results] == [
        ("HumanEval/0", True), ("HumanEval/0", False), ("HumanEval/1", True), ("HumanEval/1", False),
        ("HumanEval/2", True)]
    assert results[3]["result"] == "failed: SystemExit"  # sys.exit(200) while the completion loads
    summary = json.loads((out / "summary.json").read_text())
    assert summary["problems"] == 3 and summary["samples"] == 5 and summary["pass@1"] == pytest.approx((0.5 + 0.5 + 1) / 3)
    # instruct-model replies: the code block of each reply is the program
    replies = tmp_path / "replies.jsonl"
    replies.write_text("".join(json.dumps({"task_id": p.task_id, "completion": f"Here it is:\n```python\n{code}```\n"}) + "\n"
                               for p, code in [(problems[0], problems[0].prompt + problems[0].reference),
                                               (problems[1], problems[1].prompt + "    return []\n")]))
    assert main(["--benchmark", "humaneval", "--samples", str(replies), "--instruct", "--output", str(tmp_path / "chat"),
                 "--threads", "2", "--params", json.dumps(params)]) == 0
    chat = [json.loads(line) for line in (tmp_path / "chat" / "results.jsonl").read_text().splitlines()]
    assert [r["passed"] for r in chat] == [True, False]
    assert json.loads((tmp_path / "chat" / "summary.json").read_text())["prompt_format"] == "instruct"
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text('{"task_id": "HumanEval/9999", "completion": ""}\n')
    argv[3] = str(unknown)
    assert opencoder_main(["eval", *argv]) == 1


def test_pass_at_k_is_the_unbiased_estimator():
    def exact(n, c, k):
        return 1 - comb(n - c, k) / comb(n, k)

    outcomes = {"a": [True] * 13 + [False] * 187, "b": [False] * 200, "c": [True] * 200}
    got = pass_at_k(outcomes, [1, 10, 100, 201])
    for k in (1, 10, 100):
        want = (exact(200, 13, k) + 0 + 1) / 3
        assert got[f"pass@{k}"] == pytest.approx(want, rel=1e-12)
    assert "pass@201" not in got  # undefined with 200 samples: left out, not guessed
    assert pass_at_k({"a": [True], "b": [False]}, [1]) == {"pass@1": 0.5}


def test_plus_and_mbpp_load_from_files_and_run(tmp_path, sandbox):
    plus = tmp_path / "HumanEvalPlus.jsonl.gz"
    with gzip.open(plus, "wt") as f:
        f.write(json.dumps({
            "task_id": "HumanEval/0", "prompt": "def add(a, b):\n", "entry_point": "add",
            "canonical_solution": "    return a + b\n",
            "test": "def check(candidate):\n    for a, b in [(1, 2), (-1, 1), (10**20, 1)]:\n        assert candidate(a, b) == a + b\n",
        }) + "\n")
    mbpp = tmp_path / "mbpp.jsonl"
    mbpp.write_text(json.dumps({
        "task_id": 11, "text": "Write a function to square a number.", "code": "def square(x):\n    return x * x\n",
        "test_list": ["assert square(3) == 9", "assert square(-2) == 4"], "test_setup_code": "",
    }) + "\n")
    mbpp_plus = tmp_path / "mbppplus.json"
    mbpp_plus.write_text(json.dumps([{
        "task_id": 2, "prompt": "Write a function to negate a number.", "code": "def neg(x):\n    return -x\n",
        "test_imports": ["import math"], "test_list": ["assert neg(1) == -1"],
        "test": "for x in [0, 1, -5, math.inf]:\n    assert neg(x) == -x\n",
    }]))
    for spec in [{"name": "humaneval_plus", "path": str(plus)}, {"name": "mbpp", "path": str(mbpp)},
                 {"name": "mbpp_plus", "path": str(mbpp_plus)}]:
        (problem,) = benchmarks.load(spec)
        assert sandbox.judge(problem.program(problem.reference)).passed, spec
        assert not sandbox.judge(problem.program("def nothing():\n    pass\n")).passed, spec
    (mb,) = benchmarks.load({"name": "mbpp", "path": str(mbpp)})
    assert mb.prompt == '"""\nWrite a function to square a number.\nassert square(3) == 9\n"""\n'


MBPP_ORIGINAL = [  # the original mbpp.jsonl's fields; ids 1-10 prompt split, 11-510 test, 601- train
    {"task_id": i, "text": f"Write a function to add {i} to a number.", "code": f"def add_{i}(x):\n    return x + {i}\n",
     "test_list": [f"assert add_{i}(1) == {i + 1}", f"assert add_{i}(-{i}) == 0"], "test_setup_code": "",
     "challenge_test_list": []}
    for i in (1, 2, 3, 4, 11, 12, 601)
]


def test_original_mbpp_file_in_both_prompt_formats(tmp_path, sandbox):
    from opencoder.evaluation import prompts

    path = tmp_path / "mbpp.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in MBPP_ORIGINAL))
    zero = benchmarks.load({"name": "mbpp", "path": str(path)})
    three = benchmarks.load({"name": "mbpp_3shot", "path": str(path)})
    assert [p.task_id for p in zero] == [p.task_id for p in three] == ["11", "12"]  # the test split only
    assert zero[0].prompt == '"""\nWrite a function to add 11 to a number.\nassert add_11(1) == 12\n"""\n'
    shot = ("You are an expert Python programmer, and here is your task: Write a function to add 2 to a number. "
            "Your code should pass these tests:\n\nassert add_2(1) == 3\nassert add_2(-2) == 0\n[BEGIN]\n"
            "def add_2(x):\n    return x + 2\n[DONE]\n")
    assert three[0].prompt.startswith(shot) and three[0].prompt.count("[DONE]") == 3
    assert three[0].prompt.endswith("assert add_11(-11) == 0\n[BEGIN]\n") and three[0].stop == ("[DONE]",)
    for problem in (*zero, *three):
        assert problem.entry_points == (f"add_{problem.task_id}",)
        assert sandbox.judge(problem.program(problem.reference)).passed
        assert sandbox.judge(problem.program("def add_11(x):\n    return x\n")).status.startswith("failed: ")
        # the instruct format: EvalPlus's chat request, and the code block of the reply judged alone
        user, reply = problem.instruct_messages()
        assert user["content"].startswith(prompts.INSTRUCT_REQUEST) and reply["content"].endswith("```python\n")
        answer = f"Sure:\n```python\n{problem.reference}```\nDone."
        assert sandbox.judge(problem.program(answer, instruct=True)).passed
        assert sandbox.judge(problem.program(f"{problem.reference}```", instruct=True)).passed  # continued reply
    assert prompts.prompt_hash([p.prompt for p in zero]) != prompts.prompt_hash([p.prompt for p in three])
    no_shots = tmp_path / "sanitized.jsonl"
    no_shots.write_text("".join(json.dumps(r) + "\n" for r in MBPP_ORIGINAL[4:]))
    with pytest.raises(BenchmarkError, match=r"3-shot prompt needs tasks \[2, 3, 4\]"):
        benchmarks.load({"name": "mbpp_3shot", "path": str(no_shots)})


def test_reference_gate_refuses_a_benchmark_with_broken_references(tmp_path, sandbox):
    from opencoder.evaluation.cli import reference_gate
    from opencoder.evaluation.score import calibrated_timeouts

    records = [dict(r) for r in MBPP_ORIGINAL]
    params = {"gate": {"min_pass_rate": 0.95, "time_multiple": 4.0, "time_floor_s": 2.0}}
    path = tmp_path / "mbpp.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    spec = {"name": "mbpp", "path": str(path)}
    record, timeouts = reference_gate(spec, benchmarks.load(spec), sandbox, params, tmp_path / "ok", 2)
    assert record["pass_rate"] == 1.0 and set(timeouts) == {"11", "12"} and min(timeouts.values()) >= 2.0
    assert calibrated_timeouts([{"task_id": "a", "seconds": 3.0}, {"task_id": "b", "seconds": 0.1}], 4, 2) == {"a": 12.0, "b": 2}
    records[5]["code"] = "def add_12(x):\n    return x\n"  # task 12's reference is wrong
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(BenchmarkError, match=r"mbpp: only 1/2 reference solutions pass .* not scoring"):
        reference_gate(spec, benchmarks.load(spec), sandbox, params, tmp_path / "broken", 2)
    assert (tmp_path / "broken" / "canonical.jsonl").exists()


def test_bad_benchmark_files_are_clear_errors(tmp_path):
    assert "skipped, no data" in benchmarks.available({"name": "mbpp"})
    assert benchmarks.available({"name": "humaneval"}) is None
    with pytest.raises(BenchmarkError, match="ships with no package"):
        benchmarks.load({"name": "mbpp"})
    with pytest.raises(BenchmarkError, match="no such benchmark file"):
        benchmarks.load({"name": "mbpp", "path": str(tmp_path / "absent.jsonl")})
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"task_id": "x", "prompt": "p", "entry_point": "f", "test": "t"}\n{not json\n')
    with pytest.raises(BenchmarkError, match=r"broken.jsonl:2: not valid JSON"):
        benchmarks.load({"name": "humaneval_plus", "path": str(broken)})
    missing = tmp_path / "missing.jsonl"
    missing.write_text('{"task_id": "x", "prompt": "p"}\n')
    with pytest.raises(BenchmarkError, match=r"missing.jsonl: record 1: missing field\(s\) entry_point, test"):
        benchmarks.load({"name": "humaneval_plus", "path": str(missing)})
    with pytest.raises(BenchmarkError, match="unknown benchmark"):
        benchmarks.load({"name": "humaneval_minus"})


def test_limit_takes_the_first_problems():
    assert [p.task_id for p in benchmarks.load({"name": "humaneval"}, limit=3)] == [f"HumanEval/{i}" for i in range(3)]


# ------------------------------------------------------------------ generation from a real model ---

@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_llama(tmp_path_factory.mktemp("hf_export"))


@pytest.fixture
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # two cores shared by many processes: more threads only contend
    yield
    torch.set_num_threads(before)


def test_batched_greedy_equals_one_by_one_and_respects_stops(tiny_model, one_thread):
    from opencoder.evaluation.generate import Decoding, generate, load_model

    model, tokenizer = load_model(tiny_model, device="cpu")
    problems = benchmarks.load({"name": "humaneval"}, limit=6)
    prompts = [p.prompt for p in problems]
    stop = problems[0].stop
    batched = generate(model, tokenizer, prompts, stop, Decoding(max_new_tokens=24, batch_size=4))
    single = generate(model, tokenizer, prompts, stop, Decoding(max_new_tokens=24, batch_size=1))
    assert batched == single
    assert all(len(c) == 1 for c in batched)
    assert not any(s in c[0] for c in batched for s in stop)
    assert any(c[0] for c in batched)  # something was generated
    # sampling: n samples per prompt, reproducible with the seed
    sampled = Decoding(max_new_tokens=8, batch_size=3, samples=2, temperature=1.0, top_p=0.95, seed=7)
    first = generate(model, tokenizer, prompts[:3], stop, sampled)
    assert first == generate(model, tokenizer, prompts[:3], stop, sampled)
    assert all(len(c) == 2 for c in first)
    with pytest.raises(ValueError, match="temperature"):
        Decoding(samples=2, temperature=0.0)


def test_eval_cli_writes_results_and_summary(tiny_model, tmp_path, one_thread):
    from opencoder.core import config
    from opencoder.evaluation.cli import main

    params = config.load("config/smoke.yaml")["eval"]
    params.update(limit=3, max_new_tokens=16, batch_size=2, device="cpu", k=[1, 5])
    out = tmp_path / "eval"
    argv = ["--input", str(tiny_model), "--output", str(out), "--threads", "1", "--params", json.dumps(params)]
    assert main(argv) == 0
    rows = [json.loads(line) for line in (out / "humaneval" / "results.jsonl").read_text().splitlines()]
    assert [r["task_id"] for r in rows] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    assert all(set(r) == {"task_id", "sample", "completion", "passed", "result"} for r in rows)
    summary = json.loads((out / "humaneval" / "summary.json").read_text())
    assert summary["problems"] == 3 and summary["pass@1"] == sum(r["passed"] for r in rows) / 3
    assert "pass@5" not in summary  # one greedy sample defines pass@1 only
    assert len(summary["prompt_hash"]) == 64 and summary["prompt_format"] == "base"
    assert summary["references"]["pass_rate"] == 1.0 and summary["environment"]["packages"]["torch"]
    skipped = json.loads((out / "mbpp_3shot" / "summary.json").read_text())  # no data: one line, no error
    assert skipped["skipped"].startswith("mbpp_3shot: skipped, no data")
    stats = json.loads((out / "humaneval" / "stats.json").read_text())
    assert stats["in"]["documents"] == 3 and stats["out"]["documents"] == summary["passed"]
    first = (out / "humaneval" / "results.jsonl").read_bytes(), (out / "humaneval" / "summary.json").read_bytes()
    assert main(argv) == 0  # same config and model: same bytes
    assert first == ((out / "humaneval" / "results.jsonl").read_bytes(), (out / "humaneval" / "summary.json").read_bytes())


@pytest.mark.slow
def test_eval_rule_reruns_on_eval_settings_only(tmp_path):
    """`snakemake eval` on an export: rerun when an eval setting changes, and that change touches
    no training parameter (so nothing upstream is rebuilt)."""
    import subprocess
    import sys

    import yaml

    from opencoder.core import config
    from opencoder.training.params import stage_params as training_params

    build_tiny_llama(tmp_path / "hf_export")

    def snakemake(eval_overrides, *flags):
        cfg = tmp_path / "test.yaml"
        cfg.write_text(yaml.safe_dump({"out_dir": str(tmp_path), "eval": {"limit": 2, **eval_overrides}}))
        cmd = [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "config/smoke.yaml", str(cfg),
               "--allowed-rules", "eval", *flags, "--", "eval"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    snakemake({"max_new_tokens": 8})
    summary = json.loads((tmp_path / "eval" / "humaneval" / "summary.json").read_text())
    assert summary["problems"] == 2 and summary["decoding"]["max_new_tokens"] == 8
    assert "Nothing to be done" in snakemake({"max_new_tokens": 8}, "-n")
    plan = snakemake({"max_new_tokens": 9}, "-n")
    assert "params have changed since last execution:\n        eval\n" in plan  # the dry run's summary of reasons
    base = config.load("config/smoke.yaml")
    changed = config.deep_merge(base, {"eval": {"max_new_tokens": 9, "batch_size": 3}})
    assert training_params(changed, "anneal") == training_params(base, "anneal")


def test_eval_cli_reports_a_missing_benchmark_file(tiny_model, tmp_path, capsys, one_thread):
    from opencoder.core import config
    from opencoder.evaluation.cli import main

    params = config.load()["eval"]
    params.update(benchmarks=[{"name": "mbpp", "path": str(tmp_path / "mbpp.jsonl")}], device="cpu")
    argv = ["--input", str(tiny_model), "--output", str(tmp_path / "eval"), "--params", json.dumps(params)]
    assert opencoder_main(["eval", *argv]) == 1
    assert f"{tmp_path / 'mbpp.jsonl'}: no such benchmark file" in capsys.readouterr().err
    assert not (tmp_path / "eval").exists()
