"""datatrove's MinHash dedup on the same shards (run with bench/.venv-datatrove/bin/python).

The four stages of datatrove's MinHash example, with `workers` processes each. Shingles are made
as close to ours as datatrove allows: its text simplification without number or diacritic
normalisation, then whitespace words (instead of its default spaCy tokenizer), 5-grams, and
64-bit SHA-1 shingle hashes (its xxhash path passes str, which xxhash 4.1 refuses).
The cluster stage also writes each clustered document's cluster (`save_cluster_id`), so that the
benchmark can compare clusters rather than which member is kept.
Prints one JSON line: seconds per stage and the folders of clusters, kept and removed documents.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                              MinhashDedupFilter, MinhashDedupSignature)
from datatrove.pipeline.readers import ParquetReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.hashing import HashConfig
from datatrove.utils.text import TextNormConfig
from datatrove.utils.word_tokenizers import WordTokenizer


class WhitespaceWords(WordTokenizer):
    """Words of the simplified text split on spaces: the unit our shingles use."""

    def __init__(self):
        super().__init__("en")

    def word_tokenize(self, text: str) -> list[str]:
        return text.split()

    def sent_tokenize(self, text: str) -> list[str]:
        return [text]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        raise NotImplementedError


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--input", required=True, type=Path)
    p.add_argument("--work", required=True, type=Path)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--bands", type=int, default=14)
    p.add_argument("--rows", type=int, default=8)
    args = p.parse_args()
    config = MinhashConfig(n_grams=5, num_buckets=args.bands, hashes_per_bucket=args.rows, seed=1,
                           norm_config=TextNormConfig(norm_numbers=False, norm_unicode_diacritics=False),
                           hash_config=HashConfig(precision=64, hash_fc="sha1"))
    tasks = len(list(args.input.glob("*.parquet")))
    work = args.work
    reader = lambda: ParquetReader(str(args.input), text_key="text", id_key="id", glob_pattern="*.parquet")  # noqa: E731
    stages = {
        "signatures": LocalPipelineExecutor(
            [reader(), MinhashDedupSignature(str(work / "signatures"), config=config, language=WhitespaceWords())],
            tasks=tasks, workers=args.workers, logging_dir=str(work / "logs/signatures"), start_method="fork"),
        "buckets": LocalPipelineExecutor(
            [MinhashDedupBuckets(str(work / "signatures"), str(work / "buckets"), config=config)],
            tasks=config.num_buckets, workers=args.workers, logging_dir=str(work / "logs/buckets"), start_method="fork"),
        "clusters": LocalPipelineExecutor(
            [MinhashDedupCluster(str(work / "buckets"), str(work / "remove_ids"), config=config, save_cluster_id=True)],
            tasks=1, logging_dir=str(work / "logs/clusters"), start_method="fork"),
        "remove": LocalPipelineExecutor(
            [reader(), MinhashDedupFilter(str(work / "remove_ids"), exclusion_writer=JsonlWriter(str(work / "removed"))),
             JsonlWriter(str(work / "kept"))],
            tasks=tasks, workers=args.workers, logging_dir=str(work / "logs/remove"), start_method="fork"),
    }
    times = {}
    t0 = time.perf_counter()
    for name, executor in stages.items():
        t = time.perf_counter()
        executor.run()
        times[name] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t0
    print(json.dumps({"seconds": times, "clusters": str(work / "remove_ids"), "kept": str(work / "kept"),
                      "removed": str(work / "removed")}))


if __name__ == "__main__":
    main()
