"""MultiPL-E: each language's fixture (two problems in MultiPL-E's released format, written here)
loads, renders both prompt formats, and scores a correct completion as passed and a wrong one as
failed, built and run by the language's toolchain in the sandbox; a missing toolchain makes every
program "unavailable" (not evaluated); a program that loops times out; one that reaches for the
network or writes outside /tmp fails and leaves the host untouched."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import threading
from pathlib import Path

import pytest

from opencoder.cli import main as opencoder_main
from opencoder.core import config
from opencoder.evaluation import benchmarks, prompts
from opencoder.evaluation.cli import main as eval_main, make_sandbox

REPO = Path(__file__).resolve().parents[1]

# Two HumanEval problems (53 add, 42 incr_list) per language, as MultiPL-E's translations write them
# (prompt, tests, stop tokens), with a correct and a wrong body for each.
JAVA_HEAD = ("import java.util.*;\nimport java.lang.reflect.*;\nimport org.javatuples.*;\nimport java.security.*;\n"
             "import java.math.*;\nimport java.io.*;\nimport java.util.stream.*;\nclass Problem {\n")
CS_HEAD = ("using System;\nusing System.Numerics;\nusing System.Diagnostics;\nusing System.Collections.Generic;\n"
           "using System.Linq;\nusing System.Text;\nusing System.Security.Cryptography;\nclass Problem {\n")
JS_TEST = "\n\nfunction test() {{\n  let candidate = {name};\n{asserts}}}\n\ntest();\n"
FIXTURES = {
    "cpp": {
        "stop": ["\n}"],
        "add": ("#include<assert.h>\n#include<bits/stdc++.h>\n// Add two numbers x and y\n// >>> add((2), (3))\n"
                "// (5)\nlong add(long x, long y) {\n",
                "}\nint main() {\n    auto candidate = add;\n    assert(candidate((0), (1)) == (1));\n"
                "    assert(candidate((5), (7)) == (12));\n}\n",
                "    return x + y;\n", "    return x - y;\n"),
        "incr_list": ("#include<assert.h>\n#include<bits/stdc++.h>\n// Return vector with elements incremented by 1.\n"
                      "// >>> incr_list((std::vector<long>({(long)1, (long)2})))\n// (std::vector<long>({(long)2, (long)3}))\n"
                      "std::vector<long> incr_list(std::vector<long> l) {\n",
                      "}\nint main() {\n    auto candidate = incr_list;\n"
                      "    assert(candidate((std::vector<long>({(long)3, (long)2, (long)1}))) == "
                      "(std::vector<long>({(long)4, (long)3, (long)2})));\n}\n",
                      "    for (auto &x : l) x += 1;\n    return l;\n", "    return l;\n"),
    },
    "java": {
        "stop": ["\n    }\n"],
        "add": (JAVA_HEAD + "    // Add two numbers x and y\n    // >>> add((2l), (3l))\n    // (5l)\n"
                "    public static long add(long x, long y) {\n",
                "    }\n    public static void main(String[] args) {\n    assert(add((0l), (1l)) == (1l));\n"
                "    assert(add((5l), (7l)) == (12l));\n    }\n\n}\n",
                "        return x + y;\n", "        return x - y;\n"),
        "incr_list": (JAVA_HEAD + "    // Return array list with elements incremented by 1.\n"
                      "    public static ArrayList<Long> incrList(ArrayList<Long> l) {\n",
                      "    }\n    public static void main(String[] args) {\n"
                      "    assert(incrList((new ArrayList<Long>(Arrays.asList((long)3l, (long)2l, (long)1l)))).equals("
                      "(new ArrayList<Long>(Arrays.asList((long)4l, (long)3l, (long)2l)))));\n    }\n\n}\n",
                      "        ArrayList<Long> r = new ArrayList<>();\n        for (long x : l) r.add(x + 1);\n"
                      "        return r;\n", "        return l;\n"),
    },
    "cs": {
        "stop": ["\n    }\n"],
        "add": (CS_HEAD + "    // Add two numbers x and y\n    // >>> Add((2L), (3L))\n    // (5L)\n"
                "    public static long Add(long x, long y) {\n",
                "    }\n    public static void Main(string[] args) {\n    Debug.Assert(Add((0L), (1L)) == (1L));\n"
                "    Debug.Assert(Add((5L), (7L)) == (12L));\n    }\n\n}\n",
                "        return x + y;\n", "        return x - y;\n"),
        "incr_list": (CS_HEAD + "    // Return list with elements incremented by 1.\n"
                      "    public static List<long> IncrList(List<long> l) {\n",
                      "    }\n    public static void Main(string[] args) {\n"
                      "    Debug.Assert(IncrList((new List<long>(new long[]{(long)3L, (long)2L, (long)1L}))).SequenceEqual("
                      "(new List<long>(new long[]{(long)4L, (long)3L, (long)2L}))));\n    }\n\n}\n",
                      "        return l.Select(x => x + 1).ToList();\n", "        return l;\n"),
    },
    "ts": {
        "stop": ["\nfunction ", "\n/*", "\n//", "\nconsole.log"],
        "add": ("//Add two numbers x and y\n// >>> add(2, 3)\n// 5\nfunction add(x: number, y: number): number {\n",
                "}\n\ndeclare var require: any;\nconst assert = require('node:assert');\n"
                + JS_TEST.format(name="add", asserts="  assert.deepEqual(candidate(0, 1),1);\n"
                                                     "  assert.deepEqual(candidate(5, 7),12);\n"),
                "  return x + y;\n", "  return x - y;\n"),
        "incr_list": ("//Return array with elements incremented by 1.\nfunction incr_list(l: number[]): number[] {\n",
                      "}\n\ndeclare var require: any;\nconst assert = require('node:assert');\n"
                      + JS_TEST.format(name="incr_list", asserts="  assert.deepEqual(candidate([3, 2, 1]),[4, 3, 2]);\n"),
                      "  return l.map((x) => x + 1);\n", "  return l;\n"),
    },
    "js": {
        "stop": ["\nfunction ", "\n/*", "\n//", "\nconsole.log"],
        "add": ("//Add two numbers x and y\n// >>> add(2, 3)\n// 5\nfunction add(x, y){\n",
                "}\n\nconst assert = require('node:assert');\n"
                + JS_TEST.format(name="add", asserts="  assert.deepEqual(candidate(0, 1),1);\n"
                                                     "  assert.deepEqual(candidate(5, 7),12);\n"),
                "  return x + y;\n", "  return x - y;\n"),
        "incr_list": ("//Return array with elements incremented by 1.\nfunction incr_list(l){\n",
                      "}\n\nconst assert = require('node:assert');\n"
                      + JS_TEST.format(name="incr_list", asserts="  assert.deepEqual(candidate([3, 2, 1]),[4, 3, 2]);\n"),
                      "  return l.map((x) => x + 1);\n", "  return l;\n"),
    },
    "php": {
        "stop": ["\nfunction", "\n?>", "\n//", "\n#"],
        "add": ("<?php\n// Add two numbers x and y\n// >>> add(2, 3)\n// 5\nfunction add($x, $y) {\n",
                "}\n\nfunction candidate(...$args) {\n    return add(...$args);\n}\n\nfunction test(): void {\n"
                "    if (candidate(0, 1) !== 1) { throw new Exception(\"Test failed!\"); }\n"
                "    if (candidate(5, 7) !== 12) { throw new Exception(\"Test failed!\"); }\n}\n\ntest();",
                "    return $x + $y;\n", "    return $x - $y;\n"),
        "incr_list": ("<?php\n// Return array with elements incremented by 1.\nfunction incr_list($l) {\n",
                      "}\n\nfunction candidate(...$args) {\n    return incr_list(...$args);\n}\n\nfunction test(): void {\n"
                      "    if (candidate(array(3, 2, 1)) !== array(4, 3, 2)) { throw new Exception(\"Test failed!\"); }\n"
                      "}\n\ntest();",
                      "    return array_map(fn($x) => $x + 1, $l);\n", "    return $l;\n"),
    },
    "sh": {
        "stop": ["\n}"],
        "add": ("#!/bin/bash\n# Add two numbers x and y\n# >>> $(add \"2\" \"3\")\n# \"5\"\n#\n# $1 is an integer\n"
                "# $2 is an integer\nadd() {\n",
                "}\n\ncandidate() {\n    add \"$@\"\n}\n\nset -e\nrun_test() {\n"
                "    [[ $(candidate \"0\" \"1\") = \"1\" ]]\n    [[ $(candidate \"5\" \"7\") = \"12\" ]]\n}\n\nrun_test",
                "    echo $(( $1 + $2 ))\n", "    echo $(( $1 - $2 ))\n"),
        "incr_list": ("#!/bin/bash\n# Return list with elements incremented by 1.\n#\n# $1 is a space-separated list\n"
                      "incr_list() {\n",
                      "}\n\ncandidate() {\n    incr_list \"$@\"\n}\n\nset -e\nrun_test() {\n"
                      "    [[ $(candidate \"3 2 1\") = \"4 3 2\" ]]\n}\n\nrun_test",
                      "    local out=()\n    for x in $1; do out+=($((x + 1))); done\n    echo \"${out[*]}\"\n",
                      "    echo \"$1\"\n"),
    },
}
LANGUAGES = list(FIXTURES)
SLOW = {"ts"}  # tsc loads its standard library for each program: ~4 s a build, over 20 s for the test


def records(language: str) -> list[dict]:
    fx = FIXTURES[language]
    number = {"add": 53, "incr_list": 42}
    return [{"name": f"HumanEval_{number[n]}_{n}", "language": language, "prompt": fx[n][0], "tests": fx[n][1],
             "stop_tokens": fx["stop"], "doctests": "transform", "original": f"HumanEval_{number[n]}_{n}.py",
             "prompt_terminology": "reworded"} for n in ("add", "incr_list")]


def write_fixture(tmp_path: Path, language: str, json_list: bool = False) -> Path:
    """MultiPL-E's release file for `language`: JSON lines (the Hub's export) or one JSON list."""
    if json_list:
        path = tmp_path / f"humaneval-{language}-reworded.json"
        path.write_text(json.dumps(records(language)))
    else:
        path = tmp_path / f"humaneval-{language}-reworded.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records(language)))
    return path


def completions(language: str) -> dict[str, tuple[str, str]]:
    """{task_id: (correct, wrong)}."""
    return {r["name"]: FIXTURES[language][r["name"].split("_", 2)[2]][2:] for r in records(language)}


def reply(problem, body: str) -> str:
    """An instruct model's reply: prose, then the whole function (signature from the prompt) fenced."""
    signature = problem.prompt.rstrip().splitlines()[-1]
    indent = signature[: len(signature) - len(signature.lstrip())]
    fence = prompts.LANGUAGES[problem.language][1]
    return f"Here is the function:\n```{fence}\n{signature}\n{body}{indent}}}\n```\nIt passes the tests.\n"


