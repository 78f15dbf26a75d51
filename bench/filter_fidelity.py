"""Filter fidelity: the release's own keep/drop decisions against ours, on the same documents.

The release's filtering code (OpenCoder-llm/opc_data_filtering at 44b857e) runs in its own scratch
checkout and virtual environment (`bench/setup_release_filter.sh`), through
`bench/release_filter_worker.py`, which says what it neutralises (the stem-as-file-name of the
notebook, the unseeded p = 0.8 draw, the 10 s timer, regex timeouts). Its results are cached per
document (id and content digest), so a rerun after a change of ours only reruns our engine.

    .venv/bin/python bench/filter_fidelity.py --corpus default [--max-mb 8]
    .venv/bin/python bench/filter_fidelity.py --corpus multi [--per-group 300]
        [--release-python P --release-src S]   (default: what setup_release_filter.sh prints)
        [--json report.json] [--samples 3]

Both sides see the same text (UTF-8, a leading byte-order mark removed, as our preprocess does) and
the same size; each document is judged by the group the release assigns (its own
`get_program_lang(file name, extension)` and `get_doc_type`), and our engine is given that language
and doc type, so what is compared is the rules' signals, not the language tables (the number of
documents our own table would put in another group is reported apart). Documents the release
excludes or does not know (`doc_type` excluded/unknown: no rule judges them) are left out. A p = 0.8
rule drops on both sides by our seeded draw (`opencoder.core.draw`), so only signals decide.
`lang` for the release: `en` for code and data (the notebook's fastText prediction for code), our
language id for text files. Our text-file recall (paper App. C.2, not in the release) is off here.

Reports: decision agreement overall and per group; per rule the four counts (both fire, only ours,
only the release's, neither) over the documents of the groups that have the rule on; and for a
sample of each rule's disagreements, both sides' signal values.

Corpora: `default` is the embedded default (the Python environment's files, as bench/filter_speed.py
reads them); `multi` is a sample of real files on this machine per group (SOURCES), plus the JDK's
Java sources and Boost's C++ headers from Debian packages (`bench/setup_fidelity_corpus.sh`).
"""

from __future__ import annotations

import argparse
import copy
import fnmatch
import hashlib
import json
import os
import random
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from filter_speed import default_corpus  # noqa: E402

from opencoder.core.config import load  # noqa: E402
from opencoder.core.draw import uniform  # noqa: E402
from opencoder.core.languages import classify  # noqa: E402
from opencoder.data.filter import parsing  # noqa: E402
from opencoder.data.filter.engine import Engine  # noqa: E402
from opencoder.data.filter.rules import group_of  # noqa: E402

HERE = Path(__file__).parent
SCRATCH = Path(os.environ.get("OPC_BENCH_SCRATCH", Path.home() / ".cache/opencoder-bench"))
RELEASE_GROUPS = {"cpp", "csharp", "c", "go", "html", "java", "javascript", "python", "shell", "sql"}

# The multi-group sample: (group it is drawn for, root directories, file name patterns). Groups are
# what the release assigns afterwards; the buckets only balance the draw.
CORPUS = "{corpus}"  # bench/setup_fidelity_corpus.sh's directory
SOURCES = [
    ("python", ["/usr/lib/python3.11"], ["*.py"]),
    ("c", ["/usr/include"], ["*.h", "*.c"]),
    ("cpp", [f"{CORPUS}/root/usr/include/boost", "/usr/include"], ["*.hpp", "*.cpp", "*.cc", "*.cxx", "*.hh"]),
    ("java", [f"{CORPUS}/java"], ["*.java"]),
    ("javascript", ["/usr/lib/node_modules", "/usr/share/javascript", "/usr/share/nodejs"], ["*.js"]),
    ("html", ["/usr/share/doc"], ["*.html", "*.htm"]),
    ("shell", ["/usr", "/etc", "/root/.pyenv"], ["*.sh", "*.bash"]),
    ("sql", ["/usr"], ["*.sql"]),
    ("data", ["/usr/share", "/usr/lib/python3.11", "/etc"], ["*.json", "*.yaml", "*.yml", "*.xml", "*.css"]),
    ("others", ["/usr/share", "/usr/lib"], ["*.pl", "*.pm", "*.cmake", "*.tcl", "*.rb", "*.lua", "*.ts", "*.m4"]),
]
EXCLUDED = ("/work/main", "/work/wt", "/usr/lib/python3/dist-packages/opencoder")  # checkouts of this project
MAX_FILE_BYTES = 100_000  # the release runs at ~0.4 MB/s; a few large files would dominate its time


