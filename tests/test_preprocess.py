"""Preprocess: the linguist-derived table and the paper's drops (size cap, excluded, unknown)."""

from __future__ import annotations

import json

import pytest

from opencoder.data import preprocess

from opencoder.core import shards
from opencoder.core.languages import classify, languages

PARAMS = {"max_file_bytes": 8_000_000, "keep_doc_types": ["code", "data", "text"]}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("pkg/mod.py", ("python", "code")),
        ("src/x.h", ("c", "code")),
        ("src/x.cc", ("cpp", "code")),
        ("A.cs", ("csharp", "code")),
        ("main.go", ("go", "code")),
        ("Main.java", ("java", "code")),
        ("app.js", ("javascript", "code")),
        ("index.html", ("html", "code")),  # HTML is code in the paper
        ("run.sh", ("shell", "code")),
        ("q.sql", ("sql", "code")),  # linguist says data; the paper treats SQL as code
        ("build/Makefile", ("makefile", "code")),  # exact file name
        ("cmake/cfg.cmake.in", ("cmake", "code")),  # longest extension wins
        ("MOD.PY", ("python", "code")),  # extensions are case-insensitive
        ("conf.yaml", ("yaml", "data")),
        ("README.md", ("markdown", "text")),
        ("paper.tex", ("tex", "text")),
        ("table.csv", ("csv", "excluded")),
        ("icon.svg", ("svg", "excluded")),
        ("nb.ipynb", ("jupyter-notebook", "code")),  # ingest converts notebooks (opencoder.data.notebooks)
        ("robots.txt", ("robots-exclusion-rules", "excluded")),
        ("photo.png", ("unknown", "unknown")),
        ("noextension", ("unknown", "unknown")),
    ],
)
def test_language_table(path, expected):
    assert classify(path) == expected


def test_table_covers_hundreds_of_languages_and_every_filter_group():
    names = set(languages())
    assert len(names) > 600
    assert {"python", "c", "cpp", "csharp", "go", "html", "java", "javascript", "shell", "sql"} <= names


def test_drops_by_reason_and_counts_them(documents):
    docs = documents([
        {"path": "a.py", "text": "print(1)\n", "language": "", "doc_type": ""},
        {"path": "empty.py", "text": ""},
        {"path": "blank.py", "text": "  \n\n"},
        {"path": "big.c", "text": "x" * 101},
        {"path": "t.csv", "text": "a,b\n"},
        {"path": "img.xyz", "text": "??"},
        {"path": "notes.md", "text": "# hi\n"},
        {"path": "c.json", "text": "{}"},
    ])
    kept, stats, dropped = preprocess.preprocess(docs, {"max_file_bytes": 100, "keep_doc_types": ["code", "data"]})
    assert kept["path"].to_list() == ["a.py", "c.json"]
    assert kept.select("language", "doc_type").rows() == [("python", "code"), ("json", "data")]
    assert {reason: d["documents"] for reason, d in stats["dropped"].items()} == {
        "empty": 2, "too_large": 1, "excluded": 1, "unknown": 1, "doc_type": 1}
    assert stats["dropped"]["too_large"]["bytes"] == 101
    assert stats["in"]["documents"] == 8 and stats["out"]["documents"] == 2
    assert stats["languages"]["c"] == {"in_documents": 1, "in_bytes": 101, "out_documents": 0, "out_bytes": 0}
    # each dropped file named with its reason
    assert dropped.columns == preprocess.DROPPED_COLUMNS
    assert dropped.select("path", "reason").rows() == [
        ("empty.py", "empty"), ("blank.py", "empty"), ("big.c", "too_large"), ("t.csv", "excluded"),
        ("img.xyz", "unknown"), ("notes.md", "doc_type")]


def test_size_cap_is_the_papers_8_mb(documents):
    at_cap = documents([{"path": "a.py", "text": "x" * 8_000_000}, {"path": "b.py", "text": "x" * 8_000_001}])
    kept, _, _ = preprocess.preprocess(at_cap, PARAMS)
    assert kept["path"].to_list() == ["a.py"]


def test_cli_writes_shard_and_stats_beside_it(tmp_path, documents):
    shards.write_parquet(documents([{"path": "a.py", "text": "x = 1\n"}, {"path": "b.csv", "text": "1,2\n"}]),
                         tmp_path / "in.parquet")
    out = tmp_path / "pre" / "00000.parquet"
    rc = preprocess.main(["--in", str(tmp_path / "in.parquet"), "--out", str(out), "--params", json.dumps(PARAMS)])
    assert rc == 0
    assert shards.read_documents(out)["path"].to_list() == ["a.py"]
    stats = json.loads((tmp_path / "pre" / "00000.stats.json").read_text())
    assert stats["dropped"]["excluded"]["documents"] == 1
    dropped = shards.read_parquet(tmp_path / "pre" / "00000.dropped.parquet")
    assert dropped.select("path", "reason", "source").rows() == [("b.csv", "excluded", "test")]


def test_a_leading_byte_order_mark_is_stripped_and_counted(documents):
    from opencoder.data.filter.parsing import python_facts

    good = "def f(x):\n    return x + 1\n"
    docs = documents([{"path": "bom.py", "text": "\ufeff" + good}, {"path": "plain.py", "text": good},
                      {"path": "inner.py", "text": "s = '\ufeff'\n"}, {"path": "only.py", "text": "\ufeff"}])
    kept, stats, dropped = preprocess.preprocess(docs, PARAMS)
    assert kept.select("path", "text", "bytes").rows() == [
        ("bom.py", good, len(good)), ("plain.py", good, len(good)), ("inner.py", "s = '\ufeff'\n", 10)]
    assert stats["extra"]["bom_stripped"] == 2
    assert stats["in"]["bytes"] == sum(len(t.encode()) for t in docs["text"])  # what came in, BOMs included
    assert dropped.select("path", "reason").rows() == [("only.py", "empty")]
    assert python_facts(kept["text"][0])["py_parses"]  # the filter's Python rules can parse it now


def test_table_generation_resolves_shared_extensions_and_types():
    from opencoder.core.linguist.make_languages import table

    linguist = {
        "C": {"type": "programming", "extensions": [".c", ".h"]},
        "Objective-C": {"type": "programming", "extensions": [".m", ".h"]},  # .h: PREFERRED says C
        "Alpha": {"type": "programming", "extensions": [".zz"]},
        "Beta": {"type": "markup", "extensions": [".yy", ".zz"], "filenames": ["Betafile"]},  # .zz: primary of Alpha
        "SQL": {"type": "data", "extensions": [".sql"]},
        "CSV": {"type": "data", "extensions": [".csv"]},
        "Markdown": {"type": "prose", "extensions": [".md"]},
        "C#": {"type": "programming", "extensions": [".cs"]},
    }
    rows = {(kind, key): (lang, doc_type) for kind, key, lang, doc_type in table(linguist)}
    assert rows[("extension", ".h")] == ("c", "code")
    assert rows[("extension", ".zz")] == ("alpha", "code")
    assert rows[("extension", ".yy")] == ("beta", "code")  # markup is code
    assert rows[("filename", "Betafile")] == ("beta", "code")
    assert rows[("extension", ".sql")] == ("sql", "code")
    assert rows[("extension", ".csv")] == ("csv", "excluded")
    assert rows[("extension", ".md")] == ("markdown", "text")
    assert rows[("extension", ".cs")] == ("csharp", "code")
