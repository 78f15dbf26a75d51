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

from opencoder.data.filter import parsing, signals
from opencoder.core.draw import uniform
from opencoder.data.filter.rules import group_expr, load_groups
from opencoder.data.filter.text_recall import TextRecall

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
    "code_score": pl.Float64(),  # text files: the code-related classifier's score (text_recall), else null
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
    return pl.DataFrame(list(rows), schema=parsing.SCHEMA)


class Engine:
    """The rule set of one `filter` config section, applied to frames of documents."""

    def __init__(self, params: Mapping, threads: int = 1):
        self.params = params
        self.groups = load_groups(params)
        self.recall = TextRecall(params["text_recall"])
        self.seed = int(params["seed"])
        self.threads = max(1, int(threads))
        self.rule_ids = sorted({r for rules in self.groups.values() for r, rule in rules.items() if rule.enabled})
        self.seconds = collections.Counter()  # wall time: "pass" (per document) and "columns" (signals, rules)

    def analyse(self, docs: pl.DataFrame, pool=None) -> pl.DataFrame:
        """Documents with the per-document pass columns and their rule group."""
        frame = pl.concat([docs.select("id", "text", "path", "language", "doc_type", "bytes"),
                           per_document_pass(docs, pool)], how="horizontal")
        return frame.with_columns(group=group_expr(self.params["assign"]))

    def decide_chunk(self, docs: pl.DataFrame, pool=None) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(decisions, signal values of the enabled rules) for one chunk of documents."""
        start = time.perf_counter()
        frame = self.analyse(docs, pool).with_row_index("_row")
        self.seconds["pass"] += time.perf_counter() - start
        start = time.perf_counter()
        errors = frame["error"]
        for message, path in zip(errors.to_list(), frame["path"].to_list()):
            if message:
                log.warning("%s: signal computation failed (%s); document dropped", path, message)
        parts = [self._judge_group(group, part) for (group,), part in frame.group_by("group", maintain_order=True)]
        judged = pl.concat(parts, how="diagonal_relaxed").sort("_row") if parts else pl.DataFrame()
        values = judged.select(r for r in self.rule_ids if r in judged.columns) if parts else pl.DataFrame()
        listed = {"fired": judged["fired"], "dropped_by": judged["dropped_by"]} if parts else {}
        error_list = pl.when(errors.is_not_null()).then(pl.lit([SIGNAL_ERROR]))
        recall_drop, code_score = self.recall.judge(frame)
        recall_list = pl.when(recall_drop).then(pl.lit([TextRecall.RULE])).otherwise(pl.lit([], pl.List(pl.String())))
        decisions = frame.select("id", "path", "language", "group", "text_language", "bytes", "error").with_columns(
            **listed
        ).with_columns(
            fired=error_list.otherwise(pl.col("fired").list.concat(recall_list)),
            dropped_by=error_list.otherwise(pl.col("dropped_by").list.concat(recall_list)),
            code_score=code_score,
        ).with_columns(kept=pl.col("dropped_by").list.len() == 0)
        if self.recall.enabled:  # (no rule signal at all in a chunk whose groups are all off)
            score = pl.DataFrame({TextRecall.RULE: code_score})
            values = values.with_columns(score) if values.width else score
        self.seconds["columns"] += time.perf_counter() - start
        return decisions.select([pl.col(c).cast(t) for c, t in DECISIONS.items()]), values

    def _judge_group(self, group: str, frame: pl.DataFrame) -> pl.DataFrame:
        """Signals of the group's enabled rules (only those), which rules fire, and which drop."""
        rules = {r: rule for r, rule in sorted(self.groups[group].items()) if rule.enabled}
        if not rules:  # a group with every rule off (filter.groups_off): nothing fires
            empty = pl.Series([[]] * frame.height, dtype=pl.List(pl.String()))
            return frame.select("_row").with_columns(fired=empty, dropped_by=empty)
        values = signals.compute(signals.prepare(frame), list(rules))
        fires = values.select(**{r: rule.condition(pl.col(r)) for r, rule in rules.items()})
        drops = fires.with_columns(**{
            r: fires[r] & pl.Series(uniform(self.seed, frame["id"].to_list(), r) < rule.prob)
            for r, rule in rules.items() if rule.prob < 1 and fires[r].any()
        })
        return pl.concat([
            frame.select("_row"), values,
            fires.select(fired=true_names(list(rules))), drops.select(dropped_by=true_names(list(rules))),
        ], how="horizontal")

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
