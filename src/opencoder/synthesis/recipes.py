"""A recipe: its seeds, its prompt file, how a response is parsed and the program that verifies it.

Kinds (paper 4 and 5.1):

- `snippet` (annealing): seed = a Python function of the corpus, those of the algorithmic corpus
  (files with a keyword of `seeds.keywords`) first; the teacher writes a self-contained function and
  assert-based tests; the sample is the function with its tests, kept if the tests pass.
- `educational` (SFT): seed = a documented Python function of the corpus; the teacher writes a
  problem, a solution and tests; the sample is the instruction (problem) and the answer (solution),
  kept if the tests pass.
- `textbook` (annealing, the paper's code textbooks): seed = a Python function or whole file of the
  corpus (`seeds.unit`; algorithmic-corpus files first, `seeds.documented` for documented functions
  only); the teacher explains it with exercises; the sample is the passage (`text`). Its Python code
  blocks are run, in order, as one program: a passage whose code raises (or does not compile) is
  rejected; a passage without Python code is unverified (kept as text by default).
- `package` (SFT, package instructions): seed = the API documentation (signature and docstring, as
  `inspect`/`pydoc` read them from the installed package) of a public function or class of the
  modules in `seeds.modules`; the teacher writes a question and an answer with code; the answer's
  Python code is run, kept if it runs without error. A module the sandbox's interpreter cannot import
  (it runs without site-packages) makes its samples unverified, dropped unless `keep_unverified`.
- `diverse` (SFT, large-scale diverse instructions): seed = a corpus document (code, text or web page,
  `seeds.languages`/`seeds.doc_types`), cut to `seeds.max_chars`; a task specification (programming
  language, difficulty, task type) is drawn from `task` with the config's seed; the teacher writes a
  question and an answer. Python code in the answer is run; an answer in a language without a
  toolchain in the sandbox, or without code, is unverified (never passed; kept unless
  `keep_unverified: false`).

Verification outcomes: passed (ran in the sandbox without error / its tests passed), failed
(rejected), unverified (nothing that the sandbox can run: kept only with `keep_unverified`, and then
marked `verified: false` in kept.jsonl).

A prompt file is text with `{placeholders}` (`str.format` syntax; `{{`/`}}` for literal braces).
Each kind fills a fixed set of them (`PLACEHOLDERS`); a prompt file that lacks a required one, or
names one the kind does not fill, is a `ConfigError` naming the file.

A snippet or educational response is parsed into fenced code blocks: the first block with a
top-level `def` is the solution, the `assert` statements (in a later block, or at the end of the same
one) the tests. A response cut at `max_new_tokens`, without a solution, without tests, or whose code
does not compile is rejected with the reason. Textbook, package and diverse responses: the Python
blocks (tagged `python`/`py`, or untagged and compiling; a `>>>` session as its statements) are the
program, run without tests; a tagged Python block that does not compile is a rejection.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import re
import string
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from opencoder.core.config import ConfigError

KINDS = ("snippet", "educational", "textbook", "package", "diverse")
ANNEALING = ("snippet", "textbook")  # kept as `text` (anneal blend); the others as `instruction`/`output` (SFT)
# placeholders each kind fills; the required ones must appear in its prompt file
PLACEHOLDERS = {"snippet": {"seed": True, "language": False},
                "educational": {"seed": True, "language": False},
                "textbook": {"seed": True, "language": False},
                "package": {"seed": True, "package": False, "name": False, "language": False},
                "diverse": {"seed": True, "language": True, "difficulty": False, "task_type": False}}
CODE_SEEDS = ("keywords", "only_keywords", "min_lines", "max_lines", "documented", "unit")
SEED_KEYS = {"snippet": CODE_SEEDS, "educational": CODE_SEEDS, "textbook": CODE_SEEDS,
             "package": ("modules", "max_doc_chars"), "diverse": ("languages", "doc_types", "min_chars", "max_chars")}
# kept when nothing in them can be run (`keep_unverified` of a recipe overrides)
KEEP_UNVERIFIED = {"snippet": False, "educational": False, "textbook": True, "package": False, "diverse": True}
# kinds whose seeds come from the corpus: a package recipe documents the installed modules, so the
# workflow does not make it wait for (or rerun on) the corpus
CORPUS_KINDS = ("snippet", "educational", "textbook", "diverse")
PYTHON_TAGS = {"python", "py", "python3", "pycon"}
CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)


@dataclass(frozen=True)
class Template:
    path: str
    text: str
    sha256: str

    def render(self, **values) -> str:
        return self.text.format(**values)

    def instructions(self, min_chars: int = 30) -> list[str]:
        """The template's own lines (no placeholder, at least `min_chars`): a response that repeats
        one verbatim is echoing the prompt, not answering it."""
        return [line.strip() for line in self.text.splitlines()
                if len(line.strip()) >= min_chars and "{" not in line and "}" not in line]


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


def check(name: str, recipe: Mapping) -> None:
    """ConfigError for a setting the recipe's kind does not read (it would be ignored silently)."""
    kind = recipe["kind"]
    if kind not in KINDS:
        raise ConfigError(f"synthetic.recipes.{name}.kind: {kind!r}, expected one of {KINDS}")
    stray = sorted(set(recipe.get("seeds") or {}) - set(SEED_KEYS[kind]))
    if stray:
        raise ConfigError(f"synthetic.recipes.{name}.seeds: {', '.join(stray)} not read by a {kind} recipe "
                          f"(it reads {', '.join(SEED_KEYS[kind])})")
    if kind == "diverse" and any(str(lang).lower() in {"python", "python3", "py"}
                                 for lang in ((recipe.get("task") or {}).get("toolchains") or {})):
        raise ConfigError(f"synthetic.recipes.{name}.task.toolchains: Python answers run in the sandbox's "
                          "own interpreter; name only other languages")
    if kind != "diverse" and "task" in recipe:
        raise ConfigError(f"synthetic.recipes.{name}.task: only a diverse recipe draws a task")
    if kind == "diverse":
        task = recipe.get("task") or {}
        empty = [k for k in ("languages", "difficulties", "task_types") if not task.get(k)]
        if empty:
            raise ConfigError(f"synthetic.recipes.{name}.task: a diverse recipe needs non-empty {', '.join(empty)}")
    if kind == "package" and not (recipe.get("seeds") or {}).get("modules"):
        raise ConfigError(f"synthetic.recipes.{name}.seeds.modules: a package recipe needs the modules to document")


