"""Running the workflow on the smoke config from a test, with a test's own config on top."""

from __future__ import annotations

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
