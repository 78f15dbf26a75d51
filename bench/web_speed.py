"""Web recall speed: HTML extraction and fastText scoring, pages/s on one core, ours vs datatrove.

    .venv/bin/python bench/web_speed.py [--pages 200] [--repeat 3]

Pages are the python3.11-doc HTML pages (Debian package of the set-up). Extraction: ours is
`opencoder.data.web.pages.extract` (resiliparse); datatrove's is its `Trafilatura` extractor step. Scoring:
one fastText model (trained here by `opencoder.data.web.classifier` on the extracted pages, the paper's
BPE segmentation) scores every page; ours is `Classifier.score` (segmentation included). Datatrove has
no BPE step, so it is timed two ways on the same model: `FastTextClassifierFilter` on the pages already
segmented (the fastText part alone), and the same work as ours, the pages segmented first as datatrove's
tokenizer step encodes (`tokenizers`' `encode_batch`, tokens joined by spaces) and then filtered. Each
tool runs in its own process pinned to one core (datatrove in bench/.venv-datatrove,
bench/setup_datatrove.sh), the best of `--repeat` timings counts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
HTML = Path("/usr/share/doc/python3.11/html")

DATATROVE = r'''
import json, sys, time
from datatrove.data import Document
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.filters import FastTextClassifierFilter
work, repeat = sys.argv[1], int(sys.argv[2])
html = json.load(open(work + "/html.json"))
segmented = json.load(open(work + "/segmented.json"))
texts = json.load(open(work + "/texts.json"))
def best(fn):
    times = []
    for _ in range(repeat):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return min(times)
extractor = Trafilatura(favour_precision=True, timeout=None)
def extract():
    for i, text in enumerate(html):
        extractor.extract(text)
scorer = FastTextClassifierFilter(work + "/model.bin", keep_labels=[("code", 0.5)])
scorer.model  # load before timing
def score(pages=segmented):
    for i, text in enumerate(pages):
        scorer.filter(Document(text=text, id=str(i)))
from tokenizers import Tokenizer
tokenizer = Tokenizer.from_file(work + "/tokenizer.json")
def segment_and_score():
    score([" ".join(e.tokens) for e in tokenizer.encode_batch([t[:100_000] for t in texts], add_special_tokens=False)])
print(json.dumps({"extract_s": best(extract), "score_s": best(score), "segment_score_s": best(segment_and_score)}))
'''


def ours(html: list[str], segmented_pages: list[str], model_path: Path, tokenizer: Path, repeat: int) -> dict:
    from opencoder.data.web import classifier, pages

    model = classifier.load(model_path, classifier.Segmenter(tokenizer))

    def best(fn) -> float:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    return {"extract_s": best(lambda: [pages.extract(h) for h in html]),
            "score_s": best(lambda: model.score(segmented_pages))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("WORK", "WHICH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        work = Path(args.child[0])
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        html = json.loads((work / "html.json").read_text())
        texts = json.loads((work / "texts.json").read_text())
        print(json.dumps(ours(html, texts, work / "model.bin", work / "tokenizer.json", args.repeat)))
        return 0

    from opencoder.data.web import classifier, pages
    from opencoder.tokenization.tokenizer import train as train_tokenizer

    files = sorted(HTML.rglob("*.html"))[: args.pages]
    html = [f.read_text(encoding="utf-8", errors="replace") for f in files]
    texts = [pages.extract(h) for h in html]
    with tempfile.TemporaryDirectory(prefix="web-speed-") as tmp:
        work = Path(tmp)
        train_tokenizer(texts, vocab_size=4000, special_tokens=["<|endoftext|>"]).save(str(work / "tokenizer.json"))
        segment = classifier.Segmenter(work / "tokenizer.json")
        half = len(texts) // 2  # a real model of the paper's shape; which half is "code" does not change its speed
        settings = {"dim": 256, "word_ngrams": 3, "epoch": 3, "min_count": 3, "lr": 0.1, "bucket": 2000000}
        classifier.train(texts[:half], texts[half:], segment, settings, seed=1).save(work / "model.bin")
        for name, data in (("html", html), ("texts", texts), ("segmented", segment(texts))):
            (work / f"{name}.json").write_text(json.dumps(data))
        mine = json.loads(subprocess.run([sys.executable, __file__, "--repeat", str(args.repeat), "--child", tmp, "ours"],
                                         check=True, capture_output=True, text=True).stdout)
        python = subprocess.run(["bash", str(BENCH / "setup_datatrove.sh")], check=True, capture_output=True,
                                text=True).stdout.strip().splitlines()[-1]
        run = subprocess.run(["taskset", "-c", str(min(os.sched_getaffinity(0))), python, "-c", DATATROVE, tmp,
                              str(args.repeat)], capture_output=True, text=True)
        if run.returncode:
            sys.exit(f"datatrove run failed:\n{run.stderr[-2000:]}")
        theirs = json.loads(run.stdout.strip().splitlines()[-1])
    n = len(html)
    print(f"{n} pages, {sum(map(len, html)) / 1e6:.1f} MB HTML, best of {args.repeat}, one core each\n")
    print("| step | ours pages/s | datatrove pages/s | ratio ours/datatrove |\n|---|---|---|---|")
    for step, theirs_step, label in (
            ("extract_s", "extract_s", "HTML extraction (resiliparse vs Trafilatura)"),
            ("score_s", "segment_score_s", "scoring, the same work (BPE segmentation + fastText)"),
            ("score_s", "score_s", "scoring, ours with segmentation vs datatrove's fastText part alone")):
        print(f"| {label} | {n / mine[step]:.1f} | {n / theirs[theirs_step]:.1f} | **{theirs[theirs_step] / mine[step]:.2f}x** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
