"""The dedup level (`dedup.level`): what exact and fuzzy dedup compare, keep and remove.

    file        (default, paper 1.3-1.4) each file is a unit: the exact and fuzzy steps run on the
                preprocess shards as they always did; nothing here is used.
    repository  (paper 6.1, Table 9) each repository is one unit: its files concatenated in path
                order (joined by a newline). Exact dedup hashes that text, fuzzy dedup takes its
                MinHash, and the keep rule ranks repositories (most stars, then latest commit, then
                the smallest repository name: the unit's id). Every file of a removed repository is
                removed, recorded with the reason and the kept repository.
    chunk       (paper appendix B, Table 13) a repository's concatenated files cut into chunks of
                `chunk_tokens` tokens; each chunk is a unit (id `<repo>#<n>`, the keep rule as for
                repositories). The tokenizer is trained after dedup, so a token here is a run of
                non-whitespace (a proxy for the paper's 4,096 BPE tokens). The paper trains on the
                surviving chunks themselves; this pipeline's later stages judge *files* (language
                rules, transform), so a file is removed when every chunk holding part of its text
                is a duplicate, and a file with any surviving chunk is kept whole.

A file without a repository is a repository of its own (unit id = the file id).

The paper's finding (section 7; Table 9, Fig. 8; appendix B, Table 13; 1.5B models on Python): from the
same pool of 485,817,123 files in 11,037,352 repositories, file level keeps 30,488,834 files (32.74B
tokens) and repository level 7,480,488 repositories (99.47B tokens, ~3x, of which ~52B are exact file
duplicates), yet file level trains to clearly better HumanEval and MBPP: it keeps more diverse data.
Chunk level (4,096-token chunks) alone keeps 79,272,460 of 333,007,812 chunks (324.70B tokens); after
file level it changes little (7,993,164 chunks, 32.70B tokens) and adds nothing downstream; after
repository level (17,675,781 chunks, 72.40B tokens) it stays below file level. Hence `file` is the default.

Three steps, around the unchanged exact and fuzzy machinery (which sees units as documents):

1. `index`  once: reads every shard's id and repo columns and writes `exact/units/index/<shard>.parquet`,
   the repositories whose first file (in shard order) lies in that shard and every shard holding their
   files (unit_key, shard), and `<shard>.starts.parquet`, the reverse: the shards where the repositories
   with files in that shard start (shard). One pass over the columns, so that the per-shard steps read
   only their own index files and the shards (or members files) they name, not every shard's (which made
   the steps quadratic in the shards).
   `units`  per shard: those repositories' units as a document shard `exact/units/<shard>.parquet`
   (id, text, stars, commit_time, ...), and `<shard>.members.parquet`: which file belongs to which
   unit (with its language and bytes). It reads the shards its index names beside its own input shard.
2. exact and fuzzy dedup on the unit shards; `exact-dedup apply --members` writes its stats in files.
3. `apply`  per shard: the shard's files minus those of removed units (`fuzzy/<shard>.parquet`), and
   `fuzzy/<shard>.dropped.parquet` (`DROPPED_SCHEMA`). With the index it reads the members files of the
   shards its `<shard>.starts.parquet` names, beside the shard's own.

Where removals are recorded, the same at every level (file included), so one place answers per question:
`fuzzy/<shard>.dropped.parquet` lists every file of the shard that dedup removed, by either step (id,
source, repo, path, language, reason, unit, kept_unit, bytes; reason `removal_reason`: `exact_<level>` or
`fuzzy_<level>`, e.g. `exact_file`, `fuzzy_repository`; at file level the unit is the file itself).
`exact/removed.parquet` and `fuzzy/removed.parquet` are the two steps' decisions over what they compared
(files, or units at the other levels), with the kept copy.
"""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

import polars as pl

from opencoder.core import shards
from opencoder.core.args import add_io
from opencoder.core.config import ConfigError, add_config_args, stage_params
from opencoder.core.documents import SCHEMA, empty
from opencoder.core.errors import InputError
from opencoder.core.stats import stage_stats, stats_path

log = logging.getLogger(__name__)