@pytest.fixture(scope="module")
def params():
    eval_params = config.load()["eval"]
    eval_params["sandbox"] = {**eval_params["sandbox"], "timeout_s": 5, "batch": 3}
    # what is judged here is right and wrong programs, not build speed: a compiler on a machine busy
    # with the rest of the suite (tsc loading its standard library) may take minutes
    eval_params["languages"] = {name: {**tool, "build_timeout_s": max(tool.get("build_timeout_s", 0), 300)}
                                for name, tool in eval_params["languages"].items()}
    return eval_params


@pytest.fixture(scope="module")
def sandbox(params):
    return make_sandbox(params)


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_loads_in_both_prompt_formats(tmp_path, language):
    path = write_fixture(tmp_path, language, json_list=language == "java")
    problems = benchmarks.load({"name": f"multiple_{language}", "path": str(path)})
    assert [p.task_id for p in problems] == ["HumanEval_53_add", "HumanEval_42_incr_list"]
    for problem, record in zip(problems, records(language)):
        assert problem.prompt == record["prompt"] and problem.stop == tuple(record["stop_tokens"])
        assert problem.language == language and problem.reference == ""
        program = problem.program("BODY")
        assert (program.language, program.context, program.completion, program.tests) == (
            language, record["prompt"], "BODY", record["tests"])
        user, assistant = problem.instruct_messages()
        name, fence = prompts.LANGUAGES[language]
        assert f"self-contained {name} script" in user["content"] and record["prompt"].strip() in user["content"]
        assert assistant["content"].endswith(f"```{fence}\n")
        # an instruct reply: the body of its function, put under the prompt's signature
        body = completions(language)[problem.task_id][0]
        assert problem.program(reply(problem, body), instruct=True).completion == body
    assert problems[0].entry_points == ({"java": ("add",), "cs": ("Add",)}.get(language, ("add",)))


