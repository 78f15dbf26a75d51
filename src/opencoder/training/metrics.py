"""Training metrics: one JSON line per optimizer step (loss, learning rate, tokens/s, MFU).

The log grows in the work directory while training runs; a resumed run first drops the lines after
its checkpoint, so the finished log reads as one uninterrupted run. It is published to the stage's
declared `metrics.jsonl` at the end, for the report.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def model_flops_utilization(tokens_per_s: float, matmul_params: int, devices: int,
                            peak_tflops: float | None) -> float | None:
    """MFU by the 6·N FLOPs per token estimate (attention FLOPs not counted); None without a peak."""
    if not peak_tflops:
        return None
    return 6.0 * matmul_params * tokens_per_s / (devices * peak_tflops * 1e12)


class MetricsLog:
    def __init__(self, path: str | Path, resume_step: int = 0):
        self.path = Path(path)
        kept = []
        if self.path.exists():
            kept = [line for line in self.path.read_text().splitlines()
                    if line.strip() and json.loads(line)["step"] <= resume_step]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(line + "\n" for line in kept))
        self._file = self.path.open("a")

    def write(self, record: dict) -> None:
        self._file.write(json.dumps(record, sort_keys=True) + "\n")
        self._file.flush()

    def publish(self, out: str | Path) -> None:
        from opencoder.core.shards import atomic_path

        self._file.close()
        with atomic_path(out) as tmp:
            shutil.copyfile(self.path, tmp)


def read(path: str | Path) -> list[dict]:
    """The records of a metrics file."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
