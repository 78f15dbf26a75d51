"""Stage statistics: documents and bytes in and out, per language and per drop reason.

Every stage writes one small JSON file per shard in this shape; `merge` sums them and the
corpus funnel and the report are built from the merged files.

    {"stage": str,
     "in":  {"documents": int, "bytes": int},
     "out": {"documents": int, "bytes": int},
     "languages": {lang: {"in_documents", "in_bytes", "out_documents", "out_bytes"}},
     "dropped":   {reason: {"documents": int, "bytes": int}},
     "extra": {...}}   # stage-specific counters (rule hits, clusters, ...)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl


def stats_path(out: Path) -> Path:
    """`…/00000.parquet` → `…/00000.stats.json`, the convention of every per-shard stage."""
    return out.with_name(out.name.removesuffix(".parquet") + ".stats.json")


def dropped_path(out: Path) -> Path:
    """`…/00000.parquet` → `…/00000.dropped.parquet`: a stage's dropped documents, each with its reason."""
    return out.with_name(out.name.removesuffix(".parquet") + ".dropped.parquet")


def _by_language(df: pl.DataFrame, prefix: str) -> dict[str, dict[str, int]]:
    if df.height == 0:
        return {}
    g = df.group_by("language").agg(pl.len().alias("n"), pl.col("bytes").sum().alias("b"))
    return {
        row["language"]: {f"{prefix}_documents": int(row["n"]), f"{prefix}_bytes": int(row["b"] or 0)}
        for row in g.iter_rows(named=True)
    }


def _totals(df: pl.DataFrame) -> dict[str, int]:
    return {"documents": df.height, "bytes": int(df["bytes"].sum() or 0) if df.height else 0}


def stage_stats(
    stage: str,
    before: pl.DataFrame,
    after: pl.DataFrame,
    dropped: Mapping[str, pl.DataFrame] | None = None,
    extra: Mapping | None = None,
) -> dict:
    """Stats of one stage on one shard; frames need `language` and `bytes` columns."""
    languages: dict[str, dict[str, int]] = {}
    for part in (_by_language(before, "in"), _by_language(after, "out")):
        for lang, counts in part.items():
            languages.setdefault(lang, {"in_documents": 0, "in_bytes": 0, "out_documents": 0, "out_bytes": 0})
            languages[lang].update(counts)
    return {
        "stage": stage,
        "in": _totals(before),
        "out": _totals(after),
        "languages": dict(sorted(languages.items())),
        "dropped": {reason: _totals(df) for reason, df in sorted((dropped or {}).items()) if df.height},
        "extra": dict(extra or {}),
    }


def _add(into: dict, other: Mapping) -> dict:
    """Sum nested mappings of numbers; non-numeric leaves keep the first value seen."""
    for key, value in other.items():
        if isinstance(value, Mapping):
            _add(into.setdefault(key, {}), value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            into[key] = into.get(key, 0) + value
        else:
            into.setdefault(key, value)
    return into


def merge(stats: Iterable[Mapping]) -> dict:
    """Sum per-shard stats of one stage into one."""
    out: dict = {}
    for s in stats:
        _add(out, s)
    return out
