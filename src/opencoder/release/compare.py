"""`opencoder compare`: the variants of a build side by side (config `variants`, the `compare` target).

Each input is a variant's folder (`out_dir/variants/<name>/`: links to its stage folders in the single
build's layout, and `variant.json`: its config differences from the base and its stage keys). Per
variant: the config differences that define it, how many of the stage directories its build made it shares with
another variant, the corpus funnel (documents after each data stage, bytes in and out), the tokens of
the pretraining datasets, the final loss of every training stage (the mean of its last 10 steps, as the model card's:
one step's loss is noisy at small batches) and pass@k per benchmark of the base
and the chat model. Written as `compare.csv` (one row a variant, for papers), `compare.md` and `compare.html` (the
same numbers, variants across, the HTML one for the report) and `loss.png` (pretraining + annealing and SFT loss curves overlaid).
A number a variant's build does not have (a partial build) is left empty.
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from opencoder.core.args import add_io
from opencoder.core.errors import InputError
from opencoder.core.shards import atomic_path, read_json
from opencoder.release.card import run_summary
from opencoder.training import metrics

TRAINING = [("pretrain", "pretrain"), ("anneal", "anneal"), ("sft_stage1", "sft/stage1"), ("sft_stage2", "sft/stage2")]


def _json(path: Path) -> dict | None:
    return read_json(path) if path.is_file() else None


def _loss(folder: Path) -> list[dict]:
    log = folder / "metrics.jsonl"
    return [r for r in metrics.read(log) if "loss" in r] if log.is_file() else []


def _built(folder: Path, links: Mapping[str, str], directory: str) -> bool:
    """Whether the variant's build made anything in its stage directory `directory` (`<stage>-<key>`):
    a stage the build does not run (import without import.source) has a key but no directory."""
    return any((folder / sub).exists() for sub, target in links.items() if directory in Path(target).parts)


def variant_row(folder: Path, shared: Mapping[str, int]) -> dict:
    """The comparison's numbers of one variant folder (see the module's doc)."""
    manifest = _json(folder / "variant.json")
    if manifest is None:
        raise InputError(f"{folder}: not a variant folder (no variant.json)")
    row: dict = {"variant": manifest["name"],
                 "differences": "; ".join(f"{k}={json.dumps(v[1])}" for k, v in sorted(manifest["differences"].items())),
                 "shared_stages": sum(1 for stage, key in manifest["stages"].items()
                                      if shared.get(key, 0) > 1 and _built(folder, manifest["links"], f"{stage}-{key}"))}
    if funnel := _json(folder / "corpus" / "funnel.json"):
        stages = funnel["stages"]
        if stages:
            row["ingested_documents"], row["ingested_bytes"] = stages[0]["in"]["documents"], stages[0]["in"]["bytes"]
        for stage in stages:
            row[f"{stage['stage']}_documents"] = stage["out"]["documents"]
        if stages:
            row["corpus_bytes"] = stages[-1]["out"]["bytes"]
    if tokens := _json(folder / "tokens" / "stats.json"):
        groups = tokens.get("extra", {}).get("groups", {})
        row["tokens"] = sum(g["tokens"] for g in groups.values())
        for name, group in sorted(groups.items()):
            row[f"tokens_{name}"] = group["tokens"]
    if anneal := _json(folder / "anneal_data" / "stats.json"):
        row["anneal_algorithmic_tokens"] = anneal.get("extra", {}).get("tokens")
    for name, sub in TRAINING:
        if records := _loss(folder / sub):
            run = run_summary(records)
            row[f"{name}_final_loss"] = round(run["final_loss"], 4)
            row[f"{name}_steps"] = run["steps"]
    for kind in ("eval", "eval_instruct"):
        for summary in sorted((folder / kind).glob("*/summary.json")):
            scores = read_json(summary)
            for key, value in sorted(scores.items()):
                if key.startswith("pass@"):
                    row[f"{kind}_{summary.parent.name}_{key}"] = round(value, 4)
    return row


def compare(folders: Sequence[str | Path]) -> list[dict]:
    """One row per variant folder, in the order given."""
    folders = [Path(f) for f in folders]
    counts: dict[str, int] = {}
    for folder in folders:
        manifest = _json(folder / "variant.json") or {"stages": {}}
        for key in manifest["stages"].values():
            counts[key] = counts.get(key, 0) + 1
    return [variant_row(folder, counts) for folder in folders]


def columns(rows: Sequence[Mapping]) -> list[str]:
    return list(dict.fromkeys(key for row in rows for key in row))


def to_csv(rows: Sequence[Mapping]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def grid(rows: Sequence[Mapping]) -> tuple[list[str], list[list[str]]]:
    """Variants across, numbers down (a grid has few variants and many numbers): (names, [key, cells...] rows)."""
    names = [str(r["variant"]) for r in rows]
    body = [[key, *(f"{c:,}" if isinstance(c, int) else str(c) for c in (row.get(key, "") for row in rows))]
            for key in columns(rows) if key != "variant"]
    return names, body


def to_markdown(rows: Sequence[Mapping]) -> str:
    names, body = grid(rows)
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "# Variants compared\n\n" + "\n".join(lines) + "\n"


def to_html(rows: Sequence[Mapping]) -> str:
    """The Markdown table as a page of its own (the HTML report shows it)."""
    names, body = grid(rows)
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    trs = "".join("<tr><th>" + html.escape(cells[0]) + "</th>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells[1:])
                  + "</tr>\n" for cells in body)
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Variants compared</title><style>"
            "table{border-collapse:collapse;font:13px sans-serif}th,td{border:1px solid #ccc;padding:3px 6px}"
            "td{text-align:right}</style></head><body><h1>Variants compared</h1>"
            f"<table><tr><th></th>{head}</tr>\n{trs}</table></body></html>\n")


def loss_figure(folders: Sequence[Path], path: Path) -> None:
    """Pretraining then annealing (annealing's steps after pretraining's) and the SFT stages, one line a variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (base_ax, sft_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    for folder in folders:
        name = (_json(folder / "variant.json") or {}).get("name", folder.name)
        pre, ann = _loss(folder / "pretrain"), _loss(folder / "anneal")
        offset = pre[-1]["step"] if pre else 0
        steps = [r["step"] for r in pre] + [offset + r["step"] for r in ann]
        if steps:
            base_ax.plot(steps, [r["loss"] for r in pre + ann], label=name)
        offset = 0
        for stage in ("stage1", "stage2"):
            records = _loss(folder / "sft" / stage)
            if records:
                sft_ax.plot([offset + r["step"] for r in records], [r["loss"] for r in records], label=f"{name} {stage}")
                offset += records[-1]["step"]
    base_ax.set(title="pretraining, then annealing", xlabel="step", ylabel="loss")
    sft_ax.set(title="SFT stages", xlabel="step", ylabel="loss")
    for ax in (base_ax, sft_ax):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder compare", description=__doc__.split("\n\n")[0])
    add_io(parser, "input", nargs="+", metavar="FOLDER", help="variant folders (out_dir/variants/<name>)")
    add_io(parser, "output", help="folder to write compare.csv, compare.md, compare.html and loss.png to")
    args = parser.parse_args(argv)
    rows = compare(args.input)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (("compare.csv", to_csv(rows)), ("compare.md", to_markdown(rows)), ("compare.html", to_html(rows))):
        with atomic_path(out / name) as tmp:
            tmp.write_text(text)
    loss_figure([Path(f) for f in args.input], out / "loss.png")
    return 0
