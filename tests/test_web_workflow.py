"""Web recall rounds inside the workflow, on the session's smoke build (config/smoke.yaml: python3.11-doc
pages and fortunes pages through ingest, dedup and filter): three real rounds, the last round's pages as
the `web` token group and none in the corpus, and a change to round 2's threshold reruns rounds 2 and 3
only."""

from __future__ import annotations

import re

import polars as pl
import pytest

from opencoder.core import shards
from smoke_workflow import dry_run, planned_jobs


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the first user of the shared smoke build waits for it
def test_rounds_run_and_a_round_threshold_change_reruns_that_round_and_later_only(smoke_build, tmp_path):
    out = smoke_build.out
    reports = [shards.read_json(out / "web" / f"round{k}" / "stats.json")["extra"] for k in (1, 2, 3)]
    first = reports[0]
    assert first["pages_scored"] > 150 and first["pages_recalled"] > 0
    assert "docs.python.org" in first["marked_domains"] and "fortunes.example" not in first["marked_domains"]
    for before, after in zip(reports, reports[1:]):  # pages the URL patterns add join the next round's seeds
        assert after["seeds"]["positives"] == before["seeds"]["positives"] + before["pages_added_by_url_patterns"]
    assert first["held_out"]["examples"] > 0 and first["held_out"]["precision"] is not None

    scores = shards.read_parquet(out / "web" / "round3" / "scores.parquet")
    recalled = scores.filter(pl.col("recalled"))
    assert recalled.height == reports[2]["pages_recalled"]
    by_domain = dict(recalled.group_by("domain").len().iter_rows())
    assert by_domain.get("docs.python.org", 0) > 2 * by_domain.get("fortunes.example", 0)  # code pages, mostly

    blend = shards.read_json(out / "tokens" / "blend.json")
    assert blend["groups"]["web"]["documents"] == reports[2]["pages_recalled"] > 0  # the last round's pages, only them
    assert [w for w, name in blend["blend"] if name == "web"] == [0.074]
    corpus = pl.concat([shards.read_documents(p) for p in sorted((out / "corpus").glob("0*.parquet"))])
    assert corpus["url"].null_count() == corpus.height  # sample keeps pages out of the corpus (weight 0)

    # nothing changed: nothing to do; round 2's threshold: rounds 2 and 3 and what reads round 3
    assert planned_jobs(dry_run(smoke_build, tmp_path, "web_recall")) == {}
    plan = dry_run(smoke_build, tmp_path, "web_recall", "tokens", extra={"web": {"rounds": [{}, {"threshold": 0.6}, {}]}})
    assert planned_jobs(plan) == {"web_round": 2, "web_recall": 1, "tokens_web": 1, "tokens": 1}
    assert "round1" not in "".join(re.findall(r"web recall round \d+ -> (.*)", plan))
