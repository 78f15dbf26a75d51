"""The command line of a one-shard-in, one-shard-out stage (preprocess, transform).

`opencoder <stage> --in SHARD --out SHARD [--config …|--params …]`: read the shard, run the stage
function, write the kept documents and `<shard>.stats.json` beside them (and `<shard>.dropped.parquet`,
the dropped documents with their reasons, for a stage that names them). A bad shard or config is
one clear line naming it, and nothing is written.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import polars as pl

from opencoder.core import shards
from opencoder.core.config import ConfigError, add_config_args, stage_params
from opencoder.core.documents import conform
from opencoder.core.stats import dropped_path, stats_path

# (documents, params) -> (kept documents, stats) or (kept documents, stats, dropped documents)
StageFn = Callable[[pl.DataFrame, dict], tuple]


def main(name: str, section: str, stage: StageFn, description: str, argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog=f"opencoder {name}", description=description)
    parser.add_argument("--in", dest="inp", required=True, type=Path, help="input document shard (parquet)")
    parser.add_argument("--out", required=True, type=Path, help="output shard; stats go beside it")
    add_config_args(parser)
    args = parser.parse_args(argv)
    try:
        params = stage_params(args, section)
        out, stats, *dropped = stage(shards.read_documents(args.inp), params)
    except (ConfigError, shards.ShardError, ValueError) as exc:
        print(f"opencoder {name}: {exc}", file=sys.stderr)
        return 1
    shards.write_parquet(conform(out, where=str(args.inp)), args.out)
    shards.write_json(stats, stats_path(args.out))
    if dropped:
        shards.write_parquet(dropped[0], dropped_path(args.out))
    logging.getLogger(f"opencoder.{name}").info(
        "%s %s: %d of %d documents out", name, args.inp, stats["out"]["documents"], stats["in"]["documents"])
    return 0