@pytest.mark.parametrize("language", [pytest.param(lang, marks=pytest.mark.slow) if lang in SLOW else lang
                                      for lang in LANGUAGES])
def test_correct_passes_and_wrong_fails_in_each_language(tmp_path, sandbox, language):
    assert sandbox.toolchain(language)["available"], sandbox.toolchain(language)["reason"]
    problems = benchmarks.load({"name": f"multiple_{language}", "path": str(write_fixture(tmp_path, language))})
    found = completions(language)
    programs = [p.program(c) for p in problems for c in found[p.task_id]]
    programs.append(problems[1].program(reply(problems[1], found[problems[1].task_id][0]), instruct=True))
    outcomes = sandbox.judge_many(programs, threads=2, progress=False)
    statuses = [o.status for o in outcomes]
    assert [o.passed for o in outcomes] == [True, False, True, False, True], list(zip(statuses, [o.output for o in outcomes]))
    assert all(s.startswith("failed: ") for s in statuses[1:4:2])


def test_eval_samples_records_the_toolchain_and_a_missing_one_is_unavailable(tmp_path, params, capsys):
    data = write_fixture(tmp_path, "js")
    samples = tmp_path / "samples.jsonl"
    rows = [{"task_id": t, "completion": c} for t, pair in completions("js").items() for c in pair]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = ["--benchmark", "multiple_js", "--data", str(data), "--samples", str(samples), "--threads", "2"]
    assert eval_main([*argv, "--output", str(tmp_path / "js"), "--params", json.dumps(params)]) == 0
    summary = json.loads((tmp_path / "js" / "summary.json").read_text())
    assert summary["pass@1"] == 0.5 and summary["passed"] == 2 and "not_evaluated" not in summary
    toolchain = summary["environment"]["toolchain"]
    assert toolchain["language"] == "js" and toolchain["versions"]["node"].startswith("v")
    assert "no reference solutions" in summary["references"]["gate"]
    # the same samples, with a compiler/runtime that is not there: not evaluated, neither passed nor failed
    broken = {**params, "languages": {**params["languages"], "js": {**params["languages"]["js"],
                                                                    "run": ["/nonexistent/node", "program.js"]}}}
    assert eval_main([*argv, "--output", str(tmp_path / "none"), "--params", json.dumps(broken)]) == 0
    results = [json.loads(line) for line in (tmp_path / "none" / "results.jsonl").read_text().splitlines()]
    assert [r["result"] for r in results] == ["unavailable"] * 4 and not any(r["passed"] for r in results)
    summary = json.loads((tmp_path / "none" / "summary.json").read_text())
    assert summary["pass@1"] is None and summary["results"] == {"unavailable": 4}
    assert "/nonexistent/node not found" in summary["not_evaluated"]
    assert summary["environment"]["toolchain"]["available"] is False
    # the ground-truth gate does not apply: MultiPL-E has no references to run
    assert opencoder_main(["eval", "--benchmark", "multiple_js", "--data", str(data), "--canonical",
                           "--output", str(tmp_path / "ref"), "--params", json.dumps(params)]) == 1
    assert "multiple_js: ships no reference solutions" in capsys.readouterr().err