def toolchains(recipe: Mapping) -> dict[str, str]:
    """Task language -> the `eval.languages` toolchain that runs its answers, for the languages a
    diverse recipe draws: the only evaluation settings its samples depend on (its job's settings and
    the synthetic stage's variant key hold these and no other language)."""
    task = recipe.get("task") or {}
    drawn = set(task.get("languages") or ())
    return {lang: name for lang, name in (task.get("toolchains") or {}).items() if lang in drawn}


def seeds(corpus: Sequence[str | Path], kind: str, cfg: Mapping) -> list[dict]:
    """The recipe's seeds, `{doc_id, path, name, code, algorithmic, ...}` in a stable order: corpus
    functions (snippet, educational, textbook), API documentation (package) or documents (diverse)."""
    if kind == "package":
        return package_seeds(cfg)
    if kind == "diverse":
        return document_seeds(corpus, cfg)
    return code_seeds(corpus, kind, cfg)


def code_seeds(corpus: Sequence[str | Path], kind: str, cfg: Mapping) -> list[dict]:
    """Seed functions (or files, `unit: file`) of the corpus, those of files with a keyword first (the
    algorithmic corpus), each group in a stable order; only those with `only_keywords`; documented
    functions only with `documented` (default: educational only)."""
    from opencoder.core import shards

    keywords = [k.lower() for k in cfg.get("keywords") or []]
    documented = cfg.get("documented", kind == "educational")
    lo, hi = cfg.get("min_lines", 3), cfg.get("max_lines", 60)
    found = []
    for path in sorted(map(str, corpus)):
        df = shards.read_documents(path).filter(pl.col("language") == "python").sort("id")
        for row in df.select("id", "path", "text").iter_rows(named=True):
            lowered = row["text"].lower()
            algorithmic = any(k in lowered for k in keywords)
            if cfg.get("only_keywords") and not algorithmic:
                continue
            if cfg.get("unit", "function") == "file":
                n = len(row["text"].splitlines())
                if lo <= n <= hi and (not documented or _has_docstring(row["text"])):
                    found.append({"doc_id": row["id"], "path": row["path"], "name": Path(row["path"]).name,
                                  "code": row["text"].rstrip() + "\n", "algorithmic": algorithmic})
                continue
            for name, code in functions(row["text"], lo, hi, documented=documented):
                found.append({"doc_id": row["id"], "path": row["path"], "name": name, "code": code,
                              "algorithmic": algorithmic})
    found.sort(key=lambda s: not s["algorithmic"])  # stable: corpus order within each group
    return found


