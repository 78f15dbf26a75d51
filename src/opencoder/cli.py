"""`opencoder <stage> ...`: every stage of the workflow, runnable alone on a user's files.

The workflow's rules call exactly these commands, so a stage run by hand and a stage run by
Snakemake execute the same code. Each stage module exposes `main(argv)`. This is the one place that
turns a project error (`OpencoderError`: a bad config, a damaged or missing input) into one line,
`opencoder <stage>: <message>`, and exit status 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import logging
import sys

from opencoder.core.args import expand_argument_files
from opencoder.core.errors import OpencoderError

# stage name → module exposing `main(argv: list[str]) -> int | None`
STAGES = {
    "ingest": "opencoder.data.ingest",
    "preprocess": "opencoder.data.preprocess",
    "exact-dedup": "opencoder.data.dedup.exact",
    "fuzzy-dedup": "opencoder.data.dedup.fuzzy.cli",
    "dedup": "opencoder.data.dedup.standalone",
    "dedup-units": "opencoder.data.dedup.units",
    "dedup-explain": "opencoder.data.dedup.fuzzy.explain",
    "transform": "opencoder.data.transform",
    "filter": "opencoder.data.filter.cli",
    "web-recall": "opencoder.data.web.cli",
    "sample": "opencoder.data.sample",
    "funnel": "opencoder.data.funnel",
    "tokenizer": "opencoder.tokenization.tokenizer",
    "tokens": "opencoder.tokenization.tokens",
    "anneal-data": "opencoder.training.anneal_data",
    "synthesize": "opencoder.synthesis.synthesize",
    "sft-doctests": "opencoder.training.sft.doctests",
    "sft-data": "opencoder.training.sft.data",
    "decontaminate": "opencoder.training.sft.decontaminate",
    "sft-pack": "opencoder.training.sft.packing",
    "train": "opencoder.training.cli",
    "train-memory": "opencoder.training.memory",
    "import": "opencoder.training.import_hf",
    "export": "opencoder.training.export",
    "eval": "opencoder.evaluation.cli",
    "card": "opencoder.release.card",
    "publish": "opencoder.release.publish",
    "report": "opencoder.release.report",
    "summary": "opencoder.release.summary",
    "compare": "opencoder.release.compare",
    "variant": "opencoder.core.variants",
    "batch": "opencoder.core.batch",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in STAGES:
        known = ", ".join(STAGES)
        if argv and argv[0] not in {"-h", "--help"}:
            print(f"opencoder: unknown stage {argv[0]!r}; stages: {known}", file=sys.stderr)
            return 2
        print(f"usage: opencoder <stage> [options]\nstages: {known}\n`opencoder <stage> --help` for a stage's options")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    module = importlib.import_module(STAGES[argv[0]])
    try:
        return int(module.main(expand_argument_files(argv[1:])) or 0)
    except OpencoderError as exc:
        print(f"opencoder {argv[0]}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