LEVELS = ("file", "repository", "chunk")
MEMBER_SCHEMA = {"id": pl.String(), "unit": pl.String(), "language": pl.String(), "bytes": pl.Int64()}
DROPPED_SCHEMA = {"id": pl.String(), "source": pl.String(), "repo": pl.String(), "path": pl.String(),
                  "language": pl.String(), "reason": pl.String(), "unit": pl.String(), "kept_unit": pl.String(),
                  "bytes": pl.Int64()}
_TOKEN = re.compile(r"\S+")


def removal_reason(step: str, level: str) -> str:
    """A removed file's reason in `fuzzy/<shard>.dropped.parquet`: the step that removed it and the level."""
    return f"{step}_{level}"


def level_of(params: dict) -> tuple[str, int]:
    """(level, chunk tokens) of the `dedup` section (an older config without `level`: file)."""
    level = params.get("level", "file")
    if level not in LEVELS:
        raise ConfigError(f"dedup.level must be one of {LEVELS}, got {level!r}")
    return level, int(params.get("chunk_tokens", 4096))


def chunk_spans(text: str, tokens: int) -> list[tuple[int, int]]:
    """(start, end) character spans of chunks of `tokens` whitespace-separated tokens: from a chunk's first
    token to the end of its last (whitespace between chunks belongs to none; a text without tokens is
    one empty chunk)."""
    spans, start, end = [], 0, 0
    for i, match in enumerate(_TOKEN.finditer(text)):
        if i and i % tokens == 0:
            spans.append((start, end))
            start = match.start()
        end = match.end()
    spans.append((start, end))
    return spans


