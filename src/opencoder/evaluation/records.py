"""Benchmark records as the loaders read them: files and Hub datasets, field checks, and the error
naming the source; shared by `benchmarks` and the modules of its benchmarks (which it imports)."""

from __future__ import annotations

import ast
import builtins
import gzip
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from opencoder.core.errors import OpencoderError


class BenchmarkError(OpencoderError, ValueError):
    """A benchmark that cannot be loaded: the message names the source and the problem."""


def need(record: Mapping, fields: Iterable[str], where: str) -> None:
    """The record has every one of `fields`, none of them null."""
    missing = [f for f in fields if f not in record or record[f] is None]
    if missing:
        raise BenchmarkError(f"{where}: missing field(s) {', '.join(missing)}")


def need_strings(record: Mapping, fields: Iterable[str], where: str) -> None:
    """The record has every one of `fields`, each a string."""
    fields = tuple(fields)
    need(record, fields, where)
    wrong = [f for f in fields if not isinstance(record[f], str)]
    if wrong:
        raise BenchmarkError(f"{where}: field(s) {', '.join(wrong)} must be strings")


def read_records(path: str | Path) -> list[dict]:
    """Records of a `.jsonl`, `.jsonl.gz` or `.json` (a list) file; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise BenchmarkError(f"{path}: no such benchmark file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            if path.name.endswith((".jsonl", ".jsonl.gz")):
                records = []
                for lineno, line in enumerate(f, 1):
                    if line.strip():
                        try:
                            records.append(json.loads(line))
                        except json.JSONDecodeError as exc:
                            raise BenchmarkError(f"{path}:{lineno}: not valid JSON ({exc})") from None
            else:
                records = json.load(f)
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BenchmarkError(f"{path}: cannot be read ({exc})") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise BenchmarkError(f"{path}: expected a list of JSON objects")
    return records


def hub_records(hub_id: str, split: str, config: str | None = None) -> list[dict]:
    """The rows of a Hugging Face Hub dataset's split."""
    import datasets

    try:
        return list(datasets.load_dataset(hub_id, config, split=split))
    except Exception as exc:  # network, missing dataset or split: all mean "cannot load"
        raise BenchmarkError(f"hub dataset {hub_id!r} (config {config!r}, split {split!r}) cannot be loaded: {exc}") from exc


def called_names(tests: str, where: str) -> tuple[str, ...]:
    """Functions the tests call but neither define nor import, nor take from builtins: the entry
    points of a benchmark whose tests name the solution's functions (MBPP's asserts, MdEval's Python)."""
    try:
        tree = ast.parse(tests)
    except SyntaxError as exc:
        raise BenchmarkError(f"{where}: tests are not valid Python ({exc.msg}, line {exc.lineno})") from None
    defined = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
    called = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    names = tuple(dict.fromkeys(n for n in called if n not in defined))
    if not names:
        raise BenchmarkError(f"{where}: the tests call no function of the solution")
    return names
