"""The embedded default's instruction set: documented Python functions of the corpus whose doctests
pass in the evaluation sandbox.

For every top-level function of a corpus Python file whose docstring holds doctest examples (`>>>`),
the instruction asks for a function with that signature and docstring, and the answer is the
function itself, preceded by those of the file's absolute imports whose names it uses. A candidate
is kept only when its doctests pass in the evaluation sandbox (`opencoder.evaluation.sandbox`): the
imports and the function run in the candidate's process, the doctests over its docstring run there
too, and the trusted judge checks that none failed; the answer is executed, not trusted. Functions
that depend on the rest of their module fail there and are dropped (counted in the stats with the
reason).
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import polars as pl

# appended to the candidate's code: runs the function's doctests in the candidate's own process and
# returns the number that failed, which the judge's trusted test checks (the answer is never trusted)
RUNNER = "_opencoder_doctest_failures"
CHECK = """

def {runner}():
    import doctest as _doctest
    _failed = 0
    for _test in _doctest.DocTestFinder().find({name}, "{name}", globs=dict(globals())):
        _failed += _doctest.DocTestRunner(optionflags=_doctest.ELLIPSIS).run(_test, out=lambda _text: None).failed
    return _failed
"""
TEST = f"assert {RUNNER}() == 0, 'doctests failed'\n"


def source_segments(text: str):
    """`ast.get_source_segment(text, node)` for many nodes of one file: that function splits the whole
    file into lines on every call (half the stage's time on the embedded default); this splits it once,
    the same way (on \\r\\n, \\r and \\n only, the lines node positions count in)."""
    lines = re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z", text)

    def segment(node: ast.AST) -> str:
        first, last = node.lineno - 1, node.end_lineno - 1  # columns are UTF-8 byte offsets
        if first == last:
            return lines[first].encode()[node.col_offset:node.end_col_offset].decode()
        return (lines[first].encode()[node.col_offset:].decode() + "".join(lines[first + 1:last])
                + lines[last].encode()[:node.end_col_offset].decode())
    return segment


# a docstring can hold ">>>" only if its source does: literally, split across adjacent literals or a
# backslash-newline (a ">" before a quote or a line continuation), or through an escape of ">"
PROMPT = re.compile(r">>>|>(?:[\"']|\\[\r\n])|\\(?:x3e|0?76|u003e|U0000003e|N\{GREATER-THAN SIGN\})", re.IGNORECASE)


def candidates(text: str, doc_id: str, path: str) -> list[dict]:
    """Documented top-level functions with doctest examples in one Python file."""
    if not PROMPT.search(text):  # most files: no parse needed
        return []
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    segment = source_segments(text)
    lines = text.splitlines(keepends=True)
    imports = [n for n in tree.body if isinstance(n, ast.Import) or (isinstance(n, ast.ImportFrom) and not n.level)]
    out = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        doc = ast.get_docstring(node)
        if not doc or ">>>" not in doc or node.decorator_list:
            continue
        source = "".join(lines[node.lineno - 1:node.end_lineno])
        signature = segment(node).split(":\n", 1)[0].removeprefix("def ")
        instruction = (f"Write a Python function `{signature}` that does what this docstring says; "
                       f"its examples must pass as doctests.\n\n{textwrap.indent(doc, '    ')}")
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        needed = [segment(n) for n in imports
                  if any((a.asname or a.name.split(".")[0]) in used for a in n.names)]
        header = "\n".join(needed) + ("\n\n" if needed else "")
        answer = f"```python\n{header}{source.rstrip()}\n```"
        out.append({"doc_id": doc_id, "path": path, "name": node.name, "instruction": instruction,
                    "output": answer, "program": program(f"{header}{source}", node.name)})
    return out


def program(code: str, name: str):
    """The sandbox run of `code` (imports and the function `name`): its doctests must all pass."""
    from opencoder.evaluation.sandbox import Program

    return Program(completion=code + CHECK.format(runner=RUNNER, name=name), tests=TEST, entry_points=(RUNNER,))


def build(corpus: list[str], params: dict, threads: int = 1) -> tuple[list[dict], list[dict], dict]:
    """(kept rows `{id, instruction, output, ...}`, dropped rows with reasons, stats) of the corpus."""
    from opencoder.core import shards
    from opencoder.evaluation.sandbox import Limits, Sandbox

    found = []
    for path in sorted(corpus):
        df = shards.read_documents(path).filter(pl.col("language") == "python").sort("id")
        for row in df.select("id", "path", "text").iter_rows(named=True):
            found.extend(candidates(row["text"], row["id"], row["path"]))
    limit = params.get("max_candidates")
    found = found[:limit] if limit else found
    sandbox = Sandbox(Limits.from_config(params["sandbox"]), uid=params["sandbox"].get("uid", 65534))
    outcomes = sandbox.judge_many([c["program"] for c in found], threads=threads, desc="doctests")
    kept, dropped = [], []
    for c, o in zip(found, outcomes):
        base = {"id": f"{c['doc_id']}:{c['name']}", "path": c["path"], "name": c["name"]}
        if o.status == "passed":
            kept.append({**base, "instruction": c["instruction"], "output": c["output"]})
        else:
            dropped.append({**base, "reason": o.status})
    reasons: dict[str, int] = {}
    for d in dropped:
        reasons[d["reason"]] = reasons.get(d["reason"], 0) + 1
    stats = {"stage": "sft-doctests", "candidates": len(found), "kept": len(kept), "dropped": reasons}
    return kept, dropped, stats


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    from opencoder.core import shards
    from opencoder.core.args import add_io
    from opencoder.core.config import add_config_args, stage_params

    parser = argparse.ArgumentParser(prog="opencoder sft-doctests", description=__doc__.splitlines()[0])
    add_io(parser, "input", nargs="+", metavar="PARQUET", help="corpus shards")
    add_io(parser, "output", help="instruction file (jsonl, opc-sft format); .dropped.parquet and .stats.json beside it")
    parser.add_argument("--threads", type=int, default=1, help="sandboxed programs run at once")
    add_config_args(parser)
    args = parser.parse_args(argv)
    kept, dropped, stats = build(args.input, stage_params(args, "sft.doctests"), args.threads)
    out = Path(args.output)
    with shards.atomic_path(out) as tmp:
        tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in kept), encoding="utf-8")
    shards.write_parquet(pl.DataFrame(dropped, schema={"id": pl.String, "path": pl.String, "name": pl.String,
                                                       "reason": pl.String}), out.with_suffix(".dropped.parquet"))
    shards.write_json(stats, out.with_suffix(".stats.json"))
    return 0
