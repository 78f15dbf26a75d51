"""What the filter did, per rule and per group: stage stats and a sample of dropped documents.

Stats (`filter/<shard>.stats.json`, `opencoder.core.stats.stage_stats`): `dropped` has one entry per rule
(documents and bytes it dropped; a document dropped by two rules counts under both). `extra` has

    hits:     rule -> documents where it fired (probabilistic rules whatever the draw)
    alone:    rule -> {documents, bytes} dropped by that rule and no other
    groups:   group -> {in_documents, in_bytes, out_documents, out_bytes}
    by_group: group -> rule -> {documents, bytes} dropped
"""

from __future__ import annotations

import polars as pl

from opencoder.core.stats import stage_stats


def _totals(frame: pl.DataFrame) -> dict[str, int]:
    return {"documents": frame.height, "bytes": int(frame["bytes"].sum() or 0)}


def filter_stats(docs: pl.DataFrame, decisions: pl.DataFrame) -> dict:
    """Stage stats of one shard; `docs` need `language` and `bytes`, in the order of `decisions`."""
    kept = decisions["kept"]
    dropped_rules = decisions.select("group", "bytes", "dropped_by").explode("dropped_by").drop_nulls("dropped_by")
    dropped = {
        rule: docs.filter(decisions["dropped_by"].list.contains(rule))
        for rule in sorted(dropped_rules["dropped_by"].unique().to_list())
    }
    hits = decisions.select(rule=pl.col("fired")).explode("rule").drop_nulls("rule").group_by("rule").len()
    alone = decisions.filter(pl.col("dropped_by").list.len() == 1).with_columns(rule=pl.col("dropped_by").list.first())
    groups = {}
    for group in sorted(decisions["group"].unique().to_list()):
        mine = decisions.filter(pl.col("group") == group)
        out = mine.filter(pl.col("kept"))
        groups[group] = {"in_documents": mine.height, "in_bytes": int(mine["bytes"].sum() or 0),
                         "out_documents": out.height, "out_bytes": int(out["bytes"].sum() or 0)}
    by_group: dict[str, dict] = {}
    for (group, rule), part in sorted(dropped_rules.group_by("group", "dropped_by"), key=lambda kv: kv[0]):
        by_group.setdefault(group, {})[rule] = _totals(part)
    extra = {
        "hits": {r: int(c) for r, c in sorted(hits.iter_rows())},
        "alone": {r: _totals(part) for (r,), part in sorted(alone.group_by("rule"), key=lambda kv: kv[0])},
        "groups": groups,
        "by_group": by_group,
    }
    return stage_stats("filter", docs, docs.filter(kept), dropped=dropped, extra=extra)


SAMPLE_SCHEMA = {
    "rule": pl.String(), "id": pl.String(), "path": pl.String(), "language": pl.String(),
    "group": pl.String(), "value": pl.Float64(), "text": pl.String(),
}


def dropped_samples(docs: pl.DataFrame, decisions: pl.DataFrame, values: pl.DataFrame, per_rule: int) -> pl.DataFrame:
    """Up to `per_rule` dropped documents per rule (smallest ids first, so reruns agree) with the
    signal value that made the rule fire."""
    parts = []
    for rule in sorted(set(decisions["dropped_by"].explode().drop_nulls().to_list())):
        mask = decisions["dropped_by"].list.contains(rule)
        value = values[rule].cast(pl.Float64) if rule in values.columns else pl.Series([None] * docs.height, dtype=pl.Float64)
        part = pl.DataFrame({
            "rule": rule, "id": decisions["id"], "path": decisions["path"], "language": decisions["language"],
            "group": decisions["group"], "value": value, "text": docs["text"],
        }).filter(mask).sort("id").head(per_rule)
        parts.append(part)
    return pl.concat(parts) if parts else pl.DataFrame(schema=SAMPLE_SCHEMA)