def test_a_program_that_loops_times_out(sandbox):
    loops = {"js": "  while (true) {}\n", "sh": "    while true; do :; done\n", "cpp": "    while (true) {}\n"}
    programs = []
    for language, body in loops.items():
        problem = benchmarks.multiple_problem(records(language)[0], "fixture", language)
        programs.append(problem.program(body))
    outcomes = sandbox.judge_many([dataclasses.replace(p, timeout_s=2) for p in programs], threads=2, progress=False)
    assert [o.status for o in outcomes] == ["timed out"] * 3, [(o.status, o.output) for o in outcomes]
    assert all(o.seconds < 2 + 1.5 for o in outcomes[:2])  # js, sh: no build


def test_network_and_writes_outside_tmp_fail(sandbox):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted = []
    server.settimeout(5)
    def serve():
        try:
            accepted.append(server.accept())
        except OSError:
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    host_dir = REPO / ".sandbox-multiple-probe"
    host_dir.mkdir(exist_ok=True)
    os.chmod(host_dir, 0o777)
    problem = benchmarks.multiple_problem(records("sh")[0], "fixture", "sh")
    sum_ = "    echo $(( $1 + $2 ))\n"
    bodies = [
        f"    exec 3<>/dev/tcp/127.0.0.1/{port} || exit 1\n" + sum_,  # the host's loopback
        "    exec 3<>/dev/tcp/1.1.1.1/53 || exit 1\n" + sum_,
        "    echo x > /usr/escaped.txt || exit 1\n" + sum_,
        f"    echo x > {host_dir}/escaped.txt || exit 1\n" + sum_,
        "    echo x > /tmp/inside.txt || exit 1\n" + sum_,  # control: the private /tmp is writable
    ]
    try:
        outcomes = sandbox.judge_many([problem.program(b) for b in bodies], threads=2, progress=False)
        assert [o.passed for o in outcomes] == [False, False, False, False, True], [(o.status, o.output) for o in outcomes]
        assert all(o.status.startswith("failed: ") for o in outcomes[:4])
        assert list(host_dir.iterdir()) == [] and not Path("/usr/escaped.txt").exists()
        assert not Path("/tmp/inside.txt").exists()
        assert accepted == []
    finally:
        host_dir.rmdir()
        socket.create_connection(("127.0.0.1", port), timeout=2).close()  # ends the accept (control)
        thread.join(5)
        server.close()
    assert len(accepted) == 1


