"""McEval (multilingual code generation, Chai et al. 2024) and MdEval (multilingual code debugging,
Liu et al. 2024) from their official release files: instruct-model benchmarks, which the paper
(OpenCoder, section 6, Figures 6 and 7) reports for its chat models only, as bar charts.

McEval's generation task: the Hub dataset `Multilingual-Multimodal-NLP/McEval` (config `generation`),
the same rows as one JSON-lines file per language in github.com/MCEVAL/McEval, `data/<Language>.jsonl`
(`Python.jsonl`, `CPP.jsonl`, `JavaScript.jsonl`, ...). A row: task_id (`<Language>/<n>`), prompt
(imports, docstring and signature), canonical_solution (the rest: a Python body, a C++ `{...}`),
test (a program that calls the solution and fails by exit status: an assert, a check() call),
entry_point, signature, docstring, instruction ("Write a <language> function `<signature>` to
solve the following problem: <docstring>"), level. The chat request is the instruction alone, the
user turn of McEval's `inference/inference_vllm.py` for OpenCoder and the other chat-template models
(no system prompt). The base-model prompt is the release's `prompt` (that script's base-model
branch), continued; McEval defines no stop sequences for it (Python's are HumanEval's here).

MdEval's automated program repair: the Hub dataset `Multilingual-Multimodal-NLP/MdEval`, the same
rows as github.com/PGCodeLLM/MDEVAL `data/raw_data/<task>/<Language>.jsonl`, where `bug` gives the
buggy code only (`doc`, `example`, `loc_apr` add a description, examples, the bug's lines: the
same fields). A row: question_id (`<Language>/<n>`), category and subtype (the bug type), level,
example, docstring, canonical_solution (the whole fixed code), buggy_code, bug_with_line_numbers,
fragment_lines, fragment_content, test (a program run after the code), instruction ("Observe the
following faulty <language> code ... Fix bugs in the given code snippet. The fixed code must be
placed between ```<lang>```. ..."). The chat request is MdEval's `inference/chat.py`: the system
"You are a helpful assistant", the user turn the instruction. MdEval defines no base-model prompt:
it is instruct-only (`Benchmark.instruct_only`).

Programs, as both harnesses build them: a base completion is prompt + "\\n" + completion (McEval's
reference: prompt + canonical_solution), an instruct reply's code block is the whole program; then
the test (MdEval's `excute/apr.py`: code + "\\n\\n" + test, with its header lines: `#include <cassert>`
for C++, `using System; ...` for C# when the code lacks them, PHP's `<?php` and assert options).
The reply is asked (as in the suite's other chat prompts) in an open code block of the language.
Python runs in the judge (the tests in the judge, the functions they call, McEval's entry_point or
the names MdEval's tests call, in the candidate's process); other languages through the
`eval.languages` toolchain of their name (`LANGUAGES`); a language without one (Rust, Go, HTML, ...)
is "unavailable", counted in no pass@k. MdEval's buggy code is run by `--canonical` too: it must fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from opencoder.evaluation import prompts
from opencoder.evaluation.records import BenchmarkError, called_names, hub_records, need_strings, read_records
from opencoder.evaluation.sandbox import Program

# the releases' language names (task_id prefixes, file names) -> eval.languages toolchains
LANGUAGES = {"Python": "python", "CPP": "cpp", "Java": "java", "C#": "cs", "TypeScript": "ts",
             "JavaScript": "js", "PHP": "php", "Shell": "sh"}
MCEVAL_FIELDS = ("task_id", "prompt", "canonical_solution", "test", "entry_point", "instruction")
MDEVAL_FIELDS = ("question_id", "canonical_solution", "buggy_code", "test", "instruction")
MDEVAL_SYSTEM = "You are a helpful assistant"  # inference/chat.py
HUB_CONFIGS = {"mceval": "generation", "mdeval": None}
PYTHON_STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")  # benchmarks.HUMANEVAL_STOP


@dataclass(frozen=True)
class MultilingualProblem:
    """One McEval or MdEval task: its prompts and a `Program` per completion (the `Problem` interface)."""

    task_id: str
    language: str            # the toolchain's name, or the release's language lowercased (none: unavailable)
    prompt: str              # a base model's prompt ("" for MdEval: none defined)
    context: str             # what a base completion continues
    instruction: str         # the chat request
    tests: str
    reference: str           # the canonical solution as a completion of `context`
    entry_points: tuple[str, ...]  # Python: the functions the tests call in the candidate
    header: str = ""         # MdEval's lines put before every program of the language
    buggy: str = ""          # MdEval: the code to fix; as a completion it must fail
    system: str | None = None

    @property
    def stop(self) -> tuple[str, ...]:
        return PYTHON_STOP if self.language == "python" else ()

    @property
    def must_fail(self) -> tuple[str, ...]:
        """Completions the tests must fail (`Problem.must_fail`): MdEval's buggy code, or the tests miss the bug."""
        return (self.buggy,) if self.buggy else ()

    def instruct_messages(self) -> list[dict[str, str]]:
        fence = prompts.LANGUAGES.get(self.language, (None, self.language))[1]
        system = [{"role": "system", "content": self.system}] if self.system else []
        return [*system, {"role": "user", "content": self.instruction},
                {"role": "assistant", "content": f"```{fence}\n"}]

    def program(self, completion: str, instruct: bool = False) -> Program:
        """A base completion continues `context`; an instruct reply's code block is the whole program."""
        if instruct and self.language == "python":
            code = prompts.extract_code(completion)
        elif instruct:
            code = prompts.extract_code(completion, self.language, self.entry_points[0] if self.entry_points else None)
        else:
            code = self.context + completion
        code = self.header_for(code) + code
        if self.language in ("js", "ts"):  # the releases' tests use console.assert, which only prints in Node
            code = ASSERT_THROWS + code
        if self.language == "python":
            return Program(completion=code, tests=self.tests, entry_points=self.entry_points)
        return Program(completion=code + "\n", tests=self.tests, language=self.language)

    def header_for(self, code: str) -> str:
        """MdEval's header lines, unless the code has them (its `check_excute`: C++ and C# when missing,
        PHP's always)."""
        if self.language == "cpp" and "#include<cassert>" in code or self.language == "cs" and "using System;" in code:
            return ""
        return self.header


