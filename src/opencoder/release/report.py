"""The build report's figures, one PNG per figure, each made from the stats files of its stages.

    opencoder report funnel-stages --input corpus/funnel.json --output report/funnel_stages.png

Each figure is its own workflow target (rules/report.smk), so a changed stage redraws only the
figures it feeds; `snakemake --report report.html` embeds them with the captions in `report/`.
Figures: the data funnel per stage and per language, filter rule hits, fuzzy-dedup cluster sizes,
tokens per blend group, the web-recall rounds, loss and learning rate of pretraining and annealing, training throughput
and the evaluation table (benchmarks by model, the paper's numbers beside). Drawn with matplotlib's Agg backend (no display needed); PNGs carry no
timestamp, so an unchanged input gives the same bytes. Pages (HTML, for what a figure cannot show):
a synthetic recipe's funnel beside a few of its kept and rejected samples with why.
"""

from __future__ import annotations

import argparse
import html
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from opencoder.core import shards  # noqa: E402
from opencoder.core.stats import merge  # noqa: E402
from opencoder.evaluation.paper import paper_pass1  # noqa: E402

log = logging.getLogger(__name__)


def _bars(ax, labels: Sequence[str], series: dict[str, Sequence[float]], *, horizontal: bool = False) -> None:
    """Grouped bars: one group per label, one bar per series."""
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        pos = [j + (i - (len(series) - 1) / 2) * width for j in range(len(labels))]
        (ax.barh if horizontal else ax.bar)(pos, values, width, label=name)
    if horizontal:
        ax.set_yticks(range(len(labels)), labels)
        ax.invert_yaxis()
    else:
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    if len(series) > 1:
        ax.legend()


def funnel_stages(funnel: dict):
    """Documents and bytes in and out of every data stage."""
    rows = funnel["stages"]
    names = [r["stage"] for r in rows]
    fig, (docs, size) = plt.subplots(1, 2, figsize=(12, 4.5))
    _bars(docs, names, {"in": [r["in"]["documents"] for r in rows], "out": [r["out"]["documents"] for r in rows]})
    docs.set_title("documents per stage")
    _bars(size, names, {"in": [r["in"]["bytes"] / 1e6 for r in rows], "out": [r["out"]["bytes"] / 1e6 for r in rows]})
    size.set_title("MB per stage")
    return fig


def funnel_languages(funnel: dict, top: int = 12):
    """Documents left of the largest languages after each stage."""
    langs = funnel["languages"]
    stages = [r["stage"] for r in funnel["stages"]]
    first = lambda lang: max((c.get("documents", 0) for c in langs[lang].values()), default=0)  # noqa: E731
    chosen = sorted(langs, key=lambda lang: (-first(lang), lang))[:top]
    fig, ax = plt.subplots(figsize=(12, 5))
    for lang in chosen:
        ax.plot(stages, [langs[lang].get(s, {}).get("documents", 0) for s in stages], marker="o", label=lang)
    ax.set_yscale("symlog")
    ax.set_ylabel("documents")
    ax.set_title(f"documents per language after each stage (largest {len(chosen)} of {len(langs)})")
    ax.tick_params(axis="x", rotation=30)
    ax.legend(ncol=2, fontsize="small")
    return fig


def filter_rules(stats: Sequence[dict], top: int = 30):
    """How often each filter rule fired, summed over shards (the most frequent `top`)."""
    hits = merge(s.get("extra", {}) for s in stats).get("hits", {})
    dropped = merge(s.get("dropped", {}) for s in stats)
    ranked = sorted(hits, key=lambda r: (-hits[r], r))[:top]
    fig, ax = plt.subplots(figsize=(11, 0.3 * len(ranked) + 1.5))
    _bars(ax, ranked, {"fired": [hits[r] for r in ranked],
                       "dropped": [dropped.get(r, {}).get("documents", 0) for r in ranked]}, horizontal=True)
    ax.set_xlabel("documents")
    ax.set_title(f"filter rule hits ({len(hits)} rules fired)")
    return fig


def dedup_clusters(removed: pl.DataFrame):
    """Sizes of the fuzzy-duplicate clusters: removed members per cluster plus the one kept."""
    sizes = removed.group_by("cluster_id").len()["len"] + 1 if removed.height else pl.Series([], dtype=pl.UInt32)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if sizes.len():
        counts = sizes.value_counts().sort(sizes.name)
        ax.bar(counts[sizes.name].to_list(), counts["count"].to_list())
        ax.set_yscale("log")
    ax.set_xlabel("documents in cluster")
    ax.set_ylabel("clusters")
    ax.set_title(f"fuzzy-duplicate clusters: {sizes.len()} clusters, {removed.height} documents removed")
    return fig


def token_groups(stats: dict):
    """Tokens and documents per blend group (the sources of the pretraining mix)."""
    groups = stats.get("extra", {}).get("groups", {})
    names = sorted(groups)
    fig, (tok, docs) = plt.subplots(1, 2, figsize=(10, 4))
    _bars(tok, names, {"tokens": [groups[g].get("tokens", 0) for g in names]})
    tok.set_title(f"tokens per group ({sum(groups[g].get('tokens', 0) for g in names):,} in all)")
    _bars(docs, names, {"documents": [groups[g].get("documents", 0) for g in names]})
    docs.set_title("documents per group")
    return fig


