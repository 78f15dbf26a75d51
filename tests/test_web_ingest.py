"""Web pages through ingest and preprocess: text shards, HTML files, WARC files; bad pages rejected by
name with the reason, the good ones kept; `url` and `domain` filled, older shards read with nulls."""

from __future__ import annotations

import polars as pl

from opencoder.core import config, shards
from opencoder.core.documents import COLUMNS, conform
from opencoder.data import ingest, preprocess
from opencoder.data.web import pages

CONFIG = config.load()
ARTICLE = "<html><head><title>{t}</title></head><body><article><h1>{t}</h1><p>{p}</p></article></body></html>"
PROSE = "Use a list comprehension to build the list in one expression; it reads better than a loop."


def html(title: str, body: str = PROSE) -> str:
    return ARTICLE.format(t=title, p=body)


def warc_record(uri: str | None, body: bytes, content_type: str = "text/html; charset=utf-8") -> bytes:
    http = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n\r\n".encode() + body
    target = f"WARC-Target-URI: {uri}\r\n" if uri else ""
    head = (f"WARC/1.0\r\nWARC-Type: response\r\n{target}WARC-Date: 2024-01-01T00:00:00Z\r\n"
            f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(http)}\r\n\r\n").encode()
    return head + http + b"\r\n\r\n"


def run(tmp_path, spec: dict) -> tuple[pl.DataFrame, pl.DataFrame]:
    params = {**CONFIG["ingest"], "shard_bytes": 10**6, "sources": [{"name": "web", "type": "web", **spec}]}
    out = tmp_path / "ingest"
    ingest.ingest(params, out)
    return shards.read_documents(out / "00000.parquet"), pl.read_parquet(out / "rejected.parquet")


def test_text_shards_keep_url_and_domain_reject_rows_without_url_or_text(tmp_path):
    web = tmp_path / "fineweb"
    web.mkdir()
    pl.DataFrame({
        "url": ["https://www.Example.org/a", None, "https://docs.python.org/3/x", "https://blog.net/e"],
        "text": ["Page A text about loops.", "orphan text", "Python docs page.", "  "],
        "dump": ["CC-MAIN-2024"] * 4,
    }).write_parquet(web / "000.parquet")
    docs, rejected = run(tmp_path, {"path": str(web)})
    assert docs.columns == COLUMNS
    assert docs.select("path", "url", "domain", "language", "doc_type").rows() == [
        ("https://www.Example.org/a", "https://www.Example.org/a", "example.org", "web", "text"),
        ("https://docs.python.org/3/x", "https://docs.python.org/3/x", "docs.python.org", "web", "text"),
    ]
    assert dict(zip(rejected["reason"], rejected["path"])) == {
        "no_url": f"{web / '000.parquet'}#row1", "empty_page": "https://blog.net/e"}
    assert rejected.filter(pl.col("reason") == "no_url")["detail"][0].endswith("#row1: page without a URL")


def test_html_files_get_urls_from_prefix_non_utf8_and_empty_pages_rejected(tmp_path):
    site = tmp_path / "site"
    (site / "library").mkdir(parents=True)
    (site / "library" / "json.html").write_text(html("json — JSON encoder"))
    (site / "latin.html").write_bytes(html("Café").encode("latin-1"))  # no charset declared: UTF-8 expected
    (site / "declared.html").write_bytes(
        html("Café").replace("<head>", '<head><meta charset="iso-8859-1">').encode("latin-1"))
    (site / "empty.html").write_text("<html><body></body></html>")
    docs, rejected = run(tmp_path, {"path": str(site), "url_prefix": "https://docs.python.org/3.11/"})
    by_url = dict(zip(docs["url"], docs["text"]))
    assert set(by_url) == {"https://docs.python.org/3.11/library/json.html", "https://docs.python.org/3.11/declared.html"}
    assert "list comprehension" in by_url["https://docs.python.org/3.11/library/json.html"]
    assert "Café" in by_url["https://docs.python.org/3.11/declared.html"]  # decoded in its declared charset
    reasons = {row["reason"]: row["detail"] for row in rejected.iter_rows(named=True)}
    assert reasons["not_utf8"] == f"{site / 'latin.html'}: not valid utf-8 at byte 22"  # the é of <title>Café
    assert reasons["empty_page"] == f"{site / 'empty.html'}: no text after HTML extraction"