ASSERT_THROWS = ('console.assert = function (ok, ...message) {\n'
                 '    if (!ok) throw new Error(["Assertion failed", ...message].join(" "));\n};\n')
MDEVAL_HEADERS = {
    "cpp": "#include <cassert>\n",
    "cs": "using System;\nusing System.Collections.Generic;\nusing System.Diagnostics;\n",
    "php": "<?php\nassert_options(ASSERT_ACTIVE, 1);\nassert_options(ASSERT_BAIL, 1);\n\n",
}


def _language(task_id, where: str) -> str:
    if not isinstance(task_id, str) or "/" not in task_id:
        raise BenchmarkError(f"{where}: id {task_id!r} is not '<Language>/<number>'")
    name = task_id.split("/", 1)[0]
    return LANGUAGES.get(name, name.lower())


def mceval_problem(record: Mapping, where: str) -> MultilingualProblem:
    need_strings(record, MCEVAL_FIELDS, where)
    if not record["entry_point"].strip():
        raise BenchmarkError(f"{where}: empty entry_point")
    prompt = record["prompt"]
    return MultilingualProblem(
        task_id=record["task_id"], language=_language(record["task_id"], where), prompt=prompt,
        context=prompt if prompt.endswith("\n") else prompt + "\n", instruction=record["instruction"],
        tests=record["test"], reference=record["canonical_solution"], entry_points=(record["entry_point"],))


def mdeval_problem(record: Mapping, where: str) -> MultilingualProblem:
    need_strings(record, MDEVAL_FIELDS, where)
    language = _language(record["question_id"], where)
    entry = called_names(record["test"], where) if language == "python" else ()
    return MultilingualProblem(
        task_id=record["question_id"], language=language, prompt="", context="",
        instruction=record["instruction"], tests=record["test"], reference=record["canonical_solution"],
        entry_points=entry, header=MDEVAL_HEADERS.get(language, ""), buggy=record["buggy_code"],
        system=MDEVAL_SYSTEM)


def release_files(path: Path) -> list[Path]:
    """One release file, or every `<Language>.jsonl` of a release folder."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise BenchmarkError(f"{path}: no such file or folder")
    found = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith((".jsonl", ".json", ".jsonl.gz")))
    if not found:
        raise BenchmarkError(f"{path}: no release files (<Language>.jsonl) in the folder")
    return found


def loader(name: str):
    """The `load_with` of `mceval` or `mdeval`: (spec, instruct) -> (source, problems)."""
    make = mceval_problem if name == "mceval" else mdeval_problem

    def load(spec: Mapping, instruct: bool = False) -> tuple[str, list[MultilingualProblem]]:
        if spec.get("path"):
            problems = []
            for path in release_files(Path(spec["path"])):
                problems += [make(r, f"{path}: row {i}") for i, r in enumerate(read_records(path), 1)]
            return str(spec["path"]), problems
        config = spec.get("hub_config") or HUB_CONFIGS[name]
        source = spec["hub_id"] + (f" ({config})" if config else "")
        rows = hub_records(spec["hub_id"], spec.get("split") or "test", config)
        return source, [make(r, f"{source}: row {i}") for i, r in enumerate(rows, 1)]

    return load
