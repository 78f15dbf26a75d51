"""Preprocess (paper 1.2): give each file its language and doc_type, drop what is not worth keeping.

Language and doc_type come from the path through the linguist-derived table (`opencoder.core.languages`),
always re-derived here so that shards from anywhere get the paper's mapping; a web page (it has a `url`)
is language `web`, doc_type `text`. Drop reasons, in order:

* `empty`     — no content, or only whitespace (logged with the file's path)
* `too_large` — over `max_file_bytes` (the paper's 8 MB; logged with the file's path)
* `excluded`  — a type the paper hard-excludes (CSV, SVG, pickles, keys, …)
* `unknown`   — a name or extension the table does not know
* `doc_type`  — a doc_type not in `keep_doc_types`

Each dropped document is listed with its reason in `<shard>.dropped.parquet` beside the shard
(`DROPPED_COLUMNS`) and counted in the stats. A leading UTF-8 byte-order mark is stripped from the
text first (counted as `extra.bom_stripped`): Python's `ast.parse` refuses it, so the filter's
Python rules would drop an otherwise good file.

Binary and non-UTF-8 files never get this far: ingest counts and lists them (`ingest/stats.json`,
`ingest/rejected.parquet`), since a shard's text column holds UTF-8 only.
"""

from __future__ import annotations

import logging

import polars as pl

from opencoder.core import stage_cli as shard_stage
from opencoder.core.languages import classify_document
from opencoder.core.stats import stage_stats

log = logging.getLogger(__name__)

BOM = "\ufeff"
# `preprocess/<shard>.dropped.parquet`: every dropped document, named with its reason
DROPPED_COLUMNS = ["id", "source", "repo", "path", "language", "doc_type", "reason", "bytes"]


def reasons(params: dict) -> pl.Expr:
    """The drop reason of each document (null: keep), first matching reason wins."""
    return (
        pl.when(pl.col("text").str.strip_chars() == "").then(pl.lit("empty"))
        .when(pl.col("bytes") > params["max_file_bytes"]).then(pl.lit("too_large"))
        .when(pl.col("doc_type") == "excluded").then(pl.lit("excluded"))
        .when(pl.col("doc_type") == "unknown").then(pl.lit("unknown"))
        .when(~pl.col("doc_type").is_in(params["keep_doc_types"])).then(pl.lit("doc_type"))
        .otherwise(pl.lit(None, pl.String()))
    )


def preprocess(docs: pl.DataFrame, params: dict) -> tuple[pl.DataFrame, dict, pl.DataFrame]:
    """(kept documents, stats, dropped documents named with their reason) of one shard."""
    before = docs
    bom = docs["text"].str.starts_with(BOM)
    if bom.any():  # a leading byte-order mark is no part of the text (`ast.parse` refuses it)
        docs = docs.with_columns(text=pl.col("text").str.strip_prefix(BOM)).with_columns(
            bytes=pl.when(bom).then(pl.col("text").str.len_bytes().cast(pl.Int64)).otherwise(pl.col("bytes")))
    table = [classify_document(path, url) for path, url in zip(docs["path"], docs["url"])]
    docs = docs.with_columns(
        language=pl.Series([lang for lang, _ in table], dtype=pl.String()),
        doc_type=pl.Series([doc_type for _, doc_type in table], dtype=pl.String()),
    )
    marked = docs.with_columns(_reason=reasons(params))
    for row in marked.filter(pl.col("_reason").is_in(["empty", "too_large"])).iter_rows(named=True):
        log.warning("%s (source %s): dropped: %s (%d bytes)", row["path"], row["source"], row["_reason"], row["bytes"])
    kept = marked.filter(pl.col("_reason").is_null()).drop("_reason")
    gone = marked.filter(pl.col("_reason").is_not_null())
    dropped = {reason: part.drop("_reason") for (reason,), part in gone.partition_by("_reason", as_dict=True).items()}
    table = gone.select(*DROPPED_COLUMNS[:-2], reason="_reason", bytes="bytes")
    stats = stage_stats("preprocess", before.with_columns(language=docs["language"]), kept, dropped,
                        extra={"bom_stripped": int(bom.sum())})
    return kept, stats, table


def main(argv: list[str] | None = None) -> int:
    return shard_stage.main("preprocess", "preprocess", preprocess, __doc__.split("\n\n")[0], argv, empty=True)