def test_warc_corrupt_record_is_named_and_the_records_after_it_kept(tmp_path):
    first = warc_record("https://a.org/1", html("One").encode())
    corrupt = b"WARC/1.0\r\nthis is not a header\r\n\r\nzzzz\r\n\r\n"
    no_url = warc_record(None, html("Two").encode())
    image = warc_record("https://a.org/img", b"\x89PNG...", content_type="image/png")
    last = warc_record("https://b.org/3", html("Three").encode())
    (tmp_path / "crawl.warc").write_bytes(first + corrupt + no_url + image + last)
    docs, rejected = run(tmp_path, {"path": str(tmp_path / "crawl.warc")})
    assert docs["url"].to_list() == ["https://a.org/1", "https://b.org/3"]
    assert docs["domain"].to_list() == ["a.org", "b.org"]
    assert "One" in docs["text"][0]
    corrupt_row = rejected.filter(pl.col("reason") == "corrupt_warc_record").row(0, named=True)
    assert corrupt_row["detail"] == f"{tmp_path / 'crawl.warc'}@{len(first)}: header line without ':': b'this is not a header'"
    assert rejected.filter(pl.col("reason") == "no_url")["path"].to_list() == [
        f"{tmp_path / 'crawl.warc'}@{len(first) + len(corrupt)}"]


def test_warc_gzip_and_truncated_last_record(tmp_path):
    import gzip

    good = warc_record("https://a.org/1", html("One").encode())
    cut = warc_record("https://a.org/2", html("Two").encode())[:-60]
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(gzip.compress(good) + gzip.compress(cut))  # one gzip member per record, as crawls do
    found = list(pages.warc_pages(path))
    assert [p.url for p in found if p.text] == ["https://a.org/1"]
    assert found[-1].reason == "corrupt_warc_record" and "block cut short" in found[-1].detail


def test_preprocess_keeps_web_pages_as_text_and_old_shards_read_with_null_url(tmp_path):
    web = tmp_path / "web.jsonl"
    web.write_text('{"url": "https://x.dev/post.html", "text": "A post about generics in Go."}\n')
    docs, _ = run(tmp_path, {"path": str(web)})
    kept, _, _ = preprocess.preprocess(docs, CONFIG["preprocess"])
    assert kept.select("language", "doc_type", "domain").row(0) == ("web", "text", "x.dev")  # not html code

    old = docs.drop("url", "domain")  # a shard written before the web columns existed
    old.write_parquet(tmp_path / "old.parquet")
    back = shards.read_documents(tmp_path / "old.parquet")
    assert back.columns == COLUMNS and back["url"].null_count() == back.height
    assert conform(old).columns == COLUMNS


def test_a_symlinked_page_is_named_not_followed(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "a.html").write_text(html("A"))
    (site / "b.html").symlink_to(site / "a.html")
    docs, rejected = run(tmp_path, {"path": str(site), "url_prefix": "https://x.org/"})
    assert docs["url"].to_list() == ["https://x.org/a.html"]
    assert rejected.select("path", "reason").rows() == [(str(site / "b.html"), "symlink")]


def test_text_pages_pack_records_into_pages_with_numbered_urls(tmp_path):
    quotes = tmp_path / "quotes"
    quotes.mkdir()
    records = [f"Quote number {i} about the sea and the sky." for i in range(10)]  # 43-44 characters each
    (quotes / "sea").write_text("\n%\n".join(records) + "\n%\n")
    (quotes / "latin").write_bytes("Caf\xe9 au lait\n%\n".encode("latin-1"))
    (quotes / "blank").write_text("%\n\n%\n")
    spec = {"path": str(quotes), "url_prefix": "https://quotes.example/", "text_pages": {"separator": "%", "page_chars": 100}}
    docs, rejected = run(tmp_path, spec)
    sea = docs.filter(pl.col("domain") == "quotes.example").sort("url")
    assert sea["url"].to_list() == [f"https://quotes.example/sea/{n}" for n in (1, 2, 3, 4)]  # 3+3+3+1 records
    assert sea["text"][0] == "\n\n".join(records[:3]) and sea["text"][3] == records[9]
    assert dict(zip(rejected["reason"], rejected["path"])) == {
        "not_utf8": "https://quotes.example/latin", "empty_page": "https://quotes.example/blank"}

    whole = run(tmp_path, {"path": str(quotes / "sea"), "url_prefix": "https://q.example/",
                           "text_pages": {"separator": None}})[0]
    assert whole["url"].to_list() == ["https://q.example/sea/1"] and whole["text"][0].count("Quote") == 10
    no_prefix = list(pages.text_pages(quotes, None, ["sea"], "%", 100))
    assert [(p.reason, p.where) for p in no_prefix] == [("no_url", str(quotes / "sea"))]
