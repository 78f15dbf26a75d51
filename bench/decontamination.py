"""Decontamination recall and false-positive rate (opencoder.training.sft.decontaminate).

Recall: every HumanEval item (prompt + canonical solution) injected into an instruction sample,
(a) verbatim, (b) reformatted: re-indented with 2 spaces, quotes swapped, and the prose re-wrapped
at another width, (c) the solution alone with the function signature (no docstring), as an answer
would carry it. False positives: every top-level function of the Python standard library, one
sample each (clean code: no benchmark item is copied there), with the default whitelist and with
none. Usage: python bench/decontamination.py [--limit N]
"""

from __future__ import annotations

import argparse
import ast
import re
import sysconfig
import textwrap
import time
from pathlib import Path

from opencoder.core.config import load
from opencoder.evaluation.benchmarks import BENCHMARKS
from opencoder.evaluation.records import read_records
from opencoder.training.sft.decontaminate import Index, benchmark_items, decontaminate


def sample(i: str, user: str, answer: str) -> dict:
    return {"id": i, "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]}


def reformat(code: str) -> str:
    """Same tokens, other layout: 2-space indents, swapped quotes, docstring prose re-wrapped."""
    out = []
    for line in code.splitlines():
        stripped = line.lstrip(" ")
        indent = (len(line) - len(stripped)) // 4 * 2
        out.append(" " * indent + stripped.replace("'", '"'))
    text = "\n".join(out)
    return re.sub(r'"""(.*?)"""', lambda m: '"""' + textwrap.fill(" ".join(m.group(1).split()), 37) + '"""',
                  text, flags=re.S)


def signature_and_solution(record: dict) -> str:
    head = [ln for ln in record["prompt"].splitlines() if ln.startswith("def ")][-1]
    return f"{head}\n{record['canonical_solution']}"


def clean_samples() -> list[dict]:
    root = Path(sysconfig.get_paths()["stdlib"])
    out = []
    for path in sorted(root.rglob("*.py")):
        if {"test", "tests", "idlelib", "site-packages", "dist-packages"} & set(path.parts):
            continue
        try:
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        lines = text.splitlines(keepends=True)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                code = "".join(lines[node.lineno - 1:node.end_lineno])
                out.append(sample(f"{path.relative_to(root)}:{node.name}", "Explain this code.", code))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    params = load()["sft"]["decontamination"]
    records = read_records(BENCHMARKS["humaneval"].builtin())[: args.limit]
    items = benchmark_items(params["benchmarks"])
    index = Index(items, params["ngram"], params["whitelist"], params["common_entry_points"])
    variants = {
        "verbatim": [sample(r["task_id"], "Complete:\n" + r["prompt"], r["canonical_solution"]) for r in records],
        "reformatted": [sample(r["task_id"], "Complete:\n" + reformat(r["prompt"]), reformat(r["canonical_solution"]))
                        for r in records],
        "signature+solution": [sample(r["task_id"], "Write it.", signature_and_solution(r)) for r in records],
    }
    print(f"HumanEval items: {len(records)}; n-gram {params['ngram']}; index: {len(index.grams)} n-grams, "
          f"{len(index.names)} entry points")
    for name, rows in variants.items():
        kept, audit = decontaminate(rows, index)
        right = sum(a["item"] == a["sample_id"] for a in audit)
        kinds = {k: sum(a["kind"] == k for a in audit) for k in ("ngram", "entry_point")}
        print(f"recall {name:20s} {len(audit) / len(rows):.3f} ({len(audit)}/{len(rows)}; "
              f"attributed to the right item {right}; by {kinds})")
    clean = clean_samples()
    for label, idx in (("default whitelist", index), ("no whitelist", Index(items, params["ngram"]))):
        began = time.perf_counter()
        _, audit = decontaminate(clean, idx)
        seconds = time.perf_counter() - began
        kinds = {k: sum(a["kind"] == k for a in audit) for k in ("ngram", "entry_point")}
        print(f"false positives, {label:17s} {len(audit) / len(clean):.4f} ({len(audit)}/{len(clean)} stdlib functions;"
              f" by {kinds}; {len(clean) / seconds:,.0f} samples/s)")
        for a in audit[:8]:
            print(f"    {a['sample_id']}: {a['item']} {a['kind']} {a['match']!r}")


if __name__ == "__main__":
    main()
