"""Reading and writing shards: parquet documents and small JSON files, written atomically.

Every output goes to a temporary name beside its target and is renamed at the end, so a killed
job never leaves a half-written file that looks complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import polars as pl

from opencoder.core.errors import OpencoderError


class ShardError(OpencoderError, RuntimeError):
    """A shard that cannot be read: the message names the file and the problem."""


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary directory; it replaces `path` (a directory) when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_parquet(df: pl.DataFrame, path: str | os.PathLike) -> None:
    """Write one parquet shard atomically (zstd, statistics on)."""
    with atomic_path(path) as tmp:
        df.write_parquet(tmp, compression="zstd", statistics=True)


def read_parquet(path: str | os.PathLike, columns: list[str] | None = None) -> pl.DataFrame:
    """Read one parquet shard; a corrupt or unreadable file raises ShardError naming it."""
    path = Path(path)
    try:
        return pl.read_parquet(path, columns=columns)
    except FileNotFoundError:
        raise ShardError(f"{path}: no such shard") from None
    except Exception as exc:  # polars raises several exception types for damaged files
        raise ShardError(f"{path}: not a readable parquet shard ({type(exc).__name__}: {exc})") from None


def read_documents(path: str | os.PathLike) -> pl.DataFrame:
    """Read a shard in the document schema (see `opencoder.core.documents`)."""
    from opencoder.core.documents import conform

    return conform(read_parquet(path), where=str(path))


def write_json(obj, path: str | os.PathLike) -> None:
    """Write JSON atomically, keys sorted so reruns give identical bytes."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str | os.PathLike):
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ShardError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise ShardError(f"{path}: not valid JSON ({exc})") from None


def read_jsonl(path: str | os.PathLike, valid: Callable[[object], bool], expected: str) -> list[dict]:
    """The rows of a JSON-lines file, blank lines skipped; a missing file, a file that is not UTF-8, a
    line that is not JSON or a row that is not `valid` (described by `expected`) is an InputError
    naming the file and line."""
    from opencoder.core.errors import InputError

    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}: line {lineno}: not valid JSON ({exc.msg})") from None
                if not valid(row):
                    raise InputError(f"{path}: line {lineno}: {expected}")
                rows.append(row)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 ({exc.reason})") from None
    return rows
