"""`opencoder card`: the model folder to publish: the export's files plus a README model card.

The card is written from the build's own records, never by hand: architecture from the export's
`config.json` and weights, the data funnel from `corpus/funnel.json`, the training setup and
schedule from the resolved training parameters, tokens seen and losses from the pretrain/anneal
`metrics.jsonl`, scores from the eval summaries, and the command that rebuilds it all. With
`--sft-dir`, the card of the instruction-tuned model: data per SFT stage (counts, decontamination,
packing), schedule and run, and its scores next to the base model's.

The Markdown helpers (`markdown_table`, `funnel_table`, `language_table`, `card_text`) are shared
with the dataset card.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from opencoder.core.args import add_io
from opencoder.core.config import CONFIG_DIR, add_config_args, read_params, stage_params
from opencoder.core.errors import InputError
from opencoder.core.shards import atomic_dir, read_json
from opencoder.training import metrics

log = logging.getLogger(__name__)

# how each benchmark is named in the model-index (Hub dataset ids of the public copies)
DATASETS = {
    "humaneval": ("openai_humaneval", "HumanEval"),
    "humaneval_plus": ("evalplus/humanevalplus", "HumanEval+"),
    "mbpp": ("mbpp", "MBPP"),
    "mbpp_plus": ("evalplus/mbppplus", "MBPP+"),
}


# ------------------------------------------------------------------------- shared Markdown helpers ---

def markdown_table(headers: Sequence[str], rows: Iterable[Sequence], align: str | None = None) -> str:
    """A GitHub Markdown table; `align` is one letter per column (l/r), numbers right-aligned by default."""
    rows = [[str(c) for c in row] for row in rows]
    align = align or "l" + "r" * (len(headers) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    return "\n".join("| " + " | ".join(r) + " |" for r in [list(headers), rule, *rows])


def _mb(n: int) -> str:
    return f"{n / 1e6:,.2f}"


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def funnel_table(funnel: Mapping) -> str:
    """Documents and bytes through each data stage (from `corpus/funnel.json`)."""
    rows = []
    for s in funnel["stages"]:
        d_in, d_out, b_in, b_out = s["in"]["documents"], s["out"]["documents"], s["in"]["bytes"], s["out"]["bytes"]
        top = sorted(s.get("dropped", {}).items(), key=lambda kv: -kv[1].get("documents", 0))[:3]
        reasons = ", ".join(f"{r} ({c.get('documents', 0):,})" for r, c in top) or "-"
        rows.append([s["stage"], f"{d_in:,}", f"{d_out:,}", _pct(d_out, d_in), _mb(b_in), _mb(b_out), reasons])
    return markdown_table(["stage", "docs in", "docs out", "kept", "MB in", "MB out", "main drop reasons"], rows,
                          align="lrrrrrl")


def language_table(funnel: Mapping, top: int = 15) -> str:
    """The final corpus by language (the last stage of the funnel), largest first."""
    last = funnel["stages"][-1]["stage"]
    per = {lang: c[last] for lang, c in funnel["languages"].items() if last in c}
    total = sum(c["bytes"] for c in per.values())
    ranked = sorted(per.items(), key=lambda kv: (-kv[1]["bytes"], kv[0]))
    rows = [[lang, f"{c['documents']:,}", _mb(c["bytes"]), _pct(c["bytes"], total)] for lang, c in ranked[:top]]
    if len(ranked) > top:
        rest = ranked[top:]
        rows.append([f"{len(rest)} others", f"{sum(c['documents'] for _, c in rest):,}",
                     _mb(sum(c["bytes"] for _, c in rest)), _pct(sum(c["bytes"] for _, c in rest), total)])
    return markdown_table(["language", "documents", "MB", "share"], rows)


def card_text(data, body: str) -> str:
    """README text: YAML front matter from a ModelCardData/DatasetCardData, then the body."""
    return f"---\n{data.to_yaml()}\n---\n\n{body.strip()}\n"


# ------------------------------------------------------------------------------ model card parts ---

def parameter_count(export: Path) -> int:
    """Parameters stored in the export's safetensors files."""
    from safetensors import safe_open

    total = 0
    for f in sorted(export.glob("*.safetensors")):
        with safe_open(f, framework="pt") as st:
            for key in st.keys():
                n = 1
                for dim in st.get_slice(key).get_shape():
                    n *= dim
                total += n
    return total


