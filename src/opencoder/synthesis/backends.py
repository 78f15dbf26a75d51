"""Generation backends behind one interface: a teacher turns chat requests into responses.

- `transformers`: in-process generation from a local folder, a GGUF file (`package://…` included)
  or a Hub id, loaded by `opencoder.training.import_hf.load_hf`, in batches of requests that share
  their sampling parameters (left padding).
- `openai`: any OpenAI-compatible server (vLLM, SGLang, `transformers serve`): `/v1/chat/completions`
  with concurrent requests, retries with exponential backoff on connection errors, timeouts, 429 and
  5xx answers, and an optional rate limit (requests per minute).

`Teacher.generate(requests)` yields one `Response` per request as each finishes (any order), so the
caller stores every finished sample before the next one arrives. A request the teacher cannot serve
(prompt longer than the context, a malformed answer from the server) is a `Response` with `error`
set: a counted rejection, never an exception. An unreachable server is a `BackendError` (one line,
naming the server); everything that finished before it is already in the caller's hands.

`Teacher.identity` is what a sample records about its teacher: the backend, the model and a hash of
its weight files (`transformers`) or the model name the server reports (`openai`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from opencoder.core.config import ConfigError
from opencoder.core.errors import OpencoderError

log = logging.getLogger(__name__)
BACKENDS = ("transformers", "openai")


class BackendError(OpencoderError, RuntimeError):
    """The teacher cannot be reached or loaded at all (not one bad response: that is a rejection)."""


@dataclass(frozen=True)
class Request:
    key: str  # the cache key: the caller's identity of this sample
    messages: tuple  # ({"role", "content"}, ...)
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    seed: int = 0

    def sampling(self) -> tuple:
        return self.temperature, self.top_p, self.max_new_tokens


@dataclass
class Response:
    key: str
    text: str | None = None
    prompt_tokens: int = 0
    tokens: int = 0  # generated tokens
    finish: str = ""  # "stop" (the model ended), "length" (cut at max_new_tokens), "" on error
    error: str | None = None  # why there is no usable text (a counted rejection)
    extra: dict = field(default_factory=dict)


class Teacher:
    """The interface: `identity` (dict) and `generate(requests)` yielding responses as they finish."""

    identity: dict

    def generate(self, requests: Iterable[Request]) -> Iterator[Response]:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        pass


def file_digest(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode() + b"\0")
        with open(p, "rb") as f:
            while chunk := f.read(1 << 22):
                h.update(chunk)
    return h.hexdigest()[:16]


# ------------------------------------------------------------------------------ transformers ---
class TransformersTeacher(Teacher):
    """In-process generation with transformers, `batch_size` requests at a time."""

    def __init__(self, model: str, batch_size: int = 8, threads: int | None = None, trust_remote_code: bool = False):
        import torch

        from opencoder.training.import_hf import SourceError, resolve

        if threads:
            torch.set_num_threads(threads)
        try:
            where, gguf = resolve(model)
        except SourceError as exc:
            raise BackendError(f"teacher {exc}") from None
        folder = Path(where)
        if gguf:
            weights = [folder / gguf]
        elif folder.is_dir():
            weights = [p for p in folder.iterdir() if p.suffix in {".safetensors", ".bin", ".gguf"}]
        else:
            weights = []
        self.source, self.trust_remote_code = model, trust_remote_code
        self.identity = {"backend": "transformers", "model": model,
                         "weights_sha256": file_digest(weights) if weights else f"hub:{model}"}
        self.batch_size = batch_size
        self.model = self.tokenizer = None  # loaded on the first request: a fully cached run never loads it

    def _load(self) -> None:
        from opencoder.training.import_hf import SourceError, load_hf

        try:
            self.model, self.tokenizer = load_hf(self.source, trust_remote_code=self.trust_remote_code)
        except SourceError as exc:
            raise BackendError(f"teacher {exc}") from None
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.context = getattr(self.model.config, "max_position_embeddings", None)

    def generate(self, requests: Iterable[Request]) -> Iterator[Response]:
        import torch

        if self.model is None:
            self._load()
        pending: dict[tuple, list[Request]] = {}
        for r in requests:
            group = pending.setdefault(r.sampling(), [])
            group.append(r)
            if len(group) == self.batch_size:
                yield from self._batch(pending.pop(r.sampling()), torch)
        for group in pending.values():
            yield from self._batch(group, torch)

    def _batch(self, batch: list[Request], torch) -> Iterator[Response]:
        tok = self.tokenizer
        texts, ok = [], []
        for r in batch:
            text = tok.apply_chat_template(list(r.messages), tokenize=False, add_generation_prompt=True)
            n = len(tok(text, add_special_tokens=False).input_ids)
            if self.context and n + r.max_new_tokens > self.context:
                yield Response(r.key, prompt_tokens=n, error=f"prompt too long: {n} + {r.max_new_tokens} new tokens "
                                                              f"> the teacher's context of {self.context}")
                continue
            texts.append(text)
            ok.append(r)
        if not ok:
            return
        first = ok[0]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        sample = first.temperature > 0
        kwargs = {"do_sample": sample, "max_new_tokens": first.max_new_tokens, "pad_token_id": tok.pad_token_id}
        if sample:
            kwargs.update(temperature=first.temperature, top_p=first.top_p)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        torch.manual_seed(first.seed)  # a batch is seeded by its first request's seed (recorded per sample)
        with torch.no_grad():
            out = self.model.generate(**enc, **kwargs)
        new = out[:, enc.input_ids.shape[1]:]
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        eos = {tok.eos_token_id} | set(configured if isinstance(configured, list) else [configured])
        for i, r in enumerate(ok):
            ids = new[i].tolist()
            end = next((j for j, t in enumerate(ids) if t in eos), None)
            kept = ids if end is None else ids[:end]
            prompt_tokens = int(enc.attention_mask[i].sum())
            yield Response(r.key, tok.decode(kept, skip_special_tokens=True), prompt_tokens, len(kept),
                           "length" if end is None else "stop", extra={"batch_seed": first.seed})


# ------------------------------------------------------------------------------------ openai ---
class RateLimiter:
    """At most `per_minute` starts in any minute, evenly spaced (None: no limit)."""

    def __init__(self, per_minute: float | None):
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next)
            self.next = start + self.interval
        if start > now:
            time.sleep(start - now)


class Unreachable(Exception):
    pass


class OpenAITeacher(Teacher):
    """Chat completions from an OpenAI-compatible server, `concurrency` requests in flight."""

    def __init__(self, base_url: str, model: str | None = None, api_key_env: str | None = "OPENAI_API_KEY",
                 concurrency: int = 8, requests_per_minute: float | None = None, retries: int = 4,
                 backoff_s: float = 1.0, timeout_s: float = 300.0, max_response_chars: int = 100_000):
        import requests

        self.requests = requests
        self.base = base_url.rstrip("/")
        self.session = requests.Session()
        key = os.environ.get(api_key_env) if api_key_env else None
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"
        self.concurrency, self.retries, self.backoff, self.timeout = concurrency, retries, backoff_s, timeout_s
        self.max_chars = max_response_chars
        self.limiter = RateLimiter(requests_per_minute)
        self.sent = 0  # HTTP requests made (tests count them)
        try:
            listed = self._call("GET", "/models")
        except Unreachable as exc:
            raise BackendError(f"teacher server {self.base}: unreachable ({exc})") from None
        names = [m.get("id") for m in listed.get("data", []) if isinstance(m, Mapping)] if isinstance(listed, Mapping) else []
        if model is None:
            if not names:
                raise BackendError(f"teacher server {self.base}: lists no model; set synthetic.teacher.model")
            model = names[0]
        self.model = model
        self.identity = {"backend": "openai", "model": model, "server": self.base}

    def _call(self, method: str, path: str, body: dict | None = None):
        """The decoded JSON answer; `Unreachable` once the retries are spent; ValueError for a
        malformed answer (not JSON, or a 4xx other than 429)."""
        delay = self.backoff
        last = ""
        for attempt in range(self.retries + 1):
            self.limiter.wait()
            try:
                self.sent += 1
                resp = self.session.request(method, self.base + path, json=body, timeout=self.timeout)
            except (self.requests.ConnectionError, self.requests.Timeout) as exc:
                last = type(exc).__name__ + ": " + str(exc).split("\n")[0][:200]
            else:
                if resp.status_code == 429 or resp.status_code >= 500:
                    last = f"HTTP {resp.status_code}"
                elif resp.status_code >= 400:
                    raise ValueError(f"HTTP {resp.status_code}: {resp.text[:200]}")
                else:
                    try:
                        return resp.json()
                    except json.JSONDecodeError:
                        raise ValueError(f"not JSON: {resp.text[:100]!r}") from None
            if attempt < self.retries:
                log.warning("%s%s: %s; retry %d/%d in %.1fs", self.base, path, last, attempt + 1, self.retries, delay)
                time.sleep(delay)
                delay *= 2
        raise Unreachable(f"{last} after {self.retries + 1} tries")

    def _one(self, r: Request) -> Response:
        body = {"model": self.model, "messages": list(r.messages), "max_tokens": r.max_new_tokens,
                "temperature": r.temperature, "top_p": r.top_p, "seed": r.seed}
        try:
            data = self._call("POST", "/chat/completions", body)
        except ValueError as exc:
            return Response(r.key, error=f"malformed response: {exc}")
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"]
            if not isinstance(text, str):
                raise TypeError("content is not a string")
            usage = data.get("usage") or {}
        except (KeyError, IndexError, TypeError) as exc:
            return Response(r.key, error=f"malformed response: {type(exc).__name__} {exc}")
        if len(text) > self.max_chars:
            return Response(r.key, error=f"response over the length limit: {len(text)} > {self.max_chars} characters")
        return Response(r.key, text, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0),
                        "length" if choice.get("finish_reason") == "length" else "stop",
                        extra={"server_model": data.get("model"), "fingerprint": data.get("system_fingerprint")})

    def generate(self, requests: Iterable[Request]) -> Iterator[Response]:
        todo = iter(requests)
        with ThreadPoolExecutor(self.concurrency) as pool:
            running = set()
            failure = None
            while True:
                while failure is None and len(running) < self.concurrency and (r := next(todo, None)) is not None:
                    running.add(pool.submit(self._one, r))
                if not running:
                    break
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for f in done:
                    try:
                        yield f.result()
                    except Unreachable as exc:  # finish what is in flight, then stop
                        failure = failure or exc
            if failure is not None:
                raise BackendError(f"teacher server {self.base}: unreachable ({failure}); "
                                   "finished samples are kept, a rerun resumes")


def make_teacher(cfg: Mapping, threads: int | None = None) -> Teacher:
    """The teacher `synthetic.teacher` configures."""
    backend = cfg.get("backend")
    if backend == "transformers":
        return TransformersTeacher(cfg["model"], batch_size=cfg.get("batch_size", 8), threads=threads,
                                   trust_remote_code=cfg.get("trust_remote_code", False))
    if backend == "openai":
        o = cfg.get("openai") or {}
        if not o.get("base_url"):
            raise ConfigError("synthetic.teacher.openai.base_url: needed by the openai backend")
        return OpenAITeacher(o["base_url"], o.get("model") or None, o.get("api_key_env", "OPENAI_API_KEY"),
                             o.get("concurrency", 8), o.get("requests_per_minute"), o.get("retries", 4),
                             o.get("backoff_s", 1.0), o.get("timeout_s", 300.0), cfg.get("max_response_chars", 100_000))
    raise ConfigError(f"synthetic.teacher.backend: {backend!r}, expected one of {BACKENDS}")
