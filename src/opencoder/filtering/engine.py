"""The filtering engine: documents in, decisions out, chunk by chunk.

For each chunk: the per-document pass (`parsing.analyse`, in a process pool), then every signal an
enabled rule needs, column-wise (`signals.compute`), then the rules of each document's group
(`rules`). The result is one decision per document (the `DECISIONS` schema) plus the signal value
behind each firing, which the stage keeps for its sample of dropped documents.

Release mechanics and where we differ (see the module README): a document whose per-document pass
crashes is dropped with the reason `signal_error`, as the release drops one whose signal computation
crashed; there is no per-signal timer, so no signal is skipped because a machine was slow, and
decisions do not depend on the hardware.
"""

from __future__ import annotations

import collections
import logging
import multiprocessing
import time
from collections.abc import Iterator, Mapping

import polars as pl
from tqdm import tqdm

from opencoder.filtering import parsing, signals
from opencoder.filtering.rules import Rule, draw, group_expr, load_groups

log = logging.getLogger(__name__)

SIGNAL_ERROR = "signal_error"

# The decisions table (`--explain`, `filter/<shard>.decisions.parquet`), one row per input document.
DECISIONS = {
    "id": pl.String(),  # document id
    "path": pl.String(),
    "language": pl.String(),
    "group": pl.String(),  # rule group the document was judged by
    "text_language": pl.String(),  # langid code for text files, null for code and data
    "bytes": pl.Int64(),
    "fired": pl.List(pl.String()),  # rules whose condition held (probabilistic ones whatever the draw)
    "dropped_by": pl.List(pl.String()),  # rules that dropped it (fired, and the draw said drop)
    "kept": pl.Boolean(),
}

PASS_SCHEMA = {
    "lexed": pl.Boolean(), "code_text": pl.String(), "comments": pl.List(pl.String()),
    "strings": pl.List(pl.String()), "function_names": pl.List(pl.String()),
    "py_parses": pl.Boolean(), "py_functions": pl.Int64(), "py_simple_functions": pl.Int64(),
    "py_assignments": pl.Int64(), "py_no_logic": pl.Int64(), "js_parses": pl.Boolean(),
    "html_parses": pl.Boolean(), "html_text": pl.String(), "text_language": pl.String(),
    "zh_words": pl.List(pl.String()), "error": pl.String(),
}


def chunks(docs: pl.DataFrame, chunk_bytes: int) -> Iterator[pl.DataFrame]:
    """Consecutive slices of about `chunk_bytes` of text each (at least one document)."""
    start, size = 0, 0
    sizes = docs["bytes"].to_list()
    for i, b in enumerate(sizes):
        size += b or 0
        if size >= chunk_bytes:
            yield docs.slice(start, i + 1 - start)
            start, size = i + 1, 0
    if start < docs.height:
        yield docs.slice(start)


def true_names(columns: list[str]) -> pl.Expr:
    """The names of the boolean `columns` that are true, in the given order, as a list."""
    if not columns:
        return pl.lit([], dtype=pl.List(pl.String()))
    return pl.concat_list([pl.when(pl.col(c)).then(pl.lit(c)) for c in columns]).list.drop_nulls()


def per_document_pass(docs: pl.DataFrame, pool) -> pl.DataFrame:
    items = zip(docs["text"].to_list(), docs["language"].fill_null("").to_list(), docs["doc_type"].to_list())
    rows = pool.imap(parsing.analyse, items, chunksize=8) if pool else map(parsing.analyse, items)
    return pl.DataFrame(list(rows), schema=PASS_SCHEMA)