def architecture_table(cfg: Mapping, params: int) -> str:
    rope = cfg.get("rope_theta") or (cfg.get("rope_parameters") or {}).get("rope_theta")
    heads, kv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    rows = [
        ("architecture", ", ".join(cfg.get("architectures", [])) or cfg.get("model_type", "?")),
        ("parameters", f"{params:,} ({params / 1e6:,.1f}M)"),
        ("layers", cfg["num_hidden_layers"]),
        ("hidden size", cfg["hidden_size"]),
        ("FFN intermediate size (SwiGLU)", cfg["intermediate_size"]),
        ("attention heads / KV heads", f"{heads} / {kv}" + (" (grouped-query)" if kv != heads else "")),
        ("head dim", cfg.get("head_dim") or cfg["hidden_size"] // heads),
        ("vocabulary", f"{cfg['vocab_size']:,}"),
        ("context length", f"{cfg['max_position_embeddings']:,}"),
        ("RoPE θ", f"{rope:,}" if rope else "-"),
        ("RMSNorm ε", cfg.get("rms_norm_eps", "-")),
        ("tied embeddings", "yes" if cfg.get("tie_word_embeddings") else "no"),
        ("weights dtype", cfg.get("dtype") or cfg.get("torch_dtype") or "-"),
    ]
    return markdown_table(["", "value"], rows, align="ll")


def run_summary(records: Sequence[dict]) -> dict:
    """Steps, tokens and losses of one training stage from its metrics records."""
    if not records:
        return {"steps": 0, "tokens": 0}
    tail = records[-min(10, len(records)):]
    rates = [r["tokens_per_s"] for r in records if r.get("tokens_per_s")]
    return {
        "steps": records[-1]["step"],
        "tokens": records[-1]["tokens"],
        "first_loss": records[0]["loss"],
        "final_loss": sum(r["loss"] for r in tail) / len(tail),  # mean of the last (up to) 10 steps
        "peak_lr": max(r["lr"] for r in records),
        "final_lr": records[-1]["lr"],
        "tokens_per_s": sum(rates) / len(rates) if rates else None,
    }


def training_section(training: Mapping, runs: Mapping[str, dict]) -> str:
    train, anneal = training["train"], training.get("anneal", {})
    per_step = train["global_batch"] * train["seq_length"]
    setup = markdown_table(["", "pretraining", "annealing"], [
        ("steps (configured)", f"{train['steps']:,}", f"{anneal.get('steps', 0):,}"),
        ("global batch × sequence", f"{train['global_batch']:,} × {train['seq_length']:,} = {per_step:,} tokens",
         "same"),
        ("learning rate", f"warmup {train['warmup_steps']:,} steps to {train['lr']:g}, then constant",
         f"{anneal.get('decay_style', '-')} decay to {anneal.get('min_lr', train['min_lr']):g}"),
        ("optimizer", f"AdamW β=({train['adam_beta1']}, {train['adam_beta2']}), ε={train['adam_eps']:g}, "
                      f"weight decay {train['weight_decay']}, clip {train['clip_grad']}", "same"),
        ("precision", train.get("precision", "-"), "same"),
    ], align="lll")
    rows = []
    for stage, run in runs.items():
        loss = f"{run['first_loss']:.3f} → {run['final_loss']:.3f}" if run.get("steps") else "-"
        rate = f"{run['tokens_per_s']:,.0f}" if run.get("tokens_per_s") else "-"
        rows.append((stage, f"{run['steps']:,}", f"{run['tokens']:,}", loss, rate))
    total = sum(r["tokens"] for r in runs.values())
    rows.append(("**total**", f"{sum(r['steps'] for r in runs.values()):,}", f"**{total:,}**", "", ""))
    seen = markdown_table(["stage", "steps", "tokens seen", "loss (first → last 10)", "tokens/s"], rows)
    return (
        f"Schedule: WSD (warmup, stable, decay). Seed {training.get('seed', '-')}.\n\n{setup}\n\n"
        f"Tokens seen, from the training logs:\n\n{seen}"
    )


def eval_section(summaries: Sequence[dict]) -> tuple[str, list[EvalResult]]:
    rows, results = [], []
    for s in summaries:
        dtype, dname = DATASETS.get(s["benchmark"], (s["benchmark"], s["benchmark"]))
        for key in sorted(k for k in s if k.startswith("pass@")):
            rows.append((dname, s["problems"], key, f"{100 * s[key]:.1f}"))
            results.append(EvalResult(task_type="text-generation", dataset_type=dtype, dataset_name=dname,
                                      metric_type=key, metric_value=round(s[key], 4), metric_name=key))
    if not rows:
        return "No evaluation results.", results
    d = summaries[0]["decoding"]
    how = ("Greedy decoding" if d["temperature"] == 0 else
           f"Sampling (temperature {d['temperature']}, top-p {d['top_p']}, {d['samples_per_problem']} samples)")
    table = markdown_table(["benchmark", "problems", "metric", "score (%)"], rows)
    return (
        f"{table}\n\n{how}, at most {d['max_new_tokens']} new tokens, every completion run in a "
        f"bubblewrap sandbox (no network, read-only system, {summaries[0]['sandbox']['timeout_s']} s limit); "
        f"pass@k by the unbiased estimator. Per-problem results are in the build's `eval/` folder."
    ), results


def recipe_revision() -> str:
    """Which recipe made the card: the checkout's git commit, or the installed package's version.

    Git is asked only inside a checkout (the folder holding `config/` also holds the Snakefile), so an
    installed package never reports the commit of some unrelated repository it happens to sit in.
    """
    root = CONFIG_DIR.parent
    if (root / "Snakefile").is_file():
        try:
            out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                 timeout=10)
            if out.returncode == 0:
                return f"commit `{out.stdout.strip()}`"
        except (OSError, subprocess.TimeoutExpired):
            pass
    try:
        return f"version {metadata.version('opencoder-cookbook')}"
    except metadata.PackageNotFoundError:
        return "an unrecorded revision"


