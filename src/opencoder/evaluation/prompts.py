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

MultiPL-E (Cassano et al. 2023): the base prompt is the record's own prompt (a commented function
signature, continued by the body; the tests close the function). The instruct prompt is EvalPlus's
request with the language named (`instruct_messages(text, language)`); the program is then the
prompt + the body of the reply's function of that name (`function_body`) + the tests, so the tests
run against the reply's function under the prompt's own signature (code the reply writes outside
that function, such as a helper function, is not kept).
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


# MultiPL-E's language codes: (the name a request uses, the markdown fence's tag)
LANGUAGES = {
    "python": ("Python", "python"), "cpp": ("C++", "cpp"), "java": ("Java", "java"), "cs": ("C#", "csharp"),
    "ts": ("TypeScript", "typescript"), "js": ("JavaScript", "javascript"), "php": ("PHP", "php"),
    "sh": ("Bash", "bash"),
}


def instruct_messages(problem_text: str, language: str = "python") -> list[dict[str, str]]:
    """Chat messages for an instruct model: the user turn and the start of the assistant's reply
    (EvalPlus's format, with the language named; a chat template renders them, the reply is continued)."""
    request, reply = INSTRUCT_REQUEST, INSTRUCT_REPLY
    if language != "python":
        name = LANGUAGES[language][0]
        request, reply = request.replace("Python", name), reply.replace("Python", name)
    return [
        {"role": "user", "content": f"{request}\n```\n{problem_text.strip()}\n```"},
        {"role": "assistant", "content": f"{reply}\n```{LANGUAGES[language][1]}\n"},
    ]


_FENCE = re.compile(r"```[A-Za-z0-9_+#-]*\n(.*?)(?:```|\Z)", re.S)


def extract_code(reply: str, language: str = "python", name: str | None = None) -> str:
    """The code of an instruct model's reply: a reply continued after the prefilled opening fence
    is code up to the closing fence (Python: if it parses; another language: if it defines `name`);
    otherwise the longest fenced block (defining `name`, if one does), else the whole reply."""
    head = reply.split("```", 1)[0]
    blocks = _FENCE.findall(reply)
    if language != "python":
        defining = [c for c in [head, *blocks] if c.strip() and name and function_body(c, name, language) is not None]
        if defining:
            return defining[0] if defining[0] is head else max(defining, key=len)
        return max(blocks, key=len) if blocks else reply
    if head.strip():
        try:
            ast.parse(head)
            return head
        except SyntaxError:
            pass
    return max(blocks, key=len) if blocks else reply


def signature_name(prompt: str) -> str:
    """The function a MultiPL-E prompt declares: the identifier before the first '(' of its last
    line (`bool has_close_elements(...) {`, `function f($x) {`, `f() {`)."""
    last = prompt.rstrip().splitlines()[-1]
    found = re.search(r"([A-Za-z_$][A-Za-z0-9_$]*)\s*\(", last)
    return found.group(1) if found else ""


def _matching(code: str, start: int, opening: str, closing: str, language: str) -> int | None:
    """Index of the bracket closing the one at `start`, skipping strings and comments (Bash: only
    comments: its quotes nest inside $(...)); None if it is never closed."""
    depth, i, n = 0, start, len(code)
    while i < n:
        c = code[i]
        if language != "sh" and c in "\"'`":
            i += 1
            while i < n and code[i] != c:
                i += 2 if code[i] == "\\" else 1
        elif code.startswith("//", i) and language != "sh" or c == "#" and language in ("sh", "php") and (
                i == 0 or code[i - 1] in " \t\n"):
            i = code.find("\n", i)
            i = n if i < 0 else i
            continue
        elif code.startswith("/*", i) and language != "sh":
            i = code.find("*/", i + 2)
            i = n if i < 0 else i + 1
        elif c == opening:
            depth += 1
        elif c == closing:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def function_body(code: str, name: str, language: str) -> str | None:
    """The body of the function `name` that `code` defines (between its braces, the closing one
    left out, as a base model's completion would be), or None if `code` defines no such function."""
    for found in re.finditer(rf"(?<![A-Za-z0-9_$]){re.escape(name)}\s*\(", code):
        close = _matching(code, found.end() - 1, "(", ")", language)
        if close is None:
            return None
        head = re.match(r"[^;{}()/#]*\{", code[close + 1 :])  # a return type, `throws`, a newline: then {
        if not head:
            continue
        opening = close + head.end()
        end = _matching(code, opening, "{", "}", language)
        if end is None:
            return None
        body = code[opening + 1 : end]
        body = body[1:] if body.startswith("\n") else body
        last = body.rfind("\n") + 1
        if not body[last:].strip():  # the closing brace's own indentation
            body = body[:last]
        return body if body.endswith("\n") else body + "\n"
    return None