class Engine:
    """The rule set of one `filter` config section, applied to frames of documents."""

    def __init__(self, params: Mapping, threads: int = 1):
        self.params = params
        self.groups = load_groups(params)
        self.seed = int(params["seed"])
        self.threads = max(1, int(threads))
        self.rule_ids = sorted({r for rules in self.groups.values() for r, rule in rules.items() if rule.enabled})
        self.seconds = collections.Counter()  # wall time: "pass" (per document) and "columns" (signals, rules)

    def _rules(self, rule_id: str) -> dict[str, Rule]:
        """group → enabled rule with this id."""
        return {g: rules[rule_id] for g, rules in self.groups.items() if rule_id in rules and rules[rule_id].enabled}

    def analyse(self, docs: pl.DataFrame, pool=None) -> pl.DataFrame:
        """Documents with the per-document pass columns and their rule group."""
        frame = pl.concat([docs.select("id", "text", "path", "language", "doc_type", "bytes"),
                           per_document_pass(docs, pool)], how="horizontal")
        return frame.with_columns(group=group_expr(self.params["assign"]))

    def decide_chunk(self, docs: pl.DataFrame, pool=None) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(decisions, signal values of the enabled rules) for one chunk of documents."""
        start = time.perf_counter()
        frame = self.analyse(docs, pool)
        self.seconds["pass"] += time.perf_counter() - start
        start = time.perf_counter()
        errors = frame["error"]
        for message, path in zip(errors.to_list(), frame["path"].to_list()):
            if message:
                log.warning("%s: signal computation failed (%s); document dropped", path, message)
        values = signals.compute(signals.prepare(frame), self.rule_ids)
        fires = {}
        for rule_id in self.rule_ids:
            value = pl.col(rule_id)
            holds = pl.any_horizontal(
                [(pl.col("group") == g) & rule.condition(value) for g, rule in self._rules(rule_id).items()]
            )
            fires[rule_id] = holds
        flags = pl.concat([frame.select("id", "group"), values], how="horizontal").select(
            "id", "group", **{r: e for r, e in fires.items()}
        )
        drops = self._draws(flags)
        fired = flags.select(fired=true_names(self.rule_ids))["fired"]
        dropped_by = drops.select(dropped_by=true_names(self.rule_ids))["dropped_by"]
        error_list = pl.when(errors.is_not_null()).then(pl.lit([SIGNAL_ERROR]))
        decisions = frame.select("id", "path", "language", "group", "text_language", "bytes").with_columns(
            fired=pl.Series(fired), dropped_by=pl.Series(dropped_by), error=errors,
        ).with_columns(
            fired=error_list.otherwise(pl.col("fired")),
            dropped_by=error_list.otherwise(pl.col("dropped_by")),
        ).with_columns(kept=pl.col("dropped_by").list.len() == 0).drop("error")
        self.seconds["columns"] += time.perf_counter() - start
        return decisions.select([pl.col(c).cast(t) for c, t in DECISIONS.items()]), values

    def _draws(self, flags: pl.DataFrame) -> pl.DataFrame:
        """Firing flags → dropping flags: a probabilistic rule drops only where its seeded draw says so."""
        out = {}
        for rule_id in self.rule_ids:
            col = flags[rule_id]
            probs = {g: r.prob for g, r in self._rules(rule_id).items() if r.prob < 1}
            if probs and col.any():
                keep = [
                    not (fire and g in probs and draw(self.seed, rule_id, doc_id) >= probs[g])
                    for fire, g, doc_id in zip(col.to_list(), flags["group"].to_list(), flags["id"].to_list())
                ]
                col = col & pl.Series(keep)
            out[rule_id] = col
        return pl.DataFrame(out, height=flags.height)

    def decide(self, docs: pl.DataFrame, chunk_bytes: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Decisions (and signal values) for all documents, in input order, with progress."""
        parts, values = [], []
        context = multiprocessing.get_context("forkserver") if self.threads > 1 else None
        pool = context.Pool(self.threads) if context else None
        try:
            with tqdm(total=int(docs["bytes"].sum() or 0), unit="B", unit_scale=True, desc="filter") as bar:
                for chunk in chunks(docs, chunk_bytes):
                    d, v = self.decide_chunk(chunk, pool)
                    parts.append(d)
                    values.append(v)
                    bar.update(int(chunk["bytes"].sum() or 0))
        finally:
            if pool:
                pool.close()
                pool.join()
        if not parts:
            return pl.DataFrame(schema=DECISIONS), pl.DataFrame()
        return pl.concat(parts), pl.concat(values, how="diagonal_relaxed")