def render(export: Path, funnel: Mapping | None, training: Mapping, runs: Mapping[str, dict],
           summaries: Sequence[dict], card: Mapping, rebuild: str) -> str:
    cfg = json.loads((export / "config.json").read_text())
    params = parameter_count(export)
    name = card.get("model_name") or f"OpenCoder-{training['model']['name']} (Cookbook build)"
    evals, eval_results = eval_section(summaries)
    data = ModelCardData(
        language=["en"], license=card["license"], library_name="transformers", pipeline_tag="text-generation",
        tags=sorted({"code", "opencoder", "llama", *card.get("tags", [])}), datasets=card.get("datasets") or None,
        model_name=name, eval_results=eval_results or None,
    )
    tokens = sum(r["tokens"] for r in runs.values())
    if funnel:
        data_section = (f"The corpus funnel, stage by stage:\n\n{funnel_table(funnel)}\n\n"
                        f"Final corpus by language:\n\n{language_table(funnel)}")
    else:
        data_section = "No corpus funnel was recorded for this build."
    sections = [
        f"# {name}",
        f"A {params / 1e6:,.1f}M-parameter Llama-architecture code model built with the OpenCoder recipe "
        f"(RefineCode-style data pipeline, WSD pretraining, annealing) by the OpenCoder Cookbook, "
        f"trained on {tokens:,} tokens.",
        f"## Architecture\n\n{architecture_table(cfg, params)}",
        f"## Training data\n\n{data_section}",
        f"## Training\n\n{training_section(training, runs)}",
        f"## Evaluation\n\n{evals}",
        "## Use\n\n```python\n"
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
        'tokenizer = AutoTokenizer.from_pretrained("<this folder or repo id>")\n'
        'model = AutoModelForCausalLM.from_pretrained("<this folder or repo id>")\n'
        'inputs = tokenizer("def fibonacci(n):", return_tensors="pt")\n'
        "print(tokenizer.decode(model.generate(**inputs, max_new_tokens=64)[0]))\n```",
        f"## Rebuild\n\nFrom a checkout of the OpenCoder Cookbook at {recipe_revision()}:"
        f"\n\n```bash\n{rebuild}\n```\n\nThe same config and inputs give the same corpus, tokenizer, "
        "checkpoints and scores.",
    ]
    return card_text(data, "\n\n".join(sections))


def sft_section(stages: Mapping[str, Mapping]) -> str:
    """Per SFT stage: instruction data (conversations, rejected rows, decontamination removals,
    packing), schedule and the run, from the stage's stats files, params and metrics."""
    rows = []
    for stage, st in stages.items():
        data, clean, packed, params = st["data"], st["clean"], st["packed"], st["params"]
        train, run = params["train"], st["run"]
        removed = ", ".join(f"{k} {n:,}" for k, n in sorted(clean["removed_by"].items())) or "none"
        loss = f"{run['first_loss']:.3f} → {run['final_loss']:.3f}" if run.get("steps") else "-"
        rows.append((
            stage, f"{data['conversations']:,} ({data['rejected']:,} rows rejected)",
            f"{clean['removed']:,} removed ({removed}); {clean['kept']:,} kept",
            f"{packed['packed_conversations']:,} in {packed['rows']:,} × {packed['seq_length']:,} "
            f"({100 * packed['packing_efficiency']:.1f}% filled, {packed['dropped_too_long']:,} too long)",
            f"{params['sft']['epochs']:g} epoch(s), batch {train['global_batch']:,}, lr {train['lr']:g} "
            f"(warmup {params['sft']['warmup_steps']}, cosine to {train['min_lr']:g})",
            f"{run.get('steps', 0):,}", loss,
        ))
    return markdown_table(["stage", "conversations", "decontamination (benchmark/kind)", "packed",
                           "schedule", "steps", "loss (first → last 10)"], rows, align="lllllrl")