def repository_units(files: pl.DataFrame, level: str, tokens: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(units, members) of whole repositories' files (document schema), for `level` repository or chunk."""
    files = files.with_columns(unit_key=pl.coalesce("repo", "id")).sort("unit_key", "path", "id")
    units, members = [], []
    for (key,), group in files.group_by("unit_key", maintain_order=True):
        texts = group["text"].fill_null("").to_list()
        joined = "\n".join(texts)
        first = group.row(0, named=True)
        meta = {"repo": first["repo"], "stars": group["stars"].max(), "commit_time": group["commit_time"].max(),
                "source": first["source"], "language": first["language"], "doc_type": first["doc_type"],
                "url": None, "domain": None}
        if level == "repository":
            pieces = [(key, 0, len(joined))]
        else:
            pieces = [(f"{key}#{n:06d}", s, e) for n, (s, e) in enumerate(chunk_spans(joined, tokens))]
        for unit, start, end in pieces:
            text = joined[start:end]
            units.append({**meta, "id": unit, "text": text, "path": unit, "bytes": len(text.encode())})
        offset, piece = 0, 0
        for row, text in zip(group.select("id", "language", "bytes").iter_rows(), texts):
            end = offset + len(text)
            while piece + 1 < len(pieces) and pieces[piece + 1][1] <= offset:
                piece += 1  # the chunk this file starts in ...
            if piece + 1 < len(pieces) and offset >= pieces[piece][2] and pieces[piece + 1][1] < end:
                piece += 1  # ... or, starting in the whitespace after a chunk, the next one
            last = piece
            while last + 1 < len(pieces) and pieces[last + 1][1] < end:
                last += 1  # ... and every later chunk holding part of it
            members += [(*row[:1], pieces[p][0], *row[1:]) for p in range(piece, last + 1)]
            offset = end + 1
    unit_frame = pl.DataFrame(units, schema=SCHEMA).select(list(SCHEMA)) if units else empty()
    member_frame = pl.DataFrame(members, schema=list(MEMBER_SCHEMA), orient="row").cast(MEMBER_SCHEMA)
    return unit_frame, member_frame


INDEX_SCHEMA = {"unit_key": pl.String(), "shard": pl.String()}
STARTS_SCHEMA = {"shard": pl.String()}


def unit_index(shard_files: list[Path]) -> dict[str, pl.DataFrame]:
    """Shard name -> (unit_key, shard) of the repositories whose first file lies in that shard, one row for
    every shard holding their files (shards in `shard_files` order, which is shard order)."""
    names = [shard_name(f) for f in shard_files]
    holders = (
        pl.concat([shards.read_parquet(f, columns=["id", "repo"]).with_columns(shard=pl.lit(i, pl.Int64))
                   for i, f in enumerate(shard_files)])
        .select(unit_key=pl.coalesce("repo", "id"), shard="shard")
        .unique()
    )
    first = holders.group_by("unit_key").agg(first=pl.col("shard").min())
    rows = holders.join(first, on="unit_key").sort("first", "unit_key", "shard")
    parts = {i: frame for (i,), frame in rows.partition_by("first", as_dict=True, maintain_order=True).items()}
    named = pl.Series(names, dtype=pl.String())
    return {name: parts[i].select("unit_key", shard=named.gather(parts[i]["shard"])) if i in parts
            else pl.DataFrame(schema=INDEX_SCHEMA) for i, name in enumerate(names)}


def unit_starts(index: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Shard name -> (shard) of the shards where the repositories with files in it start (`unit_index`
    reversed; in shard order, which is `index`'s order)."""
    starts: dict[str, list[str]] = {name: [] for name in index}
    for first, rows in index.items():
        for holder in rows["shard"].unique(maintain_order=True).to_list():
            starts[holder].append(first)
    return {name: pl.DataFrame({"shard": firsts}, schema=STARTS_SCHEMA) for name, firsts in starts.items()}


def member_files(own: Path, index: Path) -> list[Path]:
    """The members files a shard's files are listed in: those of the shards `index/<shard>.starts.parquet`
    names (in shard order), beside `own` (the shard's own `<shard>.members.parquet`)."""
    name = shard_name(own)
    starts = index / f"{name}.starts.parquet"
    if not starts.exists():
        raise InputError(f"{starts}: no index of where shard {name}'s repositories start (build it with `dedup-units index`)")
    return [own.with_name(f"{first}.members.parquet") for first in shards.read_parquet(starts)["shard"]]


def shard_units(shard_file: Path, index: pl.DataFrame, level: str, tokens: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Units of the repositories whose first file lies in `shard_file` (its `unit_index` rows); their
    other files are read from the shards the index names, beside `shard_file`."""
    needed = sorted(set(index["shard"].to_list())) or [shard_name(shard_file)]
    keys = index["unit_key"].unique().implode()
    files = pl.concat([shards.read_documents(shard_file.with_name(f"{name}.parquet"))
                       .filter(pl.coalesce("repo", "id").is_in(keys)) for name in needed])
    return repository_units(files, level, tokens)


def shard_name(path: Path) -> str:
    """`.../00042.parquet` -> "00042"."""
    return path.name.split(".")[0]


def removed_units(exact_removed: Path, fuzzy_clusters: Path, level: str) -> pl.DataFrame:
    """unit -> (reason, kept unit) of every unit that exact or fuzzy dedup removed."""
    exact = shards.read_parquet(exact_removed, columns=["id", "kept_id"]).select(
        unit="id", reason=pl.lit(removal_reason("exact", level)), kept_unit="kept_id")
    fuzzy = shards.read_parquet(fuzzy_clusters, columns=["id", "kept_id", "keep"]).filter(~pl.col("keep")).select(
        unit="id", reason=pl.lit(removal_reason("fuzzy", level)), kept_unit="kept_id")
    return pl.concat([exact, fuzzy])


def file_removals(members: pl.DataFrame, gone: pl.DataFrame) -> pl.DataFrame:
    """Files every unit of which is gone: id, reason, unit, kept_unit (of the file's first unit).

    An exact reason wins over a fuzzy one only when every unit of the file went by exact dedup."""
    marked = members.join(gone, on="unit", how="left")
    return (
        marked.group_by("id", maintain_order=True)
        .agg(pl.col("reason").is_not_null().all().alias("all_gone"),
             pl.col("reason").str.starts_with("exact").all().alias("all_exact"),
             pl.col("unit").first(), pl.col("kept_unit").first(), pl.col("reason").first())
        .filter(pl.col("all_gone"))
        .with_columns(reason=pl.when(pl.col("all_exact")).then(pl.col("reason"))
                      .otherwise(pl.col("reason").str.replace("^exact", "fuzzy")))
        .select("id", "reason", "unit", "kept_unit")
    )


def apply(files: pl.DataFrame, member_files: list[Path], exact_removed: Path, fuzzy_clusters: Path,
          level: str) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """(kept files, dropped records, stats) of one document shard at a repository or chunk level."""
    ids = files["id"].implode()
    members = pl.concat([shards.read_parquet(f, columns=["id", "unit"]) for f in member_files]
                        ).filter(pl.col("id").is_in(ids)) if member_files else pl.DataFrame(schema={"id": pl.String, "unit": pl.String})
    exact_only = file_removals(members, removed_units(exact_removed, fuzzy_clusters, level).filter(
        pl.col("reason").str.starts_with("exact")))
    gone = file_removals(members, removed_units(exact_removed, fuzzy_clusters, level))
    before = files.join(exact_only, on="id", how="anti")  # what reached the fuzzy step, as the funnel counts
    kept = files.join(gone, on="id", how="anti")
    dropped = files.join(gone, on="id", how="inner").select(list(DROPPED_SCHEMA)).cast(DROPPED_SCHEMA)
    fuzzy_dropped = before.join(gone, on="id", how="semi")
    stats = stage_stats("fuzzy_dedup", before, kept, {f"fuzzy_{level}": fuzzy_dropped},
                        extra={"level": level, "removed_files": dropped.height,
                               "removed_by_reason": dict(dropped.group_by("reason").len().sort("reason").iter_rows())})
    return kept, dropped, stats


def file_level_dropped(files: Path, exact_removed: Path, fuzzy_removed: pl.DataFrame) -> pl.DataFrame:
    """`DROPPED_SCHEMA` rows of a shard at file level, in the shard's order: the files of `files` (the shard
    exact dedup read) that `exact_removed` lists, and `fuzzy_removed` (id, kept_id: the fuzzy step's)."""
    meta = shards.read_parquet(files, columns=[c for c in DROPPED_SCHEMA if c not in ("reason", "unit", "kept_unit")])
    exact = (pl.scan_parquet(exact_removed).select("id", "kept_id").filter(pl.col("id").is_in(meta["id"].implode()))
             .collect().with_columns(reason=pl.lit(removal_reason("exact", "file"))))
    fuzzy = fuzzy_removed.select("id", "kept_id", reason=pl.lit(removal_reason("fuzzy", "file")))
    gone = pl.concat([exact, fuzzy]).select("id", "reason", unit="id", kept_unit="kept_id")
    return meta.join(gone, on="id", how="inner", maintain_order="left").select(list(DROPPED_SCHEMA)).cast(DROPPED_SCHEMA)


def exact_stats(units: pl.DataFrame, kept_units: pl.DataFrame, members_file: Path) -> dict:
    """`exact_dedup` stats of a unit shard in files (the funnel's unit): a file is dropped when all its units are."""
    members = shards.read_parquet(members_file)
    gone_units = units.join(kept_units, on="id", how="anti").select(unit="id", reason=pl.lit("exact"), kept_unit=pl.lit(None, pl.String))
    gone = file_removals(members.select("id", "unit"), gone_units)
    files = members.unique("id", keep="first", maintain_order=True).select("id", "language", "bytes")
    return stage_stats("exact_dedup", files, files.join(gone, on="id", how="anti"),
                       {"exact": files.join(gone, on="id", how="semi")},
                       extra={"units": units.height, "kept_units": kept_units.height})


# The steps as the workflow's rules run them (files in, files out).

def run_index(shard_files: list[Path], out: Path) -> None:
    """Write `out/<shard>.parquet` (`unit_index`) and `out/<shard>.starts.parquet` (`unit_starts`) for every shard."""
    names = [shard_name(f) for f in shard_files]
    if len(set(names)) != len(names):
        raise InputError(f"dedup units index: shard names repeat among the {len(names)} input shards")
    index = unit_index(shard_files)
    starts = unit_starts(index)
    for name in names:
        shards.write_parquet(index[name], out / f"{name}.parquet")
        shards.write_parquet(starts[name], out / f"{name}.starts.parquet")
    log.info("dedup units index: %d shards, %d repositories", len(names), sum(f["unit_key"].n_unique() for f in index.values()))


def run_units(shard_file: Path, index: Path, out: Path, members_out: Path, params: dict) -> None:
    level, tokens = level_of(params)
    if level == "file":
        raise ConfigError("dedup.level is file: there are no units to build (exact dedup reads the shards)")
    index_file = index / f"{shard_name(shard_file)}.parquet"
    if index_file.exists():
        rows = shards.read_parquet(index_file)
    elif shards.read_parquet(shard_file, columns=["id"]).is_empty():
        rows = pl.DataFrame(schema=INDEX_SCHEMA)  # a shard without files starts no repository (the workflow's pads)
    else:
        raise InputError(f"{index_file}: no index of shard {shard_file} (build it with `dedup-units index` over every shard)")
    units, members = shard_units(shard_file, rows, level, tokens)
    shards.write_parquet(units, out)
    shards.write_parquet(members, members_out)
    log.info("dedup units (%s): shard %s: %d units of %d files", level, shard_name(shard_file), units.height, members["id"].n_unique())


def run_apply(inp: Path, members: list[Path], exact_removed: Path, fuzzy_clusters: Path, out: Path,
              dropped_out: Path, params: dict, index: Path | None = None) -> dict:
    """With `index`, `members` is the shard's own members file and the files read are `member_files`'s:
    the others lie beside it. Without, `members` is read as given (every shard's, say)."""
    level, _ = level_of(params)
    files = shards.read_documents(inp)
    if index is not None:
        if len(members) != 1:
            raise ConfigError(f"with --index, --members is the shard's own members file, got {len(members)} files")
        # a shard without files is in no unit: no members file to read (the workflow's pads are in no index)
        members = member_files(members[0], index) if not files.is_empty() else []
    kept, dropped, stats = apply(files, members, exact_removed, fuzzy_clusters, level)
    shards.write_parquet(kept, out)
    shards.write_parquet(dropped, dropped_out)
    shards.write_json(stats, stats_path(out))
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder dedup-units", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    steps = parser.add_subparsers(dest="step", required=True)
    p = steps.add_parser("index", help="once: which repositories start in each shard, and where their files lie")
    add_io(p, "input", nargs="+", type=Path, help="every preprocess shard, in order")
    add_io(p, "output", "--out", type=Path, help="folder to write <shard>.parquet into")
    p = steps.add_parser("units", help="the units (repositories or chunks) that start in one shard")
    add_io(p, "input", "--in", type=Path, help="preprocess shard (the shards its index names lie beside it)")
    p.add_argument("--index", required=True, type=Path, help="the folder `index` wrote")
    add_io(p, "output", "--out", type=Path, help="unit shard to write (document schema)")
    p.add_argument("--members", required=True, type=Path, help="file -> unit table to write")
    add_config_args(p)
    p = steps.add_parser("apply", help="drop the files of removed units from one shard")
    add_io(p, "input", "--in", type=Path, help="preprocess shard (files)")
    p.add_argument("--members", nargs="+", required=True, type=Path,
                   help="every unit shard's members file; with --index, the shard's own")
    p.add_argument("--index", type=Path, help="the folder `index` wrote: read only the members files it names")
    p.add_argument("--exact-removed", required=True, type=Path)
    p.add_argument("--clusters", required=True, type=Path, help="fuzzy/clusters.parquet")
    add_io(p, "output", "--out", type=Path, help="output shard; stats go beside it")
    p.add_argument("--dropped", required=True, type=Path, help="removed files with reason and kept unit")
    add_config_args(p)
    args = parser.parse_args(argv)
    if args.step == "index":
        run_index(args.input, args.output)
        return 0
    params = stage_params(args, "dedup")
    if args.step == "units":
        run_units(args.input, args.index, args.output, args.members, params)
    else:
        run_apply(args.input, args.members, args.exact_removed, args.clusters, args.output, args.dropped, params,
                  args.index)
    return 0
