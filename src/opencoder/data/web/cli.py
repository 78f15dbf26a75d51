"""`opencoder web-recall`: one round of code-related web recall (paper 2) over document shards.

    opencoder web-recall --input filter/*.parquet --tokenizer tokenizer/ --round 2 \\
        --seeds web/round1/seeds.parquet --output web/round2/

Web pages are the documents with a `url`. Round k's settings are the `web` section with the classifier
settings of `web.rounds[k-1]` merged over `web.classifier`. Writes into `--output`:

    scores.parquet     id, url, domain, score, recalled: every page
    domains.parquet    domain, pages, recalled, share, marked
    seeds.parquet      the next round's seeds (id, origin: config or url_pattern:<round>)
    recalled.parquet   the recalled pages as documents (the round's output to the pretraining mixture)
    model.bin          the round's fastText model
    stats.json         stage stats; `extra` is the round's recall report (opencoder.data.web.recall)
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import polars as pl

from opencoder.core import shards
from opencoder.core.args import add_io
from opencoder.core.config import ConfigError, add_config_args, stage_params
from opencoder.core.errors import InputError
from opencoder.core.stats import stage_stats
from opencoder.data.web import classifier, recall

log = logging.getLogger(__name__)


def round_params(params: dict, round_number: int) -> dict:
    """The section for round k: the classifier settings of `rounds[k-1]` over `classifier`."""
    if not 1 <= round_number <= len(params["rounds"]):
        raise ConfigError(f"web: round {round_number} is not configured (web.rounds has {len(params['rounds'])})")
    return {**params, "classifier": {**params["classifier"], **params["rounds"][round_number - 1]}}


def read_pages(paths: list[Path]) -> pl.DataFrame:
    frames = [shards.read_documents(p) for p in paths]
    pages = pl.concat(frames).filter(pl.col("url").is_not_null()) if frames else pl.DataFrame()
    if pages.height == 0:
        named = f"{paths[0]}" if len(paths) == 1 else f"{len(paths)} input shards ({paths[0]}, ...)"
        raise InputError(f"{named}: no web pages (documents with a url) to recall from")
    return pages.sort("id")


def run(pages: pl.DataFrame, seeds: pl.DataFrame | None, tokenizer: Path, params: dict, round_number: int,
        out: Path) -> dict:
    if seeds is None:
        seeds = recall.initial_seeds(pages, params["seeds"]["positive_urls"])
        if seeds.height == 0:
            raise ConfigError(f"web.seeds.positive_urls: no URL of the {pages.height} web pages matches any of "
                              f"{params['seeds']['positive_urls']}")
    result = recall.run_round(pages, seeds, classifier.Segmenter(tokenizer, params["classifier"]["max_chars"]), params, round_number, params["seed"])
    recalled = pages.filter(result["scores"]["recalled"])
    with shards.atomic_dir(out) as tmp:
        shards.write_parquet(result["scores"], tmp / "scores.parquet")
        shards.write_parquet(result["domains"], tmp / "domains.parquet")
        shards.write_parquet(result["next_seeds"], tmp / "seeds.parquet")
        shards.write_parquet(recalled, tmp / "recalled.parquet")
        result["model"].save(tmp / "model.bin")
        stats = stage_stats("web_recall", pages, recalled, extra=result["report"])
        shards.write_json(stats, tmp / "stats.json")
    report = result["report"]
    log.info("web recall round %d: %d of %d pages recalled, %d domains marked, %d pages added by URL patterns, "
             "held-out precision %s recall %s", round_number, report["pages_recalled"], report["pages_scored"],
             report["domains_marked"], report["pages_added_by_url_patterns"],
             report["held_out"]["precision"], report["held_out"]["recall"])
    return stats


def read_seeds(path: Path) -> pl.DataFrame:
    seeds = shards.read_parquet(path)
    missing = [c for c in recall.SEED_SCHEMA if c not in seeds.columns]
    if missing:
        raise InputError(f"{path}: missing seed column(s) {missing} (have {seeds.columns})")
    return seeds.select(list(recall.SEED_SCHEMA))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder web-recall", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_io(parser, "input", nargs="+", type=Path, help="document shards (pages: rows with a url)")
    parser.add_argument("--tokenizer", required=True, type=Path, help="tokenizer folder or tokenizer.json (segmenter)")
    parser.add_argument("--round", required=True, type=int, help="round number, from 1")
    parser.add_argument("--seeds", type=Path, help="the previous round's seeds.parquet (round 1: from config)")
    add_io(parser, "output", type=Path, help="the round's folder (replaced)")
    add_config_args(parser)
    args = parser.parse_args(argv)
    params = round_params(stage_params(args, "web"), args.round)
    if args.round > 1 and args.seeds is None:
        raise ConfigError(f"web-recall: round {args.round} needs --seeds (the previous round's seeds.parquet)")
    if not args.tokenizer.exists():
        raise InputError(f"{args.tokenizer}: no such tokenizer")
    seeds = read_seeds(args.seeds) if args.seeds else None
    run(read_pages(args.input), seeds, args.tokenizer, params, args.round, args.output)
    return 0
