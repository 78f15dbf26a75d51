"""`opencoder sft-data`: one SFT stage's instruction sources → its conversations (`data.jsonl`).

Each configured source (`{name, path, weight}`: a file or Hub id in the opc-sft or chat format; the
embedded default's corpus doctest set is one such file) is read, its bad rows set aside with their
file, row and reason (`rejected.parquet`, counted per source in the stats), and the good ones taken
`weight` times (seeded, see `sources.weighted`). The output is shuffled with the build's seed.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import polars as pl

from opencoder.core import shards
from opencoder.core.args import add_io
from opencoder.core.config import ConfigError, add_config_args, stage_params
from opencoder.core.errors import InputError
from opencoder.training.params import SFT_STAGES
from opencoder.training.sft.sources import read_source, weighted

log = logging.getLogger(__name__)
REJECTED_SCHEMA = {"source": pl.String, "file": pl.String, "row": pl.Int64, "reason": pl.String}


def collect(sources: list[dict], seed: int) -> tuple[list[dict], list[dict], dict]:
    """(conversations, rejected rows, per-source stats) of a stage's sources."""
    names = [s["name"] for s in sources]
    if len(set(names)) != len(names):
        raise ConfigError(f"sft sources: duplicate names in {names}")
    out, rejected, per_source = [], [], {}
    for s in sources:
        good, bad = read_source(s["name"], s["path"])
        for b in bad:
            log.warning("%s: row %d: %s (row skipped)", b["file"], b["row"], b["reason"])
        taken = weighted(good, s.get("weight", 1.0), seed, s["name"])
        per_source[s["name"]] = {"path": s["path"], "rows": len(good) + len(bad), "rejected": len(bad),
                                 "weight": s.get("weight", 1.0), "conversations": len(taken)}
        out.extend(taken)
        rejected.extend(bad)
    if sources and not out:
        raise InputError("no usable conversation in the sources ("
                         + "; ".join(f"{s['path']}: {per_source[s['name']]['rows']} rows, "
                                     f"{per_source[s['name']]['rejected']} rejected" for s in sources) + ")")
    order = np.random.default_rng(seed).permutation(len(out))
    return [out[i] for i in order], rejected, per_source


def write_conversations(rows: list[dict], path: str | Path) -> None:
    with shards.atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def read_conversations(path: str | Path) -> list[dict]:
    """The conversations of an sft-data (or decontaminate) output; a missing file or a line that is
    no conversation is an InputError naming the file and line."""
    return shards.read_jsonl(path, lambda row: isinstance(row, dict) and isinstance(row.get("messages"), list),
                             "not a conversation (no messages list)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder sft-data", description=__doc__.splitlines()[0])
    add_io(parser, "output", help="conversations (jsonl); rejected.parquet and data.stats.json beside it")
    parser.add_argument("--stage", choices=SFT_STAGES, default="stage1", help="the sft stage whose sources --config gives")
    parser.add_argument("--seed", type=int, default=1234)
    add_config_args(parser)
    parser.epilog = "--params: the stage's `sources` list as JSON"
    args = parser.parse_args(argv)
    if args.params:
        sources = stage_params(args, f"sft.{args.stage}.sources")
    else:  # the stage's sources under sft.strategy (`mixed`: stage 1 takes stage 2's too)
        from opencoder.core.config import load
        from opencoder.training.params import sft_sources

        sources = sft_sources(load(*args.config), args.stage)
    if any(s.get("builtin") for s in sources):  # from --config: the build resolves builtins (rules/sft.smk)
        raise ConfigError(f"sft.{args.stage}.sources: a `builtin:` source needs the workflow; give its `path:`")
    rows, rejected, per_source = collect(sources, args.seed)
    out = Path(args.output)
    write_conversations(rows, out)
    shards.write_parquet(pl.DataFrame(rejected, schema=REJECTED_SCHEMA), out.with_name("rejected.parquet"))
    shards.write_json({"stage": "sft-data", "conversations": len(rows), "rejected": len(rejected),
                       "sources": per_source}, out.with_name("data.stats.json"))
    log.info("%d conversations from %d sources (%d rows rejected)", len(rows), len(sources), len(rejected))
    return 0
