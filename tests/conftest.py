"""Shared test helpers: documents in the project's schema, built from text."""

from __future__ import annotations

import polars as pl
import pytest

from opencoder.documents import SCHEMA, document_id


def make_documents(rows: list[dict], source: str = "test") -> pl.DataFrame:
    """Documents from dicts with at least `path` and `text`; other columns get neutral defaults."""
    full = []
    for row in rows:
        text = row["text"]
        full.append(
            {
                "id": row.get("id") or document_id(source, row.get("repo"), row["path"]),
                "text": text,
                "path": row["path"],
                "language": row.get("language", "python"),
                "doc_type": row.get("doc_type", "code"),
                "repo": row.get("repo"),
                "stars": row.get("stars"),
                "commit_time": row.get("commit_time"),
                "source": source,
                "bytes": len(text.encode()),
            }
        )
    return pl.DataFrame(full, schema=SCHEMA)


@pytest.fixture
def documents():
    return make_documents
