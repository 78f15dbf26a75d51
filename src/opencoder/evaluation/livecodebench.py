"""LiveCodeBench code generation (Jain et al. 2024) from its official release files.

The release (`livecodebench/code_generation_lite` on the Hugging Face Hub) is a set of JSON-lines
files, `test.jsonl`, `test2.jsonl`, ... `test6.jsonl`; release version `release_vN` is the first N of
them, `release_latest` all, `vN` the N-th alone (its loading script's table, `VERSION_FILES`). A row:
question_title, question_content, platform (leetcode, atcoder, codeforces), question_id, contest_id,
contest_date (ISO), starter_code, difficulty, public_test_cases (a JSON string), private_test_cases
(a JSON string, or in the lite release that JSON string pickled, zlib-compressed and base64-encoded),
metadata (a JSON string; `func_name` for LeetCode's functional problems). A test case: input,
output, testtype ("stdin" or "functional").

`path:` is a folder holding the release's files (the version picks among them) or one such file
(taken whole); `hub_id:` downloads the version's files from the Hub. `release_version`,
`start_date` and `end_date` (inclusive, YYYY-MM-DD, on contest_date) choose the problems: the paper
(OpenCoder, section 6) reports the 2305-2409 window.

The compressed private tests are unpickled by an unpickler that resolves no global at all: the
release's pickle is a plain string, and a pickle naming any class or function (the way a pickle
runs code) is refused with an error naming the file and row.

Judging, as lcb_runner's `testing_util` does (its import header prepended to the code, the
tests public then private, the first failure ends the run):
- stdin/stdout problems: the program runs once per test as a process of its own with the input on
  its standard input, in the sandbox (`harness/candidate.py`); its output and the expected one are
  stripped, split into lines and each line stripped; the line counts must agree and each line be
  equal, or else both lines parse as whitespace-separated decimals (`decimal.Decimal`) that are
  equal ("1.50" = "1.5"; LiveCodeBench has no float tolerance beyond that). A program ending with
  a nonzero status fails (LiveCodeBench runs it in-process and ignores SystemExit's status).
- functional problems: `Solution().<func_name>` (a module-level function if the code has no class
  Solution) is called with the JSON-decoded lines of the input; a tuple result becomes a list; it
  must equal the JSON-decoded output.
Each test has `test_timeout_s` (LiveCodeBench's 6 s) within a run limited to that times the number
of tests. LiveCodeBench ships no reference solutions: the reference gate and `--canonical` do not
apply.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
import json
import pickle
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar
from pathlib import Path

from opencoder.evaluation import prompts
from opencoder.evaluation.records import BenchmarkError, need, read_records
from opencoder.evaluation.sandbox import Program

VERSION_FILES = {
    **{f"release_v{n}": [f"test{i if i > 1 else ''}.jsonl" for i in range(1, n + 1)] for n in range(1, 7)},
    "release_latest": [f"test{i if i > 1 else ''}.jsonl" for i in range(1, 7)],
    **{f"v{n}": [f"test{n if n > 1 else ''}.jsonl"] for n in range(1, 7)},
}
DEFAULT_VERSION = "release_v4"  # through September 2024, the end of the paper's window
TEST_TIMEOUT_S = 6.0  # lcb_runner's per-test timeout
MAX_PRIVATE_BYTES = 2**30  # a decompressed private test set larger than this is refused
OPTIONS = ("release_version", "start_date", "end_date", "test_timeout_s")  # this benchmark's own spec keys

# lcb_runner's `import_string`, prepended to every program it runs
IMPORTS = (
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\nfrom random import *\n"
    "from statistics import *\nfrom itertools import *\nfrom functools import *\nfrom operator import *\n"
    "from io import *\nfrom sys import *\nfrom json import *\nfrom builtins import *\nfrom typing import *\n"
    "import string\nimport re\nimport datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\n"
    "import math\nimport random\nimport statistics\nimport itertools\nimport functools\nimport operator\n"
    "import io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n"
)

# trusted code run by the judge (not the candidate): LiveCodeBench's output comparison
SUPPORT = '''
import json as _json
from decimal import Decimal as _Decimal


def _lcb_lines(text):
    return [line.strip() for line in text.strip().split("\\n")]


def _lcb_decimals(line):
    try:
        return [_Decimal(x) for x in line.split()]
    except Exception:
        return None


def _lcb_same_output(got, expected):
    got, expected = _lcb_lines(got), _lcb_lines(expected)
    if len(got) != len(expected):
        return "wrong answer: %d output lines, expected %d" % (len(got), len(expected))
    for number, (a, b) in enumerate(zip(got, expected), 1):
        if a == b:
            continue
        x, y = _lcb_decimals(a), _lcb_decimals(b)
        if x is None or y is None or x != y:
            return "wrong answer at line %d" % number
    return None
'''

STDIO_TESTS = '''
_cases = _json.loads({cases!r})
for _number, (_input, _expected) in enumerate(_cases, 1):
    _wrong = _lcb_same_output(run_program(_input), _expected)
    if _wrong:
        raise AssertionError("test %d of %d: %s" % (_number, len(_cases), _wrong))
'''

CALL_TESTS = '''
_cases = _json.loads({cases!r})
for _number, (_args, _expected) in enumerate(_cases, 1):
    _got = __lcb_call__(*_args)
    if type(_got) is tuple:
        _got = list(_got)
    if _got != _expected:
        raise AssertionError("test %d of %d: wrong answer" % (_number, len(_cases)))
'''

# appended to a functional problem's code in the candidate: the method the tests call
CALL_WRAPPER = '''

__lcb_target__ = {target}


def __lcb_call__(*args):
    return __lcb_target__(*args)
'''


class _NoGlobals(pickle.Unpickler):
    """Plain data only: a pickle that names any global (class, function) is refused."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refused: the pickle names {module}.{name} (only plain data is accepted)")


