"""Responses by their keys, in an append-only JSONL file, so a killed job regenerates nothing it finished.

A key is the digest of everything that determines a response: the teacher's identity (model and
weights hash, or server and model name), the prompt template's hash, the rendered prompt, the
sampling parameters and the seed. Each response is appended and flushed as it arrives; a line torn
by a kill is ignored on the next start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)


def sample_key(teacher: Mapping, template_sha: str, messages, sampling: Mapping, seed: int) -> str:
    blob = json.dumps({"teacher": teacher, "template": template_sha, "messages": messages,
                       "sampling": sampling, "seed": seed}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


class Cache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.records: dict[str, dict] = {}
        if self.path.exists():
            torn = 0
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                        self.records[rec["key"]] = rec
                    except (json.JSONDecodeError, KeyError, TypeError):
                        torn += 1
            if torn:
                log.warning("%s: %d unreadable line(s) ignored (a killed job's last write)", self.path, torn)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = None

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def get(self, key: str) -> dict | None:
        return self.records.get(key)

    def put(self, record: dict) -> None:
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.records[record["key"]] = record

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