def score_comparison(base: Sequence[dict], instruct: Sequence[dict]) -> str:
    """The chat model's scores next to the base model's, per benchmark and metric."""
    before = {(s["benchmark"], k): s[k] for s in base for k in s if k.startswith("pass@")}
    rows = []
    for s in instruct:
        name = DATASETS.get(s["benchmark"], (s["benchmark"], s["benchmark"]))[1]
        for key in sorted(k for k in s if k.startswith("pass@")):
            was = before.get((s["benchmark"], key))
            rows.append((name, s["problems"], key, "-" if was is None else f"{100 * was:.1f}", f"{100 * s[key]:.1f}"))
    return markdown_table(["benchmark", "problems", "metric", "base (%)", "instruct (%)"], rows)


def render_instruct(export: Path, stages: Mapping[str, Mapping], base: Sequence[dict], instruct: Sequence[dict],
                    card: Mapping, rebuild: str, base_name: str) -> str:
    cfg = json.loads((export / "config.json").read_text())
    params = parameter_count(export)
    name = (card.get("model_name") or f"OpenCoder-{base_name} (Cookbook build)") + " Instruct"
    evals, eval_results = eval_section(instruct)
    data = ModelCardData(
        language=["en"], license=card["license"], library_name="transformers", pipeline_tag="text-generation",
        tags=sorted({"code", "opencoder", "llama", "chat", *card.get("tags", [])}),
        datasets=card.get("datasets") or None, model_name=name, eval_results=eval_results or None,
    )
    sections = [
        f"# {name}",
        f"The {params / 1e6:,.1f}M-parameter base model `{base_name}` instruction-tuned in {'two stages' if len(stages) > 1 else 'one stage'} "
        f"(OpenCoder paper, section 5) by the OpenCoder Cookbook; chat format ChatML, generation ends at `<|im_end|>`.",
        f"## Architecture\n\n{architecture_table(cfg, params)}",
        f"## Instruction tuning\n\nEach stage's data after rejection, decontamination against the benchmarks "
        f"(shared 10-grams or entry points) and packing, its schedule and its run:\n\n{sft_section(stages)}",
        f"## Evaluation\n\n{score_comparison(base, instruct)}\n\n{evals}",
        "## Use\n\n```python\n"
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
        'tokenizer = AutoTokenizer.from_pretrained("<this folder or repo id>")\n'
        'model = AutoModelForCausalLM.from_pretrained("<this folder or repo id>")\n'
        'messages = [{"role": "user", "content": "Write a Python function that reverses a string."}]\n'
        "ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors=\"pt\")\n"
        "print(tokenizer.decode(model.generate(ids, max_new_tokens=256)[0][ids.shape[1]:]))\n```",
        f"## Rebuild\n\n```bash\n{rebuild}\n```",
    ]
    return card_text(data, "\n\n".join(sections))


def build_instruct(export: str | Path, out: str | Path, *, sft_dir: str | Path | Sequence[str | Path], sft_params: Mapping[str, Mapping],
                   base_summaries: Sequence[str | Path], eval_summaries: Sequence[str | Path], card: Mapping,
                   rebuild: str) -> Path:
    """Write `out/`: the chat model's export files and its README.md (`sft_dir`: the build's `sft/`, or
    several folders each holding some stages' `<stage>/`: the first holding a stage is read)."""
    export = Path(export)
    if not (export / "config.json").is_file():
        raise InputError(f"{export}: not a Hugging Face model folder (no config.json)")
    stages = {}
    dirs = [Path(sft_dir)] if isinstance(sft_dir, (str, Path)) else [Path(d) for d in sft_dir]
    for stage, params in sft_params.items():
        folder = next((d / stage for d in dirs if (d / stage).is_dir()), dirs[0] / stage)
        stages[stage] = {"data": read_json(folder / "data.stats.json"), "clean": read_json(folder / "clean.stats.json"),
                         "packed": read_json(folder / "packed.stats.json"), "params": params,
                         "run": run_summary(metrics.read(folder / "metrics.jsonl"))}
    base_name = next(iter(sft_params.values()))["model"]["name"]
    text = render_instruct(export, stages, [read_json(p) for p in base_summaries],
                           [read_json(p) for p in eval_summaries], card, rebuild, base_name)
    return write_folder(export, out, text)