def test_model_evaluation_runs_a_multiple_benchmark(tmp_path):
    import torch
    from tiny_llama import build_tiny_llama

    model = build_tiny_llama(tmp_path / "hf_export")
    params = config.load("config/smoke.yaml")["eval"]
    params.update(benchmarks=[{"name": "multiple_js", "path": str(write_fixture(tmp_path, "js"))},
                              {"name": "multiple_sh"}],
                  max_new_tokens=8, batch_size=2, device="cpu")
    before = torch.get_num_threads()
    try:
        assert eval_main(["--input", str(model), "--output", str(tmp_path / "eval"), "--threads", "1",
                          "--params", json.dumps(params)]) == 0
    finally:
        torch.set_num_threads(before)
    rows = [json.loads(line) for line in (tmp_path / "eval" / "multiple_js" / "results.jsonl").read_text().splitlines()]
    assert [r["task_id"] for r in rows] == ["HumanEval_53_add", "HumanEval_42_incr_list"]
    assert all(r["result"] != "unavailable" for r in rows)  # a random model's body: judged (and failed)
    summary = json.loads((tmp_path / "eval" / "multiple_js" / "summary.json").read_text())
    assert summary["prompt_format"] == "base" and summary["decoding"]["stop"] == FIXTURES["js"]["stop"]
    assert summary["environment"]["toolchain"]["versions"]["node"].startswith("v")
    assert "not applicable" in summary["references"]["gate"] and summary["pass@1"] == sum(r["passed"] for r in rows) / 2
    stats = json.loads((tmp_path / "eval" / "multiple_js" / "stats.json").read_text())
    assert stats["in"]["documents"] == 2
    skipped = json.loads((tmp_path / "eval" / "multiple_sh" / "summary.json").read_text())
    assert skipped["skipped"].startswith("multiple_sh: skipped, no data")
