"""The build report: every figure drawn from its stats files, byte-identical when redrawn; and the
report HTML of the smoke build, opened in headless Chromium, shows every figure."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from opencoder.data import funnel

from opencoder.release import report

from opencoder.core import shards, stats
from opencoder.training.metrics import MetricsLog
from opencoder.training.metrics import read as read_metrics

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"
FIGURES = ["funnel_stages", "funnel_languages", "filter_rules", "dedup_clusters", "tokens", "training",
           "throughput", "eval", "web_recall"]  # the smoke build has web pages: web_recall too


def _docs(spec: dict[str, int]) -> pl.DataFrame:
    rows = [(lang, 100 + i) for lang, n in spec.items() for i in range(n)]
    return pl.DataFrame({"language": [r[0] for r in rows], "bytes": [r[1] for r in rows]})


@pytest.fixture
def stats_dir(tmp_path):
    """Stats files in the layout the stages write, made with the stages' own writers."""
    before = _docs({"python": 40, "java": 30, "html": 20})
    after = _docs({"python": 30, "java": 10, "html": 5})
    for stage in ("ingest", "preprocess", "exact", "fuzzy", "transform", "filter", "corpus"):
        shards.write_json(stats.stage_stats(stage, before, after, dropped={"rule": before.head(45)},
                                            extra={"hits": {"qsc_code_num_words": 12, "qsc_code_num_chars": 7}}),
                          tmp_path / stage / "00000.stats.json")
    shards.write_json(funnel.gather(tmp_path), tmp_path / "corpus" / "funnel.json")
    shards.write_parquet(pl.DataFrame({"id": [f"d{i}" for i in range(7)], "cluster_id": [1, 1, 1, 2, 3, 3, 4]}),
                         tmp_path / "fuzzy" / "removed.parquet")
    shards.write_json({"extra": {"groups": {"code": {"documents": 40, "tokens": 90000},
                                            "text": {"documents": 5, "tokens": 8000}}}}, tmp_path / "tokens" / "stats.json")
    for stage, steps in (("pretrain", 6), ("anneal", 3)):
        log = MetricsLog(tmp_path / stage / "work.jsonl")
        for step in range(1, steps + 1):
            log.write({"stage": stage, "step": step, "loss": 9.0 / step, "lr": 1e-3 / step, "tokens": step * 512,
                       "tokens_per_s": 1000.0 + step, "mfu": None, "grad_norm": 1.0})
        log.publish(tmp_path / stage / "metrics.jsonl")
    shards.write_json({"pass@1": 0.0366, "problems": 164}, tmp_path / "eval" / "humaneval" / "summary.json")
    shards.write_json({"pass@1": 0.125, "problems": 8}, tmp_path / "eval_instruct" / "humaneval" / "summary.json")
    shards.write_json({"pass@1": 0.5, "problems": 4}, tmp_path / "eval_instruct" / "multiple_sh" / "summary.json")
    for k in (1, 2):
        shards.write_json({"extra": {"round": k, "pages_scored": 900, "pages_recalled": 300 + 50 * k, "domains_marked": k,
                                     "pages_added_by_url_patterns": 40 // k, "seeds": {"positives": 40 + 40 * (k - 1)},
                                     "held_out": {"precision": 0.9, "recall": None if k == 2 else 0.7}}},
                          tmp_path / "web" / f"round{k}" / "stats.json")
    return tmp_path


INPUTS = {
    "funnel-stages": ["corpus/funnel.json"], "funnel-languages": ["corpus/funnel.json"],
    "filter-rules": ["filter/00000.stats.json"], "dedup-clusters": ["fuzzy/removed.parquet"],
    "tokens": ["tokens/stats.json"], "training": ["pretrain/metrics.jsonl", "anneal/metrics.jsonl"],
    "throughput": ["pretrain/metrics.jsonl", "anneal/metrics.jsonl"], "eval": ["eval/humaneval/summary.json", "eval_instruct/humaneval/summary.json"],
    "web-recall": ["web/round2/stats.json", "web/round1/stats.json"],
}


@pytest.mark.parametrize("figure", sorted(INPUTS))
def test_each_figure_is_a_png_and_redraws_identically(stats_dir, tmp_path, figure):
    args = ["--input", *(str(stats_dir / p) for p in INPUTS[figure])]
    assert report.main([figure, *args, "--output", str(tmp_path / "a.png")]) == 0
    assert report.main([figure, *args, "--output", str(tmp_path / "b.png")]) == 0
    first = (tmp_path / "a.png").read_bytes()
    assert first.startswith(PNG) and len(first) > 5000
    assert first == (tmp_path / "b.png").read_bytes()


def test_figures_show_the_numbers_of_their_files(stats_dir):
    """The drawn data are the files' numbers: funnel bars, rule hits, cluster sizes, the stitched steps."""
    fig = report.funnel_stages(shards.read_json(stats_dir / "corpus" / "funnel.json"))
    heights = sorted({round(p.get_height()) for p in fig.axes[0].patches})
    assert heights == [45, 90]
    fig = report.filter_rules([shards.read_json(stats_dir / "filter" / "00000.stats.json")])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["qsc_code_num_words", "qsc_code_num_chars"]
    fig = report.dedup_clusters(shards.read_parquet(stats_dir / "fuzzy" / "removed.parquet"))
    bars = {round(p.get_x() + p.get_width() / 2): p.get_height() for p in fig.axes[0].patches}
    assert bars == {2: 2, 3: 1, 4: 1}  # clusters 2 and 4 have one removed + the kept one, 3 has two, 1 has three
    fig = report.training_curves([read_metrics(stats_dir / s / "metrics.jsonl") for s in ("pretrain", "anneal")])
    pre, ann = fig.axes[0].get_lines()
    assert list(pre.get_xdata()) == [1, 2, 3, 4, 5, 6] and list(ann.get_xdata()) == [7, 8, 9]