def link_or_copy(src: Path, dst: Path) -> None:
    """Hardlink (no extra disk for multi-GB weights) where the filesystem allows, else copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def build(export: str | Path, out: str | Path, *, funnel: str | Path | None, pretrain_metrics: str | Path | None,
          anneal_metrics: str | Path | None, eval_summaries: Sequence[str | Path], training: Mapping,
          card: Mapping, rebuild: str) -> Path:
    """Write `out/`: the export's files and README.md."""
    export = Path(export)
    if not (export / "config.json").is_file():
        raise InputError(f"{export}: not a Hugging Face model folder (no config.json)")
    runs = {}
    for stage, path in (("pretraining", pretrain_metrics), ("annealing", anneal_metrics)):
        if path:
            runs[stage] = run_summary(metrics.read(path))
    text = render(
        export, read_json(funnel) if funnel else None, training, runs,
        [read_json(p) for p in eval_summaries], card, rebuild,
    )
    return write_folder(export, out, text)


def write_folder(export: Path, out: str | Path, text: str) -> Path:
    """`out/`: the export's files (linked) and the card `text` as README.md."""
    with atomic_dir(out) as tmp:
        for f in sorted(export.iterdir()):
            # dot files are the workflow's bookkeeping (Snakemake's directory timestamp): a hard link
            # to the export's would make touching ours touch the export's, and rerun its evaluation
            if f.is_file() and f.name != "README.md" and not f.name.startswith("."):
                link_or_copy(f, tmp / f.name)
        ModelCard(text).save(tmp / "README.md")
    log.info("model card: %s", Path(out) / "README.md")
    return Path(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder card", description=__doc__.split("\n\n")[0])
    add_io(parser, "input", "--export", help="the exported Hugging Face model folder")
    add_io(parser, "output", "--out", help="model folder to write (export files + README.md)")
    parser.add_argument("--funnel", help="corpus/funnel.json")
    parser.add_argument("--pretrain-metrics", help="pretrain/metrics.jsonl")
    parser.add_argument("--anneal-metrics", help="anneal/metrics.jsonl")
    parser.add_argument("--eval", nargs="*", default=[], metavar="SUMMARY", help="eval summary.json files")
    parser.add_argument("--training", metavar="FILE|JSON",
                        help="resolved training parameters {seed, model, train, anneal}, a JSON file or JSON text "
                             "(default: from --config)")
    parser.add_argument("--rebuild", default="make run TARGET=model",
                        help="the command that rebuilds this model (the workflow passes it in --params as `rebuild`)")
    parser.add_argument("--sft-dir", nargs="+", help="the build's sft/ folder (or folders holding its stages): "
                        "write the instruct model's card")
    parser.add_argument("--sft-training", metavar="FILE|JSON",
                        help="{stage: resolved SFT stage params} (opencoder.training.params.sft_params), a JSON "
                             "file or JSON text (with --sft-dir; default: from --config)")
    parser.add_argument("--base-eval", nargs="*", default=[], metavar="SUMMARY",
                        help="the base model's eval summary.json files (with --sft-dir)")
    add_config_args(parser)
    args = parser.parse_args(argv)
    card = dict(stage_params(args, "card"))
    rebuild = card.pop("rebuild", args.rebuild)
    if args.sft_dir:
        if args.sft_training:
            sft_training = read_params(args.sft_training)
        else:
            from opencoder.core.config import load
            from opencoder.training.params import sft_params, sft_stages

            config = load(*args.config)
            sft_training = {stage: sft_params(config, stage) for stage in sft_stages(config)}
        build_instruct(args.input, args.output, sft_dir=args.sft_dir, sft_params=sft_training,
                       base_summaries=args.base_eval, eval_summaries=args.eval, card=card, rebuild=rebuild)
        return 0
    if args.training:
        training = read_params(args.training)
    else:
        from opencoder.core.config import load
        from opencoder.training.params import stage_params as training_params

        training = training_params(load(*args.config), "anneal")
    build(args.input, args.output, funnel=args.funnel, pretrain_metrics=args.pretrain_metrics,
          anneal_metrics=args.anneal_metrics, eval_summaries=args.eval, training=training, card=card, rebuild=rebuild)
    return 0
