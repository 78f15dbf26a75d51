"""Ingest: raw files from the configured sources → document shards `00000.parquet`, `00001.parquet`, …

Sources (config `ingest.sources`, each with a unique `name`):

* `python_env` — the running interpreter's standard library (paths `stdlib/…`) and its site-packages
  (`site-packages/…`); `repo` is the first path component after that prefix. Needs no download.
* `directory` — every file under `path`; `repo` is `repo` if given, else the directory's name.
* `git` — a repository at a local `path` or URL (cloned shallowly into a temporary directory); files
  are read from the committed tree of `ref` (default HEAD), and the repository's name and last commit
  time are recorded on every document.
* `dataset` — parquet / JSONL(.gz) files laid out like The Stack v2 (`content`, `path`, `repo_name`,
  `star_events_count`, `committer_date`; rename with `columns`).
* `web` — web pages (paper 2): parquet / JSONL(.gz) shards with `url` and `text` (FineWeb, the released
  `fineweb-code-corpus`; rename with `columns`), `.warc` / `.warc.gz` files, and `.html` / `.htm`
  files whose URL is `url_prefix` + their path under `path`; HTML text is extracted
  (`opencoder.data.web.pages`). With `text_pages`, any other file is plain text cut into pages
  (records split at `separator` lines, packed to about `page_chars` characters; page n's URL is
  `url_prefix` + path + `/n`). A page's `path` is its URL; `url` and `domain` are filled. A page
  without a URL is `no_url`, one without text `empty_page`, HTML not decodable in its charset
  `not_utf8`, a WARC record that cannot be parsed `corrupt_warc_record` (path `<file>@<offset>`;
  reading resumes at the next record).

`include` / `exclude` globs (`*` within a path component, `**` across them) select paths as recorded.
Files are read in (source name, path) order and packed into shards of about `shard_bytes`, so the
same inputs always give the same shards. Dataset rows keep their order (files sorted by name), so a
large dataset is never loaded whole.

Ingest decodes: a file with a NUL byte in its first 8 KiB is `binary`, one that is not valid UTF-8
is `not_utf8`, one that cannot be read is `unreadable`, a symbolic link is `symlink` (never
followed), a dataset line that is not a JSON object is `malformed_row` (path `<file>:<line>`; the
file's other rows are kept). These never reach a shard; they are counted in `stats.json`
(`dropped`) and listed by source and path in `rejected.parquet`, and each is logged. A source that
yields no file at all is logged as a warning and listed in the stats (`extra.empty_sources`).
Language and doc_type are filled from the linguist table for the stats; preprocess applies them.

Jupyter notebooks (`.ipynb`) are converted into one structured document each (`opencoder.data.notebooks`,
settings `notebooks`); one that cannot be read is rejected as `broken_notebook`, with the reason.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import re
import subprocess
import sysconfig
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

import polars as pl
from tqdm import tqdm

from opencoder.core import shards
from opencoder.core.args import add_io
from opencoder.core.config import ConfigError, add_config_args, stage_params
from opencoder.core.errors import InputError
from opencoder.core.documents import SCHEMA, document_id, domain_of
from opencoder.core.languages import classify_document
from opencoder.core.stats import stage_stats
from opencoder.data import notebooks
from opencoder.data.web import pages

log = logging.getLogger(__name__)

BINARY_SNIFF = 8192  # bytes searched for NUL, as git does to call a file binary
STACK_V2_COLUMNS = {
    "content": "content", "path": "path", "repo": "repo_name",
    "stars": "star_events_count", "commit_time": "committer_date",
}
REJECTED_SCHEMA = {"source": pl.String(), "path": pl.String(), "reason": pl.String(),
                   "detail": pl.String(), "bytes": pl.Int64(), "language": pl.String()}


@dataclass
class Raw:
    """One file as found: its bytes (or text, for datasets) and where it came from."""
    path: str
    data: bytes | str | None
    repo: str | None = None
    stars: int | None = None
    commit_time: datetime | None = None
    error: str | None = None  # set when the file could not be read at all
    reason: str = "unreadable"  # the drop reason when `error` is set
    url: str | None = None  # web pages


@dataclass
class BadRow:
    """A dataset row that cannot be read: `where` is `<file>:<line>`, `problem` says why."""
    where: str
    problem: str


# ------------------------------------------------------------------ globs ---

@cache
def _glob_regex(pattern: str) -> re.Pattern:
    """`**/` any number of directories, `*` and `?` within one path component, `[...]` a class."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1:]:
            end = pattern.index("]", i + 1)
            out.append("[" + pattern[i + 1:end].replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def selected(path: str, include: list[str], exclude: list[str]) -> bool:
    return any(_glob_regex(p).match(path) for p in include) and not any(_glob_regex(p).match(path) for p in exclude)


# ---------------------------------------------------------------- sources ---

def _literal_prefix(pattern: str) -> str:
    """The part of a glob before its first wildcard: only directories along it can hold matches."""
    cut = min((i for i, ch in enumerate(pattern) if ch in "*?["), default=len(pattern))
    return pattern[:cut]


def _walk(root: Path, prefix: str = "", include: list[str] = ("**/*",), links: list[str] | None = None) -> Iterator[str]:
    """Relative `/` paths of regular files under root; symlinks are skipped (no loops, no double
    counts) and, given `links`, their relative paths appended to it (a directory's with a trailing
    `/`); directories that no include pattern can reach are not entered."""
    literals = [_literal_prefix(p) for p in include]

    def reachable(rel_dir: str) -> bool:
        here = prefix + rel_dir + "/"
        return any(here.startswith(lit) or lit.startswith(here) for lit in literals)

    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
        rel = "" if rel == "." else rel + "/"
        linked = sorted(d for d in dirnames if os.path.islink(os.path.join(dirpath, d)))
        if links is not None:
            links += [rel + d + "/" for d in linked if reachable(rel + d)]
        dirnames[:] = sorted(d for d in dirnames if d not in linked and reachable(rel + d))
        for name in filenames:
            if not os.path.islink(os.path.join(dirpath, name)):
                yield rel + name
            elif links is not None:
                links.append(rel + name)


def _read_file(full: Path) -> tuple[bytes | None, str | None]:
    try:
        return full.read_bytes(), None
    except OSError as exc:
        return None, f"{type(exc).__name__}: {exc.strerror or exc}"


def _files(roots: list[tuple[str, Path]], spec: dict, repo_of) -> Iterator[Raw]:
    """Files under (prefix, root) pairs, selected by the globs, in path order; symlinks the globs
    select come as `symlink` rejects (ingest does not follow them)."""
    include, exclude = spec.get("include", ["**/*"]), spec.get("exclude", [])
    found = []
    for prefix, root in roots:
        links: list[str] = []
        for rel in _walk(root, prefix, include, links):
            path = prefix + rel
            if selected(path, include, exclude):
                found.append((path, root / rel))
        for rel in links:
            path = prefix + rel
            if selected(path, include, exclude) or (path.endswith("/") and selected(path, ["**"], exclude)):
                found.append((path, None))
    for path, full in sorted(found, key=lambda item: item[0]):
        if full is None:
            yield Raw(path=path, data=None, repo=repo_of(path), reason="symlink", error="a symbolic link; not followed")
            continue
        data, error = _read_file(full)
        yield Raw(path=path, data=data, repo=repo_of(path), error=error)


def python_env_roots() -> list[tuple[str, Path]]:
    """(prefix, root) of the interpreter's stdlib and of its site-packages."""
    paths = sysconfig.get_paths()
    site = sorted({Path(paths["purelib"]).resolve(), Path(paths["platlib"]).resolve()})
    roots = [("stdlib/", Path(paths["stdlib"]).resolve())]
    roots += [("site-packages/", p) for p in site if p.is_dir()]
    return roots


def _python_env(spec: dict) -> Iterator[Raw]:
    # an interpreter's stdlib dir may hold its own site-packages/dist-packages: that is not stdlib
    spec = {**spec, "exclude": [*spec.get("exclude", []), "stdlib/site-packages/**", "stdlib/dist-packages/**"]}
    yield from _files(python_env_roots(), spec, repo_of=lambda path: path.split("/")[1])


def _directory(spec: dict) -> Iterator[Raw]:
    root = _existing(spec)
    repo = spec.get("repo") or root.resolve().name
    yield from _files([("", root)], spec, repo_of=lambda path: repo)


def _existing(spec: dict) -> Path:
    if "path" not in spec:
        raise ConfigError(f"ingest source {spec['name']!r}: `path` is required for type {spec['type']}")
    root = Path(spec["path"]).expanduser()
    if not root.exists():
        raise ConfigError(f"ingest source {spec['name']!r}: {root}: no such file or directory")
    return root


def _git(args: list[str], cwd: Path | None = None, **kw) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, **kw)
    except subprocess.CalledProcessError as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
        raise InputError(f"git {' '.join(args)}: {stderr.strip()}") from None


