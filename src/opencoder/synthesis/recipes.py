"""A recipe: its seeds, its prompt file, how a response is parsed and the program that verifies it.

Kinds (paper 4 and 5.1):

- `snippet` (annealing): seed = a Python function of the corpus, those of the algorithmic corpus
  (files with a keyword of `seeds.keywords`) first; the teacher writes a self-contained function and
  assert-based tests; the sample is the function with its tests, kept if the tests pass.
- `educational` (SFT): seed = a documented Python function of the corpus; the teacher writes a
  problem, a solution and tests; the sample is the instruction (problem) and the answer (solution),
  kept if the tests pass.

A prompt file is text with `{placeholders}` (`str.format` syntax; `{{`/`}}` for literal braces).
Each kind fills a fixed set of them (`PLACEHOLDERS`); a prompt file that lacks a required one, or
names one the kind does not fill, is a `ConfigError` naming the file.

A response is parsed into fenced code blocks: the first block with a top-level `def` is the
solution, the `assert` statements (in a later block, or at the end of the same one) the tests.
A response cut at `max_new_tokens`, without a solution, without tests, or whose code does not
compile is rejected with the reason.
"""

from __future__ import annotations

import ast
import hashlib
import re
import string
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from opencoder.core.config import ConfigError

KINDS = ("snippet", "educational")
# placeholders each kind fills; the required ones must appear in its prompt file
PLACEHOLDERS = {"snippet": {"seed": True, "language": False},
                "educational": {"seed": True, "language": False}}
CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)


@dataclass(frozen=True)
class Template:
    path: str
    text: str
    sha256: str

    def render(self, **values) -> str:
        return self.text.format(**values)


def load_template(path: str | Path, kind: str) -> Template:
    """The prompt file (a path, or one relative to the config folder) checked for the kind's placeholders."""
    p = Path(path)
    if not p.is_file() and (CONFIG_DIR / p).is_file():
        p = CONFIG_DIR / p
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: prompt file cannot be read ({exc.strerror})") from None
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise ConfigError(f"{path}: not a valid prompt template ({exc}; write literal braces as {{{{ and }}}})") from None
    known = PLACEHOLDERS[kind]
    missing = sorted(n for n, required in known.items() if required and n not in names)
    if missing:
        raise ConfigError(f"{path}: prompt file lacks the placeholder(s) {', '.join('{' + n + '}' for n in missing)} "
                          f"that a {kind} recipe fills")
    unknown = sorted(n for n in names if n not in known)
    if unknown:
        raise ConfigError(f"{path}: unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)}; "
                          f"a {kind} recipe fills {', '.join('{' + n + '}' for n in known)}")
    return Template(str(path), text, hashlib.sha256(text.encode()).hexdigest()[:16])


