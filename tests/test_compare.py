"""The comparison of variants (`opencoder compare`, the `compare` target) on variant folders with known numbers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from opencoder.cli import main as opencoder
from opencoder.core.variants import write_view


def stage_folder(root: Path, name: str, loss: float, docs: int, pass1: float) -> Path:
    """A variant's stage folders as a build writes them: funnel, tokens, metrics, eval summary."""
    (root / "corpus").mkdir(parents=True)
    stages = [{"stage": "ingest", "in": {"documents": 10, "bytes": 1000}, "out": {"documents": 10, "bytes": 1000}},
              {"stage": "sample", "in": {"documents": 10, "bytes": 1000}, "out": {"documents": docs, "bytes": 100 * docs}}]
    (root / "corpus" / "funnel.json").write_text(json.dumps({"stages": stages}))
    (root / "tokens").mkdir()
    (root / "tokens" / "stats.json").write_text(json.dumps({"extra": {"groups": {"code": {"tokens": 50 * docs}}}}))
    for stage, steps in (("pretrain", 3), ("anneal", 2), ("sft/stage1", 2)):
        (root / stage).mkdir(parents=True)
        (root / stage / "metrics.jsonl").write_text("".join(
            json.dumps({"step": s, "loss": loss + steps - s, "lr": 1e-3, "tokens": 1024 * s}) + "\n"
            for s in range(1, steps + 1)))
    (root / "eval" / "humaneval").mkdir(parents=True)
    (root / "eval" / "humaneval" / "summary.json").write_text(json.dumps({"benchmark": "humaneval", "pass@1": pass1}))
    return root


def test_compare_puts_each_variant_s_numbers_side_by_side(tmp_path):
    views = []
    for name, loss, docs, pass1, sample_key in (("base", 2.0, 8, 0.1, "k1"), ("strict", 2.5, 6, 0.05, "k2")):
        stages = stage_folder(tmp_path / "stages" / name / f"sample-{sample_key}", name, loss, docs, pass1)
        links = {sub: str(stages / sub) for sub in ("corpus", "tokens", "pretrain", "anneal", "sft/stage1", "eval")}
        (tmp_path / "stages" / "ingest-k0" / "ingest").mkdir(parents=True, exist_ok=True)
        links |= {"ingest": str(tmp_path / "stages" / "ingest-k0" / "ingest"), "import": str(tmp_path / "stages" / "import-k3" / "import")}
        differences = {} if name == "base" else {"filter.groups_off": [[], ["python"]]}
        write_view(tmp_path / "variants" / name, links, {"name": name, "differences": differences,
                                                          "stages": {"ingest": "k0", "sample": sample_key, "import": "k3"}})
        views.append(str(tmp_path / "variants" / name))
    assert (tmp_path / "variants" / "base" / "corpus" / "funnel.json").is_file()  # the view links its stages
    assert opencoder(["compare", "--input", *views, "--output", str(tmp_path / "compare")]) == 0
    rows = list(csv.DictReader((tmp_path / "compare" / "compare.csv").open()))
    assert [r["variant"] for r in rows] == ["base", "strict"]
    assert rows[1]["differences"] == 'filter.groups_off=["python"]'
    # ingest shared; sample not; import's key is shared but the build made no import folder
    assert [r["shared_stages"] for r in rows] == ["1", "1"]
    assert [r["sample_documents"] for r in rows] == ["8", "6"] and [r["tokens"] for r in rows] == ["400", "300"]
    # the mean of the last (up to) 10 steps: pretraining's 3 steps lose loss + 2, + 1, + 0
    assert [r["pretrain_final_loss"] for r in rows] == ["3.0", "3.5"] and rows[0]["sft_stage1_final_loss"] == "2.5"
    assert [r["eval_humaneval_pass@1"] for r in rows] == ["0.1", "0.05"] and "sft_stage2_final_loss" not in rows[0]
    table = (tmp_path / "compare" / "compare.md").read_text()
    assert "| | base | strict |" in table and "| tokens | 400 | 300 |" in table
    assert (tmp_path / "compare" / "loss.png").stat().st_size > 1000
    page = (tmp_path / "compare" / "compare.html").read_text()
    assert page.count("<tr>") == table.count("\n|") - 1  # the Markdown table's rows, header included


def test_a_variant_folder_links_its_stage_folders_in_the_single_build_layout(tmp_path):
    """`opencoder variant` (the variant_<name> rule): relative links, and variant.json with what it was given."""
    (tmp_path / "filter-abc" / "filter").mkdir(parents=True)
    (tmp_path / "filter-abc" / "filter" / "00000.parquet").write_text("x")
    (tmp_path / "sft_stage1-def" / "sft" / "stage1").mkdir(parents=True)
    spec = {"name": "a", "stages": {"filter": "abc"}, "differences": {"seed": [1234, 7]},
            "links": {"filter": str(tmp_path / "filter-abc" / "filter"), "sft/stage1": str(tmp_path / "sft_stage1-def" / "sft" / "stage1")}}
    out = tmp_path / "variants" / "a"
    assert opencoder(["variant", "--output", str(out), "--params", json.dumps(spec)]) == 0
    assert (out / "filter" / "00000.parquet").read_text() == "x" and (out / "sft" / "stage1").is_dir()
    assert not Path(str((out / "filter").readlink())).is_absolute()
    assert json.loads((out / "variant.json").read_text())["differences"] == {"seed": [1234, 7]}
