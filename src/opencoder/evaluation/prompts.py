"""Prompt formats of the benchmarks, for base models (a text to continue) and instruct models (chat
messages), each following a named source; the one place prompts are built, so a chat-model path
(an `eval_instruct`) reuses the instruct formats here rather than writing its own.

Base formats:
- HumanEval(+): the problem's own prompt, continued (Codex paper, Chen et al. 2021; EvalPlus).
- MBPP 0-shot: the BigCode harness's `mbpp` task: the description and the first test inside a
  docstring, continued.
- MBPP 3-shot: the original MBPP paper's format (Austin et al. 2021, used by the OpenCoder paper's
  base table and by DeepSeek-Coder's and Qwen-Coder's evaluations): "You are an expert Python
  programmer, and here is your task: ... Your code should pass these tests:" with the tests, then
  the code between [BEGIN] and [DONE]; the three shots are MBPP's standard prompt tasks 2, 3, 4.

Instruct formats (EvalPlus's chat prompt, `evalplus/provider/utility.py`): the user asks for a
self-contained script solving the problem in a markdown code block; the reply is the code block,
of which the code is extracted (`extract_code`).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections.abc import Mapping, Sequence

MBPP_SHOT_IDS = (2, 3, 4)  # the standard few-shot prompt tasks of mbpp.jsonl (ids 1-10 are the prompt split)
MBPP_3SHOT_STOP = ("[DONE]",)

INSTRUCT_REQUEST = "Please provide a self-contained Python script that solves the following problem in a markdown code block:"
INSTRUCT_REPLY = "Below is a Python script with a self-contained function that solves the problem and passes corresponding tests:"


def mbpp_task(text: str, tests: Sequence[str]) -> str:
    """One MBPP task in the MBPP paper's words (the 3-shot format's building block)."""
    return (f"You are an expert Python programmer, and here is your task: {text.strip()} "
            f"Your code should pass these tests:\n\n" + "\n".join(tests) + "\n")


def mbpp_3shot(shots: Sequence[Mapping], text: str, tests: Sequence[str]) -> str:
    """The MBPP paper's 3-shot prompt: each shot with its code in [BEGIN]/[DONE], then the task."""
    parts = [f"{mbpp_task(s['text'], s['test_list'])}[BEGIN]\n{s['code'].strip()}\n[DONE]\n" for s in shots]
    return "".join(parts) + f"{mbpp_task(text, tests)}[BEGIN]\n"


def mbpp_0shot(text: str, first_test: str) -> str:
    """The BigCode harness's zero-shot MBPP prompt: description and first test in a docstring."""
    return f'"""\n{text.strip()}\n{first_test}\n"""\n'


def instruct_messages(problem_text: str) -> list[dict[str, str]]:
    """Chat messages for an instruct model: the user turn and the start of the assistant's reply
    (EvalPlus's format; a chat template renders them, the reply is continued)."""
    return [
        {"role": "user", "content": f"{INSTRUCT_REQUEST}\n```\n{problem_text.strip()}\n```"},
        {"role": "assistant", "content": f"{INSTRUCT_REPLY}\n```python\n"},
    ]


_FENCE = re.compile(r"```[A-Za-z0-9_+-]*\n(.*?)(?:```|\Z)", re.S)


def extract_code(reply: str) -> str:
    """The code of an instruct model's reply: a reply continued after the prefilled opening fence
    is code up to the closing fence; otherwise the longest fenced block, else the whole reply."""
    head = reply.split("```", 1)[0]
    if head.strip():
        try:
            ast.parse(head)
            return head
        except SyntaxError:
            pass
    blocks = _FENCE.findall(reply)
    return max(blocks, key=len) if blocks else reply


def prompt_hash(prompts: Sequence[str | list]) -> str:
    """sha256 of every prompt of a run, in order: the same hash means the same prompts were used."""
    digest = hashlib.sha256()
    for prompt in prompts:
        digest.update(json.dumps(prompt, ensure_ascii=False).encode())
        digest.update(b"\0")
    return digest.hexdigest()