# ------------------------------------------------------------------------------------- seeds ---
def functions(text: str, min_lines: int, max_lines: int, documented: bool) -> list[tuple[str, str]]:
    """(name, source) of the top-level functions of a Python file within the line bounds."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    lines = text.splitlines(keepends=True)
    out = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
            continue
        n = node.end_lineno - node.lineno + 1
        if not min_lines <= n <= max_lines or (documented and not ast.get_docstring(node)):
            continue
        start = min([d.lineno for d in node.decorator_list] + [node.lineno])
        out.append((node.name, "".join(lines[start - 1:node.end_lineno]).rstrip() + "\n"))
    return out


def seeds(corpus: Sequence[str | Path], kind: str, cfg: Mapping) -> list[dict]:
    """Seed functions of the corpus: `{doc_id, path, name, code, algorithmic}`, those of files with a
    keyword first (the algorithmic corpus), each group in a stable order; only those with
    `only_keywords`."""
    from opencoder.core import shards

    keywords = [k.lower() for k in cfg.get("keywords") or []]
    found = []
    for path in sorted(map(str, corpus)):
        df = shards.read_documents(path).filter(pl.col("language") == "python").sort("id")
        for row in df.select("id", "path", "text").iter_rows(named=True):
            lowered = row["text"].lower()
            algorithmic = any(k in lowered for k in keywords)
            if cfg.get("only_keywords") and not algorithmic:
                continue
            for name, code in functions(row["text"], cfg.get("min_lines", 3), cfg.get("max_lines", 60),
                                        documented=kind == "educational"):
                found.append({"doc_id": row["id"], "path": row["path"], "name": name, "code": code,
                              "algorithmic": algorithmic})
    found.sort(key=lambda s: not s["algorithmic"])  # stable: corpus order within each group
    return found


# ------------------------------------------------------------------------------------ parse ---
@dataclass
class Parsed:
    solution: str
    tests: str
    entry_points: tuple[str, ...]
    problem: str = ""


class ParseError(ValueError):
    pass


def _is_test(node) -> bool:
    """A top-level statement that belongs to the tests: an assert, a `test_*` function, or a call of one."""
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
        return True
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
            and node.value.func.id.startswith("test"))


def _split_tests(code: str) -> tuple[str, str]:
    """(code without its tests, the tests) of a block that compiles: top-level asserts, `test_*`
    functions (each called once, unless the block calls it) and their calls."""
    tree = ast.parse(code)
    lines = code.splitlines(keepends=True)
    cut = [n for n in tree.body if _is_test(n)]
    if not any(isinstance(n, ast.Assert) for c in cut for n in ast.walk(c)):
        return code, ""
    drop = {i for n in cut for i in range(n.lineno - 1, n.end_lineno)}
    rest = "".join(l for i, l in enumerate(lines) if i not in drop)
    tests = "".join("".join(lines[n.lineno - 1:n.end_lineno]).rstrip() + "\n" for n in cut)
    called = {n.value.func.id for n in cut if isinstance(n, ast.Expr)}
    tests += "".join(f"{n.name}()\n" for n in cut if isinstance(n, ast.FunctionDef) and n.name not in called)
    return rest, textwrap.dedent(tests)


def parse(text: str, kind: str, finish: str) -> Parsed:
    """The solution, tests and (educational) problem of a response; ParseError says why not."""
    if finish == "length":
        raise ParseError("truncated: cut at max_new_tokens")
    blocks = [(m.group(2), m.start()) for m in FENCE.finditer(text)
              if m.group(1).lower() in {"", "python", "py", "python3"}]
    if not blocks:
        raise ParseError("no python code block")
    solution = None
    tests = []
    for code, start in blocks:
        try:
            tree = ast.parse(code)
        except SyntaxError:
            if solution is None:
                raise ParseError("solution does not compile") from None
            continue
        defs = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not _is_test(n)]
        if solution is None and defs:
            rest, asserts = _split_tests(code)
            solution, names, first = rest, tuple(defs), start
            if asserts:
                tests.append(asserts)
        elif solution is not None:
            _, asserts = _split_tests(code)
            if asserts:
                tests.append(asserts)
    if solution is None:
        raise ParseError("no function defined")
    if not tests:
        raise ParseError("no assert-based tests")
    problem = ""
    if kind == "educational":
        problem = text[:first].strip()
        problem = re.sub(r"^(#+\s*)?(\*\*)?(problem( statement)?|question)(\*\*)?:?\s*", "", problem, flags=re.I).strip()
        if len(problem) < 20:
            raise ParseError("no problem statement before the solution")
    return Parsed(solution.strip() + "\n", "".join(tests), names, problem)


def program(parsed: Parsed):
    """The sandbox run: the solution in the candidate's process, its tests in the judge."""
    from opencoder.evaluation.sandbox import Program

    return Program(completion=parsed.solution, tests=parsed.tests, entry_points=parsed.entry_points)


def sample_text(kind: str, parsed: Parsed) -> dict:
    """The kept sample's payload: `text` (snippet, for annealing) or `instruction`/`output` (SFT)."""
    if kind == "snippet":
        return {"text": f"{parsed.solution}\n\n{parsed.tests}"}
    return {"instruction": parsed.problem, "output": f"```python\n{parsed.solution}```"}
