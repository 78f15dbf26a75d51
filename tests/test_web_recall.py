"""Web recall rounds: URL patterns, domain marking and the additions they make, on constructed pages
with a known answer; one real round on python3.11-doc prose vs license prose."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from opencoder.data.web import classifier, recall
from opencoder.tokenization.tokenizer import train as train_tokenizer

DOCS = Path("/usr/share/doc/python3.11/html/_sources/library")
LICENSES = Path("/usr/share/common-licenses")


def test_url_patterns_use_percent_wildcards_without_scheme():
    urls = pl.Series("url", ["https://juejin.cn/post/7012", "http://juejin.cn/user/1", "https://www.cnblogs.com/a/p/1.html",
                             "https://segmentfault.com/q/1010", "https://segmentfault.com/u/x", None])
    patterns = ["juejin.cn/post%", "www.cnblogs.com%", "segmentfault.com/q%"]
    assert recall.url_matches(urls, patterns).to_list() == [True, False, True, True, False, False]


def constructed() -> pl.DataFrame:
    """code.dev: 3 of 10 pages recalled (30% > 10%: marked); news.com: 1 of 20 (5%: not marked);
    edge.org: 1 of 10 (exactly 10%: not marked, the rule is 'more than')."""
    rows = []
    for domain, pages, recalled in (("code.dev", 10, 3), ("news.com", 20, 1), ("edge.org", 10, 1)):
        for i in range(pages):
            kind = "questions" if i % 2 else "users"
            rows.append({"id": f"{domain}-{i}", "url": f"https://{domain}/{kind}/{i}", "domain": domain,
                         "score": 0.9 if i < recalled else 0.1, "recalled": i < recalled})
    return pl.DataFrame(rows)


def test_domains_marked_above_share_and_missed_pattern_pages_added():
    scored = constructed()
    domains = recall.mark_domains(scored, share=0.1)
    assert domains.select("domain", "pages", "recalled", "marked").rows() == [
        ("code.dev", 10, 3, True), ("edge.org", 10, 1, False), ("news.com", 20, 1, False)]
    added = recall.pattern_additions(scored, domains, ["code.dev/questions/%", "news.com/questions/%"])
    # only the marked domain, only missed pages, only the code pattern: odd i >= 3 of code.dev
    assert sorted(added["id"].to_list()) == ["code.dev-3", "code.dev-5", "code.dev-7", "code.dev-9"]


def paragraphs(files, limit):
    out = []
    for file in files:
        out += [b.strip() for b in file.read_text(encoding="utf-8", errors="replace").split("\n\n") if len(b.strip()) >= 200]
    return out[:limit]


@pytest.fixture(scope="module")
def pages_and_segmenter(tmp_path_factory):
    code = paragraphs(sorted(DOCS.glob("*.rst.txt")), 200)
    other = paragraphs(sorted(p for p in LICENSES.iterdir() if p.is_file()), 300)
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_tokenizer(code + other, vocab_size=800, special_tokens=["<|endoftext|>"]).save(str(path))
    rows = [{"id": f"c{i}", "url": f"https://docs.example.org/{'tutorial' if i < 150 else 'library'}/{i}",
             "domain": "docs.example.org", "text": t} for i, t in enumerate(code)]
    rows += [{"id": f"o{i}", "url": f"https://legal{i % 40}.example.com/page/{i}", "domain": f"legal{i % 40}.example.com",
              "text": t} for i, t in enumerate(other)]
    return pl.DataFrame(rows), classifier.Segmenter(path)


PARAMS = {
    "negatives_per_positive": 1.0, "held_out": 0.2, "domain_share": 0.1,
    "url_patterns": ["docs.example.org/library/%"],
    "classifier": {"dim": 16, "word_ngrams": 2, "epoch": 50, "min_count": 1, "lr": 0.5, "bucket": 20000, "threshold": 0.5},
}


def test_a_round_recalls_code_pages_marks_their_domain_and_adds_pattern_pages(pages_and_segmenter):
    pages, segment = pages_and_segmenter
    seeds = recall.initial_seeds(pages, ["docs.example.org/tutorial/%"])
    assert seeds.height == 150
    out = recall.run_round(pages, seeds, segment, PARAMS, round_number=1, seed=7)
    report, scores = out["report"], out["scores"]
    assert report["pages_scored"] == pages.height and scores["score"].null_count() == 0
    # negatives are a sample of all other pages, library pages among them (as in a crawl): noisy labels
    assert report["held_out"]["precision"] >= 0.8 and report["held_out"]["recall"] >= 0.8
    code_recall = scores.filter(pl.col("id").str.starts_with("c"))["recalled"].mean()
    other_recall = scores.filter(pl.col("id").str.starts_with("o"))["recalled"].mean()
    assert code_recall >= 0.8 and other_recall <= 0.05
    assert "docs.example.org" in report["marked_domains"]
    added = set(out["next_seeds"].filter(pl.col("origin") == "url_pattern:1")["id"])
    missed_library = set(scores.filter(~pl.col("recalled") & pl.col("url").str.contains("/library/"))["id"])
    assert added == missed_library and report["pages_added_by_url_patterns"] == len(added)
    assert report["recalled_tokens"] > report["pages_recalled"]
