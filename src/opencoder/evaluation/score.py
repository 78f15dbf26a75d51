"""Judge completions of a benchmark in the sandbox: per-sample results and the pass@k summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from opencoder.evaluation.benchmarks import Problem
from opencoder.evaluation.passk import pass_at_k
from opencoder.evaluation.sandbox import Sandbox


def score(
    problems: Sequence[Problem],
    completions: Mapping[str, Sequence[str]],
    sandbox: Sandbox,
    ks: Iterable[int] = (1,),
    threads: int = 1,
    name: str = "benchmark",
) -> tuple[list[dict], dict]:
    """Run every completion of every problem; return (results in problem order, summary).

    A result row: task_id, sample (index), completion, passed, result (the sandbox's status).
    """
    jobs = [(p, i, c) for p in problems for i, c in enumerate(completions[p.task_id])]
    outcomes = sandbox.judge_many([p.program(c) for p, _, c in jobs], threads=threads, desc=name)
    results = [
        {"task_id": p.task_id, "sample": i, "completion": c, "passed": o.passed, "result": o.status}
        for (p, i, c), o in zip(jobs, outcomes)
    ]
    passed: dict[str, list[bool]] = {p.task_id: [] for p in problems}
    for row in results:
        passed[row["task_id"]].append(row["passed"])
    summary = {
        "benchmark": name,
        "problems": len(problems),
        "samples": len(results),
        "passed": sum(r["passed"] for r in results),
        "results": dict(sorted(Counter(r["result"] for r in results).items())),
        **pass_at_k(passed, ks),
    }
    return results, summary
