"""`opencoder filter`: judge documents by the OpenCoder rule set and keep those no rule drops.

    opencoder filter --input docs.parquet --output kept.parquet --explain decisions.parquet

The input needs `id`, `text` and `path`; `language` and `doc_type` are derived from the file name
(`opencoder.core.languages`) where absent, `bytes` from the text. The kept documents keep the input's
columns. `--explain` writes one decision per document (`engine.DECISIONS`); `--stats` and
`--samples` write the stage stats and a sample of dropped documents per rule (`summary`).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import polars as pl

from opencoder.core import shards
from opencoder.core.config import add_config_args, stage_params
from opencoder.core.errors import InputError
from opencoder.data.filter.engine import Engine
from opencoder.data.filter.summary import dropped_samples, filter_stats
from opencoder.core.languages import classify

log = logging.getLogger(__name__)

REQUIRED = ("id", "text", "path")


def complete(docs: pl.DataFrame, where: str) -> pl.DataFrame:
    """The columns the engine needs, derived where the input lacks them; a missing id/text/path is an error."""
    missing = [c for c in REQUIRED if c not in docs.columns]
    if missing:
        raise InputError(f"{where}: missing column(s) {missing}; the filter needs {list(REQUIRED)}")
    for column in REQUIRED:
        if docs[column].null_count():
            raise InputError(f"{where}: {docs[column].null_count()} document(s) with a null {column!r}")
    derived = []
    if "language" not in docs.columns or "doc_type" not in docs.columns:
        classified = pl.DataFrame([classify(p) for p in docs["path"].to_list()], schema=["language", "doc_type"],
                                  orient="row")
        derived += [classified[c] for c in ("language", "doc_type") if c not in docs.columns]
    if "bytes" not in docs.columns:
        derived.append(docs["text"].str.len_bytes().cast(pl.Int64).alias("bytes"))
    return docs.with_columns(derived)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder filter", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, type=Path, help="parquet documents (id, text, path, ...)")
    parser.add_argument("--output", required=True, type=Path, help="parquet of the kept documents")
    parser.add_argument("--explain", type=Path, help="parquet of one decision per document")
    parser.add_argument("--stats", type=Path, help="stage stats JSON (per rule and group)")
    parser.add_argument("--samples", type=Path, help="parquet of dropped documents per rule")
    parser.add_argument("--threads", type=int, default=1, help="processes for the per-document pass")
    add_config_args(parser)
    args = parser.parse_args(argv)
    params = stage_params(args, "filter")
    engine = Engine(params, threads=args.threads)

    original = shards.read_parquet(args.input)
    docs = complete(original, str(args.input))
    log.info("%s: %d documents, %d rules enabled", args.input, docs.height, len(engine.rule_ids))
    decisions, values = engine.decide(docs, params["chunk_bytes"])

    shards.write_parquet(original.filter(decisions["kept"]), args.output)
    if args.explain:
        shards.write_parquet(decisions, args.explain)
    if args.stats:
        shards.write_json(filter_stats(docs, decisions), args.stats)
    if args.samples:
        shards.write_parquet(dropped_samples(docs, decisions, values, params["sample_per_rule"]), args.samples)
    kept = int(decisions["kept"].sum())
    log.info("%s: kept %d of %d documents", args.output, kept, decisions.height)
    return 0
