"""The corpus funnel: documents and bytes through every data stage, like the paper's tables.

It gathers the stats each stage wrote (`opencoder.core.stats` layout) from the stage folders under the
output folder: a stage-level `stats.json` where there is one, else the sum of the per-shard
`<shard>.stats.json` files. A stage with no stats is listed as missing, so the funnel of a partial
build (or of a user's own stage selection via `--stage`) still comes out.

`funnel.json` holds, per stage, documents and bytes in/out, per language and per drop reason,
per-language output documents and bytes across stages (paper Table 16's "after dedup / after
filter" columns), and `checks`: places where the numbers do not add up (a stage's input is not
the previous stage's output, or documents vanished without a drop reason). The same table is
printed to the log.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from opencoder.core import shards
from opencoder.core.args import add_io
from opencoder.core.stats import merge

log = logging.getLogger(__name__)

# (stage, folder under out_dir), in pipeline order
STAGES: list[tuple[str, str]] = [
    ("ingest", "ingest"),
    ("preprocess", "preprocess"),
    ("exact_dedup", "exact"),
    ("fuzzy_dedup", "fuzzy"),
    ("transform", "transform"),
    ("filter", "filter"),
    ("sample", "corpus"),
]


def stage_files(folder: Path, shard_ids: set[str] | None = None) -> list[Path]:
    """The stats files of one stage folder: its `stats.json`, else its per-shard files.

    With `shard_ids`, only those shards count: an output folder reused after the shard layout
    changed still holds the old shards' stats, which must not be added in.
    """
    whole = folder / "stats.json"
    if whole.is_file():
        return [whole]
    return [f for f in sorted(folder.glob("*.stats.json")) if shard_ids is None or f.name.split(".")[0] in shard_ids]


def current_shards(ingest: Path) -> set[str] | None:
    """Shard ids of the present ingest folder (the checkpoint folder is rewritten whole), if there is one."""
    ids = {p.stem for p in ingest.glob("[0-9]*.parquet")}
    return ids or None


def gather(root: str | Path, stages: Sequence[tuple[str, str]] = STAGES) -> dict:
    """The funnel of the stages under `root`."""
    root = Path(root)
    rows, missing = [], []
    shard_ids = current_shards(root / dict(stages).get("ingest", "ingest"))
    for name, folder in stages:
        files = stage_files(root / folder, shard_ids)
        if not files:
            missing.append(name)
            continue
        merged = merge(shards.read_json(f) for f in files)
        rows.append(
            {
                "stage": name,
                "dir": folder,
                "files": len(files),
                "in": merged.get("in", {"documents": 0, "bytes": 0}),
                "out": merged.get("out", {"documents": 0, "bytes": 0}),
                "dropped": dict(sorted(merged.get("dropped", {}).items())),
                "languages": dict(sorted(merged.get("languages", {}).items())),
                "extra": merged.get("extra", {}),
            }
        )
    languages: dict[str, dict] = {}
    for row in rows:
        for lang, c in row["languages"].items():
            languages.setdefault(lang, {})[row["stage"]] = {"documents": c.get("out_documents", 0), "bytes": c.get("out_bytes", 0)}
    return {"stages": rows, "missing": missing, "languages": dict(sorted(languages.items())), "checks": checks(rows)}


def checks(rows: Sequence[dict]) -> list[str]:
    """Where the funnel does not add up, in words (empty when it does).

    A stage may give one document several drop reasons (a filtered file can break several rules),
    so its reasons may sum to more than its drop (the row is marked `reasons_overlap`); fewer means
    documents vanished without a reason, and that is reported.
    """
    problems = []
    for prev, row in zip([None, *rows], rows):
        name, n_in, n_out = row["stage"], row["in"]["documents"], row["out"]["documents"]
        dropped = sum(d.get("documents", 0) for d in row["dropped"].values())
        row["reasons_overlap"] = dropped > n_in - n_out
        if n_out > n_in:
            problems.append(f"{name}: {n_out} documents out of {n_in} in")
        elif dropped < n_in - n_out:
            problems.append(f"{name}: {n_in} documents in - {n_out} out = {n_in - n_out}, but drop reasons account for {dropped}")
        if prev is not None and prev["out"]["documents"] != n_in:
            problems.append(f"{name}: {n_in} documents in, but {prev['stage']} put out {prev['out']['documents']}")
    return problems


def table(funnel: dict) -> str:
    """The funnel as a fixed-width text table (stages down, counts across)."""
    head = f"{'stage':<12} {'docs in':>10} {'docs out':>10} {'kept':>6} {'MB in':>10} {'MB out':>10} {'kept':>6}  top drop reasons"
    lines = [head, "-" * len(head)]
    for row in funnel["stages"]:
        d_in, d_out, b_in, b_out = row["in"]["documents"], row["out"]["documents"], row["in"]["bytes"], row["out"]["bytes"]
        reasons = sorted(row["dropped"].items(), key=lambda kv: -kv[1].get("documents", 0))[:3]
        lines.append(
            f"{row['stage']:<12} {d_in:>10,} {d_out:>10,} {_pct(d_out, d_in):>6} {b_in / 1e6:>10.2f} {b_out / 1e6:>10.2f} {_pct(b_out, b_in):>6}  "
            + ", ".join(f"{r} {c.get('documents', 0):,}" for r, c in reasons)
        )
    if funnel["missing"]:
        lines.append(f"no stats for: {', '.join(funnel['missing'])}")
    return "\n".join(lines)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder funnel", description=__doc__.split("\n\n")[0])
    add_io(parser, "input", "--root", help="the build's out_dir")
    add_io(parser, "output", help="funnel JSON to write")
    parser.add_argument(
        "--stage", action="append", metavar="NAME=DIR",
        help="a stage and its folder under --input, in order (repeatable; default: the recipe's stages)",
    )
    args = parser.parse_args(argv)
    stages = STAGES
    if args.stage:
        stages = [tuple(s.split("=", 1)) for s in args.stage]
        bad = [s for s, pair in zip(args.stage, stages) if len(pair) != 2 or not all(pair)]
        if bad:
            parser.error(f"--stage wants NAME=DIR, got {bad}")
    funnel = gather(args.input, stages)
    shards.write_json(funnel, args.output)
    log.info("corpus funnel:\n%s", table(funnel))
    for problem in funnel["checks"]:
        log.warning("funnel does not add up: %s", problem)
    return 0