def _repo_name(location: str) -> str:
    """`https://host/owner/name.git` → `owner/name`; a local path → its directory name."""
    if "://" in location or re.match(r"^[\w.-]+@[\w.-]+:", location):
        tail = re.split(r"[:/]", location.rstrip("/").removesuffix(".git"))
        return "/".join(part for part in tail[-2:] if part)
    return Path(location).resolve().name


def _git_source(spec: dict) -> Iterator[Raw]:
    location = spec.get("path")
    if not location:
        raise ConfigError(f"ingest source {spec['name']!r}: `path` (local path or URL) is required for type git")
    ref = spec.get("ref", "HEAD")
    repo = spec.get("repo") or _repo_name(location)
    with tempfile.TemporaryDirectory(prefix="opencoder-git-") as tmp:
        if Path(location).expanduser().exists():
            git_dir = Path(location).expanduser()
        else:
            log.info("cloning %s", location)
            branch = [] if ref == "HEAD" else ["--branch", ref]
            _git(["clone", "--quiet", "--bare", "--depth", "1", *branch, location, tmp])
            git_dir, ref = Path(tmp), "HEAD"
        epoch = int(_git(["log", "-1", "--format=%ct", ref], cwd=git_dir, text=True).stdout.strip())
        commit_time = datetime.fromtimestamp(epoch, tz=timezone.utc)
        include, exclude = spec.get("include", ["**/*"]), spec.get("exclude", [])
        blobs = []
        for entry in _git(["ls-tree", "-r", "-z", ref], cwd=git_dir).stdout.split(b"\0"):
            if not entry:
                continue
            meta, path = entry.split(b"\t", 1)
            mode, kind, sha = meta.decode().split()
            path = path.decode("utf-8", "surrogateescape")
            if kind == "blob" and mode != "120000" and selected(path, include, exclude):  # no symlinks
                blobs.append((path, sha))
        blobs.sort()
        for (path, _), data in zip(blobs, _cat_blobs(git_dir, [sha for _, sha in blobs])):
            yield Raw(path=path, data=data, repo=repo, commit_time=commit_time)