def _has_docstring(text: str) -> bool:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return any(ast.get_docstring(n) for n in ast.walk(tree)
               if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))


ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # object reprs in signatures: not the same from run to run


def api_doc(qualified: str, obj, max_chars: int) -> str:
    """`qualified(signature)` and the docstring, as `inspect` reads them (for a class, its public
    methods' signatures and first docstring lines too), at most `max_chars`."""
    try:
        sig = str(inspect.signature(obj))
    except (TypeError, ValueError):
        sig = "(...)" if callable(obj) and not inspect.isclass(obj) else ""
    parts = [f"{'class ' if inspect.isclass(obj) else ''}{qualified}{sig}", "", inspect.getdoc(obj) or ""]
    if inspect.isclass(obj):
        methods = []
        for name, member in sorted(vars(obj).items()):
            if name.startswith("_") or not callable(member) or not (doc := inspect.getdoc(member)):
                continue
            try:
                msig = str(inspect.signature(member))
            except (TypeError, ValueError):
                msig = "(...)"
            methods.append(f"  {name}{msig}: {doc.splitlines()[0]}")
        if methods:
            parts += ["", "Methods:", *methods]
    text = ADDRESS.sub("", "\n".join(parts).strip())
    return text if len(text) <= max_chars else text[:max_chars].rstrip() + "\n[...]"


def package_seeds(cfg: Mapping) -> list[dict]:
    """The public functions and classes with a docstring of each module of `modules` (its `__all__`,
    else its public names defined in it), by module then name; the module must import here."""
    out = []
    for module in cfg.get("modules") or []:
        try:
            mod = importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - any import failure is the config's problem
            raise ConfigError(f"synthetic recipe seeds.modules: {module!r} cannot be imported "
                              f"({type(exc).__name__}: {exc})") from None
        root = module.split(".")[0]
        listed = getattr(mod, "__all__", None)
        version = _version(root, mod)
        for name in sorted(set(listed) if listed is not None else dir(mod)):
            if name.startswith("_"):
                continue
            obj = getattr(mod, name, None)
            if not (inspect.isfunction(obj) or inspect.isbuiltin(obj) or inspect.isclass(obj)):
                continue
            owner = (getattr(obj, "__module__", None) or "").split(".")[0]
            if listed is None and owner not in {root, "_" + root}:
                continue  # imported from elsewhere
            if not inspect.getdoc(obj):
                continue
            out.append({"doc_id": f"pydoc:{module}.{name}", "path": module, "name": f"{module}.{name}",
                        "code": api_doc(f"{module}.{name}", obj, int(cfg.get("max_doc_chars", 2000))),
                        "algorithmic": False, "package": module, "version": version})
    return out


def _version(root: str, mod) -> str | None:
    """What documented the module: `python X.Y.Z` for the standard library, else the package's version."""
    import platform
    import sys
    from importlib import metadata

    if root in sys.stdlib_module_names:
        return f"python {platform.python_version()}"
    try:
        return metadata.version(root)
    except metadata.PackageNotFoundError:
        return getattr(mod, "__version__", None)


