"""Running the workflow on the smoke config from a test, with a test's own config on top; planning
targets of the session's shared smoke build (tests/conftest.py) with a changed config."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def snakemake(tmp_path: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    """`snakemake ARGS` on config/smoke.yaml plus `config` (written to tmp_path), 2 cores; must succeed."""
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", *args, "-s", str(REPO / "Snakefile"), "-d", str(REPO), "-c2",
         "--configfile", str(REPO / "config" / "smoke.yaml"), str(tmp_path / "cfg.yaml")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def dry_run(build, tmp_path: Path, *targets: str, extra: dict | None = None) -> str:
    """Plan `targets` of the shared smoke build (with `extra` config on top); return Snakemake's output.
    A dry run changes nothing, so the shared build stays as it was for the other tests."""
    files = list(build.configfiles)
    if extra:
        files.append(tmp_path / "extra.yaml")
        files[-1].write_text(yaml.safe_dump(extra))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", *targets, "-s", str(REPO / "Snakefile"), "-d", str(REPO), "-c2",
         "--configfile", *map(str, files)],
        capture_output=True, text=True, check=False,  # the caller asserts on the output
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def planned_jobs(dry_run_output: str) -> dict[str, int]:
    """Rule → job count from the 'Job stats' table of a dry run (empty when nothing is to be done)."""
    table = dry_run_output.split("Job stats:", 1)[1] if "Job stats:" in dry_run_output else ""
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table.split("total", 1)[0], re.MULTILINE)}
