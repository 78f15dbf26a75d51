"""Bad input: each kind gets a clear message naming the file, and no good document is lost."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import polars as pl
import pytest

from opencoder.cli import main as opencoder
from opencoder.core import config, shards

from opencoder.data.dedup import exact as exact_dedup

from opencoder.data import ingest, preprocess

NOTEBOOKS = config.load()["ingest"]["notebooks"]

GOOD = {
    "good/a.py": "def a():\n    return 'ä'\n",
    "good/b.c": "int b(void) { return 2; }\n",
    "good/c.md": "# Notes\n",
}
BAD = {
    "bad/image.py": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",  # binary
    "bad/latin1.py": "s = 'caf\xe9'\n".encode("latin-1"),  # not UTF-8
    "bad/huge.py": b"x = 1\n" * 400,  # over the (test-sized) cap of 1000 bytes
    "bad/empty.py": b"",
}


@pytest.fixture
def corpus(tmp_path) -> dict:
    tree = tmp_path / "tree"
    for rel, content in {**GOOD, **BAD}.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(content if isinstance(content, bytes) else content.encode())
    stack = tmp_path / "stack"
    stack.mkdir()
    pl.DataFrame({"content": ["package d\n"], "path": ["d/d.go"], "repo_name": ["o/d"]}).write_parquet(stack / "0.parquet")
    good_parquet = (stack / "0.parquet").read_bytes()
    (stack / "1.parquet").write_bytes(good_parquet[: len(good_parquet) // 2])  # truncated: corrupt
    return {
        "notebooks": NOTEBOOKS, "shard_bytes": 10**6,
        "sources": [
            {"name": "tree", "type": "directory", "path": str(tree)},
            {"name": "stack", "type": "dataset", "path": str(stack)},
        ],
    }


def test_bad_files_are_named_counted_and_good_documents_all_arrive(tmp_path, corpus, caplog):
    caplog.set_level(logging.WARNING)
    stats = ingest.ingest(corpus, tmp_path / "ingest")
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "bad/image.py: dropped (binary" in messages
    assert "bad/latin1.py: dropped (not_utf8: invalid UTF-8 at byte 8)" in messages
    assert "1.parquet: not a readable parquet shard" in messages
    assert {reason: d["documents"] for reason, d in stats["dropped"].items()} == {
        "binary": 1, "not_utf8": 1, "unreadable": 1}
    rejected = shards.read_parquet(tmp_path / "ingest" / "rejected.parquet")
    assert sorted(Path(p).name for p in rejected["path"]) == ["1.parquet", "image.py", "latin1.py"]

    caplog.clear()
    pre_params = {"max_file_bytes": 1000, "keep_doc_types": ["code", "data", "text"]}
    kept, pre_stats, _ = preprocess.preprocess(shards.read_documents(tmp_path / "ingest" / "00000.parquet"), pre_params)
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "bad/huge.py (source tree): dropped: too_large (2400 bytes)" in messages
    assert "bad/empty.py (source tree): dropped: empty (0 bytes)" in messages
    assert pre_stats["dropped"]["too_large"]["documents"] == 1 and pre_stats["dropped"]["empty"]["documents"] == 1

    # every good document, byte for byte
    texts = dict(kept.select("path", "text").iter_rows())
    assert texts == {**GOOD, "d/d.go": "package d\n"}


def test_a_corrupt_shard_fails_its_own_job_only_naming_it(tmp_path, documents, capsys):
    good = tmp_path / "ingest" / "00000.parquet"
    shards.write_parquet(documents([{"path": "a.py", "text": "a = 1\n"}]), good)
    bad = tmp_path / "ingest" / "00001.parquet"
    bad.write_bytes(good.read_bytes()[:100])
    params = json.dumps({"max_file_bytes": 8_000_000, "keep_doc_types": ["code"]})

    assert opencoder(["preprocess", "--input", str(bad), "--output", str(tmp_path / "pre" / "00001.parquet"), "--params", params]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: not a readable parquet shard" in err
    assert not (tmp_path / "pre" / "00001.parquet").exists()  # no half-written output

    assert preprocess.main(["--in", str(good), "--out", str(tmp_path / "pre" / "00000.parquet"), "--params", params]) == 0
    assert shards.read_documents(tmp_path / "pre" / "00000.parquet")["text"].to_list() == ["a = 1\n"]

    hashes = tmp_path / "hashes.parquet"
    hashes.write_bytes(b"not parquet at all")
    assert opencoder(["exact-dedup", "plan", "--input", str(hashes), "--output", str(tmp_path / "removed.parquet")]) == 1
    assert f"{hashes}: not a readable parquet shard" in capsys.readouterr().err


def test_a_config_value_of_the_wrong_type_names_the_file_and_key(tmp_path, capsys):
    bad = tmp_path / "my.yaml"
    bad.write_text("preprocess:\n  max_file_bytes: 8MB\n")
    with pytest.raises(config.ConfigError) as err:
        config.load(bad)
    message = str(err.value)
    assert str(bad) in message and "max_file_bytes" in message and "'8MB' is not of type 'integer'" in message

    # the stage refuses before reading anything
    assert opencoder(["preprocess", "--input", str(tmp_path / "none.parquet"), "--output", str(tmp_path / "o.parquet"),
                      "--config", str(bad)]) == 1
    assert "'8MB' is not of type 'integer'" in capsys.readouterr().err


def test_bad_dataset_rows_are_named_and_the_rest_kept(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    rows = tmp_path / "rows.jsonl"
    rows.write_text("\n".join(json.dumps(r) for r in [
        {"content": "ok = 1\n", "path": "ok.py", "committer_date": "yesterday"},
        {"content": None, "path": "none.py"},
        {"content": 42, "path": "number.py"},
    ]) + "\n")
    params = {"notebooks": NOTEBOOKS, "shard_bytes": 10**6, "sources": [{"name": "rows", "type": "dataset", "path": str(rows)}]}
    stats = ingest.ingest(params, tmp_path / "out")
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "rows.jsonl: ok.py: commit time 'yesterday' is not an ISO date" in messages
    assert "none.py: dropped (unreadable: content is NoneType, not text)" in messages
    assert "number.py: dropped (unreadable: content is int, not text)" in messages
    docs = shards.read_documents(tmp_path / "out" / "00000.parquet")
    assert docs.select("path", "text").rows() == [("ok.py", "ok = 1\n")] and docs["commit_time"][0] is None
    assert stats["dropped"]["unreadable"]["documents"] == 2


def test_a_malformed_jsonl_line_is_named_by_file_and_line_and_the_other_rows_kept(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    data = tmp_path / "stack"
    data.mkdir()
    lines = [json.dumps({"content": f"x = {i}\n", "path": f"f{i}.py"}) for i in range(5)]
    lines[2] = '{"content": "y = 1\\n", "path": "broken.py",'  # cut off: its own line 1, the file's line 3
    lines.insert(4, "[1, 2]")  # valid JSON, but not a row
    (data / "rows.jsonl").write_text("\n".join(lines) + "\n")
    params = {"shard_bytes": 10**6, "sources": [{"name": "stack", "type": "dataset", "path": str(data)}]}
    stats = ingest.ingest(params, tmp_path / "out")
    docs = shards.read_documents(tmp_path / "out" / "00000.parquet")
    assert docs["path"].to_list() == ["f0.py", "f1.py", "f3.py", "f4.py"]
    rejected = shards.read_parquet(tmp_path / "out" / "rejected.parquet")
    assert rejected.select("path", "reason").rows() == [
        (f"{data / 'rows.jsonl'}:3", "malformed_row"), (f"{data / 'rows.jsonl'}:5", "malformed_row")]
    assert rejected["detail"][0].startswith(f"{data / 'rows.jsonl'}: line 3: not a JSON object")
    assert "not an object" in rejected["detail"][1]
    assert stats["dropped"]["malformed_row"]["documents"] == 2
    assert "rows.jsonl: line 3: not a JSON object" in "\n".join(r.getMessage() for r in caplog.records)


def test_a_truncated_gzip_keeps_the_lines_before_the_damage(tmp_path):
    import gzip

    data = tmp_path / "stack"
    data.mkdir()
    body = "".join(json.dumps({"content": "z = 0\n" * 50 + f"# {i}\n", "path": f"g{i}.py"}) + "\n" for i in range(400))
    whole = gzip.compress(body.encode())
    (data / "rows.jsonl.gz").write_bytes(whole[: len(whole) * 3 // 4])
    params = {"shard_bytes": 10**6, "sources": [{"name": "stack", "type": "dataset", "path": str(data)}]}
    stats = ingest.ingest(params, tmp_path / "out")
    kept = shards.read_documents(tmp_path / "out" / "00000.parquet").height
    assert 0 < kept < 400
    rejected = shards.read_parquet(tmp_path / "out" / "rejected.parquet")
    assert rejected["path"].to_list() == [f"{data / 'rows.jsonl.gz'}:{kept + 1}"]
    assert f"unreadable from line {kept + 1}" in rejected["detail"][0]
    assert stats["dropped"]["malformed_row"]["documents"] == 1


def test_bad_web_pages_and_notebooks_are_named_in_rejected_and_the_good_ones_kept(tmp_path, capsys):
    """The issue's bad inputs in one ingest run through `opencoder ingest`: HTML that is not UTF-8, an
    empty page, a page without a URL, a corrupt WARC record, a malformed JSONL line, a notebook that is not JSON."""
    from test_ingest_notebooks import analysis_notebook
    from test_web_ingest import html, warc_record

    site = tmp_path / "site"
    site.mkdir()
    (site / "good.html").write_text(html("Good page"))
    (site / "latin.html").write_bytes(html("Café").encode("latin-1"))  # no charset declared: UTF-8 expected
    (site / "empty.html").write_text("<html><body>  </body></html>")
    first = warc_record("https://a.org/1", html("One").encode())
    corrupt = b"WARC/1.0\r\nno colon here\r\n\r\nxx\r\n\r\n"
    (tmp_path / "crawl.warc").write_bytes(first + corrupt + warc_record(None, html("Two").encode())
                                           + warc_record("https://b.org/3", html("Three").encode()))
    (tmp_path / "pages.jsonl").write_text(json.dumps({"url": "https://c.org/x", "text": "A page."}) + "\n"
                                          + json.dumps({"text": "no url"}) + "\n" + '{"url": "https://c.org/y", "te\n')
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "analysis.ipynb").write_text(analysis_notebook())
    (repo / "broken.ipynb").write_text("this is not JSON")
    params = {"notebooks": NOTEBOOKS, "shard_bytes": 10**6, "sources": [
        {"name": "site", "type": "web", "path": str(site), "url_prefix": "https://docs.example.org/"},
        {"name": "crawl", "type": "web", "path": str(tmp_path / "crawl.warc")},
        {"name": "shards", "type": "web", "path": str(tmp_path / "pages.jsonl")},
        {"name": "repo", "type": "directory", "path": str(repo)},
    ]}
    out = tmp_path / "ingest"
    assert opencoder(["ingest", "--output", str(out), "--params", json.dumps(params)]) == 0
    docs = shards.read_documents(out / "00000.parquet")
    assert sorted(docs["path"]) == ["analysis.ipynb", "https://a.org/1", "https://b.org/3", "https://c.org/x",
                                    "https://docs.example.org/good.html"]
    rejected = {(row["source"], row["reason"]): row for row in shards.read_parquet(out / "rejected.parquet").iter_rows(named=True)}
    warc = tmp_path / "crawl.warc"
    assert {key: row["path"] for key, row in rejected.items()} == {
        ("site", "not_utf8"): "https://docs.example.org/latin.html",  # a page is named by its URL ...
        ("site", "empty_page"): "https://docs.example.org/empty.html",
        ("crawl", "corrupt_warc_record"): f"{warc}@{len(first)}",
        ("crawl", "no_url"): f"{warc}@{len(first) + len(corrupt)}",
        ("shards", "no_url"): f"{tmp_path / 'pages.jsonl'}#row1",
        ("shards", "malformed_row"): f"{tmp_path / 'pages.jsonl'}:3",
        ("repo", "broken_notebook"): "broken.ipynb",
    }
    assert rejected[("site", "not_utf8")]["detail"].startswith(f"{site / 'latin.html'}: ")  # ... its detail by its file
    assert rejected[("site", "empty_page")]["detail"].startswith(f"{site / 'empty.html'}: ")
    for key in (("crawl", "corrupt_warc_record"), ("crawl", "no_url"), ("shards", "no_url")):
        assert rejected[key]["detail"].startswith(rejected[key]["path"] + ": "), key
    assert rejected[("shards", "malformed_row")]["detail"].startswith(f"{tmp_path / 'pages.jsonl'}: line 3: not a JSON object")
    assert "broken.ipynb: notebook is not JSON" in rejected[("repo", "broken_notebook")]["detail"]
    assert "not valid utf-8 at byte" in rejected[("site", "not_utf8")]["detail"]
