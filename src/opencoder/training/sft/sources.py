"""Instruction sources → conversations: the opc-sft format (`instruction`, `output`) or the chat
format (`messages`: a list of `{role, content}`), from a `.jsonl`, `.json` or `.parquet` file, or a
Hub dataset id where the Hub is reachable.

A conversation is `{"id", "source", "file", "row", "messages"}`; `file`/`row` say where it came from
so a later stage (packing, decontamination) can name the row it drops. A bad row (a missing or
wrongly typed field, an unknown role, an empty conversation, no assistant turn) is skipped with a
reason naming the file and row; the good rows of the file are kept.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import polars as pl

from opencoder.core.config import ConfigError
from opencoder.core.errors import InputError

ROLES = ("system", "user", "assistant")


class InstructionError(InputError):
    """An instruction source that cannot be read at all (missing file, not JSON, unknown format)."""


def conversation_id(source: str, file: str, row: int) -> str:
    return hashlib.blake2b(f"{source}\x00{file}\x00{row}".encode(), digest_size=10).hexdigest()


def read_rows(path: str) -> list:
    """Rows of an instruction file, or of a Hub dataset (`hub:ID[:split]` or an id that is no path)."""
    p = Path(path)
    if p.is_file():
        try:
            if p.suffix == ".parquet":
                return pl.read_parquet(p).to_dicts()
            if p.suffix == ".jsonl":
                rows = []
                with open(p, encoding="utf-8") as f:
                    for lineno, line in enumerate(f, 1):
                        if not line.strip():
                            continue
                        try:
                            rows.append(json.loads(line))
                        except json.JSONDecodeError as exc:
                            rows.append(InstructionError(f"{p}: row {lineno}: not valid JSON ({exc.msg})"))
                return rows
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, pl.exceptions.PolarsError) as exc:
            raise InstructionError(f"{p}: cannot be read ({exc})") from None
        if not isinstance(data, list):
            raise InstructionError(f"{p}: expected a JSON list of rows")
        return data
    if "/" in path and not p.exists() and not path.startswith((".", "/")):
        import datasets

        hub_id, _, split = path.partition(":")
        try:
            return list(datasets.load_dataset(hub_id, split=split or "train"))
        except Exception as exc:  # network, missing dataset or split: all mean "cannot load"
            raise InstructionError(f"hub dataset {hub_id!r} cannot be loaded: {exc}") from exc
    raise InstructionError(f"{path}: no such instruction file")


def to_messages(row) -> list[dict]:
    """The row's conversation; raises ValueError saying what is wrong with it."""
    if not isinstance(row, dict):
        raise ValueError(f"expected an object, got {type(row).__name__}")
    if "messages" in row:
        messages = row["messages"]
        if not isinstance(messages, list):
            raise ValueError(f"field messages: expected a list, got {type(messages).__name__}")
        if not messages:
            raise ValueError("empty conversation")
        out = []
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                raise ValueError(f"message {i}: expected {{role: str, content: str}}")
            if m["role"] not in ROLES:
                raise ValueError(f"message {i}: unknown role {m['role']!r}")
            out.append({"role": m["role"], "content": m["content"]})
    else:
        for field in ("instruction", "output"):
            if field not in row or row[field] is None:
                raise ValueError(f"missing field {field}")
            if not isinstance(row[field], str):
                raise ValueError(f"field {field}: expected a string, got {type(row[field]).__name__}")
        out = [{"role": "user", "content": row["instruction"]}, {"role": "assistant", "content": row["output"]}]
    if not any(m["role"] == "assistant" and m["content"].strip() for m in out):
        raise ValueError("no assistant turn with content (nothing to learn)")
    if not any(m["content"].strip() for m in out if m["role"] == "user"):
        raise ValueError("empty conversation: no user turn with content")
    return out


def read_source(name: str, path: str) -> tuple[list[dict], list[dict]]:
    """(conversations, rejected rows `{file, row, reason}`) of one source; rows count from 1."""
    good, bad = [], []
    for row_no, row in enumerate(read_rows(path), 1):
        if isinstance(row, InstructionError):
            bad.append({"source": name, "file": str(path), "row": row_no, "reason": str(row).split(": ", 2)[-1]})
            continue
        try:
            messages = to_messages(row)
        except ValueError as exc:
            bad.append({"source": name, "file": str(path), "row": row_no, "reason": str(exc)})
            continue
        good.append({"id": conversation_id(name, str(path), row_no), "source": name, "file": str(path),
                     "row": row_no, "messages": messages})
    return good, bad


def weighted(conversations: list[dict], weight: float, seed: int, name: str) -> list[dict]:
    """round(weight · n) conversations: every one `floor(weight)` times, the fraction drawn without
    replacement with a generator seeded by (seed, source name)."""
    if weight < 0:
        raise ConfigError(f"sft source {name}: weight {weight} is negative")
    whole, frac = divmod(weight, 1.0)
    rng = np.random.default_rng([seed, int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "big")])
    extra = rng.choice(len(conversations), size=round(frac * len(conversations)), replace=False) if conversations else []
    picked = list(range(len(conversations))) * int(whole) + sorted(int(i) for i in extra)
    seen: dict[str, int] = {}
    out = []
    for i in picked:  # a repeated conversation gets its own id, so audit tables stay keyed uniquely
        c = conversations[i]
        k = seen[c["id"]] = seen.get(c["id"], -1) + 1
        out.append({**c, "id": f"{c['id']}-{k}"} if k else c)
    return out
