"""What `web.classifier.max_chars` changes: one recall round at each value, on a built default's pages.

    .venv/bin/python bench/web_max_chars.py --build results/default 100000 20000 10000 5000

Runs round 1 (`opencoder.data.web.recall.run_round`, the build's tokenizer and the config's settings)
once per value and prints its CPU time, pages recalled, held-out precision/recall and how many pages'
decisions differ from the largest value's.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from opencoder.core.config import load
from opencoder.data.web import classifier, cli, recall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", type=Path, default=Path("results/default"), help="a built out_dir with web pages")
    parser.add_argument("values", nargs="+", type=int, help="max_chars values")
    args = parser.parse_args()
    web = load()["web"]
    params = cli.round_params(web, 1)
    pages = cli.read_pages(sorted((args.build / "filter").glob("[0-9][0-9][0-9][0-9][0-9].parquet")))
    seeds = recall.initial_seeds(pages, params["seeds"]["positive_urls"])
    print(f"{pages.height} pages, mean {pages['text'].str.len_chars().mean():.0f} characters")
    recalled = {}
    for value in args.values:
        segment = classifier.Segmenter(args.build / "tokenizer" / "tokenizer.json", value)
        start = time.process_time()
        result = recall.run_round(pages, seeds, segment, params, 1, web["seed"])
        scores, held_out = result["scores"], result["report"]["held_out"]
        recalled[value] = set(scores.filter(scores["recalled"])["id"].to_list())
        print(f"max_chars {value}: {time.process_time() - start:.1f} s CPU, {len(recalled[value])} recalled, "
              f"held-out precision {held_out['precision']:.3f} recall {held_out['recall']:.3f}")
    reference = max(recalled)
    for value, ids in recalled.items():
        print(f"max_chars {value}: {len(ids ^ recalled[reference])} pages decided otherwise than at {reference}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
