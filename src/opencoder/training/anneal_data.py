"""Annealing data (paper 4): the pretraining distribution plus an algorithmic corpus, as one blend.

The Algorithmic Corpus is selected from the corpus itself: every document whose text contains one
of the configured keywords ("leetcode", "def solution", "class solution", ...; case-insensitive),
i.e. self-contained, function-level code close to the benchmarks' style. It is encoded with the
tokens stage's `encode_documents` into `algorithmic.bin/.idx`, and `blend.json` (the tokens
stage's format) mixes it with the original blend and any further sets the config names (the
paper's synthetic snippets and textbooks are not public), each group weighted by its share of the
source's weight (paper Table 3: 84.21B original, 12.44B algorithmic tokens). The synthetic recipes
named in `synthetic` (recipe -> weight; the paper's code snippets: 2.71B) are encoded from their
kept samples (`synthetic/<recipe>/kept.jsonl`, field `text`) into `synthetic_<recipe>.bin/.idx`; a
recipe that kept nothing is left out with a warning in the stats, and the blend's weights, being
relative, renormalise over what is left.

`high_quality: false` anneals on the original distribution alone (the algorithmic corpus is still
selected and counted, but left out of the blend, and so are the `extra` sets): the paper's ablation
(§6.2, Fig. 9), where removing the high-quality data drops HumanEval and MBPP across the whole run.

Differences from the paper: it samples the algorithmic corpus from The Stack v2 and the original
distribution by continued sampling of RefineCode; here both come from this build's corpus, so the
algorithmic documents are seen in both parts. An empty selection is left out of the blend (logged).
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl
from tqdm import tqdm

from opencoder.core.errors import InputError
from opencoder.core import shards
from opencoder.core.args import add_io
from opencoder.core.config import ConfigError, add_config_args, stage_params
from opencoder.core.stats import stage_stats
from opencoder.tokenization.tokenizer import load_backend
from opencoder.tokenization.tokens import Blend, encode_documents, load_blend, write_blend

log = logging.getLogger(__name__)


def keyword_matches(df: pl.DataFrame, keywords: Sequence[str]) -> pl.Series:
    """Whether each document's text contains any keyword, ignoring case."""
    return df.select(
        pl.col("text").str.contains_any(list(keywords), ascii_case_insensitive=True).alias("hit")
    )["hit"]


def _weighted_groups(blend: Blend, weight: float, name: str, out_dir: Path) -> list[tuple[float, str, str]]:
    """(weight, group label, prefix relative to `out_dir`) of a source blend scaled to `weight`."""
    total = sum(blend.weights)
    return [(weight * w / total, f"{name}/{Path(prefix).name}", os.path.relpath(prefix, out_dir.resolve()))
            for w, prefix in zip(blend.weights, blend.prefixes)]


def synthetic_texts(path: str | Path) -> list[str]:
    """The `text` of every kept sample of a synthetic recipe (`synthetic/<recipe>/kept.jsonl`)."""
    rows = shards.read_jsonl(path, lambda row: isinstance(row, dict) and isinstance(row.get("text"), str),
                             "no `text` (is it an annealing recipe's kept.jsonl?)")
    return [row["text"] for row in rows]


