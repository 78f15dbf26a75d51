"""BigCodeBench (Zhuo et al. 2024) from its official release, Full (`bigcodebench`) and Hard
(`bigcodebench_hard`).

The release: the Hub datasets `bigcode/bigcodebench` and `bigcode/bigcodebench-hard`, one split per
version (`v0.1.4`, ...), and the same rows as JSON lines (`BigCodeBench-<version>.jsonl.gz`,
`BigCodeBench-Hard-<version>.jsonl.gz`). A row: task_id, complete_prompt (imports, signature and
docstring), instruct_prompt (the task in words with the code to start from), canonical_solution
(the function's body), code_prompt (imports and signature), test (a unittest module whose
TestCase is `TestCases`), entry_point, libs (the modules it uses: a list, or its Python repr as
the release stores it), doc_struct (not used).

`path:` is one such file (`.jsonl`, `.jsonl.gz`, `.json` or `.parquet`, taken whole) or a folder
of release files, of which the subset's is taken (a name with "hard" in it for Hard, without for
Full; `version` chooses among several); `hub_id:` loads the Hub dataset's `version` split. The
spec's `split` is BigCodeBench's: `complete` (the base models' split in the paper) or `instruct`
(the chat models'); null: complete for a base model, instruct with `--instruct`. `subset` (full,
hard) must agree with the name.

Prompts, as `bigcodebench.generate` builds them:
- a base model continues the split's prompt (complete_prompt or instruct_prompt), stopping at
  BigCodeBench's direct-completion stops (`provider/utility.py`: EOS and
  `extra_eos_for_direct_completion`); a complete_prompt continuation is judged as complete_prompt +
  completion (its `evaluate`);
- a chat model gets `make_raw_chat_prompt` (`bigcodebench/provider/utility.py`): the instruction
  prefix, then for the complete split the prompt in a bare ``` fence, for the instruct split the
  prompt as it is; the assistant's reply prefilled with the response prefix and an open ```python
  fence. The reply's code block is judged "calibrated" (BigCodeBench's default): code_prompt +
  "\\n    pass\\n" + the code, so the imports and signature are there.

Judging: the solution and `test` as one module whose `TestCases` unittest runs
(`harness/unittests.py`), in the sandbox with the project environment's site-packages; a problem
whose `libs` (or the tests' imports) do not import is "unavailable", counted in no pass@k.
BigCodeBench's limits: 240 s per problem (its `TIMEOUT_LIMIT`, the test suite's wall clock, at
least the ground truth's time), address space 30 GiB (`max_as_limit`), stack 10 MiB; `timeout_s`
and `memory_mb` change the first two. Its ground-truth check warns, and does not refuse, below a
0.95 pass rate: so does the reference gate here, and its time limits are not calibrated on the
references (BigCodeBench's own 240 s stand).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar
from pathlib import Path

from opencoder.evaluation import prompts
from opencoder.evaluation.records import BenchmarkError, hub_records, need, need_strings, read_records
from opencoder.evaluation.sandbox import Program

DEFAULT_VERSION = "v0.1.4"
TIMEOUT_S = 240.0  # bigcodebench.eval.utils.TIMEOUT_LIMIT, seconds per problem
MEMORY_MB = 30 * 1024  # bigcodebench.evaluate's max_as_limit
HUB_IDS = {"full": "bigcode/bigcodebench", "hard": "bigcode/bigcodebench-hard"}
SPLITS = ("complete", "instruct")
OPTIONS = ("subset", "version", "timeout_s", "memory_mb")  # this benchmark's own spec keys
FIELDS = ("task_id", "complete_prompt", "instruct_prompt", "canonical_solution", "code_prompt", "test",
          "entry_point", "libs")
# provider/utility.py: EOS (less the tokenizers' own end tokens) + extra_eos_for_direct_completion
BASE_STOP = ("\nif __name__", "\ndef main(", "\nprint(", "\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert ")
SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".parquet")


@dataclass(frozen=True)
class BigCodeBenchProblem:
    """One task: its prompts and a `Program` per completion (the `Problem` interface)."""

    task_id: str
    complete_prompt: str
    instruct_prompt: str
    code_prompt: str
    canonical_solution: str
    test: str
    entry_point: str
    libs: tuple[str, ...]
    modules: tuple[str, ...]  # libs + the test module's imports: all must import, else "unavailable"
    split: str  # the prompt: complete or instruct
    timeout_s: float
    memory_mb: int
    language: str = "python"
    must_fail: ClassVar[tuple[str, ...]] = ()  # no completion its tests must fail (`Problem.must_fail`)

    @property
    def prompt(self) -> str:
        return self.complete_prompt if self.split == "complete" else self.instruct_prompt

    @property
    def stop(self) -> tuple[str, ...]:
        return BASE_STOP

    @property
    def entry_points(self) -> tuple[str, ...]:
        return (self.entry_point,)

    @property
    def reference(self) -> str:
        """The canonical solution as a completion of `prompt` (BigCodeBench's ground truth:
        complete_prompt + "\\n" + canonical_solution)."""
        if self.split == "complete":
            return "\n" + self.canonical_solution
        return self.complete_prompt + "\n" + self.canonical_solution

    def instruct_messages(self) -> list[dict[str, str]]:
        """`make_raw_chat_prompt`: user turn and the prefilled start of the reply."""
        if self.split == "complete":
            request = f"{prompts.INSTRUCT_REQUEST}\n```\n{self.complete_prompt.strip()}\n```\n"
        else:
            request = f"{prompts.INSTRUCT_REQUEST}\n{self.instruct_prompt.strip()}\n"
        return [{"role": "user", "content": request},
                {"role": "assistant", "content": f"{prompts.INSTRUCT_REPLY}\n```python\n"}]

    def program(self, completion: str, instruct: bool = False) -> Program:
        if not instruct and self.split == "complete":
            code = self.complete_prompt + completion
        else:  # a reply (or an instruct_prompt continuation): its code, calibrated
            body = prompts.extract_code(completion) if instruct or "```" in completion else completion
            code = self.code_prompt + "\n    pass\n" + body
        return Program(completion=code, tests=self.test, unittest=True, modules=self.modules,
                       timeout_s=self.timeout_s, memory_mb=self.memory_mb)


def _libs(value, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value) if value.strip() else []
        except (ValueError, SyntaxError):
            raise BenchmarkError(f"{where}: libs {value[:80]!r} is not a list of module names") from None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise BenchmarkError(f"{where}: libs must be a list of module names")
    return tuple(value)


def imported_modules(code: str, where: str, what: str) -> tuple[str, ...]:
    """The top-level modules `code` imports (absolute imports only)."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise BenchmarkError(f"{where}: {what} is not valid Python ({exc.msg}, line {exc.lineno})") from None
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.append(node.module.split(".")[0])
    return tuple(dict.fromkeys(names))


