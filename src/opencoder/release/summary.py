"""`opencoder summary --input OUT_DIR`: what a build made, where, and its headline numbers.

The workflow prints it when a build succeeds. It reads only the stats files the stages wrote, so it
works on a partial build (one target) and lists just what exists: the corpus (documents, bytes),
each web-recall round (pages recalled, domains marked, pages added by URL patterns, the classifier's
held-out precision and recall), the tokenizer, the token datasets (with the web pages' share), each
synthetic recipe's funnel (prompts, parsed, passed execution, unverified, kept; tokens kept, wall time), the
final pretrain and anneal loss (or the imported base model), pass@k per benchmark, the model folder,
per SFT stage the samples left after decontamination and the final loss, the chat model's pass@k,
its folder, the report figures and the publish receipt.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from opencoder.core.args import add_io
from opencoder.core.errors import InputError
from opencoder.core.shards import read_json
from opencoder.training import metrics


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def _training(what: str, folder: Path) -> Iterator[tuple[str, Path, str]]:
    log = folder / "metrics.jsonl"
    if log.exists() and (records := metrics.read(log)):
        yield (what, folder / "checkpoint", f"final loss {records[-1]['loss']:.4f} after {records[-1]['step']:,} steps")


def _evals(what: str, folder: Path) -> Iterator[tuple[str, Path, str]]:
    """pass@k per benchmark; the benchmarks skipped for want of data in one line."""
    skipped = []
    for summary in sorted(folder.glob("*/summary.json")):
        scores = read_json(summary)
        if "skipped" in scores:
            skipped.append(summary.parent.name)
            continue
        passes = ", ".join(f"{k} {v:.3f}" for k, v in sorted(scores.items()) if k.startswith("pass@"))
        yield (f"{what} {summary.parent.name}", summary.parent, f"{passes} ({scores.get('problems', '?')} problems)")
    if skipped:
        yield (f"{what} (skipped)", folder, f"no data: {', '.join(skipped)}")


def lines(root: Path) -> Iterator[tuple[str, Path, str]]:
    """(what, where, numbers) for every target of the build found under `root`."""
    funnel = root / "corpus" / "funnel.json"
    if funnel.exists():
        stages = read_json(funnel)["stages"]
        if stages:
            out, first = stages[-1]["out"], stages[0]["out"]
            yield ("corpus", root / "corpus", f"{out['documents']:,} documents, {_size(out['bytes'])} "
                   f"(of {first['documents']:,} documents, {_size(first['bytes'])} ingested)")
    yield from web_rounds(root)
    tokenizer = root / "tokenizer" / "tokenizer.json"
    if tokenizer.exists():
        stats = read_json(root / "tokenizer" / "stats.json") if (root / "tokenizer" / "stats.json").exists() else {}
        per_token = stats.get("extra", {}).get("bytes_per_token")
        yield ("tokenizer", tokenizer.parent, f"{per_token} bytes per token on its sample" if per_token else "")
    tokens = root / "tokens" / "stats.json"
    if tokens.exists():
        groups = read_json(tokens).get("extra", {}).get("groups", {})
        total = sum(g["tokens"] for g in groups.values())
        web = groups.get("web", {}).get("tokens", 0)
        share = f"; web pages {web:,} ({web / total:.1%})" if web and total else ""
        yield ("tokens", tokens.parent, f"{total:,} tokens in {len(groups)} group(s){share}")
    yield from synthetic_recipes(root)
    for stage in ("pretrain", "anneal"):
        yield from _training(stage, root / stage)
    imported = root / "import" / "stats.json"
    if imported.exists():
        extra = read_json(imported).get("extra", {})
        yield ("import", imported.parent / "checkpoint",
               f"{extra.get('source', '?')}: {extra.get('parameters', 0) / 1e6:,.1f}M parameters")
    if (root / "hf_export" / "config.json").exists():
        yield ("export", root / "hf_export", "Hugging Face LlamaForCausalLM")
    yield from _evals("eval", root / "eval")
    if (root / "model" / "README.md").exists():
        yield ("model", root / "model", "export + model card")
    for folder in sorted((root / "sft").glob("stage*")):
        clean = folder / "clean.stats.json"
        if clean.exists():
            stats = read_json(clean)
            yield (f"sft data {folder.name}", clean.with_name("clean.jsonl"),
                   f"{stats['kept']:,} samples after decontamination (of {stats['in']:,}; {stats['removed']:,} removed)")
        yield from _training(f"sft {folder.name}", folder)
    if (root / "hf_instruct" / "config.json").exists():
        yield ("export instruct", root / "hf_instruct", "Hugging Face LlamaForCausalLM, chat")
    yield from _evals("eval instruct", root / "eval_instruct")
    if (root / "model_instruct" / "README.md").exists():
        yield ("model instruct", root / "model_instruct", "export + model card")
    figures = sorted((root / "report").glob("*.png"))
    if figures:
        yield ("report", root / "report", f"{len(figures)} figure(s)")
    receipt = root / "publish" / "receipt.json"
    if receipt.exists():
        yield ("publish", receipt, "dry run: nothing uploaded" if read_json(receipt).get("dry_run") else "uploaded")


def _share(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def web_rounds(root: Path) -> Iterator[tuple[str, Path, str]]:
    """One line per web-recall round (its report in `web/round<k>/stats.json`), in round order."""
    found = [(int(p.parent.name.removeprefix("round")), p) for p in (root / "web").glob("round*/stats.json")
             if p.parent.name.removeprefix("round").isdigit()]
    for k, path in sorted(found):
        report = read_json(path).get("extra", {})
        held = report.get("held_out", {})
        yield (f"web round {k}", path.parent,
               f"{report.get('pages_recalled', 0):,}/{report.get('pages_scored', 0):,} pages recalled, "
               f"{report.get('domains_marked', 0)} domains marked, +{report.get('pages_added_by_url_patterns', 0)} "
               f"seeds by URL pattern, precision {_share(held.get('precision'))} recall {_share(held.get('recall'))}")


def synthetic_recipes(root: Path) -> Iterator[tuple[str, Path, str]]:
    """One line per synthetic recipe: its funnel, kept tokens, wall time and any warning."""
    for path in sorted((root / "synthetic").glob("*/stats.json")):
        stats = read_json(path)
        f = stats.get("funnel", {})
        warn = " (warning: kept nothing)" if stats.get("warnings") else ""
        yield (f"synthetic {path.parent.name}", path.parent.joinpath("kept.jsonl"),
               f"{f.get('kept', 0)} kept of {f.get('prompts', 0)} prompts ({f.get('parsed', 0)} parsed, "
               f"{f.get('passed', 0)} passed execution"
               f"{', %d unverified' % f['unverified'] if f.get('unverified') else ''}), "
               f"{stats.get('tokens', {}).get('kept', 0):,} tokens kept, "
               f"{stats.get('wall_s', 0):.0f}s{warn}")


def summary(root: str | Path) -> str:
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such build folder")
    found = list(lines(root))
    if not found:
        return f"build {root}: nothing built yet"
    width = max(len(what) for what, _, _ in found)
    return "\n".join([f"build {root}:"] + [f"  {what:<{width}}  {where}  {numbers}".rstrip() for what, where, numbers in found])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder summary", description=__doc__.split("\n\n")[0])
    add_io(parser, "input", "--out-dir", type=Path, help="the build's out_dir")
    print(summary(parser.parse_args(argv).input))
    return 0
