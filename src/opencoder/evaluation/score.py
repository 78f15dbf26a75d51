"""Judge completions of a benchmark in the sandbox: per-sample results and the pass@k summary."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from opencoder.evaluation.benchmarks import Problem
from opencoder.evaluation.passk import pass_at_k
from opencoder.evaluation.records import BenchmarkError
from opencoder.evaluation.sandbox import Sandbox


def score(
    problems: Sequence[Problem],
    completions: Mapping[str, Sequence[str]],
    sandbox: Sandbox,
    ks: Iterable[int] = (1,),
    threads: int = 1,
    name: str = "benchmark",
    timeouts: Mapping[str, float] | None = None,
    instruct: bool = False,
    with_seconds: bool = False,
) -> tuple[list[dict], dict]:
    """Run every completion of every problem; return (results in problem order, summary).

    A result row: task_id, sample (index), completion, passed, result (the sandbox's status), and
    the run's seconds if `with_seconds` (left out by default: results are deterministic).
    `timeouts` (task id -> seconds) replaces the sandbox's limit per problem. A sample whose
    language's toolchain is unavailable ("unavailable"), or whose problem's libraries are not installed
    ("unavailable: missing modules ..."), is not evaluated: it counts in no pass@k, and when no
    sample is evaluated, pass@k is None; `not_evaluated` says how many and why.
    """
    jobs = [(p, i, c) for p in problems for i, c in enumerate(completions[p.task_id])]
    programs = [p.program(c, instruct) for p, _, c in jobs]
    programs = [dataclasses.replace(prog, timeout_s=(timeouts or {}).get(p.task_id, prog.timeout_s))
                for prog, (p, _, _) in zip(programs, jobs)]
    outcomes = sandbox.judge_many(programs, threads=threads, desc=name)
    results = [
        {"task_id": p.task_id, "sample": i, "completion": c, "passed": o.passed, "result": o.status,
         **({"seconds": round(o.seconds, 3)} if with_seconds else {})}
        for (p, i, c), o in zip(jobs, outcomes)
    ]
    passed: dict[str, list[bool]] = {}
    for row, outcome in zip(results, outcomes):
        if outcome.evaluated:
            passed.setdefault(row["task_id"], []).append(row["passed"])
    summary = {
        "benchmark": name,
        "problems": len(problems),
        "samples": len(results),
        "passed": sum(r["passed"] for r in results),
        "results": dict(sorted(Counter(r["result"] for r in results).items())),
    }
    if passed:
        summary.update(pass_at_k(passed, ks))
    else:
        counts = Counter(r["task_id"] for r in results)
        summary.update(dict.fromkeys(pass_at_k({t: [False] * n for t, n in counts.items()}, ks)))
    skipped = [o for o in outcomes if not o.evaluated]
    if skipped:
        why = (f"toolchain unavailable ({skipped[0].output})" if skipped[0].status == "unavailable"
               else skipped[0].status + (f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else ""))
        summary["not_evaluated"] = f"{len(skipped)} of {len(results)} samples: {why}; counted in no pass@k"
    return results, summary


def canonical(problems: Sequence[Problem], sandbox: Sandbox, threads: int = 1,
              name: str = "benchmark") -> tuple[list[dict], dict]:
    """Score the benchmark's own reference solutions: the ground truth of the machine's sandbox; the
    pass rate is over the evaluated ones (a problem whose libraries are missing is not)."""
    if any(not p.reference for p in problems):
        raise BenchmarkError(f"{name}: ships no reference solutions (MultiPL-E and LiveCodeBench have none), "
                             "so there is no ground truth to score and --canonical does not apply; its "
                             "fixtures' tests check the judge instead")
    results, summary = score(problems, {p.task_id: [p.reference] for p in problems}, sandbox,
                             threads=threads, name=f"{name} (references)", with_seconds=True)
    summary["evaluated"] = sum(1 for r in results if not r["result"].startswith("unavailable"))
    summary["pass_rate"] = summary["passed"] / max(1, summary["evaluated"])
    buggy = [p for p in problems if p.must_fail]
    if buggy:  # MdEval: the code to fix must fail its tests, or the tests do not see the bug
        runs, _ = score(buggy, {p.task_id: p.must_fail for p in buggy}, sandbox, threads=threads,
                        name=f"{name} (buggy code)")
        evaluated = [r for r in runs if not r["result"].startswith("unavailable")]
        summary["buggy"] = {"evaluated": len(evaluated), "failed": sum(not r["passed"] for r in evaluated),
                            "passing": [r["task_id"] for r in evaluated if r["passed"]]}
    return results, summary


def gate(name: str, reference: dict, min_rate: float) -> None:
    """Refuse to score a model on a benchmark whose references do not pass at `min_rate` here:
    failures would then be the machine's or the data's, not the model's."""
    if reference["pass_rate"] < min_rate:
        raise BenchmarkError(
            f"{name}: only {reference['passed']}/{reference['samples']} reference solutions pass in this "
            f"sandbox (rate {reference['pass_rate']:.3f} < eval.gate.min_pass_rate {min_rate}); see "
            f"canonical.jsonl; not scoring a model on it")


def calibrated_timeouts(reference_results: Sequence[dict], multiple: float, floor_s: float) -> dict[str, float]:
    """Per-problem limits: `multiple` x the reference's measured time on this machine, at least
    `floor_s`, so a loaded or slow machine does not turn passes into failures."""
    return {r["task_id"]: max(floor_s, multiple * r["seconds"]) for r in reference_results}