def decode_private(value: str, where: str) -> list:
    """The private test cases of one row: JSON, or the lite release's base64(zlib(pickle(JSON)))."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        pass
    try:
        packed = base64.b64decode(value.encode(), validate=True)
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, MAX_PRIVATE_BYTES)
        if inflater.unconsumed_tail:
            raise BenchmarkError(f"{where}: private_test_cases decompress to more than {MAX_PRIVATE_BYTES} bytes")
    except (binascii.Error, ValueError, zlib.error) as exc:
        raise BenchmarkError(f"{where}: private_test_cases are neither JSON nor base64+zlib data ({exc})") from None
    try:
        data = _NoGlobals(io.BytesIO(raw)).load()
    except pickle.UnpicklingError as exc:
        raise BenchmarkError(f"{where}: private_test_cases: unsafe pickle {exc}") from None
    except Exception as exc:  # a damaged pickle: any of several errors
        raise BenchmarkError(f"{where}: private_test_cases: damaged pickle ({type(exc).__name__}: {exc})") from None
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    if not isinstance(data, str):
        raise BenchmarkError(f"{where}: private_test_cases: the pickle holds {type(data).__name__}, expected a JSON string")
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise BenchmarkError(f"{where}: private_test_cases: not JSON once decompressed ({exc})") from None


def _date(value, what: str):
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise BenchmarkError(f"{what}: {value!r} is not a date (YYYY-MM-DD)") from None


@dataclass(frozen=True)
class LiveCodeBenchProblem:
    """One problem: its prompts and a `Program` per completion (the `Problem` interface)."""

    task_id: str
    content: str
    starter_code: str
    cases: tuple  # ((input, output), ...) for stdin problems, ((args, output), ...) for functional ones
    func_name: str | None  # functional (LeetCode) problems: the method the tests call
    test_timeout_s: float
    contest_date: str
    platform: str
    difficulty: str
    reference: str = ""  # LiveCodeBench ships none
    language: str = "python"
    must_fail: ClassVar[tuple[str, ...]] = ()  # no completion its tests must fail (`Problem.must_fail`)

    @property
    def prompt(self) -> str:
        return prompts.lcb_base(self.content, self.starter_code)

    @property
    def stop(self) -> tuple[str, ...]:
        return prompts.LCB_BASE_STOP

    @property
    def entry_points(self) -> tuple[str, ...]:
        return ("__lcb_call__",) if self.func_name else ()

    def instruct_messages(self) -> list[dict[str, str]]:
        return prompts.lcb_messages(self.content, self.starter_code)

    def program(self, completion: str, instruct: bool = False) -> Program:
        code = prompts.extract_code(completion) if instruct else prompts.lcb_extract_code(completion)
        payload = json.dumps([list(c) for c in self.cases])
        limit = self.test_timeout_s * max(1, len(self.cases)) + self.test_timeout_s
        if self.func_name is None:
            return Program(completion=IMPORTS + "\n" + code + "\n", tests=STDIO_TESTS.format(cases=payload),
                           support=SUPPORT, stdio=True, timeout_s=limit, call_timeout_s=self.test_timeout_s)
        # as lcb_runner: one Solution instance, or a module-level function when the code has no class Solution
        target = f"Solution().{self.func_name}" if "class Solution" in code else self.func_name
        return Program(completion=IMPORTS + "\n\n" + code + CALL_WRAPPER.format(target=target),
                       tests=CALL_TESTS.format(cases=payload), entry_points=self.entry_points, support=SUPPORT,
                       timeout_s=limit, call_timeout_s=self.test_timeout_s)


def _cases(tests: list, func_name: str | None, where: str) -> list[tuple]:
    out = []
    for number, test in enumerate(tests, 1):
        if not isinstance(test, dict) or not isinstance(test.get("input"), str) or not isinstance(test.get("output"), str):
            raise BenchmarkError(f"{where}: test {number}: needs string input and output")
        kind = test.get("testtype")
        if kind not in ("stdin", "functional") or (kind == "functional") != (func_name is not None):
            raise BenchmarkError(f"{where}: test {number}: testtype {kind!r} does not fit the problem "
                                 f"({'functional, metadata.func_name ' + func_name if func_name else 'stdin: no func_name'})")
        if func_name is None:
            out.append((test["input"], test["output"]))
            continue
        try:
            args = [json.loads(line) for line in test["input"].split("\n")]
            expected = json.loads(test["output"])
        except json.JSONDecodeError as exc:
            raise BenchmarkError(f"{where}: test {number}: functional input/output is not JSON lines ({exc})") from None
        out.append((args, expected))
    return out


def problem(record: Mapping, where: str, test_timeout_s: float = TEST_TIMEOUT_S) -> LiveCodeBenchProblem:
    need(record, ("question_id", "question_content", "platform", "contest_date", "public_test_cases",
                  "private_test_cases"), where)
    try:
        metadata = json.loads(record.get("metadata") or "{}")
        public = json.loads(record["public_test_cases"])
    except (TypeError, json.JSONDecodeError) as exc:
        raise BenchmarkError(f"{where}: metadata / public_test_cases are not JSON ({exc})") from None
    private = decode_private(record["private_test_cases"], where)
    if not isinstance(public, list) or not isinstance(private, list) or not isinstance(metadata, dict):
        raise BenchmarkError(f"{where}: public/private test cases must be lists, metadata an object")
    func_name = metadata.get("func_name") or None
    cases = _cases(public + private, func_name, where)
    if not cases:
        raise BenchmarkError(f"{where}: no test cases")
    _date(record["contest_date"], f"{where}: contest_date")
    return LiveCodeBenchProblem(
        task_id=str(record["question_id"]), content=record["question_content"],
        starter_code=record.get("starter_code") or "", cases=tuple(cases), func_name=func_name,
        test_timeout_s=test_timeout_s, contest_date=str(record["contest_date"]), platform=str(record["platform"]),
        difficulty=str(record.get("difficulty") or ""),
    )


def _version_files(spec: Mapping) -> list[str]:
    version = spec.get("release_version") or DEFAULT_VERSION
    if version not in VERSION_FILES:
        raise BenchmarkError(f"livecodebench: unknown release_version {version!r}; known: {', '.join(VERSION_FILES)}")
    return VERSION_FILES[version]


def _release_files(spec: Mapping) -> list[Path]:
    """The release files the spec names: a file itself, the version's files of a folder, or
    those files downloaded from the Hub."""
    names = _version_files(spec)
    if spec.get("path"):
        path = Path(spec["path"])
        if path.is_file():
            return [path]
        if not path.is_dir():
            raise BenchmarkError(f"{path}: no such LiveCodeBench file or folder")
        missing = [n for n in names if not (path / n).is_file()]
        if missing:
            raise BenchmarkError(f"{path}: release {spec.get('release_version') or DEFAULT_VERSION} needs "
                                 f"{', '.join(missing)} (the release's files: {', '.join(names)})")
        return [path / n for n in names]
    from huggingface_hub import hf_hub_download

    try:
        return [Path(hf_hub_download(spec["hub_id"], n, repo_type="dataset")) for n in names]
    except Exception as exc:  # network, missing repository or file: all mean "cannot load"
        raise BenchmarkError(f"hub dataset {spec['hub_id']!r}: {', '.join(names)} cannot be downloaded: {exc}") from exc


def load(spec: Mapping, instruct: bool = False) -> tuple[str, list[LiveCodeBenchProblem]]:
    """(source, problems) of a `livecodebench` spec: the release version's files, the problems whose
    contest_date lies in [start_date, end_date] (the same for base and instruct prompts)."""
    start = _date(spec["start_date"], "livecodebench: start_date") if spec.get("start_date") else None
    end = _date(spec["end_date"], "livecodebench: end_date") if spec.get("end_date") else None
    timeout = spec.get("test_timeout_s") or TEST_TIMEOUT_S
    files = _release_files(spec)
    problems = []
    for path in files:
        for row, record in enumerate(read_records(path), 1):
            where = f"{path}: row {row}"
            day = _date(record.get("contest_date"), f"{where}: contest_date")
            if (start and day < start) or (end and day > end):
                continue  # outside the window: its tests are not even decoded
            problems.append(problem(record, where, timeout))
    if not problems:
        raise BenchmarkError(f"{', '.join(map(str, files))}: no problem with a contest_date in "
                             f"[{start or 'any'}, {end or 'any'}]")
    version = spec.get("release_version") or DEFAULT_VERSION
    source = spec.get("path") or spec.get("hub_id")
    return f"{source} ({version}, {start or 'any'} to {end or 'any'})", problems
