"""Web recall rounds inside the Snakemake workflow: pages through ingest, dedup and filter, three real
rounds, the last round's pages as the `web` token group, and a change to round 2's threshold reruns
rounds 2 and 3 only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from smoke_workflow import snakemake

DOCS = Path("/usr/share/doc/python3.11/html/_sources/library")
LICENSES = Path("/usr/share/common-licenses")


def pages_of(files: list[Path], per_page: int) -> list[str]:
    blocks = [b.strip() for f in files for b in f.read_text(encoding="utf-8", errors="replace").split("\n\n")
              if len(b.strip()) >= 200]
    return ["\n\n".join(blocks[i:i + per_page]) for i in range(0, len(blocks) - per_page + 1, per_page)]


@pytest.mark.slow
def test_rounds_run_and_a_round_threshold_change_reruns_that_round_and_later_only(tmp_path):
    code = pages_of(sorted(DOCS.glob("*.rst.txt"))[:60], 4)[:120]
    other = pages_of(sorted(p for p in LICENSES.iterdir() if p.is_file()), 4)[:120]
    rows = [{"url": f"https://docs.python.org/3.11/{'tutorial' if i % 2 else 'library'}/p{i}.html", "text": t}
            for i, t in enumerate(code)]
    rows += [{"url": f"https://licenses{i % 30}.example.org/text/{i}", "text": t} for i, t in enumerate(other)]
    (tmp_path / "pages.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    config = {"out_dir": str(out), "tokenizer": {"vocab_size": 1000, "sample_bytes": 1000000},
              "ingest": {"shard_bytes": 200000, "sources": [  # code for the tokenizer's corpus, and the pages
                  {"name": "python-env", "type": "python_env", "include": ["stdlib/json/**"], "exclude": ["**/__pycache__/**"]},
                  {"name": "web", "type": "web", "path": str(tmp_path / "pages.jsonl")}]},
              "web": {"seeds": {"positive_urls": ["docs.python.org/3.11/tutorial/%"]}}}
    snakemake(tmp_path, config, "web_recall", "tokens")
    reports = [json.loads((out / "web" / f"round{k}" / "stats.json").read_text())["extra"] for k in (1, 2, 3)]
    first = reports[0]
    assert first["pages_scored"] > 150 and first["pages_recalled"] > 0
    assert "docs.python.org" in first["marked_domains"]
    assert reports[1]["seeds"]["positives"] == first["seeds"]["positives"] + first["pages_added_by_url_patterns"]
    blend = json.loads((out / "tokens" / "blend.json").read_text())
    assert blend["groups"]["web"]["documents"] == reports[2]["pages_recalled"] > 0  # the last round's pages, only them
    assert [w for w, name in blend["blend"] if name == "web"] == [0.074]

    config["web"]["rounds"] = [{}, {"threshold": 0.6}, {}]
    plan = snakemake(tmp_path, config, "web_recall", "-n")
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", plan.stdout, re.MULTILINE))
    assert jobs.get("web_round") == "2", plan.stdout[-2000:]
    assert "round1" not in "".join(re.findall(r"output: (.*)", plan.stdout))
