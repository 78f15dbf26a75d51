"""Filter speed: the column-wise engine against a per-document Python engine of the same rules.

The anchor (`per_document_decisions`) is the straightforward way to run this rule set: for each
document, compute each signal with plain Python (`regex`, `collections.Counter`) from the same
definitions (`opencoder.data.filter.signals` docstrings and `units`), then apply the same rules. Both
engines share only the per-document pass (`parsing.analyse`: lexers and parsers) and the rule
predicates. The script checks that both give IDENTICAL decisions, then reports documents/s and
MB/s per core and the ratio, and the drop rate per group.

    .venv/bin/python bench/filter_speed.py [--config config/smoke.yaml] [--max-mb 8] [--threads 1]

The two engines take turns on slices of the corpus (`--slice-mb`), so a busy machine slows both alike;
so does the third timing on each slice: the two Python parsers alone (`python_parsers_seconds`), whose
time bounds the ratio any engine of these rules can reach.

Input: the embedded default corpus (the transform shards under the config's out_dir when they
exist, else the files of the Python environment that the default ingest reads).
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import sys
import sysconfig
import time
from collections import Counter
from pathlib import Path

import polars as pl
import regex

from opencoder.core.config import load
from opencoder.data.filter import parsing, signals as S
from opencoder.data.filter.engine import SIGNAL_ERROR, Engine, chunks
from opencoder.core.draw import uniform
from opencoder.data.filter.rules import group_of
from opencoder.data.filter.units import LETTER, DIGIT, NOT_WS, TOKEN, WHITESPACE, WS, words

# ------------------------------------------------------------------- per-document units ---


def lines(text: str) -> list[str]:
    if text == "":
        return []
    if text.endswith("\n"):
        text = text[:-1]
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def visible(lines_: list[str]) -> list[str]:
    return [line for line in lines_ if line.strip(WHITESPACE)]


def line_lengths(d) -> list[int]:
    """Characters per line with its terminator as one character (the last line may have none)."""
    return [len(x) + (i < len(d.lines) - 1 or d.text.endswith("\n")) for i, x in enumerate(d.lines)]


def ratio(num, den):
    return num / den if den else None


class Doc:
    """One document with its units, computed on first use."""

    def __init__(self, row: dict, facts: dict):
        self.row, self.facts = row, facts
        self.text = row["text"]
        self.language = row["language"]
        self.lines = lines(self.text)
        self.code_text = facts["code_text"]
        self.code_lines = visible(lines(self.code_text))
        self.comment_lines = visible(lines("".join(facts["comments"])))
        self.string_lines = "\n".join(facts["strings"]).split("\n")
        zh = facts["zh_words"]
        self.words = zh if zh is not None else words(self.text)
        self.tokens = regex.findall(TOKEN, self.text)
        self.nchars = len(self.text)
        self.nvisible = self.nchars - len(regex.findall(WS, self.text))


def top_ngram(words, n):
    total = sum(len(w) for w in words)
    if not total:
        return None
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    gram, count = Counter(grams).most_common(1)[0]
    if count < 2:
        return 0.0
    return count * sum(len(w) for w in gram) / total


def dupe_ngram(words, n):
    total = sum(len(w) for w in words)
    if not total:
        return None
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    counts = Counter(grams)
    marked = [False] * len(words)
    for i, gram in enumerate(grams):
        if counts[gram] > 1:
            for j in range(i, i + n):
                marked[j] = True
    return sum(len(w) for w, m in zip(words, marked) if m) / total


def release_strings(text):
    return [next((g for g in m.groups() if g is not None), "") for m in regex.finditer(S.RELEASE_STRING, text)]


def count(lines_, pattern, lower=False):
    return sum(1 for line in lines_ if regex.search(pattern, line.lower() if lower else line))


def chars_of(pattern, text):
    return sum(len(m) for m in regex.findall(pattern, text))


def functions(d: Doc, lang: str) -> int:
    if lang in S.FUNC_LINE:
        return count(d.code_lines, S.FUNC_LINE[lang])
    if lang == "javascript":
        return len(regex.findall(S.JS_FUNCTION, d.code_text))
    if lang == "java":
        return d.facts["java_functions"]
    if lang in ("c", "cpp"):
        return len(regex.findall(S.C_PATTERNS["function"], d.code_text))
    return len(d.facts["function_names"])


def last_words(pattern, text):
    return [regex.search(f"({S.IDENT})$", m).group(1) for m in regex.findall(pattern, text)]


def legal(names, pattern):
    return ratio(sum(1 for x in names if regex.search(pattern, x)), len(names))


def signal(rule_id: str, d: Doc):
    """The value of one signal for one document, straight from its definition."""
    f, lexed = d.facts, d.facts["lexed"]
    name = rule_id.split("_", 2)[2] if rule_id.startswith(("qsc_code_", "qsc_doc_")) else None
    if name:
        if name.startswith(("frac_chars_top_", "frac_chars_dupe_")) and name.endswith("grams"):
            n = int(regex.search(r"(\d+)grams", name).group(1))
            return top_ngram(d.words, n) if "top" in name else dupe_ngram(d.words, n)
        shared = {
            "frac_chars_replacement_symbols": lambda: ratio(d.text.count("\ufffd"), d.nchars),
            "num_words": lambda: len(d.words),
            "num_chars": lambda: d.nchars,
            "mean_word_length": lambda: ratio(sum(len(w) for w in d.words), len(d.words)),
            "frac_words_unique": lambda: ratio(len(set(d.words)), len(d.words)),
            "num_lines": lambda: len(d.lines),
            "frac_chars_whitespace": lambda: 1.0 if d.nchars == 0 else (d.nchars - d.nvisible) / d.nchars,
            "frac_chars_digital": lambda: 1.0 if d.nvisible == 0 else len(regex.findall(DIGIT, d.text)) / d.nvisible,
        }
        if name in shared:
            return shared[name]()
    alphabet = 0.0 if d.nvisible == 0 else len(regex.findall(LETTER, d.text)) / d.nvisible
    if rule_id == "qsc_code_frac_chars_alphabet":
        return alphabet
    if rule_id == "qsc_doc_frac_chars_alphabet":
        return 0.0 if d.nvisible == 0 else (alphabet if f["text_language"] == "en" else None)
    if rule_id == "qsc_doc_frac_chars_hex_words":
        return ratio(chars_of(S.HEX_WORD, d.text), d.nchars)
    if rule_id == "qsc_doc_entropy_unigram":
        total = len(d.words)
        return -sum(c / total * math.log(c / total) for c in Counter(d.words).values()) if total else None
    if rule_id == "qsc_doc_frac_chars_curly_bracket":
        return ratio(d.text.count("{") + d.text.count("}"), d.nchars)
    if rule_id == "qsc_doc_frac_chars_dupe_lines":
        stripped = [line.strip(WHITESPACE) for line in d.lines]
        counts = Counter(stripped)
        return ratio(sum(len(s) for s in stripped if counts[s] > 1), sum(len(s) for s in stripped))
    if rule_id == "qsc_doc_frac_lines_dupe_lines":
        stripped = [line.strip(WHITESPACE) for line in visible(d.lines)]
        counts = Counter(stripped)
        return ratio(sum(1 for s in stripped if counts[s] > 1), len(stripped))
    if rule_id == "qsc_doc_frac_lines_end_with_readmore":
        ends = [line.rstrip(WHITESPACE).rstrip(S.CLOSING).endswith(S.READMORE) for line in d.lines]
        return ratio(sum(ends), len(d.lines))
    if rule_id == "qsc_doc_frac_lines_start_with_bullet":
        return ratio(sum(line.lstrip(WHITESPACE).startswith(S.BULLETS) for line in d.lines), len(d.lines))
    if rule_id == "qsc_doc_frac_words_all_caps":
        caps = [t for t in d.tokens if regex.search(r"\p{Lu}", t) and not regex.search(r"\p{Ll}", t)]
        return ratio(len(caps), len(d.tokens))
    if rule_id == "qsc_doc_frac_words_full_bracket":
        return ratio(sum(t in ("【", "】") for t in d.tokens), len(d.tokens))
    if rule_id == "qsc_doc_frac_words_redpajama_stop":
        return ratio(sum(w in S.STOP_WORDS for w in d.words), len(d.words)) if f["text_language"] == "en" else None
    if rule_id == "qsc_doc_num_sentences":
        return len(regex.findall(S.SENTENCE, d.text))
    if rule_id == "qsc_doc_frac_chars_hyperlink_html_tag":
        return ratio(chars_of(S.LINK, d.text) + chars_of(S.HTML_TAG, d.text), d.nchars)
    if rule_id == "qsc_doc_cate_code_related_file_name":
        stem = d.row["path"].split("/")[-1].split(".")[0].lower()
        return stem in S.CODE_FILE_NAMES or "requirement" in stem
    # general code
    if rule_id == "qsc_code_size_file_byte":
        return d.row["bytes"]
    if rule_id == "qsc_code_num_chars_line_max":
        return max(line_lengths(d), default=0)
    if rule_id == "qsc_code_num_chars_line_mean":
        return sum(line_lengths(d)) / len(d.lines) if d.lines else 0.0
    if rule_id == "qsc_code_frac_chars_comments":
        chars = f["py_comment_chars"] if d.language == "python" else sum(len(c) for c in f["comments"])
        return ratio(chars, d.nchars) if lexed else None
    if rule_id == "qsc_code_cate_xml_start":
        return "<?xml version=" in d.text[:100]
    if rule_id == "qsc_code_cate_autogen":
        head = d.text[:200].lower()
        return "generate" in head or "autogen" in head or "do not edit" in head
    if rule_id == "qsc_code_frac_lines_dupe_lines":
        keys = [regex.sub(WS, "", line) for line in d.code_lines]
        counts = Counter(keys)
        return ratio(sum(1 for k in keys if counts[k] > 1 and k != "}," and len(k) != 1), len(keys))
    if rule_id == "qsc_code_frac_lines_long_string":
        long = sum(1 for s in d.string_lines if len(regex.findall(TOKEN, s)) > 20)
        return ratio(long, len(d.code_lines)) if lexed else None
    if rule_id == "qsc_code_frac_chars_string_length":
        return ratio(sum(len(s) for s in release_strings(d.code_text)), len(d.code_text))
    if rule_id == "qsc_code_frac_chars_long_word_length":
        words = regex.findall(f"{NOT_WS}+", " ".join(release_strings(d.code_text)))
        chars = sum(len(w) for w in words if len(w) > 20 and not regex.search(S.URL, w))
        return ratio(chars, len(d.code_text))
    if rule_id == "qsc_code_frac_lines_string_concat":
        return ratio(count(d.code_lines, S.STRING_CONCAT), len(d.code_lines)) if lexed else None
    if rule_id == "qsc_code_cate_encoded_data":
        lengths = [len(m) for p in S.ENCODED for m in regex.findall(p, d.text)]
        return max(lengths, default=0) > 1024 or (ratio(sum(lengths), d.nchars) or 0.0) > 0.5
    if rule_id == "qsc_code_frac_chars_hex_words":
        return ratio(chars_of(S.HEX_WORD, d.code_text), len(d.code_text))
    if rule_id == "qsc_code_frac_lines_prompt_comments":
        return ratio(count(d.comment_lines, S.PROMPT, lower=True), len(d.lines)) if lexed else None
    if rule_id == "qsc_code_frac_lines_assert":
        return ratio(sum("assert" in x.lower() for x in d.code_lines), len(d.code_lines))
    return language_signal(rule_id, d)


def language_signal(rule_id: str, d: Doc):
    f = d.facts
    prefix, name = regex.match(r"qsc_code(\w+?)_((?:cate|frac|score|nums?)_\w+)$", rule_id).groups()
    lang = {"c": "c", "cpp": "cpp", "csharp": "csharp", "go": "go", "java": "java", "javascript": "javascript",
            "python": "python", "html": "html"}[prefix]
    if d.language != lang:
        return None
    ncode = len(d.code_lines)
    if lang == "python":
        share = lambda word, lower: ratio(sum(word in (x.lower() if lower else x) for x in d.code_lines), ncode)  # noqa: E731
        return {
            "cate_ast": lambda: f["py_parses"],
            "frac_lines_func_ratio": lambda: ratio(f["py_functions"], ncode) if f["py_parses"] else None,
            "cate_var_zero": lambda: f["py_assignments"] == 0 if f["py_parses"] else None,
            "frac_lines_pass": lambda: share("pass", True) or 0.0,
            "frac_lines_import": lambda: share("import", True) or 0.0,
            "frac_lines_print": lambda: share("print", False),
            "frac_lines_simplefunc": lambda: ratio(f["py_simple_functions"], ncode) if f["py_parses"] else None,
            "score_lines_no_logic": lambda: ratio(
                f["py_no_logic"] + sum("import" in x.lower() for x in d.code_lines)
                + len(regex.findall(S.PY_RETURN, d.code_text)), ncode) if f["py_parses"] else None,
        }[name]()
    if lang == "html":
        text = f["html_text"]
        return {
            "cate_ast": lambda: f["html_parses"],
            "frac_words_text": lambda: ratio(len(text), d.nchars) if text is not None else None,
            "num_chars_text": lambda: len(text) if text is not None else None,
        }[name]()
    if name == "cate_ast":
        return f["js_parses"]
    if lang == "javascript" and name in ("frac_lines_func_ratio", "cate_var_zero", "score_lines_no_logic") \
            and not f["js_parses"]:
        return None
    if name == "frac_lines_func_ratio":
        return ratio(functions(d, lang), ncode)
    if name == "cate_var_zero" and lang == "java":
        return f["java_variables"] == 0
    if name == "score_lines_no_logic" and lang == "java":
        return ratio(f["java_no_logic"], ncode)
    if name == "score_lines_no_logic" and lang in ("c", "cpp"):
        return ratio(sum(len(regex.findall(p, d.code_text)) for p in S.C_PATTERNS.values()), ncode)
    if name == "cate_var_zero":
        return count(d.code_lines, S.VAR_DECL[lang]) == 0
    if name == "score_lines_no_logic":
        parts = functions(d, lang) + sum(count(d.code_lines, p) for p in (
            S.IMPORT_LINE[lang], S.CLASS_DECL, S.TRIVIAL_RETURN, S.TRIVIAL_ASSIGN))
        return ratio(parts, ncode)
    if name == "frac_lines_print":
        return ratio(count(d.code_lines, S.PRINT_LINE[lang]), ncode)
    if name == "nums_lines_main":
        return len(regex.findall(rf"\bmain{WS}*\([^)]*\){WS}*\{{", d.code_text))
    if name == "frac_lines_preprocessor_directives":
        if d.row["path"].lower().endswith(S.HEADER_EXTENSIONS):
            return None
        return ratio(count(d.code_lines, S.C_DIRECTIVE), ncode)
    if name == "cate_bitsstdc":
        return bool(regex.search(rf"#{WS}*include{WS}*<bits/stdc\+\+\.h>", d.code_text))
    if name == "frac_lines_goto":
        return ratio(count(d.code_lines, r"\bgoto\b"), ncode)
    if name == "cate_testfile":
        return d.row["path"].endswith("_test.go")
    if name == "frac_words_legal_var_name":
        return legal(last_words(S.DECLARED_VAR[lang], d.code_text), S.LOWER_CAMEL)
    if name == "frac_words_legal_func_name":
        names = f["function_names"] if lang == "java" else last_words(S.DECLARED_FUNC_JS, d.code_text)
        return legal(names, S.LOWER_CAMEL)
    if name == "frac_words_legal_class_name":
        return legal(last_words(rf"\bclass{WS}+{S.IDENT}", d.code_text), S.UPPER_CAMEL)
    if name == "frac_words_no_modifier":
        decl = [x for x in d.code_lines if regex.search(S.JAVA_DECL, x)]
        return ratio(sum(1 for x in decl if not regex.search(r"\b(?:public|private|protected)\b", x)), len(decl))
    if name == "num_statement_line":
        return ratio(sum(x.count(";") for x in d.code_lines), ncode)
    raise KeyError(rule_id)


PASS_SECONDS = [0.0]  # time the anchor spends in the shared per-document pass


def per_document_decisions(docs: pl.DataFrame, engine: Engine) -> pl.DataFrame:
    """The anchor: one document at a time, signal by signal, rule by rule."""
    assign = engine.params["assign"]
    out = []
    for row in docs.iter_rows(named=True):
        start = time.perf_counter()
        facts = parsing.analyse((row["text"], row["language"] or "", row["doc_type"]))
        PASS_SECONDS[0] += time.perf_counter() - start
        group = group_of(assign, row["language"], row["doc_type"], facts["text_language"])
        if facts["error"]:
            out.append({"id": row["id"], "group": group, "fired": [SIGNAL_ERROR], "dropped_by": [SIGNAL_ERROR]})
            continue
        d = Doc(row, facts)
        fired, dropped = [], []
        for rule_id, rule in sorted(engine.groups[group].items()):
            if rule.enabled and rule.holds(signal(rule_id, d)):
                fired.append(rule_id)
                if rule.prob >= 1 or uniform(engine.seed, [row["id"]], rule_id)[0] < rule.prob:
                    dropped.append(rule_id)
        out.append({"id": row["id"], "group": group, "fired": fired, "dropped_by": dropped})
    return pl.DataFrame(out, schema={"id": pl.String, "group": pl.String, "fired": pl.List(pl.String),
                                     "dropped_by": pl.List(pl.String)})


# --------------------------------------------------------------------------- benchmark ---


def default_corpus(config: dict, max_bytes: int) -> pl.DataFrame:
    """The transform shards of the build if present, else the Python environment's files, in path order."""
    from opencoder.data.filter.cli import complete

    shards = sorted(glob.glob(f"{config['out_dir']}/transform/*.parquet"))
    if shards:
        docs = pl.concat([pl.read_parquet(s) for s in shards])
    else:
        rows = []
        for root in sorted({sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]}):
            for path in sorted(Path(root).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts and path.stat().st_size < 1_000_000:
                    try:
                        text = path.read_text(encoding="utf-8")
                    except (UnicodeDecodeError, OSError):
                        continue
                    rows.append({"id": str(path), "text": text, "path": str(path.relative_to(root))})
        docs = complete(pl.DataFrame(rows), "python environment")
        docs = docs.filter(pl.col("doc_type").is_in(["code", "data", "text"]))
    # an even spread over languages: a seeded shuffle, then the first max_bytes
    docs = docs.sample(fraction=1.0, shuffle=True, seed=config["seed"])
    return docs.filter(pl.col("bytes").cum_sum() <= max_bytes)


def python_parsers_seconds(docs: pl.DataFrame) -> float:
    """Seconds that the two parsers the Python rules need take alone on the Python documents.

    Every engine of this rule set parses each Python file twice: a lexer for comments and strings
    (tree-sitter's Python grammar here) and `ast.parse`, which defines `qsc_codepython_cate_ast`. Their
    time bounds the end-to-end ratio of any engine against an anchor that uses the same parsers.
    """
    parser, _ = parsing.tree_sitter_parser("tree_sitter_python", parsing.PYTHON_QUERY)
    texts = python_code(docs)["text"].to_list()
    start = time.perf_counter()
    for text in texts:
        parser.parse(text.encode("utf-8"))
        parsing.parse_python(text)
    return time.perf_counter() - start


def python_code(docs: pl.DataFrame) -> pl.DataFrame:
    return docs.filter(pl.col("language") == "python", pl.col("doc_type") == "code")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", action="append", default=[])
    parser.add_argument("--max-mb", type=float, default=8.0, help="MB of documents to judge")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--slice-mb", type=float, default=0.5, help="MB per turn of each engine")
    args = parser.parse_args(argv)
    config = load(*args.config)
    # the text-file recall (paper App. C.2) is a model's score, not a rule of the release: both engines without it
    config["filter"]["text_recall"]["enabled"] = False
    docs = default_corpus(config, int(args.max_mb * 1e6))
    mb = docs["bytes"].sum() / 1e6
    engine = Engine(config["filter"], threads=args.threads)
    print(f"{docs.height} documents, {mb:.2f} MB, threads={args.threads}, cpus={os.cpu_count()}", file=sys.stderr)

    # one document per language first, so neither engine is timed loading lexers, grammars or models
    for row in docs.unique(["language", "doc_type"], keep="first", maintain_order=True).iter_rows(named=True):
        parsing.analyse((row["text"], row["language"] or "", row["doc_type"]))
    # both engines take turns on the same slices, so load from other processes hits them alike
    fast_parts, slow_parts, t_fast, t_slow, t_parsers = [], [], 0.0, 0.0, 0.0
    for part in chunks(docs, args.slice_mb * 1e6):
        t0 = time.perf_counter()
        fast_parts.append(engine.decide(part, config["filter"]["chunk_bytes"])[0])
        t_fast += time.perf_counter() - t0
        t0 = time.perf_counter()
        slow_parts.append(per_document_decisions(part, engine))
        t_slow += time.perf_counter() - t0
        t_parsers += python_parsers_seconds(part)
    fast, slow = pl.concat(fast_parts), pl.concat(slow_parts)
    same = fast.select("id", "group", "fired", "dropped_by").equals(slow)
    rate = lambda t, threads: mb / t / threads  # noqa: E731 — MB/s per core
    print(f"identical decisions: {same}")
    print(f"column-wise engine : {docs.height / t_fast:8.1f} docs/s {rate(t_fast, args.threads):7.3f} MB/s per core")
    print(f"per-document engine: {docs.height / t_slow:8.1f} docs/s {rate(t_slow, 1):7.3f} MB/s per core")
    print(f"ratio end to end   : {rate(t_fast, args.threads) / rate(t_slow, 1):.1f}x")
    fast_pass, fast_cols = engine.seconds["pass"] * args.threads, engine.seconds["columns"] * args.threads
    slow_pass, slow_cols = PASS_SECONDS[0], t_slow - PASS_SECONDS[0]
    print(f"per-document pass (lexers, parsers, language id; same code in both): column-wise engine "
          f"{mb / fast_pass:.3f}, anchor {mb / slow_pass:.3f} MB/s per core")
    print(f"signals + rules: column-wise {mb / fast_cols:.2f} MB/s per core, per-document {mb / slow_cols:.3f} "
          f"MB/s per core, ratio {slow_cols / fast_cols:.1f}x")
    python_mb = python_code(docs)["bytes"].sum() / 1e6
    print(f"python parsers alone (tree-sitter parse + ast.parse, {python_mb:.2f} MB of Python): "
          f"{python_mb / t_parsers:.2f} MB/s per core; end-to-end ratio ceiling with these parsers "
          f"{t_slow / t_parsers:.1f}x")
    rates = fast.group_by("group").agg(docs=pl.len(), dropped=(~pl.col("kept")).mean()).sort("group")
    for row in rates.iter_rows(named=True):
        print(f"  drop rate {row['group']:<10} {row['dropped']:6.1%} of {row['docs']} documents")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