def _cat_blobs(git_dir: Path, shas: list[str]) -> Iterator[bytes]:
    """Contents of blobs in order, through one `git cat-file --batch` process."""
    proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=git_dir, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    try:
        for sha in shas:
            proc.stdin.write(f"{sha}\n".encode())
            proc.stdin.flush()
            size = int(proc.stdout.readline().split()[2])
            data = proc.stdout.read(size)
            proc.stdout.read(1)  # the newline after each blob
            yield data
    finally:
        proc.stdin.close()
        proc.wait()


def _dataset(spec: dict) -> Iterator[Raw]:
    root = _existing(spec)
    columns = {**STACK_V2_COLUMNS, **spec.get("columns", {})}
    include, exclude = spec.get("include", ["**/*"]), spec.get("exclude", [])
    links: list[str] = []
    if root.is_file():
        files = [root]
    else:
        files = sorted(root / rel for rel in _walk(root, links=links)
                       if rel.endswith((".parquet", ".jsonl", ".jsonl.gz")))
    for rel in links:
        yield Raw(path=str(root / rel), data=None, reason="symlink", error="a symbolic link; not followed")
    for file in files:
        for number, row in _table_rows(file, [columns["content"], columns["path"]], "dataset file"):
            if isinstance(row, Raw):
                yield row
                continue
            path, content = row.get(columns["path"]), row.get(columns["content"])
            if not isinstance(path, str):
                path = f"{file}#row{number}"
            elif not selected(path, include, exclude):
                continue
            text_like = isinstance(content, (str, bytes))
            yield Raw(
                path=path,
                data=content if text_like else None,
                repo=row.get(columns["repo"]),
                stars=row.get(columns["stars"]),
                commit_time=_timestamp(row.get(columns["commit_time"]), f"{file}: {path}"),
                error=None if text_like else f"content is {type(content).__name__}, not text",
            )


def _table_rows(file: Path, required: list[str], what: str) -> Iterator[tuple[int, dict | Raw]]:
    """(row number, row) of a parquet or JSONL(.gz) file; a malformed line comes as a rejected `Raw`
    naming its line, and a file that cannot be read or lacks a `required` column as one rejected
    `Raw` for the whole file (a damaged file must not take the good files down with it). A file of
    malformed lines only is named line by line."""
    try:
        names, rows = _read_rows(file)
        missing = [c for c in required if c not in names]
        only_bad = isinstance(rows, list) and rows and all(isinstance(r, BadRow) for r in rows)
        if missing and not only_bad:
            raise ValueError(f"missing column(s) {missing}; has {sorted(names)}")
    except Exception as exc:
        detail = str(exc) if isinstance(exc, shards.ShardError) else f"{file}: {type(exc).__name__}: {exc}"
        yield 0, Raw(path=str(file), data=None, error=f"unreadable {what}: {detail}")
        return
    for number, row in enumerate(rows):
        if isinstance(row, BadRow):
            row = Raw(path=row.where, data=None, reason="malformed_row", error=row.problem)
        yield number, row