def _cells(fig) -> list[list[str]]:
    cells = fig.axes[0].tables[0].get_celld()
    rows, cols = max(r for r, _ in cells) + 1, max(c for _, c in cells) + 1
    return [[cells[r, c].get_text().get_text() for c in range(cols)] for r in range(rows)]


def test_eval_table_by_model_with_the_papers_numbers_for_its_shape(stats_dir):
    paths = [stats_dir / p for p in ("eval/humaneval/summary.json", "eval_instruct/humaneval/summary.json",
                                     "eval_instruct/multiple_sh/summary.json")]
    summaries = report._summaries(paths)
    assert _cells(report.eval_table(summaries, "tiny")) == [
        ["benchmark", "base pass@1", "instruct pass@1"],
        ["humaneval", "3.7", "12.5"],
        ["multiple_sh", "-", "50.0"],
    ]
    assert _cells(report.eval_table(summaries, "opencoder-1.5b")) == [
        ["benchmark", "base pass@1", "instruct pass@1", "paper opencoder-1.5b base", "paper opencoder-1.5b instruct"],
        ["humaneval", "3.7", "12.5", "54.3", "72.5"],
        ["multiple_sh", "-", "50.0", "-", "29.7"],
    ]


def _report_results(html: str) -> dict[str, bytes]:
    """The result files embedded in Snakemake's report: name -> decoded bytes."""
    found = re.findall(r"data:[a-z]+/[a-z]+;charset=utf8;filename=([^;]+);base64,([A-Za-z0-9+/=]+)", html)
    return {name: base64.b64decode(data) for name, data in found}


# Added to a copy of the report: once the viewer has rendered, shows every embedded figure in it (its
# `app` and `results` globals, rendered synchronously with flushSync), logs which ones came up as an
# image, and leaves SHOW on screen for the screenshot.
SHOW_EACH_FIGURE = """
function whenRendered(show) {  // the viewer renders concurrently: its `app` exists once React has run
  if (typeof app === "undefined") setTimeout(() => whenRendered(show), 50); else show();
}
window.addEventListener("load", () => whenRendered(() => {
  const shown = [];
  const entries = Object.entries(results);
  for (const [path, entry] of entries) {
    ReactDOM.flushSync(() => app.setView({content: "img", contentPath: entry.data_uri, resultPath: path}));
    if ([...document.querySelectorAll("img")].some(i => i.getAttribute("src") === entry.data_uri)) shown.push(entry.name);
  }
  const [path, entry] = entries.find(([p, e]) => e.name === SHOW) || entries[0];
  ReactDOM.flushSync(() => app.setView({content: "img", contentPath: entry.data_uri, resultPath: path}));
  console.log("opencoder-figures " + JSON.stringify(shown.sort()));
}));
"""


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the first user of the shared smoke build waits for it
def test_report_of_the_smoke_build_in_headless_chromium(smoke_build, tmp_path):
    html = tmp_path / "report.html"
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "--configfile", *map(str, smoke_build.configfiles), "--cores", "2",
         "report_figures", "--report", str(html)],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-6000:]
    text = html.read_text()
    embedded = _report_results(text)
    for name in FIGURES:
        assert embedded.get(f"{name}.png") == (smoke_build.out / "report" / f"{name}.png").read_bytes(), \
            f"{name} not embedded"
    pages = sorted(p.name for p in (smoke_build.out / "report").glob("synthetic_*.html"))
    assert pages == ["synthetic_educational.html", "synthetic_snippets.html"]  # the recipes the smoke build trains on
    for page in pages:
        assert embedded.get(page) == (smoke_build.out / "report" / page).read_bytes(), f"{page} not embedded"

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is needed (SYSTEM_PACKAGES in the Makefile)"
    viewer = tmp_path / "report-viewer.html"
    end = text.rindex("</body>")
    script = SHOW_EACH_FIGURE.replace("SHOW", json.dumps("funnel_stages.png"))
    viewer.write_text(text[:end] + f"<script>{script}</script>" + text[end:])
    shot = tmp_path / "report.png"
    run = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'chromium'}",
         "--window-size=1400,1000", "--virtual-time-budget=30000", "--enable-logging=stderr", "--v=0",
         f"--screenshot={shot}", viewer.as_uri()],
        capture_output=True, text=True, timeout=180, env={**os.environ, "HOME": str(tmp_path)})
    assert run.returncode == 0 and shot.read_bytes().startswith(PNG), run.stderr[-3000:]
    logged = re.search(r"opencoder-figures (\[.*?\])\"", run.stderr)
    assert logged, f"the report viewer did not finish: {run.stderr[-3000:]}"
    assert [n for n in json.loads(logged.group(1)) if n.endswith(".png")] == sorted(f"{name}.png" for name in FIGURES)
    assert len(shot.read_bytes()) > 30000, "the screenshot is blank"