def web_recall(reports: Sequence[dict]):
    """Each web-recall round's report (`web/round<k>/stats.json`, `extra`): pages recalled, seeds and the
    pages URL patterns added to them; the classifier's held-out precision and recall."""
    rounds = [f"round {r['round']}" for r in reports]
    fig, (pages, quality) = plt.subplots(1, 2, figsize=(12, 4.5))
    _bars(pages, rounds, {
        "pages recalled": [r["pages_recalled"] for r in reports],
        "seed positives": [r["seeds"]["positives"] for r in reports],
        "added by URL patterns": [r["pages_added_by_url_patterns"] for r in reports],
    })
    scored = max((r["pages_scored"] for r in reports), default=0)
    pages.set_title(f"pages per round ({scored:,} scored), domains marked: "
                    + ", ".join(str(r["domains_marked"]) for r in reports))
    _bars(quality, rounds, {key: [r["held_out"][key] or 0.0 for r in reports] for key in ("precision", "recall")})
    quality.set_ylim(0, 1.05)
    quality.set_title("classifier on the held-out seeds")
    return fig


def _runs(metrics: Sequence[list[dict]]) -> list[tuple[str, list[dict]]]:
    """Stages in order, steps renumbered so annealing continues where pretraining ended."""
    out, offset = [], 0
    for records in metrics:
        if not records:
            continue
        out.append((records[0].get("stage", "train"), [{**r, "step": r["step"] + offset} for r in records]))
        offset = out[-1][1][-1]["step"]
    return out


def training_curves(metrics: Sequence[list[dict]]):
    """Loss and learning rate per optimizer step, pretraining then annealing."""
    fig, (loss, lr) = plt.subplots(1, 2, figsize=(12, 4.5))
    for stage, records in _runs(metrics):
        steps = [r["step"] for r in records]
        loss.plot(steps, [r["loss"] for r in records], label=stage)
        lr.plot(steps, [r["lr"] for r in records], label=stage)
    loss.set(title="training loss", xlabel="step")
    lr.set(title="learning rate", xlabel="step")
    loss.legend()
    return fig


def throughput(metrics: Sequence[list[dict]]):
    """Tokens per second per step (and MFU where the peak FLOPs are known)."""
    fig, ax = plt.subplots(figsize=(10, 4))
    for stage, records in _runs(metrics):
        ax.plot([r["step"] for r in records], [r["tokens_per_s"] for r in records], label=stage)
    ax.set(title="throughput", xlabel="step", ylabel="tokens / s")
    ax.legend()
    return fig


# the folder a model's eval summaries sit in -> its column label
EVAL_MODELS = {"eval": "base", "eval_instruct": "instruct"}


def eval_table(summaries: dict[tuple[str, str], dict], shape: str | None = None):
    """pass@k per benchmark (rows) and model (columns: base, instruct), and beside them the paper's
    pass@1 for the same model shape where it published one."""
    models = sorted({m for m, _ in summaries}, key=lambda m: (m != "base", m))
    benchmarks = sorted({b for _, b in summaries})
    ks = sorted({k for s in summaries.values() for k in s if k.startswith("pass@")}, key=lambda k: int(k[5:]))
    columns = [(m, k) for m in models for k in ks]
    papers = [m for m in models if any(paper_pass1(shape, m, b) is not None for b in benchmarks)]
    rows = []
    for b in benchmarks:
        ours = [summaries.get((m, b), {}).get(k) for m, k in columns]
        published = [paper_pass1(shape, m, b) for m in papers]
        rows.append([b, *("-" if v is None else f"{100 * v:.1f}" for v in ours),
                     *("-" if v is None else f"{v:.1f}" for v in published)])
    labels = ["benchmark", *(f"{m} {k}" for m, k in columns), *(f"paper {shape} {m}" for m in papers)]
    fig, ax = plt.subplots(figsize=(2.5 + 1.6 * (len(labels) - 1), 0.5 * len(rows) + 1.2))
    ax.axis("off")
    ax.table(cellText=rows, colLabels=labels, loc="center").scale(1, 1.5)
    ax.set_title("evaluation (pass@k, %)")
    return fig


def _summaries(paths: Sequence[Path]) -> dict[tuple[str, str], dict]:
    """(model, benchmark) -> summary, from `<eval folder>/<benchmark>/summary.json` paths."""
    return {(EVAL_MODELS.get(p.parent.parent.name, p.parent.parent.name), p.parent.name): shards.read_json(p)
            for p in map(Path, paths)}


def _metrics(paths: Sequence[Path]) -> list[list[dict]]:
    from opencoder.training.metrics import read

    return [read(p) for p in paths]


def _removed(paths: Sequence[Path]) -> pl.DataFrame:
    return pl.concat([shards.read_parquet(p, columns=["cluster_id"]) for p in paths])


