"""The command line of a one-shard-in, one-shard-out stage (preprocess, transform).

`opencoder <stage> --input SHARD --output SHARD [--config …|--params …]`: read the shard, run the
stage function, write the kept documents and `<shard>.stats.json` beside them (and
`<shard>.dropped.parquet`, the dropped documents with their reasons, for a stage that names them).
A bad shard or config is an `OpencoderError` (one line naming it, from `opencoder.cli`), and
nothing is written. With `empty`, the stage also takes `--empty` instead of `--input`: it runs on no
documents and writes a valid empty shard with its stats (the workflow's pads: rules/common.smk).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path

import polars as pl

from opencoder.core import shards
from opencoder.core.args import add_io
from opencoder.core.config import add_config_args, stage_params
from opencoder.core.documents import conform, empty as no_documents
from opencoder.core.stats import dropped_path, stats_path

# (documents, params) -> (kept documents, stats) or (kept documents, stats, dropped documents)
StageFn = Callable[[pl.DataFrame, dict], tuple]


def main(name: str, section: str, stage: StageFn, description: str, argv: list[str] | None, empty: bool = False) -> int:
    parser = argparse.ArgumentParser(prog=f"opencoder {name}", description=description)
    add_io(parser, "input", "--in", type=Path, required=not empty, help="input document shard (parquet)")
    if empty:
        parser.add_argument("--empty", action="store_true",
                            help="instead of --input: no documents, an empty shard out (with its stats); the workflow"
                                 " writes the shards that pad the last batch of a job (resources.shards_per_job) so")
    add_io(parser, "output", "--out", type=Path, help="output shard; stats go beside it")
    add_config_args(parser)
    args = parser.parse_args(argv)
    if empty and args.empty == (args.input is not None):
        parser.error("give one of --input or --empty")
    params = stage_params(args, section)
    source = "(no documents)" if empty and args.empty else args.input
    out, stats, *dropped = stage(no_documents() if empty and args.empty else shards.read_documents(args.input), params)
    shards.write_parquet(conform(out, where=str(source)), args.output)
    shards.write_json(stats, stats_path(args.output))
    if dropped:
        shards.write_parquet(dropped[0], dropped_path(args.output))
    logging.getLogger(f"opencoder.{name}").info(
        "%s %s: %d of %d documents out", name, source, stats["out"]["documents"], stats["in"]["documents"])
    return 0