def _read_rows(file: Path) -> tuple[set[str], Iterable]:
    """Column names and rows of a parquet or JSONL(.gz) file, values as stored (no type coercion).

    A JSONL line that is not a JSON object becomes a `BadRow` naming the file and its line; the
    other lines are kept, and so are the lines before a damaged gzip stream.
    """
    if file.name.endswith(".parquet"):
        frame = shards.read_parquet(file)
        return set(frame.columns), frame.iter_rows(named=True)
    opener = gzip.open if file.name.endswith(".gz") else open
    names: set[str] = set()
    rows: list = []
    number = 0
    with opener(file, "rb") as fh:
        try:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    if not isinstance(row, dict):
                        raise ValueError(f"a JSON {type(row).__name__}, not an object")
                except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                    why = f"{exc.msg}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
                    rows.append(BadRow(f"{file}:{number}", f"{file}: line {number}: not a JSON object ({why})"))
                    continue
                names.update(row)
                rows.append(row)
        except (OSError, EOFError) as exc:  # a damaged or truncated gzip stream
            rows.append(BadRow(f"{file}:{number + 1}", f"{file}: unreadable from line {number + 1} "
                                                        f"({type(exc).__name__}: {exc})"))
    return names, rows


def _timestamp(value, where: str) -> datetime | None:
    """A dataset's date (datetime or ISO string) in UTC; naive values are taken as UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            log.warning("%s: commit time %r is not an ISO date; recorded as unknown", where, value)
            return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _web(spec: dict) -> Iterator[Raw]:
    """Pages of text shards, WARC files and HTML files under `path`, in file order."""
    root = _existing(spec)
    columns = {"url": "url", "text": "text", **spec.get("columns", {})}
    include, exclude = spec.get("include", ["**/*"]), spec.get("exclude", [])
    links: list[str] = []
    rels = [""] if root.is_file() else sorted(r for r in _walk(root, "", include, links) if selected(r, include, exclude))
    for rel in links:
        if selected(rel, include, exclude) or (rel.endswith("/") and selected(rel, ["**"], exclude)):
            yield Raw(path=str(root / rel), data=None, reason="symlink", error="a symbolic link; not followed")
    for rel in rels:
        file = root / rel if rel else root
        name = file.name.lower()
        if name.endswith((".parquet", ".jsonl", ".jsonl.gz")):
            yield from _web_rows(file, columns)
        elif name.endswith((".warc", ".warc.gz")):
            yield from (_page_raw(page) for page in pages.warc_pages(file))
        elif name.endswith((".html", ".htm")):
            base, rel_path = (root, rel) if rel else (root.parent, file.name)
            yield from map(_page_raw, pages.html_files(base, spec.get("url_prefix"), [rel_path]))
        elif "text_pages" in spec:
            base, rel_path = (root, rel) if rel else (root.parent, file.name)
            cut = spec["text_pages"]
            yield from map(_page_raw, pages.text_pages(base, spec.get("url_prefix"), [rel_path],
                                                       cut.get("separator"), cut.get("page_chars", 0)))


def _page_raw(page: pages.Page) -> Raw:
    return Raw(path=page.url or page.where, data=page.text, url=page.url, error=page.detail,
               reason=page.reason or "unreadable")


def _web_rows(file: Path, columns: dict) -> Iterator[Raw]:
    for number, row in _table_rows(file, [columns["url"], columns["text"]], "web shard"):
        if isinstance(row, Raw):
            yield row
            continue
        url, text, where = row.get(columns["url"]), row.get(columns["text"]), f"{file}#row{number}"
        if not isinstance(url, str) or not url.strip():
            yield Raw(path=where, data=None, reason="no_url", error=f"{where}: page without a URL")
        elif not isinstance(text, str):
            yield Raw(path=url, data=None, url=url, error=f"{where}: text is {type(text).__name__}, not a string")
        elif not text.strip():
            yield Raw(path=url, data=None, url=url, reason="empty_page", error=f"{where}: empty page")
        else:
            yield Raw(path=url, data=text, url=url)


SOURCES = {"python_env": _python_env, "directory": _directory, "git": _git_source, "dataset": _dataset, "web": _web}


# ----------------------------------------------------------------- decode ---

def decode(data: bytes | str) -> tuple[str | None, str | None, str | None]:
    """(text, reason, detail): text if the content is UTF-8 text, else why not."""
    if isinstance(data, str):
        return (None, "binary", "NUL character in text") if "\0" in data[:BINARY_SNIFF] else (data, None, None)
    if b"\0" in data[:BINARY_SNIFF]:
        return None, "binary", f"NUL byte in the first {BINARY_SNIFF} bytes"
    try:
        return data.decode("utf-8"), None, None
    except UnicodeDecodeError as exc:
        return None, "not_utf8", f"invalid UTF-8 at byte {exc.start}"


# ------------------------------------------------------------------ stage ---

class ShardWriter:
    """Packs documents into numbered shards of about `shard_bytes` UTF-8 bytes of text."""

    def __init__(self, out: Path, shard_bytes: int):
        self.out, self.shard_bytes = out, shard_bytes
        self.rows: list[dict] = []
        self.size = 0
        self.count = 0

    def add(self, row: dict) -> None:
        self.rows.append(row)
        self.size += row["bytes"]
        if self.size >= self.shard_bytes:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            frame = pl.DataFrame(self.rows, schema=SCHEMA)
            shards.write_parquet(frame, self.out / f"{self.count:05d}.parquet")
            self.count += 1
            self.rows, self.size = [], 0


def ingest(params: dict, out: Path) -> dict:
    """Read every source into shards under `out` (replaced as a whole); return the stats."""
    names = [s["name"] for s in params["sources"]]
    if len(set(names)) != len(names):
        raise ConfigError(f"ingest.sources: source names must be unique, got {names}")
    kept: list[tuple[str, int]] = []  # (language, bytes) of every document written
    rejected: list[dict] = []
    found = dict.fromkeys(names, 0)  # files (kept or rejected) per source
    with shards.atomic_dir(out) as tmp:
        writer = ShardWriter(tmp, params["shard_bytes"])
        for spec in sorted(params["sources"], key=lambda s: s["name"]):
            source = spec["name"]
            for raw in tqdm(SOURCES[spec["type"]](spec), desc=f"ingest {source}", unit=" files", mininterval=5):
                language, doc_type = classify_document(raw.path, raw.url)
                found[source] += 1
                if raw.error:
                    text, reason, detail = None, raw.reason, raw.error
                else:
                    text, reason, detail = decode(raw.data)
                if text is not None and language == notebooks.LANGUAGE:
                    try:
                        text, _ = notebooks.convert(text, raw.path, params["notebooks"]["max_output_chars"])
                    except notebooks.NotebookError as exc:
                        text, reason, detail = None, "broken_notebook", str(exc)
                if text is None:
                    size = len(raw.data) if isinstance(raw.data, bytes) else len((raw.data or "").encode())
                    log.warning("%s: %s: dropped (%s: %s)", source, raw.path, reason, detail)
                    rejected.append({"source": source, "path": raw.path, "reason": reason, "detail": detail,
                                     "bytes": size, "language": language})
                    continue
                size = len(text.encode())
                writer.add({
                    "id": document_id(source, raw.repo, raw.path), "text": text, "path": raw.path,
                    "language": language, "doc_type": doc_type, "repo": raw.repo,
                    "stars": raw.stars, "commit_time": raw.commit_time, "source": source, "bytes": size,
                    "url": raw.url, "domain": domain_of(raw.url),
                })
                kept.append((language, size))
        writer.flush()
        if writer.count == 0:
            raise InputError(f"ingest: no documents found in sources {names}; check paths and include globs")
        empty_sources = sorted(name for name, n in found.items() if n == 0)
        for name in empty_sources:
            log.warning("ingest source %r: no files (check its path and include/exclude globs)", name)
        after = pl.DataFrame(kept, schema={"language": pl.String(), "bytes": pl.Int64()}, orient="row")
        dropped = pl.DataFrame(rejected, schema=REJECTED_SCHEMA)
        stats = stage_stats(
            "ingest", pl.concat([after, dropped.select("language", "bytes")]), after,
            {reason: dropped.filter(pl.col("reason") == reason) for reason in sorted(set(dropped["reason"]))},
            extra={"shards": writer.count, "files_per_source": found, "empty_sources": empty_sources},
        )
        shards.write_parquet(dropped.drop("language"), tmp / "rejected.parquet")
        shards.write_json(stats, tmp / "stats.json")
    log.info("ingest: %d documents in %d shards, %d files rejected", after.height, writer.count, dropped.height)
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder ingest", description=__doc__.split("\n\n")[0])
    add_io(parser, "output", "--out", type=Path, help="output directory (replaced)")
    add_config_args(parser)
    args = parser.parse_args(argv)
    ingest(stage_params(args, "ingest"), args.output)
    return 0