def read_text(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data or b"\0" in data:
        return None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None


def files_under(root: str, cache: dict) -> list[str]:
    """Every regular file under `root` (one walk per root, shared by the buckets)."""
    if root not in cache:
        found = []
        for dirpath, dirnames, filenames in os.walk(root):
            if dirpath.startswith(EXCLUDED):
                dirnames[:] = []
                continue
            found += [os.path.join(dirpath, f) for f in filenames]
        cache[root] = found
    return cache[root]


def multi_corpus(per_group: int, corpus_dir: str, seed: int) -> pl.DataFrame:
    rows, seen, walked = [], set(), {}
    for bucket, roots, patterns in SOURCES:
        candidates = set()
        for root in roots:
            for p in files_under(root.format(corpus=corpus_dir), walked):
                if any(fnmatch.fnmatch(os.path.basename(p), pattern) for pattern in patterns):
                    if os.path.isfile(p) and not os.path.islink(p):
                        candidates.add(p)
        candidates = sorted(candidates - seen)
        random.Random(f"{seed}:{bucket}").shuffle(candidates)
        taken = 0
        for p in candidates:
            if taken >= per_group:
                break
            if os.path.getsize(p) > MAX_FILE_BYTES:
                continue
            text = read_text(Path(p))
            if text is None:
                continue
            seen.add(p)
            rel = p.replace(corpus_dir, "debian")
            rows.append({"id": f"{bucket}:{rel}", "text": text, "path": rel.lstrip("/")})
            taken += 1
        print(f"  {bucket:<10} {taken} of {len(candidates)} candidates", file=sys.stderr)
    docs = pl.DataFrame(rows)
    return docs.with_columns(bytes=pl.col("text").str.len_bytes().cast(pl.Int64))


# ---------------------------------------------------------------------------- release side ---


def release_setup() -> tuple[str, str]:
    out = subprocess.run([str(HERE / "setup_release_filter.sh")], check=True, capture_output=True, text=True)
    python, src = out.stdout.split()[-2:]
    return python, src


def digest(row: dict, lang: str) -> str:
    return hashlib.sha1(f"{row['path']}\0{lang}\0{row['bytes']}\0{row['text']}".encode()).hexdigest()


def release_results(docs: list[dict], python: str, src: str, cache: Path) -> dict[str, dict]:
    """The release's result per document id, from the cache or by running its code."""
    cached = {}
    if cache.exists():
        for line in cache.read_text().splitlines():
            r = json.loads(line)
            cached[r["key"]] = r
    todo = [d for d in docs if d["key"] not in cached]
    if todo:
        print(f"release: {len(todo)} documents to run ({len(docs) - len(todo)} cached)", file=sys.stderr)
        payload = "".join(json.dumps({k: d[k] for k in ("id", "text", "path", "bytes", "lang")}) + "\n" for d in todo)
        proc = subprocess.run([python, str(HERE / "release_filter_worker.py"), src], input=payload,
                              capture_output=True, text=True)
        if proc.returncode:
            sys.stderr.write(proc.stderr[-5000:])
            raise SystemExit("release worker failed")
        by_id = {d["id"]: d["key"] for d in todo}
        cache.parent.mkdir(parents=True, exist_ok=True)
        with cache.open("a") as f:
            for line in proc.stdout.splitlines():
                r = json.loads(line)
                r["key"] = by_id[r["id"]]
                cached[r["key"]] = r
                f.write(json.dumps(r) + "\n")
    return {d["id"]: cached[d["key"]] for d in docs}


def release_group(program_lang: str, doc_type: str) -> str:
    if doc_type == "text":
        return "text"
    if program_lang in RELEASE_GROUPS:
        return program_lang
    return "data" if doc_type == "data" else "others"


# ------------------------------------------------------------------------------ comparison ---


def compare(docs: pl.DataFrame, config: dict, python: str, src: str, cache: Path, samples: int) -> dict:
    params = copy.deepcopy(config["filter"])
    params["text_recall"]["enabled"] = False
    engine = Engine(params, threads=1)
    rows = docs.to_dicts()
    for row in rows:  # the release's `lang`: en for code and data, our language id for text files
        language, doc_type = classify(row["path"])
        row["our_language"], row["our_doc_type"] = language, doc_type
        row["lang"] = "en"
        if doc_type == "text":
            row["lang"] = parsing.analyse((row["text"], "", "text"))["text_language"] or "en"
        row["key"] = digest(row, row["lang"])
    release = release_results(rows, python, src, cache)
    judged = [r for r in rows if release[r["id"]]["doc_type"] in ("code", "data", "text")]
    judged_ids = {r["id"] for r in judged}
    left_out = Counter(release[r["id"]]["doc_type"] for r in rows if r["id"] not in judged_ids)
    frame = pl.DataFrame([{
        "id": r["id"], "text": r["text"], "path": r["path"], "bytes": r["bytes"],
        "language": release[r["id"]]["program_lang"], "doc_type": release[r["id"]]["doc_type"],
    } for r in judged], schema={"id": pl.String, "text": pl.String, "path": pl.String, "bytes": pl.Int64,
                                "language": pl.String, "doc_type": pl.String})
    decisions, values = engine.decide(frame, params["chunk_bytes"])
    ours = {row["id"]: (row, vals) for row, vals in zip(decisions.to_dicts(), values.to_dicts())}

    per_group = defaultdict(lambda: Counter())
    rules = defaultdict(Counter)
    disagreements = defaultdict(lambda: {"ours": [], "release": []})
    other_table = 0
    for r in judged:
        rel = release[r["id"]]
        mine, vals = ours[r["id"]]
        group = mine["group"]
        if group != release_group(rel["program_lang"], rel["doc_type"]) and group not in ("text_en", "text_zh"):
            raise SystemExit(f"{r['path']}: our group {group}, the release's {rel['program_lang']}/{rel['doc_type']}")
        if r["our_doc_type"] in ("code", "data", "text") and group_of(
                params["assign"], r["our_language"], r["our_doc_type"], mine["text_language"]) != group:
            other_table += 1
        active = {k: rule for k, rule in engine.groups[group].items() if rule.enabled}
        rel_fired = set(rel["fired"]) & set(active)
        our_fired = set(mine["fired"]) & set(active)
        if rel["crashed"]:
            rel_kept = False
        else:
            rel_kept = not any(active[k].prob >= 1 or uniform(engine.seed, [r["id"]], k)[0] < active[k].prob
                               for k in rel_fired)
        c = per_group[group]
        c["docs"] += 1
        c["agree"] += rel_kept == mine["kept"]
        c["kept_ours"] += mine["kept"]
        c["kept_release"] += rel_kept
        c["release_errors"] += bool(rel["errors"])
        for k in active:
            a, b = k in our_fired, k in rel_fired
            rules[k]["both" if a and b else "ours" if a else "release" if b else "neither"] += 1
            if a != b:
                side = disagreements[k]["ours" if a else "release"]
                if len(side) < samples:
                    side.append({"path": r["path"], "group": group, "ours": vals.get(k),
                                 "release": (rel["signals"] or {}).get(k)})
    total = Counter()
    for c in per_group.values():
        total.update(c)
    return {
        "documents": len(rows), "judged": len(judged), "left_out": dict(left_out),
        "other_group_by_our_table": other_table,
        "overall": dict(total), "groups": {g: dict(c) for g, c in sorted(per_group.items())},
        "rules": {k: dict(c) for k, c in sorted(rules.items())},
        "samples": {k: v for k, v in sorted(disagreements.items())},
    }


def report(result: dict, top: int) -> str:
    out = []
    o = result["overall"]
    out.append(f"{result['documents']} documents, {result['judged']} judged by a group "
               f"(left out: {result['left_out'] or 'none'}); {result['other_group_by_our_table']} would be "
               f"in another group by our own language table")
    out.append(f"decision agreement: {o['agree'] / o['docs']:.4f} ({o['agree']} of {o['docs']})")
    out.append("")
    out.append("| group | documents | agreement | kept (ours) | kept (release) | release signal errors |")
    out.append("|---|---:|---:|---:|---:|---:|")
    for g, c in result["groups"].items():
        out.append(f"| {g} | {c['docs']} | {c['agree'] / c['docs']:.3f} | {c['kept_ours']} | "
                   f"{c['kept_release']} | {c.get('release_errors', 0)} |")
    out.append(f"| **all** | {o['docs']} | **{o['agree'] / o['docs']:.4f}** | {o['kept_ours']} | "
               f"{o['kept_release']} | {o.get('release_errors', 0)} |")
    out.append("")
    ranked = sorted(((k, c) for k, c in result["rules"].items() if c.get("ours", 0) + c.get("release", 0)),
                    key=lambda kc: -(kc[1].get("ours", 0) + kc[1].get("release", 0)))
    out.append(f"rules that disagree ({len(ranked)}; both / only ours / only release / neither):")
    out.append("")
    out.append("| rule | both | only ours | only release | neither |")
    out.append("|---|---:|---:|---:|---:|")
    for k, c in ranked[:top] if top else ranked:
        out.append(f"| `{k}` | {c.get('both', 0)} | {c.get('ours', 0)} | {c.get('release', 0)} | {c.get('neither', 0)} |")
    return "\n".join(out)


def side_by_side(before: dict, after: dict) -> str:
    """Agreement per group and each rule's disagreement, in an earlier report (`--json`) and now."""
    out = ["| group | documents | before | after |", "|---|---:|---:|---:|"]
    for g, cb in before["groups"].items():
        ca = after["groups"].get(g, {"agree": 0, "docs": 1})
        out.append(f"| {g} | {cb['docs']} | {cb['agree'] / cb['docs']:.3f} | {ca['agree'] / ca['docs']:.3f} |")
    ob, oa = before["overall"], after["overall"]
    out.append(f"| **all** | {ob['docs']} | **{ob['agree'] / ob['docs']:.4f}** | **{oa['agree'] / oa['docs']:.4f}** |")
    out += ["", "| rule | before: only ours / only release | after: only ours / only release |", "|---|---:|---:|"]
    size = lambda c: c.get("ours", 0) + c.get("release", 0)  # noqa: E731
    for k in sorted(set(before["rules"]) | set(after["rules"]),
                    key=lambda k: (-size(before["rules"].get(k, {})), -size(after["rules"].get(k, {})), k)):
        rb, ra = before["rules"].get(k, {}), after["rules"].get(k, {})
        if size(rb) + size(ra):
            out.append(f"| `{k}` | +{rb.get('ours', 0)} / −{rb.get('release', 0)} | "
                       f"+{ra.get('ours', 0)} / −{ra.get('release', 0)} |")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", action="append", default=[])
    parser.add_argument("--corpus", choices=["default", "multi"], default="default")
    parser.add_argument("--max-mb", type=float, default=8.0, help="default corpus: MB of documents")
    parser.add_argument("--per-group", type=int, default=300, help="multi corpus: documents per group")
    parser.add_argument("--corpus-dir", default=None, help="bench/setup_fidelity_corpus.sh's directory")
    parser.add_argument("--release-python")
    parser.add_argument("--release-src")
    parser.add_argument("--json", type=Path, help="write the whole report (with samples) here")
    parser.add_argument("--samples", type=int, default=3, help="disagreements shown per rule and side")
    parser.add_argument("--top", type=int, default=0, help="rules listed (0: all that disagree)")
    parser.add_argument("--before", type=Path, help="an earlier --json report: print both side by side")
    args = parser.parse_args(argv)
    config = load(*args.config)
    python, src = (args.release_python, args.release_src) if args.release_python else release_setup()
    if args.corpus == "default":
        docs = default_corpus(config, int(args.max_mb * 1e6)).select("id", "text", "path", "bytes")
        docs = docs.with_columns(text=pl.col("text").str.strip_prefix("\ufeff"))
        docs = docs.with_columns(bytes=pl.col("text").str.len_bytes().cast(pl.Int64))
    else:
        corpus_dir = args.corpus_dir or subprocess.run([str(HERE / "setup_fidelity_corpus.sh")], check=True,
                                                       capture_output=True, text=True).stdout.split()[-1]
        docs = multi_corpus(args.per_group, corpus_dir, config["seed"])
    cache = SCRATCH / "release-filter" / f"results-{args.corpus}.jsonl"
    result = compare(docs, config, python, src, cache, args.samples)
    print(report(result, args.top))
    if args.before:
        print("\n" + side_by_side(json.loads(args.before.read_text()), result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
