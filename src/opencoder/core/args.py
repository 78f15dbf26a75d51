"""The one flag convention of every stage: `--input` for its main input, `--output` for its main output.

Other inputs and outputs go by name (`--tokenizer`, `--stats`). Flag names a stage used before the
convention are still accepted but not listed in `--help`, so old scripts keep working. Any argument
may be given as `@FILE`, a file holding arguments one a line (how the workflow passes long lists).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from opencoder.core.errors import InputError


def add_io(parser: argparse.ArgumentParser, name: str, *old_names: str, required: bool = True, **kwargs) -> None:
    """Add `--<name>` (input or output) with `old_names` as unlisted aliases of the same option."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument(f"--{name}", dest=name, **kwargs)
    kwargs.pop("help", None)
    for old in old_names:
        group.add_argument(old, dest=name, help=argparse.SUPPRESS, **kwargs)


def digest_file(directory: str | Path, name: str, suffix: str, text: str, write: bool = True) -> Path:
    """`<directory>/<name>.<digest><suffix>` holding `text`, written atomically unless it exists.

    Named by the digest of its content, so the path changes exactly when the content does: as a
    rule's param it keeps Snakemake's rerun-on-change while the command line stays one short line.
    `write=False` only names the file (a dry run writes nothing).
    """
    path = Path(directory) / f"{name}.{hashlib.sha256(text.encode()).hexdigest()[:12]}{suffix}"
    if write and not path.exists():
        from opencoder.core.shards import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_text(text)
    return path


def argument_file(directory: str | Path, name: str, items: list[str], write: bool = True) -> Path:
    """A digest-named file of arguments, one a line, for `@FILE`: the workflow passes its per-shard
    input lists this way, so a command stays short at any shard count (Linux limits one `bash -c`
    command string to 128 kB)."""
    return digest_file(directory, name, ".args", "".join(f"{item}\n" for item in items), write)


def expand_argument_files(argv: list[str]) -> list[str]:
    """Replace each `@FILE` argument by the lines of FILE (one argument a line, blank lines skipped)."""
    out = []
    for arg in argv:
        if arg.startswith("@") and len(arg) > 1:
            path = Path(arg[1:])
            try:
                out += [line for line in path.read_text().splitlines() if line]
            except OSError as exc:
                raise InputError(f"{path}: cannot read the argument file ({exc.strerror})") from None
        else:
            out.append(arg)
    return out