def problem(record: Mapping, where: str, split: str, timeout_s: float = TIMEOUT_S,
            memory_mb: int = MEMORY_MB) -> BigCodeBenchProblem:
    need(record, FIELDS, where)
    need_strings(record, (f for f in FIELDS if f != "libs"), where)
    libs = _libs(record["libs"], where)
    if "TestCases" not in record["test"]:
        raise BenchmarkError(f"{where}: test defines no unittest TestCase `TestCases`")
    tested = imported_modules(record["test"], where, "test")
    imported_modules(record["complete_prompt"] + "\n" + record["canonical_solution"], where,
                     "complete_prompt + canonical_solution")
    modules = tuple(m for m in dict.fromkeys([*(lib.split(".")[0] for lib in libs), *tested])
                    if m != "__future__")
    return BigCodeBenchProblem(
        task_id=record["task_id"], complete_prompt=record["complete_prompt"],
        instruct_prompt=record["instruct_prompt"], code_prompt=record["code_prompt"],
        canonical_solution=record["canonical_solution"], test=record["test"], entry_point=record["entry_point"],
        libs=libs, modules=modules, split=split, timeout_s=timeout_s, memory_mb=memory_mb,
    )


def read_rows(path: Path) -> list[dict]:
    """Rows of a release file: JSON lines / JSON (`records.read_records`) or parquet."""
    if path.suffix != ".parquet":
        return read_records(path)
    import polars as pl

    try:
        return pl.read_parquet(path).to_dicts()
    except Exception as exc:  # polars raises several kinds for a damaged file
        raise BenchmarkError(f"{path}: cannot be read as parquet ({exc})") from None


def release_file(folder: Path, subset: str, version: str | None) -> Path:
    """The subset's release file in `folder` ("hard" in the name: Hard), `version` choosing among several."""
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(SUFFIXES)
                   and ("hard" in p.name.lower()) == (subset == "hard"))
    if len(found) > 1 and version:
        found = [p for p in found if version in p.name] or found
    if len(found) != 1:
        raise BenchmarkError(f"{folder}: {'no' if not found else 'more than one'} BigCodeBench {subset} release "
                             f"file ({', '.join(p.name for p in found) or 'none'}; a name with 'hard' for the "
                             f"hard subset, without for full; `version` chooses among several)")
    return found[0]


def loader(name: str, default_subset: str):
    """The `load_with` of benchmark `name`: (spec, instruct) -> (source, problems)."""

    def load(spec: Mapping, instruct: bool = False) -> tuple[str, list[BigCodeBenchProblem]]:
        subset = spec.get("subset") or default_subset
        if subset != default_subset:
            raise BenchmarkError(f"{name}: subset {subset!r} does not fit the benchmark (its subset is "
                                 f"{default_subset}; the other is {'bigcodebench' if subset == 'full' else 'bigcodebench_hard'})")
        split = spec.get("split") or ("instruct" if instruct else "complete")
        if split not in SPLITS:
            raise BenchmarkError(f"{name}: split {split!r}: BigCodeBench's splits are {', '.join(SPLITS)}")
        version = spec.get("version") or DEFAULT_VERSION
        timeout = spec.get("timeout_s") or TIMEOUT_S
        memory = spec.get("memory_mb") or MEMORY_MB
        if spec.get("path"):
            path = Path(spec["path"])
            if path.is_dir():
                path = release_file(path, subset, spec.get("version"))
            elif not path.is_file():
                raise BenchmarkError(f"{path}: no such BigCodeBench file or folder")
            source, rows = str(path), read_rows(path)
        else:
            hub_id = spec["hub_id"]
            if ("hard" in hub_id.lower()) != (subset == "hard"):
                raise BenchmarkError(f"{name}: hub_id {hub_id!r} is not the {subset} subset's release "
                                     f"({HUB_IDS[subset]})")
            source, rows = f"{hub_id} ({version})", hub_records(hub_id, version)
        problems = [problem(r, f"{source}: row {i}", split, timeout, memory) for i, r in enumerate(rows, 1)]
        return f"{source} ({subset}, {split} split)", problems

    return load