# figure name -> how it is drawn from the command line's arguments (its input files, the model shape)
FIGURES: dict[str, Callable[[argparse.Namespace], object]] = {
    "funnel-stages": lambda a: funnel_stages(shards.read_json(a.input[0])),
    "funnel-languages": lambda a: funnel_languages(shards.read_json(a.input[0])),
    "filter-rules": lambda a: filter_rules([shards.read_json(p) for p in a.input]),
    "dedup-clusters": lambda a: dedup_clusters(_removed(a.input)),
    "tokens": lambda a: token_groups(shards.read_json(a.input[0])),
    "training": lambda a: training_curves(_metrics(a.input)),
    "throughput": lambda a: throughput(_metrics(a.input)),
    "eval": lambda a: eval_table(_summaries(a.input), a.shape),
    "web-recall": lambda a: web_recall(sorted((shards.read_json(p)["extra"] for p in a.input), key=lambda r: r["round"])),
}


def _pre(text, limit: int = 3000) -> str:
    text = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)
    cut = f"\n… ({len(text) - limit:,} more characters)" if len(text) > limit else ""
    return f"<pre>{html.escape(text[:limit] + cut)}</pre>"


def synthetic_page(stats: dict, examples: dict) -> str:
    """A synthetic recipe (`synthetic/<recipe>/stats.json`, `examples.json`): its funnel and rejection
    reasons, then its example kept samples (execution outcome, response) and rejected ones (the stage
    that rejected each and why)."""
    from opencoder.synthesis.synthesize import FUNNEL

    name = html.escape(f"{stats['recipe']} ({stats['kind']})")
    steps = sorted(stats["funnel"], key=lambda k: FUNNEL.index(k) if k in FUNNEL else len(FUNNEL))  # stats.json sorts keys
    funnel = "".join(f"<tr><th>{html.escape(k)}</th><td>{stats['funnel'][k]:,}</td></tr>" for k in steps)
    reasons = {**stats.get("rejected", {}), **{f"unverified: {k}": v for k, v in stats.get("unverified", {}).items()}}
    why = "".join(f"<tr><th>{html.escape(k)}</th><td>{v:,}</td></tr>" for k, v in reasons.items())
    warnings = "".join(f"<p class='warn'>{html.escape(w)}</p>" for w in stats.get("warnings", []))

    def sample(row: dict) -> str:
        outcome = row.get("execution") or {}
        head = (f"rejected at {row['rejected_at']}: {row['reason']}" if row["status"] == "rejected"
                else f"kept, execution {outcome.get('status', '-')}" + (f" ({outcome['reason']})" if outcome.get("reason") else ""))
        task = f"<p>task: {html.escape(json.dumps(row['task']))}</p>" if row.get("task") else ""
        return (f"<details><summary><b>{html.escape(row['id'])}</b> {html.escape(head)}</summary>{task}"
                f"<p>prompt</p>{_pre(row['prompt'], 1500)}<p>response</p>{_pre(row['response'])}</details>")

    def section(title: str, rows: list[dict]) -> str:
        return f"<h2>{title} ({len(rows)} shown)</h2>" + ("".join(map(sample, rows)) or "<p>none</p>")

    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>synthetic " + name + "</title><style>"
            "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin-right:2em;float:left}"
            "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}td{text-align:right}"
            "pre{white-space:pre-wrap;background:#f6f6f6;padding:4px}.warn{color:#a00}h2{clear:both}</style></head><body>"
            f"<h1>synthetic recipe {name}</h1>{warnings}"
            f"<table><tr><th colspan=2>funnel</th></tr>{funnel}</table>"
            f"<table><tr><th colspan=2>rejected / unverified</th></tr>{why}</table>"
            + section("kept samples", examples["kept"]) + section("rejected samples", examples["rejected"])
            + "</body></html>\n")


# page name -> its HTML from the command line's arguments (its input files)
PAGES: dict[str, Callable[[argparse.Namespace], str]] = {
    "synthetic": lambda a: synthetic_page(*(shards.read_json(p) for p in a.input)),
}


def save(fig, path: str | Path) -> None:
    """Write a PNG atomically, without the metadata that would differ between runs."""
    fig.tight_layout()
    with shards.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder report", description=__doc__.split("\n")[0])
    parser.add_argument("figure", choices=sorted({**FIGURES, **PAGES}))
    parser.add_argument("--input", type=Path, nargs="+", required=True,
                        help="the stats files it is drawn from (synthetic: stats.json, examples.json)")
    parser.add_argument("--output", type=Path, required=True, help="PNG (a page: HTML) to write")
    parser.add_argument("--shape", help="eval: the model's shape (model.name), to print the paper's pass@1 beside")
    args = parser.parse_args(argv)
    if args.figure in PAGES:
        with shards.atomic_path(args.output) as tmp:
            tmp.write_text(PAGES[args.figure](args), encoding="utf-8")
    else:
        save(FIGURES[args.figure](args), args.output)
    log.info("%s: drawn from %d file(s) into %s", args.figure, len(args.input), args.output)
    return 0
