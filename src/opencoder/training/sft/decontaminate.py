"""`opencoder decontaminate`: drop instruction samples that overlap the benchmarks (paper 4.4).

A sample is removed when it shares an n-gram (default 10) with a benchmark item's prompt or
reference solution, or when it defines or calls a benchmark entry point (`def name` / `name(`).
Tokens are code-aware: identifiers, numbers and operators, with whitespace, line wrapping and
string quotes ignored, so a reformatted copy matches like a verbatim one. The whitelist removes
from the index the n-grams of trivial solutions and entry-point names too common to mean a copy.
Every removal is a row of the audit table (sample id, benchmark, item, kind, the match).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from opencoder.core import shards
from opencoder.core.args import add_io
from opencoder.core.config import add_config_args, stage_params
from opencoder.evaluation.benchmarks import BENCHMARKS
from opencoder.evaluation.records import BenchmarkError, read_records

log = logging.getLogger(__name__)
TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|\*\*=?|//=?|->|[=!<>+\-*/%&|^]=|<<|>>|[^\s\w'\"`]")
DEF_NAME = re.compile(r"\bdef\s+([A-Za-z_]\w*)")
AUDIT_SCHEMA = {"sample_id": pl.String, "benchmark": pl.String, "item": pl.String, "kind": pl.String,
                "match": pl.String}


def tokens(text: str) -> list[str]:
    """Code-aware tokens: identifiers, numbers, operators; whitespace and quote characters dropped."""
    return TOKEN.findall(text)


def ngrams(toks: list[str], n: int) -> Iterable[tuple[str, ...]]:
    return (tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))


@dataclass
class Item:
    benchmark: str
    task_id: str
    text: str  # prompt + reference solution
    entry_points: tuple[str, ...]


def benchmark_items(specs: list[Mapping]) -> list[Item]:
    """Items of the configured benchmarks: `{name}` (humaneval: the installed package) or `{name, path}`."""
    items = []
    for spec in specs:
        name = spec["name"]
        if spec.get("path"):
            records = read_records(spec["path"])
        elif name in BENCHMARKS and BENCHMARKS[name].builtin:
            records = read_records(BENCHMARKS[name].builtin())
        else:
            raise BenchmarkError(f"decontamination benchmark {name!r}: give its `path:`")
        for i, r in enumerate(records):
            prompt = r.get("prompt") or r.get("text") or ""
            solution = r.get("canonical_solution") or r.get("code") or ""
            if "task_id" not in r or not (prompt or solution):
                raise BenchmarkError(f"{spec.get('path') or name}: record {i + 1}: needs task_id and prompt/text or code")
            entry = r.get("entry_point")
            names = (entry,) if entry else tuple(dict.fromkeys(DEF_NAME.findall(solution)))
            items.append(Item(name, str(r["task_id"]), f"{prompt}\n{solution}", names))
    return items


class Index:
    """The benchmark n-grams and entry points, minus the whitelist."""

    def __init__(self, items: list[Item], n: int, whitelist: Iterable[str] = (), common_names: Iterable[str] = ()):
        self.n = n
        trivial = {g for text in whitelist for g in ngrams(tokens(text), n)}
        self.grams: dict[tuple[str, ...], Item] = {}
        self.names: dict[str, Item] = {}
        skip = set(common_names)
        for item in items:
            for g in ngrams(tokens(item.text), n):
                if g not in trivial:
                    self.grams.setdefault(g, item)
            for name in item.entry_points:
                if name not in skip:
                    self.names.setdefault(name, item)

    def match(self, text: str) -> tuple[Item, str, str] | None:
        """(item, kind, matched text) of the first overlap of `text`, or None."""
        toks = tokens(text)
        for g in ngrams(toks, self.n):
            if g in self.grams:
                return self.grams[g], "ngram", " ".join(g)
        for i, t in enumerate(toks):
            if t in self.names and ((i and toks[i - 1] == "def") or (i + 1 < len(toks) and toks[i + 1] == "(")):
                return self.names[t], "entry_point", t
        return None


def sample_text(row: Mapping) -> str:
    return "\n".join(m["content"] for m in row["messages"])


def decontaminate(rows: list[dict], index: Index) -> tuple[list[dict], list[dict]]:
    kept, audit = [], []
    for row in rows:
        hit = index.match(sample_text(row))
        if hit is None:
            kept.append(row)
        else:
            item, kind, text = hit
            audit.append({"sample_id": row["id"], "benchmark": item.benchmark, "item": item.task_id,
                          "kind": kind, "match": text})
    return kept, audit


def build_index(params: Mapping) -> Index:
    return Index(benchmark_items(params["benchmarks"]), params["ngram"], params["whitelist"],
                 params["common_entry_points"])


def main(argv: list[str] | None = None) -> int:
    from opencoder.training.sft.data import read_conversations, write_conversations

    parser = argparse.ArgumentParser(prog="opencoder decontaminate", description=__doc__.splitlines()[0])
    add_io(parser, "input", help="conversations (jsonl of sft-data)")
    add_io(parser, "output", help="kept conversations (jsonl); its .stats.json beside it")
    parser.add_argument("--removed", required=True, help="audit table of removals (parquet)")
    add_config_args(parser)
    args = parser.parse_args(argv)
    params = stage_params(args, "sft.decontamination")
    rows = read_conversations(args.input)
    kept, audit = decontaminate(rows, build_index(params))
    write_conversations(kept, args.output)
    removed = pl.DataFrame(audit, schema=AUDIT_SCHEMA)
    shards.write_parquet(removed, args.removed)
    by = removed.group_by("benchmark", "kind").len().sort("benchmark", "kind").iter_rows()
    shards.write_json({"stage": "decontaminate", "in": len(rows), "kept": len(kept), "removed": len(audit),
                       "removed_by": {f"{b}/{k}": n for b, k, n in by},
                       "items_hit": removed["item"].n_unique()},
                      Path(args.output).with_suffix(".stats.json"))
    log.info("decontaminate: %d of %d samples removed", len(audit), len(rows))
    return 0
