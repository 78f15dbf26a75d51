"""The one document schema every stage reads and writes.

A document is one source file. Columns (polars dtypes):

| column      | dtype                  | meaning                                                        |
|-------------|------------------------|----------------------------------------------------------------|
| id          | String                 | stable id: hex digest of (source, repo, path), same on rebuild  |
| text        | String                 | file content, UTF-8                                             |
| path        | String                 | path inside its repository / source root, `/`-separated         |
| language    | String                 | language name from the linguist-derived table (lower case)      |
| doc_type    | String                 | `code`, `data` or `text`                                        |
| repo        | String (nullable)      | repository name (`owner/name` or directory name)                |
| stars       | Int64 (nullable)       | repository stars, where known                                   |
| commit_time | Datetime[us, UTC] (nullable) | last commit time of the file's repository, where known    |
| source      | String                 | name of the configured source the document came from            |
| bytes       | Int64                  | UTF-8 size of `text`                                            |
| url         | String (nullable)      | web pages: the page's URL; null for files                       |
| domain      | String (nullable)      | web pages: the URL's host, lower case, without `www.`           |

`url` and `domain` came after the other columns: a shard written without them reads with both null.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import polars as pl

from opencoder.core.errors import InputError

SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "text": pl.String(),
    "path": pl.String(),
    "language": pl.String(),
    "doc_type": pl.String(),
    "repo": pl.String(),
    "stars": pl.Int64(),
    "commit_time": pl.Datetime("us", "UTC"),
    "source": pl.String(),
    "bytes": pl.Int64(),
    "url": pl.String(),
    "domain": pl.String(),
}
COLUMNS = list(SCHEMA)
ADDED_LATER = ("url", "domain")  # absent from older shards and from files-only inputs: read as null


def document_id(source: str, repo: str | None, path: str) -> str:
    """Stable id: the same file from the same place gets the same id on every rebuild."""
    key = f"{source}\x00{repo or ''}\x00{path}".encode()
    return hashlib.blake2b(key, digest_size=12).hexdigest()


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMA)


def domain_of(url: str) -> str | None:
    """The host of `url`, lower case, without a leading `www.`; None if it has none."""
    host = urlsplit(url).hostname if isinstance(url, str) else None
    return host.removeprefix("www.") if host else None


def conform(df: pl.DataFrame, *, where: str = "documents") -> pl.DataFrame:
    """Cast `df` to the document schema, in schema order; a missing column is an error naming `where`
    (except `ADDED_LATER` ones, which are null)."""
    df = df.with_columns(pl.lit(None, SCHEMA[c]).alias(c) for c in ADDED_LATER if c not in df.columns)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"{where}: missing document columns {missing} (have {df.columns})")
    return df.select([pl.col(c).cast(t) for c, t in SCHEMA.items()])