def prompt_hash(prompts: Sequence[str | list]) -> str:
    """sha256 of every prompt of a run, in order: the same hash means the same prompts were used."""
    digest = hashlib.sha256()
    for prompt in prompts:
        digest.update(json.dumps(prompt, ensure_ascii=False).encode())
        digest.update(b"\0")
    return digest.hexdigest()


# LiveCodeBench (Jain et al. 2024), its own prompts: `lcb_runner/prompts/code_generation.py` of
# github.com/LiveCodeBench/LiveCodeBench (PromptConstants, get_generic_question_template_answer for
# chat models, get_base_model_question_template_answer for base models).
LCB_SYSTEM = ("You are an expert Python programmer. You will be given a question (problem specification) and will "
              "generate a correct Python program that matches the specification and passes all tests. You will "
              "NOT return anything except for the program.")
LCB_WITH_STARTER = ("You will use the following starter code to write the solution to the problem and enclose your "
                    "code within delimiters.")
LCB_WITHOUT_STARTER = ("Read the inputs from stdin solve the problem and write the answer to stdout (do not directly "
                       "test on the sample inputs). Enclose your code within delimiters as follows.")
LCB_BASE_STOP = ("###",)  # lcb_runner's default stop for base models (`--stop`)


def lcb_question(content: str, starter_code: str) -> str:
    """LiveCodeBench's chat request (get_generic_question_template_answer)."""
    prompt = f"### Question:\n{content}\n\n"
    if starter_code:
        prompt += f"### Format: {LCB_WITH_STARTER}\n```python\n{starter_code}\n```\n\n"
    else:
        prompt += f"### Format: {LCB_WITHOUT_STARTER}\n```python\n# YOUR CODE HERE\n```\n\n"
    return prompt + "### Answer: (use the provided format with backticks)\n\n"


def lcb_messages(content: str, starter_code: str) -> list[dict[str, str]]:
    """LiveCodeBench's chat messages (its OpenAI-chat style: system + user), with the assistant's reply
    opened on a Python code block: the eval stage continues every chat prompt from an open code block
    (`opencoder.evaluation.cli.INSTRUCT_STOP`), a step LiveCodeBench leaves to the model."""
    return [
        {"role": "system", "content": LCB_SYSTEM},
        {"role": "user", "content": lcb_question(content, starter_code)},
        {"role": "assistant", "content": "```python\n"},
    ]


def lcb_base(content: str, starter_code: str) -> str:
    """LiveCodeBench's base-model prompt (get_base_model_question_template_answer) without its one
    worked example: that example lives in LiveCodeBench's repository (few_shot_examples/generation/
    func.json, stdin.json), which no package ships, so the prompt is its format, zero-shot."""
    prompt = f"### Question\n{content}\n\n"
    if starter_code:
        prompt += f"### Starter Code\n{starter_code}\n\n"
    return prompt + "### Answer\n\n"


def lcb_extract_code(output: str) -> str:
    """The code of a base model's LiveCodeBench answer as lcb_runner's `extract_code` takes it: the
    lines between the first two lines holding a fence (```), else nothing."""
    lines = output.split("\n")
    fences = [i for i, line in enumerate(lines) if "```" in line]
    if len(fences) < 2:
        return ""
    return "\n".join(lines[fences[0] + 1 : fences[1]])