def build(corpus: Sequence[str | Path], tokenizer_dir: str | Path, original: str | Path, out_dir: str | Path,
          params: Mapping, synthetic: Mapping[str, str | Path] | None = None) -> dict:
    """Write `algorithmic.bin/.idx` (+ `synthetic_<recipe>.bin/.idx`), `blend.json` and `stats.json`
    into `out_dir`; return the stats. `synthetic`: recipe -> its kept.jsonl, for the recipes that
    `params["synthetic"]` weighs."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keywords = params["keywords"]
    backend, ids = load_backend(tokenizer_dir)
    seen, kept, rest, hits = [], [], [], {k: 0 for k in keywords}

    def selected():
        for path in tqdm(corpus, desc="anneal-data", unit="shard"):
            df = shards.read_documents(path)
            hit = keyword_matches(df, keywords)
            seen.append(df.select("language", "bytes"))
            chosen = df.filter(hit)
            lowered = chosen["text"].str.to_lowercase()
            for k in keywords:
                hits[k] += int(lowered.str.contains(k.lower(), literal=True).sum())
            kept.append(chosen.select("language", "bytes"))
            rest.append(df.filter(~hit).select("language", "bytes"))
            yield chosen

    counts = encode_documents(selected(), backend, out_dir / "algorithmic", eod_id=ids["eod_id"],
                              vocab_size=ids["vocab_size"])

    high_quality = params.get("high_quality", True)
    sources = [(original, params["original_weight"], "original")]
    if high_quality:
        sources += [(spec["blend"], spec["weight"], name) for name, spec in sorted(params["extra"].items())]
    parts = []
    for path, weight, name in sources:
        blend = load_blend(path)
        if (blend.vocab_size, blend.eod_id) != (ids["vocab_size"], ids["eod_id"]):
            raise InputError(f"{path}: tokenized with another tokenizer (vocab {blend.vocab_size}, eod "
                             f"{blend.eod_id}) than {tokenizer_dir} (vocab {ids['vocab_size']}, eod {ids['eod_id']})")
        parts += _weighted_groups(blend, weight, name, out_dir)
    warnings = []
    if not high_quality:
        log.info("%s: high_quality is false: annealing on the original distribution alone", out_dir)
        groups = {}
    elif counts["documents"]:
        parts.append((params["algorithmic_weight"], "algorithmic", "algorithmic"))
        groups = {"algorithmic": {"weight": params["algorithmic_weight"], **counts}}
    else:
        warnings.append(f"no corpus document contains any of {keywords}; the algorithmic corpus is left out")
        log.warning("%s: %s", out_dir, warnings[-1])
        groups = {}
    synthetic = dict(synthetic or {})
    missing = sorted(set(params.get("synthetic") or {}) - set(synthetic))
    if missing:
        raise ConfigError(f"anneal.data.synthetic: no kept samples given for {missing} (--synthetic RECIPE=FILE)")
    synthetic_stats = {}
    # the synthetic sets are high-quality data too: the ablation leaves them out with the rest
    for name, weight in sorted((params.get("synthetic") or {}).items() if high_quality else []):
        texts = synthetic_texts(synthetic[name])
        prefix = f"synthetic_{name}"
        if not texts:
            warnings.append(f"synthetic recipe {name} kept no sample ({synthetic[name]}); left out of the blend, "
                            "the other weights renormalise")
            log.warning("%s: %s", out_dir, warnings[-1])
            synthetic_stats[name] = {"weight": weight, "documents": 0, "tokens": 0, "file": str(synthetic[name])}
            continue
        got = encode_documents(texts, backend, out_dir / prefix, eod_id=ids["eod_id"], vocab_size=ids["vocab_size"])
        parts.append((weight, prefix, prefix))
        groups[prefix] = {"weight": weight, **got}
        synthetic_stats[name] = {"weight": weight, **got, "file": str(synthetic[name])}
    write_blend(out_dir, [(weight, prefix) for weight, _, prefix in parts],
                {label: {"weight": weight} for weight, label, _ in parts} | groups, ids, tokenizer_dir)

    before = pl.concat(seen) if seen else pl.DataFrame(schema={"language": pl.String, "bytes": pl.Int64})
    after, unselected = (pl.concat(frames) if frames else before.clear() for frames in (kept, rest))
    stats = stage_stats("anneal_data", before, after, dropped={"no_keyword": unselected},
                        extra={"keyword_documents": hits, **counts, "synthetic": synthetic_stats,
                               "share": {label: round(w / sum(p[0] for p in parts), 4) for w, label, _ in parts},
                               "warnings": warnings})
    shards.write_json(stats, out_dir / "stats.json")
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder anneal-data", description=__doc__.splitlines()[0])
    add_io(parser, "input", "--corpus", nargs="+", metavar="PARQUET", help="corpus shards")
    parser.add_argument("--tokenizer", required=True, help="tokenizer folder")
    parser.add_argument("--blend", required=True, help="blend.json of the pretraining data (the original distribution)")
    add_io(parser, "output", "--output-dir", help="folder to write the dataset, blend.json and stats.json to")
    parser.add_argument("--synthetic", nargs="*", default=[], metavar="RECIPE=FILE",
                        help="kept samples of the synthetic recipes that anneal.data.synthetic weighs")
    add_config_args(parser)
    args = parser.parse_args(argv)
    synthetic = {}
    for item in args.synthetic:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--synthetic {item!r}: expected RECIPE=FILE")
        synthetic[name] = path
    stats = build(args.input, args.tokenizer, args.blend, args.output, stage_params(args, "anneal.data"), synthetic)
    log.info("anneal-data: %d of %d documents selected", stats["out"]["documents"], stats["in"]["documents"])
    return 0
