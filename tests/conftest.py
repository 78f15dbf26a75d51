"""Shared test helpers: documents in the project's schema, built from text; and the smoke build,
made once per session for the end-to-end tests that read it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
import yaml
from filelock import FileLock

from opencoder.core.documents import SCHEMA, document_id

REPO = Path(__file__).resolve().parents[1]

# The longest test files, longest first. Under `--dist loadfile` a file runs whole on one worker, so a
# long file collected late becomes the suite's tail; these start first (the SLURM test also starts the
# smoke build it compares with), the rest keep pytest's order.
LONGEST = ("test_resources_batches.py", "test_slurm.py", "test_variants.py", "test_dedup_workflow.py", "test_readme.py")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: LONGEST.index(item.path.name) if item.path.name in LONGEST else len(LONGEST))


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


@dataclass(frozen=True)
class SmokeBuild:
    """A finished smoke build: where it is and the config files that made it (pass them again, and
    Snakemake sees the same build)."""

    out: Path
    configfiles: tuple[Path, ...]


@pytest.fixture(scope="session")
def smoke_build(tmp_path_factory) -> SmokeBuild:
    """The smoke workflow's default target `all` (model folder and every report figure), built locally
    with the default workflow profile, once per test run on first use: one build takes minutes, and the
    tests that need one only read it, dry-run against it or copy it. Under pytest-xdist the workers
    share it: the first to need it builds it under a lock, the others wait and read it."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "smoke_build"
    build = SmokeBuild(root / "out", (REPO / "config" / "smoke.yaml", root / "out_dir.yaml"))
    with FileLock(f"{root}.lock"):
        failed = root / "failed.txt"
        if not (root / "done").exists() and not failed.exists():
            root.mkdir(exist_ok=True)
            build.configfiles[1].write_text(yaml.safe_dump({"out_dir": str(build.out)}))
            done = subprocess.run(
                [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--configfile",
                 *map(str, build.configfiles), "--cores", "2"],
                cwd=REPO, capture_output=True, text=True, timeout=1800,
            )
            if done.returncode == 0:
                (root / "done").touch()
            else:
                failed.write_text(f"the smoke build failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    assert not failed.exists(), failed.read_text()
    return build