def document_seeds(corpus: Sequence[str | Path], cfg: Mapping) -> list[dict]:
    """Corpus documents (of `languages` and `doc_types`, where given) of at least `min_chars`, each cut
    to `max_chars`, in corpus order."""
    from opencoder.core import shards

    languages, doc_types = cfg.get("languages"), cfg.get("doc_types")
    lo, hi = int(cfg.get("min_chars", 200)), int(cfg.get("max_chars", 2000))
    found = []
    for path in sorted(map(str, corpus)):
        df = shards.read_documents(path).sort("id")
        if languages:
            df = df.filter(pl.col("language").is_in(list(languages)))
        if doc_types:
            df = df.filter(pl.col("doc_type").is_in(list(doc_types)))
        for row in df.select("id", "path", "text", "language").iter_rows(named=True):
            text = row["text"].strip()
            if len(text) < lo:
                continue
            found.append({"doc_id": row["id"], "path": row["path"], "name": row["language"],
                          "code": text[:hi], "algorithmic": False})
    return found


def draw_task(task: Mapping, rng) -> dict:
    """A diverse recipe's task specification: one language, difficulty and task type, drawn by `rng`."""
    return {"language": str(task["languages"][int(rng.integers(len(task["languages"])))]),
            "difficulty": str(task["difficulties"][int(rng.integers(len(task["difficulties"])))]),
            "task_type": str(task["task_types"][int(rng.integers(len(task["task_types"])))])}


def prompt_values(source: Mapping, task: Mapping | None) -> dict:
    """Every placeholder's value for a seed (and a diverse recipe's task); a kind's template uses its own."""
    task = task or {}
    return {"seed": source["code"], "language": task.get("language", "Python"),
            "difficulty": task.get("difficulty", ""), "task_type": task.get("task_type", ""),
            "package": source.get("package", ""), "name": source.get("name", "")}


# ------------------------------------------------------------------------------------ parse ---
@dataclass
class Parsed:
    solution: str  # the program run in the sandbox (textbook, package, diverse: the Python blocks in order)
    tests: str
    entry_points: tuple[str, ...]
    problem: str = ""  # educational, package, diverse: the instruction
    answer: str = ""  # textbook: the passage; package, diverse: the answer
    unverified: str | None = None  # why nothing of it can be run (None: run it)
    language: str = "python"  # the sandbox's language of `solution` (a toolchain of eval.languages)


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


def parse(text: str, kind: str, finish: str, language: str = "Python", toolchain: str | None = None,
          template: Template | None = None) -> Parsed:
    """The solution, tests and (educational) problem of a response; ParseError says why not.
    `language`: the answer's language (diverse), `toolchain` the sandbox's toolchain for it, if any;
    `template`: textbook, package and diverse responses repeating one of its lines are rejected."""
    if finish == "length":
        raise ParseError("truncated: cut at max_new_tokens")
    if template is not None and kind in ("textbook", "package", "diverse"):
        echoed = next((line for line in template.instructions() if line in text), None)
        if echoed is not None:
            raise ParseError(f"echoes the prompt: {echoed[:60]!r}")
    if kind == "textbook":
        return parse_textbook(text)
    if kind in ("package", "diverse"):
        return parse_qa(text, kind, language, toolchain)
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


def python_blocks(text: str) -> list[str]:
    """The response's Python code, block by block: blocks tagged Python (a `>>>` session as its
    statements) and untagged blocks that compile and do more than state values (an untagged block
    that does not compile, or holds only expressions such as `[1, 2]` or `Point(x=1)`, is output or
    prose); ParseError for a tagged block that does not compile."""
    import doctest

    out = []
    for m in FENCE.finditer(text):
        tag, code = m.group(1).lower(), m.group(2)
        if tag not in PYTHON_TAGS and tag:
            continue
        if code.lstrip().startswith(">>>"):
            code = "".join(ex.source for ex in doctest.DocTestParser().get_examples(code))
        if not code.strip():
            continue
        try:
            tree = ast.parse(code)
        except SyntaxError as exc:
            if not tag:
                continue
            raise ParseError(f"code example does not compile (line {exc.lineno}: {exc.msg})") from None
        if not tag and all(isinstance(n, ast.Expr) and not _prints(n) for n in tree.body):
            continue  # an output block: values, not code
        out.append(code.rstrip() + "\n")
    return out


def _prints(node) -> bool:
    return (isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "print")


# code-block tags of the languages a diverse recipe may run through a toolchain (others: the name itself)
LANGUAGE_TAGS = {"javascript": {"javascript", "js", "node"}, "typescript": {"typescript", "ts"},
                 "shell": {"shell", "sh", "bash"}, "bash": {"shell", "sh", "bash"}, "c++": {"cpp", "c++", "cxx"},
                 "c#": {"csharp", "cs", "c#"}, "php": {"php"}}


def language_blocks(text: str, language: str) -> list[str]:
    """The code blocks of the answer tagged with `language` (or one of its usual tags)."""
    tags = LANGUAGE_TAGS.get(language.lower(), {language.lower()})
    return [m.group(2).rstrip() + "\n" for m in FENCE.finditer(text)
            if m.group(1).lower() in tags and m.group(2).strip()]


def parse_textbook(text: str) -> Parsed:
    """A textbook passage: prose (at least 200 characters outside code blocks) and its Python blocks,
    run in order as one program; none: unverified."""
    prose = FENCE.sub("", text).strip()
    if len(prose) < 200:
        raise ParseError("no explanation: under 200 characters of text outside code blocks")
    blocks = python_blocks(text)
    return Parsed("\n".join(blocks), "", (), answer=text.strip(),
                  unverified=None if blocks else "no Python code to run")


QUESTION = re.compile(r"^\W*(question|problem|instruction)\W*:?\s*", re.I)
ANSWER = re.compile(r"^[ \t#*_]*(answer|solution|response)[ \t*_]*:[ \t*_]*", re.I | re.M)


def parse_qa(text: str, kind: str, language: str, toolchain: str | None = None) -> Parsed:
    """A question and its answer: split at a line starting `Answer:` (else at the first code block).
    Package: the answer needs Python code; diverse: Python answers are run, and answers in a language
    with a `toolchain` (an `eval.languages` key: its blocks as one file, built and run); answers in
    other languages and answers without code are unverified."""
    m = ANSWER.search(text)
    if m is None:
        m = FENCE.search(text)
        if m is None:
            raise ParseError("no answer: neither an `Answer:` line nor a code block")
        question, answer = text[:m.start()], text[m.start():]
    else:
        question, answer = text[:m.start()], text[m.end():]
    question = QUESTION.sub("", question.strip()).strip()
    answer = answer.strip()
    if len(question) < 20:
        raise ParseError("no question before the answer")
    if not answer:
        raise ParseError("empty answer")
    python = language.strip().lower() in {"python", "python3", "py"}
    if python:
        blocks = python_blocks(answer)
    elif toolchain:
        blocks = language_blocks(answer, language)
    else:
        blocks = []
    if kind == "package" and not blocks:
        raise ParseError("no python code block in the answer")
    if not python and not toolchain:
        why = f"no toolchain for {language} in the sandbox"
    else:
        why = None if blocks else f"no {language} code to run"
    return Parsed("\n".join(blocks), "", (), problem=question, answer=answer, unverified=why,
                  language="python" if python else toolchain or "")


def program(parsed: Parsed):
    """The sandbox run: the solution in the candidate's process, its tests in the judge."""
    from opencoder.evaluation.sandbox import Program

    return Program(completion=parsed.solution, tests=parsed.tests, entry_points=parsed.entry_points,
                   language=parsed.language)


def sample_text(kind: str, parsed: Parsed) -> dict:
    """The kept sample's payload: `text` (snippet, textbook: for annealing) or `instruction`/`output` (SFT)."""
    if kind == "snippet":
        return {"text": f"{parsed.solution}\n\n{parsed.tests}"}
    if kind == "textbook":
        return {"text": parsed.answer}
    if kind in ("package", "diverse"):
        return {"instruction": parsed.problem, "output": parsed.answer}
    return {"instruction": parsed.problem, "output": f"```python\n{parsed.solution}```"}
