"""Quality signals, each defined once, computed column-wise over a whole shard.

A signal maps every document of a frame to a number or a boolean, or to null where it is undefined
(a null never fires a rule). Signals are registered under the release's rule ids; several ids share
one definition (`qsc_code_num_words` and `qsc_doc_num_words`). Most signals are polars expressions
over the columns `prepare` adds; the n-gram repetition signals work on an exploded word frame
(`ngram_signals`). Units (lines, words, whitespace) are those of `opencoder.data.filter.units`.

Columns a signal may read (see `prepare` and `opencoder.data.filter.parsing`): `text`, `path`, `bytes`,
`language`, `text_language`, the per-document pass columns, and the helpers `_lines`, `_code_lines`,
`_comment_lines`, `_string_lines`, `_words` (`zh_words` where given), `_tokens`, `_nchars`, `_nvisible`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import numpy as np
import polars as pl

from opencoder.data.filter.units import (DIGIT, LETTER, NORM_DELETE, NORM_SPACE, NORM_TOKEN, NOT_WS, TOKEN, WHITESPACE, WS)

STR_LIST = pl.List(pl.String)


@dataclasses.dataclass(frozen=True)
class Signal:
    name: str
    doc: str
    expr: Callable[[], pl.Expr] | None = None  # column-wise definition
    ngram: tuple[str, int] | None = None  # ("top" | "dupe", n): computed by `ngram_signals`


SIGNALS: dict[str, Signal] = {}  # rule id -> signal


def signal(*rule_ids: str):
    """Register an expression-building function as the signal of `rule_ids`."""

    def register(fn):
        sig = Signal(fn.__name__, (fn.__doc__ or "").strip(), expr=fn)
        for rule_id in rule_ids:
            SIGNALS[rule_id] = sig
        return fn

    return register


# ------------------------------------------------------------------ helper columns ---

def split_lines(col: pl.Expr) -> pl.Expr:
    """Lines of a text column (see `units`): split at LF, CR of CRLF dropped, no line after a final LF."""
    parts = col.str.strip_suffix("\n").str.split("\n").list.eval(pl.element().str.strip_suffix("\r"))
    return pl.when(col == "").then(pl.lit([], dtype=STR_LIST)).otherwise(parts)


def visible_lines(lines: pl.Expr) -> pl.Expr:
    return lines.list.eval(pl.element().filter(pl.element().str.strip_chars(WHITESPACE) != ""))


def prepare(frame: pl.DataFrame) -> pl.DataFrame:
    """Add the helper columns every signal shares (computed once per shard)."""
    text = pl.col("text")
    return frame.with_columns(
        _lines=split_lines(text),
        _code_lines=visible_lines(split_lines(pl.col("code_text"))),
        # the release runs its comment tokens together (a `#` comment has no newline of its own)
        _comment_lines=visible_lines(split_lines(pl.col("comments").list.join(""))),
        _string_lines=pl.col("strings").list.join("\n").str.split("\n"),
        _words=pl.coalesce(pl.col("zh_words"), text.str.replace_all(NORM_DELETE, "").str.replace_all(NORM_SPACE, " ")
                           .str.to_lowercase().str.normalize("NFKC").str.extract_all(NORM_TOKEN)),
        _tokens=text.str.extract_all(TOKEN),
        _nchars=text.str.len_chars(),
        _nvisible=text.str.len_chars() - text.str.count_matches(WS),
    )


def ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """num / den as Float64; null where den is 0 or null."""
    return pl.when(den > 0).then(num.cast(pl.Float64) / den.cast(pl.Float64)).otherwise(None)


def count_lines(lines: str, pattern: str, *, lower: bool = False, literal: bool = False) -> pl.Expr:
    """How many elements of list column `lines` contain `pattern`."""
    element = pl.element().str.to_lowercase() if lower else pl.element()
    return pl.col(lines).list.eval(element.str.contains(pattern, literal=literal)).list.sum()


def n(col: str) -> pl.Expr:
    return pl.col(col).list.len()


def chars_of_matches(col: pl.Expr, pattern: str) -> pl.Expr:
    return col.str.extract_all(pattern).list.eval(pl.element().str.len_chars()).list.sum()


def for_language(language: str | tuple[str, ...], expr: pl.Expr) -> pl.Expr:
    langs = (language,) if isinstance(language, str) else language
    return pl.when(pl.col("language").is_in(langs)).then(expr).otherwise(None)


def lexed(expr: pl.Expr) -> pl.Expr:
    """Comment and string signals need a lexer; without one they are undefined."""
    return pl.when(pl.col("lexed")).then(expr).otherwise(None)


# ---------------------------------------------------------- shared text statistics ---

@signal("qsc_code_frac_chars_replacement_symbols", "qsc_doc_frac_chars_replacement_symbols")
def frac_chars_replacement_symbols():
    """Share of characters that are U+FFFD (undecodable bytes); null for the empty text."""
    return ratio(pl.col("text").str.count_matches("\ufffd", literal=True), pl.col("_nchars"))


@signal("qsc_code_num_words", "qsc_doc_num_words")
def num_words():
    """Number of words (see `units` for what a word is)."""
    return n("_words")


@signal("qsc_code_num_chars", "qsc_doc_num_chars")
def num_chars():
    """Number of characters."""
    return pl.col("_nchars")


@signal("qsc_code_mean_word_length", "qsc_doc_mean_word_length")
def mean_word_length():
    """Mean characters per word; null without words."""
    return ratio(pl.col("_words").list.eval(pl.element().str.len_chars()).list.sum(), n("_words"))


@signal("qsc_code_frac_words_unique", "qsc_doc_frac_words_unique")
def frac_words_unique():
    """Distinct words ÷ words; null without words."""
    return ratio(pl.col("_words").list.n_unique(), n("_words"))


@signal("qsc_code_num_lines", "qsc_doc_num_lines")
def num_lines():
    """Number of lines (see `units`: CRLF is one terminator)."""
    return n("_lines")


@signal("qsc_code_frac_chars_whitespace", "qsc_doc_frac_chars_whitespace")
def frac_chars_whitespace():
    """Whitespace characters ÷ characters; 1.0 for the empty text."""
    ws = pl.col("_nchars") - pl.col("_nvisible")
    return pl.when(pl.col("_nchars") == 0).then(1.0).otherwise(ratio(ws, pl.col("_nchars")))


@signal("qsc_code_frac_chars_digital", "qsc_doc_frac_chars_digital")
def frac_chars_digital():
    """Decimal digits ÷ visible characters; 1.0 when nothing is visible."""
    digits = pl.col("text").str.count_matches(DIGIT)
    return pl.when(pl.col("_nvisible") == 0).then(1.0).otherwise(ratio(digits, pl.col("_nvisible")))


@signal("qsc_code_frac_chars_alphabet")
def frac_chars_alphabet():
    """Letters ÷ visible characters; 0.0 when nothing is visible."""
    letters = pl.col("text").str.count_matches(LETTER)
    return pl.when(pl.col("_nvisible") == 0).then(0.0).otherwise(ratio(letters, pl.col("_nvisible")))


@signal("qsc_doc_frac_chars_alphabet")
def doc_frac_chars_alphabet():
    """As `frac_chars_alphabet`, but null for text not identified as English (the release's definition)."""
    english = pl.col("text_language") == "en"
    return pl.when(pl.col("_nvisible") == 0).then(0.0).when(english).then(frac_chars_alphabet()).otherwise(None)


HEX_WORD = r"\b0[xX][0-9a-fA-F]+\b"


@signal("qsc_doc_frac_chars_hex_words")
def doc_frac_chars_hex_words():
    """Characters in hexadecimal literals (`0x1F`, whole words) ÷ characters; null for the empty text."""
    return ratio(chars_of_matches(pl.col("text"), HEX_WORD), pl.col("_nchars"))


# ---------------------------------------------------------------- n-gram repetition ---

for _n in (2, 3, 4):
    _sig = Signal(f"frac_chars_top_{_n}grams", (
        f"Characters of the most frequent word {_n}-gram, times its count, ÷ characters of all words; "
        "ties go to the n-gram seen first. 0.0 when no n-gram occurs twice (the release's rule) or with "
        "fewer words than n; null without words."
    ), ngram=("top", _n))
    SIGNALS[f"qsc_code_frac_chars_top_{_n}grams"] = SIGNALS[f"qsc_doc_frac_chars_top_{_n}grams"] = _sig
for _n in range(5, 11):
    _sig = Signal(f"frac_chars_dupe_{_n}grams", (
        f"Characters of words covered by a word {_n}-gram that occurs more than once ÷ characters of all "
        "words (each word counted once). 0.0 with fewer words than n; null without words."
    ), ngram=("dupe", _n))
    SIGNALS[f"qsc_code_frac_chars_dupe_{_n}grams"] = SIGNALS[f"qsc_doc_frac_chars_dupe_{_n}grams"] = _sig


def dense_ids(keys: np.ndarray) -> np.ndarray:
    """Equal keys get equal ids, different keys different ones (0..distinct-1, by one sort)."""
    return np.unique(keys, return_inverse=True)[1].reshape(-1).astype(np.uint64)


def shifted(a: np.ndarray, k: int, fill) -> np.ndarray:
    """a[i + k] at position i; `fill` past the end."""
    out = np.full(len(a), fill, dtype=a.dtype)
    out[:max(len(a) - k, 0)] = a[k:]
    return out


def ngram_signals(words: pl.Series, wanted: set[tuple[str, int]]) -> dict[tuple[str, int], pl.Series]:
    """The n-gram signals in `wanted` for a column of word lists, on one flat array of word ids.

    Every position of the flattened words gets, for each n, the id of the n-gram it starts: the id of
    the pair (document, word) for n = 1, then of the pair (id of its first n-1 words, its n-th word).
    Two positions share an id exactly when they are in the same document and their n words are
    equal, so counting compares integers, exactly (sorts and `bincount`, no hashing). An n-gram that
    runs past its document's last word is not counted.
    """
    ndocs = len(words)
    lists = words.list.drop_nulls()
    row = np.repeat(np.arange(ndocs, dtype=np.uint64), lists.list.len().fill_null(0).to_numpy())
    flat = lists.explode().drop_nulls()
    length = flat.str.len_chars().to_numpy().astype(np.int64)
    word_id = flat.rank("dense").to_numpy().astype(np.uint64)  # 1..distinct; 0 is "past the end"
    total = np.bincount(row, weights=length, minlength=ndocs)  # exact: sums far below 2**53
    base = np.uint64(len(flat) + 1)  # ids <= len(flat): a pair (a, b) -> a * base + b, below 2**64
    gram = dense_ids(row * base + word_id)
    chars_before = np.concatenate([[0], np.cumsum(length)])
    out = {}
    for size in range(2, max(size for _, size in wanted) + 1):
        gram = dense_ids(gram * base + shifted(word_id, size - 1, 0))
        kinds = {kind for kind, n in wanted if n == size}
        if not kinds:
            continue
        valid = shifted(row, size - 1, ndocs) == row
        count = np.bincount(gram[valid], minlength=len(flat))[gram] * valid
        if "top" in kinds:
            best = np.zeros(ndocs, dtype=np.int64)
            np.maximum.at(best, row, count)
            at_best = np.flatnonzero(valid & (count == best[row]))
            docs, first = np.unique(row[at_best], return_index=True)  # the n-gram seen first wins ties
            start = at_best[first]
            value = np.zeros(ndocs)
            # as the release: 0.0 unless the top n-gram occurs more than once
            value[docs.astype(np.int64)] = (count[start] * (count[start] > 1)
                                            * (chars_before[start + size] - chars_before[start]))
            out[("top", size)] = per_word_char(value, total)
        if "dupe" in kinds:
            starts = np.cumsum(count > 1)  # positions that start a repeated n-gram, so far
            covered = starts - shifted(starts[::-1], size, 0)[::-1] > 0  # one starts within the last n
            out[("dupe", size)] = per_word_char(np.bincount(row, weights=length * covered, minlength=ndocs), total)
    return out


def per_word_char(value: np.ndarray, total: np.ndarray) -> pl.Series:
    """value ÷ characters of all words, per document; null without words."""
    share = np.divide(value, total, out=np.full(len(value), np.nan), where=total > 0)
    return pl.Series(share, dtype=pl.Float64).fill_nan(None)


# --------------------------------------------------------------- natural-language text ---

@signal("qsc_doc_entropy_unigram")
def entropy_unigram():
    """Shannon entropy (natural log) of the word distribution; null without words."""
    p = pl.element() / pl.element().sum()
    entropy = pl.col("_words").list.eval(pl.element().unique_counts()).list.eval(-(p * p.log()).sum())
    return pl.when(n("_words") > 0).then(entropy.list.first()).otherwise(None)


@signal("qsc_doc_frac_chars_curly_bracket")
def frac_chars_curly_bracket():
    """Characters `{` and `}` ÷ characters; null for the empty text."""
    return ratio(pl.col("text").str.count_matches(r"[{}]"), pl.col("_nchars"))


@signal("qsc_doc_frac_chars_dupe_lines")
def doc_frac_chars_dupe_lines():
    """Characters of lines (whitespace-stripped) that occur more than once ÷ characters of all lines."""
    stripped = pl.col("_lines").list.eval(pl.element().str.strip_chars(WHITESPACE))
    lengths = pl.element().str.len_chars()
    dup = stripped.list.eval(pl.when(pl.element().is_duplicated()).then(lengths).otherwise(0).sum()).list.first()
    return ratio(dup, stripped.list.eval(lengths.sum()).list.first())


@signal("qsc_doc_frac_lines_dupe_lines")
def doc_frac_lines_dupe_lines():
    """Lines with a visible character whose stripped text occurs more than once ÷ such lines."""
    stripped = visible_lines(pl.col("_lines")).list.eval(pl.element().str.strip_chars(WHITESPACE))
    return ratio(stripped.list.eval(pl.element().is_duplicated().sum()).list.first(), stripped.list.len())


READMORE = ("...", "…", "全文", "详情", "详细", "更多", "المزيد", "تفاصيل", "اقرأ المزيد", "もっと", "詳細", "もっと読む")
CLOSING = "]】)>》"


@signal("qsc_doc_frac_lines_end_with_readmore")
def frac_lines_end_with_readmore():
    """Lines ending (after trailing whitespace and closing brackets `]】)>》`) in a "read more" marker
    (`...`, `…`, 全文, 详情, 更多, ...) ÷ lines; null without lines."""
    pattern = "(?:" + "|".join(re.escape(s) for s in READMORE) + ")$"
    end = pl.element().str.strip_chars_end(WHITESPACE).str.strip_chars_end(CLOSING).str.contains(pattern)
    return ratio(pl.col("_lines").list.eval(end).list.sum(), n("_lines"))


BULLETS = ("*", "-", "•", "‣", "⁃", "⁌", "⁍", "∙", "○", "●", "◘", "◦", "⦾", "⦿")


@signal("qsc_doc_frac_lines_start_with_bullet")
def frac_lines_start_with_bullet():
    """Lines starting (after leading whitespace) with a bullet (`*`, `-`, `•`, `●`, ...) ÷ lines."""
    pattern = "^(?:" + "|".join(re.escape(s) for s in BULLETS) + ")"
    start = pl.element().str.strip_chars_start(WHITESPACE).str.contains(pattern)
    return ratio(pl.col("_lines").list.eval(start).list.sum(), n("_lines"))


@signal("qsc_doc_frac_words_all_caps")
def frac_words_all_caps():
    """Tokens with an upper-case letter and no lower-case one ÷ tokens (case kept)."""
    caps = pl.element().str.contains(r"\p{Lu}") & ~pl.element().str.contains(r"\p{Ll}")
    return ratio(pl.col("_tokens").list.eval(caps).list.sum(), n("_tokens"))


@signal("qsc_doc_frac_words_full_bracket")
def frac_words_full_bracket():
    """Tokens that are a full-width bracket 【 or 】 ÷ tokens."""
    return ratio(pl.col("_tokens").list.eval(pl.element().is_in(["【", "】"])).list.sum(), n("_tokens"))


STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")  # Gopher's English stop words


@signal("qsc_doc_frac_words_redpajama_stop")
def frac_words_stop():
    """English stop words (the, be, to, of, and, that, have, with) ÷ words; null for non-English text."""
    stop = ratio(pl.col("_words").list.eval(pl.element().is_in(STOP_WORDS)).list.sum(), n("_words"))
    return pl.when(pl.col("text_language") == "en").then(stop).otherwise(None)


SENTENCE = r"\b[^.!?。！？؟]+[.!?。！？؟]*"


@signal("qsc_doc_num_sentences")
def num_sentences():
    """Number of sentences: a word boundary, then text up to and including a run of `.!?。！？؟`."""
    return pl.col("text").str.count_matches(SENTENCE)


LINK = rf"\(https?://{NOT_WS}+\)"
HTML_TAG = r"<.*?>"


@signal("qsc_doc_frac_chars_hyperlink_html_tag")
def frac_chars_hyperlink_html_tag():
    """Characters in Markdown link targets `(http...)` and HTML tags `<...>` (within a line) ÷ characters."""
    chars = chars_of_matches(pl.col("text"), LINK) + chars_of_matches(pl.col("text"), HTML_TAG)
    return ratio(chars, pl.col("_nchars"))


CODE_FILE_NAMES = ("readme", "notes", "todo", "description", "cmakelists")


@signal("qsc_doc_cate_code_related_file_name")
def cate_code_related_file_name():
    """The file name (before its first dot, lower-cased) is readme/notes/todo/description/cmakelists
    or contains "requirement"."""
    stem = pl.col("path").str.split("/").list.last().str.split(".").list.first().str.to_lowercase()
    return stem.is_in(CODE_FILE_NAMES) | stem.str.contains("requirement", literal=True)


# ------------------------------------------------------------------- general code ---

@signal("qsc_code_size_file_byte")
def size_file_byte():
    """File size in UTF-8 bytes."""
    return pl.col("bytes")


@signal("qsc_code_num_chars_line_max")
def num_chars_line_max():
    """Characters of the longest line, its newline included (as the release counts); 0 without lines."""
    return _line_lengths().list.max().fill_null(0)


def _line_lengths() -> pl.Expr:
    """Characters per line with its terminator counted as one character (the release's lines keep their
    `\n`; CRLF is one, as the release reads files in text mode); a last line without one has none."""
    lengths = pl.col("_lines").list.eval(pl.element().str.len_chars() + 1)
    unterminated = ~pl.col("text").str.ends_with("\n") & (n("_lines") > 0)
    last = pl.when(unterminated).then(lengths.list.last() - 1).otherwise(lengths.list.last())
    return pl.concat_list(lengths.list.head(n("_lines") - 1), last).list.drop_nulls()


@signal("qsc_code_num_chars_line_mean")
def num_chars_line_mean():
    """Mean characters per line, newlines included (as the release counts); 0.0 without lines."""
    total = _line_lengths().list.sum()
    return ratio(total, n("_lines")).fill_null(0.0)


@signal("qsc_code_frac_chars_comments")
def frac_chars_comments():
    """Characters in comment tokens (and docstrings) ÷ characters; null without a lexer or for the empty
    text. Python: the release's natural text instead (`parsing.python_comment_chars`: cleaned docstrings,
    `#` comments without their `#`)."""
    chars = pl.col("comments").list.eval(pl.element().str.len_chars()).list.sum()
    chars = pl.when(pl.col("language") == "python").then(pl.col("py_comment_chars")).otherwise(chars)
    return lexed(ratio(chars, pl.col("_nchars")))


@signal("qsc_code_cate_xml_start")
def cate_xml_start():
    """The first 100 characters contain `<?xml version=`."""
    return pl.col("text").str.slice(0, 100).str.contains("<?xml version=", literal=True)


@signal("qsc_code_cate_autogen")
def cate_autogen():
    """The first 200 characters, lower-cased, contain "generate", "autogen" or "do not edit"
    (this covers "auto-generated", "automatically generated", "this file is generated")."""
    return pl.col("text").str.slice(0, 200).str.to_lowercase().str.contains("generate|autogen|do not edit")


@signal("qsc_code_frac_lines_dupe_lines")
def code_frac_lines_dupe_lines():
    """Code lines whose text without whitespace occurs more than once ÷ code lines; lines that are
    one character or `},` never count as duplicates. Null without code lines."""
    keys = pl.col("_code_lines").list.eval(pl.element().str.replace_all(WS, ""))
    e = pl.element()
    dup = keys.list.eval((e.is_duplicated() & (e != "},") & (e.str.len_chars() != 1)).sum()).list.first()
    return ratio(dup, n("_code_lines"))


@signal("qsc_code_frac_lines_long_string")
def frac_lines_long_string():
    """Lines of string literals with more than 20 tokens ÷ code lines; null without a lexer."""
    long = pl.col("_string_lines").list.eval(pl.element().str.count_matches(TOKEN) > 20).list.sum()
    return lexed(ratio(long, n("_code_lines")))


# The release's string literals: its regex on the code without comments (three single or double
# quotes, then one single or double quote within a line; the first and shortest match), the text
# between the quotes. It reads an apostrophe in code as a quote and knows no escapes or other literal
# syntax, but it is what decides the release's documents (README: differences).
RELEASE_STRING = r"""(?s)'''(.*?)'''|\"\"\"(.*?)\"\"\"|'([^\n]*?)'|"([^\n]*?)\""""


def release_strings(col: pl.Expr) -> pl.Expr:
    """The contents of the release's string literals in `col`, as a list."""
    e = pl.element()
    quotes = pl.when(e.str.starts_with("'''") | e.str.starts_with('"""')).then(3).otherwise(1)
    return col.str.extract_all(RELEASE_STRING).list.eval(e.str.slice(quotes, e.str.len_chars() - 2 * quotes))


@signal("qsc_code_frac_chars_string_length")
def frac_chars_string_length():
    """Characters inside the release's string literals (`RELEASE_STRING`, quotes excluded) ÷ characters
    of the code (comments removed); null for empty code."""
    chars = release_strings(pl.col("code_text")).list.eval(pl.element().str.len_chars()).list.sum()
    return ratio(chars, pl.col("code_text").str.len_chars())


URL = rf"https?://{NOT_WS}"


@signal("qsc_code_frac_chars_long_word_length")
def frac_chars_long_word_length():
    """Characters of whitespace-separated words longer than 20 characters inside the release's string
    literals (`RELEASE_STRING`), URLs excluded, ÷ characters of the code (comments removed)."""
    words = release_strings(pl.col("code_text")).list.join(" ").str.extract_all(f"{NOT_WS}+")
    e = pl.element()
    chars = words.list.eval(e.filter((e.str.len_chars() > 20) & ~e.str.contains(URL)).str.len_chars().sum()).list.first()
    return ratio(chars, pl.col("code_text").str.len_chars())


STRING_CONCAT = rf"={WS}*[\"'].+?[\"']{WS}*\+{WS}*[\"'].+?[\"']"


@signal("qsc_code_frac_lines_string_concat")
def frac_lines_string_concat():
    """Code lines assigning a concatenation of two quoted literals (`x = "a" + "b"`) ÷ code lines."""
    return lexed(ratio(count_lines("_code_lines", STRING_CONCAT), n("_code_lines")))


ENCODED = (
    r"[a-zA-Z0-9+/\n=]{64,}",  # base64
    rf"(?:\b(?:0x|\\x)?[0-9a-fA-F]{{2}}(?:,|\b{WS}*)){{8,}}",  # hexadecimal bytes
    r"(?:\\u[0-9a-fA-F]{4}){8,}",  # \uXXXX escapes
)


@signal("qsc_code_cate_encoded_data")
def cate_encoded_data():
    """Encoded data: runs of base64 characters (64+), of 8+ hex bytes, or of 8+ `\\uXXXX` escapes;
    true if one run exceeds 1,024 characters or the runs cover more than half of the text."""
    lengths = pl.concat_list([pl.col("text").str.extract_all(p) for p in ENCODED]).list.eval(pl.element().str.len_chars())
    longest = lengths.list.max().fill_null(0)
    covered = ratio(lengths.list.sum(), pl.col("_nchars")).fill_null(0.0)
    return (longest > 1024) | (covered > 0.5)


@signal("qsc_code_frac_chars_hex_words")
def frac_chars_hex_words():
    """Characters in hexadecimal literals (`0x1F`) in the code ÷ characters of the code (comments removed)."""
    return ratio(chars_of_matches(pl.col("code_text"), HEX_WORD), pl.col("code_text").str.len_chars())


PROMPT = "your code here|fixme|todo"


@signal("qsc_code_frac_lines_prompt_comments")
def frac_lines_prompt_comments():
    """Comment lines containing "your code here", "fixme" or "todo" (any case) ÷ lines."""
    return lexed(ratio(count_lines("_comment_lines", PROMPT, lower=True), n("_lines")))


@signal("qsc_code_frac_lines_assert")
def frac_lines_assert():
    """Code lines containing "assert" (any case) ÷ code lines."""
    return ratio(count_lines("_code_lines", "assert", lower=True, literal=True), n("_code_lines"))


# ------------------------------------------------------------------------- Python ---

@signal("qsc_codepython_cate_ast")
def python_cate_ast():
    """The file parses with Python's `ast` (the running interpreter's grammar)."""
    return for_language("python", pl.col("py_parses"))


@signal("qsc_codepython_frac_lines_func_ratio")
def python_frac_lines_func_ratio():
    """Function definitions (`def`, nested included; not `async def`, as in the release) ÷ code lines;
    null if not parsed."""
    return for_language("python", ratio(pl.col("py_functions"), n("_code_lines")))


@signal("qsc_codepython_cate_var_zero")
def python_cate_var_zero():
    """No variable anywhere, as the release finds them (`parsing.python_facts`: a name bound by `=` or a
    `for` loop, or a positional parameter of a `def`); null if not parsed."""
    return for_language("python", pl.col("py_assignments") == 0)


def _python_line_share(word: str, *, lower: bool) -> pl.Expr:
    share = ratio(count_lines("_code_lines", word, lower=lower, literal=True), n("_code_lines"))
    return share


@signal("qsc_codepython_frac_lines_pass")
def python_frac_lines_pass():
    """Code lines containing "pass" (any case) ÷ code lines; 0.0 without code lines."""
    return for_language("python", _python_line_share("pass", lower=True).fill_null(0.0))


@signal("qsc_codepython_frac_lines_import")
def python_frac_lines_import():
    """Code lines containing "import" (any case) ÷ code lines; 0.0 without code lines."""
    return for_language("python", _python_line_share("import", lower=True).fill_null(0.0))


@signal("qsc_codepython_frac_lines_print")
def python_frac_lines_print():
    """Code lines containing "print" ÷ code lines."""
    return for_language("python", _python_line_share("print", lower=False))


@signal("qsc_codepython_frac_lines_simplefunc")
def python_frac_lines_simplefunc():
    """Functions whose body is one `return` statement ÷ code lines; null if not parsed."""
    return for_language("python", ratio(pl.col("py_simple_functions"), n("_code_lines")))


PY_RETURN = r"(?m)^\s*return(\s+.+)?\s*$"  # the release's "simple return": any return statement


@signal("qsc_codepython_score_lines_no_logic")
def python_score_lines_no_logic():
    """The release's count ÷ code lines: `def` statements + classes + class-level names (the syntax-tree
    part, `parsing.python_facts`) + code lines containing "import" (any case) + `return` statements
    (`PY_RETURN` on the code, whatever they return); null if not parsed."""
    parts = (pl.col("py_no_logic") + count_lines("_code_lines", "import", lower=True, literal=True)
             + pl.col("code_text").str.count_matches(PY_RETURN))
    return for_language("python", ratio(parts, n("_code_lines")))


# -------------------------------------------------- C-family languages (regex over code lines) ---

IDENT = r"[\p{L}_$][\p{L}\p{N}_$]*"
IMPORT_LINE = {
    "c": rf"^{WS}*#{WS}*(?:include|import)\b",
    "cpp": rf"^{WS}*#{WS}*(?:include|import)\b",
    "csharp": rf"^{WS}*using\b",
    "java": rf"^{WS}*(?:import|package)\b",
    "go": rf"^{WS}*(?:import|package)\b",
    "javascript": rf"^{WS}*import\b|\brequire{WS}*\(",
}
CLASS_DECL = rf"\b(?:class|struct|interface|enum){WS}+{IDENT}"
TRIVIAL_RETURN = rf"^{WS}*return(?:{WS}+(?:-?[\p{{L}}\p{{N}}_.$]+|\"[^\"]*\"|'[^']*'))?{WS}*;?{WS}*$"
TRIVIAL_ASSIGN = (
    rf"^{WS}*(?:[\p{{L}}\p{{N}}_$<>\[\],.]+{WS}+){{0,3}}{IDENT}{WS}*:?={WS}*"
    rf"(?:-?\p{{N}}[\p{{L}}\p{{N}}_.]*|\"[^\"]*\"|'[^']*'|true|false|null|nil|undefined){WS}*;?{WS}*$"
)
PRINT_LINE = {
    "c": r"printf|cout", "cpp": r"printf|cout", "csharp": r"Console\.Write",
    "go": r"fmt\.(?:Print|Fprint)|\bprintln\(", "java": r"System\.out\.print", "javascript": r"console\.log",
}
VAR_DECL = {
    "c": rf"\b(?:int|long|short|char|float|double|bool|unsigned|size_t|auto|const){WS}*\**{WS}*{IDENT}{WS}*[=;,\[]",
    "csharp": rf"\b(?:int|long|short|char|float|double|bool|byte|decimal|string|var|object){WS}+{IDENT}{WS}*[=;,]"
              rf"|\b\p{{Lu}}[\p{{L}}\p{{N}}_]*(?:<[^<>]*>)?(?:\[\])*{WS}+{IDENT}{WS}*(?:=[^=]|;)",
    "java": rf"\b(?:int|long|short|char|float|double|boolean|byte|var|final){WS}+{IDENT}{WS}*[=;,]"
            rf"|\b\p{{Lu}}[\p{{L}}\p{{N}}_]*(?:<[^<>]*>)?(?:\[\])*{WS}+{IDENT}{WS}*(?:=[^=]|;)",
    "go": rf":=|^{WS}*var\b|\bvar{WS}*\(",
    "javascript": rf"\b(?:var|let|const){WS}+[\p{{L}}_$\[{{]",
}
VAR_DECL["cpp"] = VAR_DECL["c"]
FUNC_LINE = {"go": rf"^{WS}*func\b"}
JS_FUNCTION = r"\bfunction\b|=>"


# C and C++ counts as the release defines them (the same patterns for both), on the code without
# comments; `(?m)`: `^` and `$` at line ends, and `\s` may pass over newlines, as in the release.
C_PATTERNS = {
    # words (types, qualifiers; `*` allowed) then a name and a parenthesised list: declarations,
    # definitions, and also calls such as `return f(x)` or `else if (x)`
    "function": r"\b(?:[a-zA-Z_]\w*\s*(?:\*+)?\s+)+(?:\*?\s*[a-zA-Z_]\w*)\([^)]*\)\s*",
    "include": r"(?m)^\s*#\s*include\s+[\"<][^\">]+[\">]",
    "simple_variable": r"(?m)^\s*(?:unsigned\s+)?(?:int|float|double|char|bool|std::string|auto)\s+\w+\s*;",
    "simple_return": r"(?m)^\s*return\s*(?:(?:\w+|\d+|\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|true|false|nullptr)\s*)?;\s*$",
    "class": r"(?m)^\s*class\s+\w+\s*(?::[^{]*)?\{",
}
# the release's "preprocessor directive" lines: any of these anywhere in the line (`struct` and
# `using` included); headers (`HEADER_EXTENSIONS`) have no value
C_DIRECTIVE = r"#\s*(?:include|define|if|ifdef|ifndef|else|elif|endif|error|pragma|warning|undef|line)|struct|using"
HEADER_EXTENSIONS = (".h", ".hpp", ".hxx", ".hh", ".h++")


def c_count(kind: str) -> pl.Expr:
    return pl.col("code_text").str.count_matches(C_PATTERNS[kind])


def functions(language: str) -> pl.Expr:
    """Function declarations and definitions: Pygments `Name.Function` tokens for C#; the release's
    patterns for C and C++ (`C_PATTERNS`) and Java (`parsing.JAVA_PATTERNS`); lines starting with `func` for Go; `function`
    keywords and arrows `=>` for JavaScript."""
    if language in FUNC_LINE:
        return count_lines("_code_lines", FUNC_LINE[language])
    if language == "javascript":
        return pl.col("code_text").str.count_matches(JS_FUNCTION)
    if language == "java":
        return pl.col("java_functions")
    if language in ("c", "cpp"):
        return c_count("function")
    return n("function_names")


def _code_line_share(pattern: str) -> pl.Expr:
    return ratio(count_lines("_code_lines", pattern), n("_code_lines"))


def parsed(language: str, expr: pl.Expr) -> pl.Expr:
    """JavaScript: null where esprima cannot parse the file (the release's signals read its tree)."""
    return pl.when(pl.col("js_parses")).then(expr) if language == "javascript" else expr


def func_ratio(language):
    def expr():
        """Function declarations (see `functions`) ÷ code lines; JavaScript: null if it does not parse."""
        return for_language(language, parsed(language, ratio(functions(language), n("_code_lines"))))
    return expr


def var_zero(language):
    def expr():
        """No code line declares a variable (per-language declaration pattern, `VAR_DECL`; Java: the
        release's pattern, `parsing.JAVA_PATTERNS`, which also matches fields of interfaces and enums)."""
        if language == "java":
            return for_language(language, pl.col("java_variables") == 0)
        return for_language(language, parsed(language, count_lines("_code_lines", VAR_DECL[language]) == 0))
    return expr


def no_logic(language):
    def expr():
        """(functions + import/include/using lines + class/struct/interface/enum declarations +
        trivial `return` lines + constant-assignment lines) ÷ code lines. Java: the release's count
        (`parsing.java_facts`: functions, imports, declarations without a value, trivial returns, classes);
        C and C++: the release's (`C_PATTERNS`: functions, includes, declarations without a value,
        trivial returns, classes)."""
        if language == "java":
            return for_language(language, ratio(pl.col("java_no_logic"), n("_code_lines")))
        if language in ("c", "cpp"):
            return for_language(language, ratio(pl.sum_horizontal(c_count(k) for k in C_PATTERNS), n("_code_lines")))
        parts = (
            functions(language) + count_lines("_code_lines", IMPORT_LINE[language])
            + count_lines("_code_lines", CLASS_DECL) + count_lines("_code_lines", TRIVIAL_RETURN)
            + count_lines("_code_lines", TRIVIAL_ASSIGN)
        )
        return for_language(language, parsed(language, ratio(parts, n("_code_lines"))))
    return expr


def print_share(language):
    def expr():
        """Code lines printing to the console (`PRINT_LINE`: printf/cout, Console.Write, fmt.Print,
        System.out.print, console.log) ÷ code lines."""
        return for_language(language, _code_line_share(PRINT_LINE[language]))
    return expr


def _register(rule_id: str, fn) -> None:
    signal(rule_id)(fn)


for _lang, _prefix in (("c", "qsc_codec"), ("cpp", "qsc_codecpp"), ("csharp", "qsc_codecsharp"),
                       ("go", "qsc_codego"), ("java", "qsc_codejava"), ("javascript", "qsc_codejavascript")):
    _register(f"{_prefix}_frac_lines_func_ratio", func_ratio(_lang))
    _register(f"{_prefix}_cate_var_zero", var_zero(_lang))
    _register(f"{_prefix}_score_lines_no_logic", no_logic(_lang))
    _register(f"{_prefix}_frac_lines_print", print_share(_lang))

for _lang, _prefix in (("c", "qsc_codec"), ("cpp", "qsc_codecpp")):
    def _main(language=_lang):
        """Definitions of `main` (`main(...) {`) in the code."""
        return for_language(language, pl.col("code_text").str.count_matches(rf"\bmain{WS}*\([^)]*\){WS}*\{{"))

    def _preproc(language=_lang):
        """Code lines with a preprocessor directive, `struct` or `using` anywhere (`C_DIRECTIVE`) ÷ code
        lines, as the release counts them; null for headers (`HEADER_EXTENSIONS`)."""
        header = pl.col("path").str.to_lowercase().str.ends_with(HEADER_EXTENSIONS[0])
        for ext in HEADER_EXTENSIONS[1:]:
            header = header | pl.col("path").str.to_lowercase().str.ends_with(ext)
        return for_language(language, pl.when(header).then(None).otherwise(_code_line_share(C_DIRECTIVE)))

    def _bits(language=_lang):
        """The file includes `<bits/stdc++.h>`."""
        return for_language(language, pl.col("code_text").str.contains(rf"#{WS}*include{WS}*<bits/stdc\+\+\.h>"))

    def _goto(language=_lang):
        """Code lines with a `goto` statement ÷ code lines."""
        return for_language(language, _code_line_share(r"\bgoto\b"))

    _register(f"{_prefix}_nums_lines_main", _main)
    _register(f"{_prefix}_frac_lines_preprocessor_directives", _preproc)
    _register(f"{_prefix}_cate_bitsstdc", _bits)
    _register(f"{_prefix}_frac_lines_goto", _goto)


@signal("qsc_codego_cate_testfile")
def go_cate_testfile():
    """The file name ends with `_test.go`."""
    return for_language("go", pl.col("path").str.ends_with("_test.go"))


# --------------------------------------------------------- naming conventions (Java, JavaScript) ---

LOWER_CAMEL = r"^[a-z_$][A-Za-z0-9_$]*$"
UPPER_CAMEL = r"^[A-Z][A-Za-z0-9]*$"
DECLARED_VAR = {
    "java": rf"\b(?:int|long|short|char|float|double|boolean|byte|var|String)(?:\[\])*{WS}+{IDENT}",
    "javascript": rf"\b(?:var|let|const){WS}+{IDENT}",
}
DECLARED_FUNC_JS = rf"\bfunction{WS}+{IDENT}"


def _last_word(pattern: str) -> pl.Expr:
    """Names declared by `pattern`: the last identifier of each match in the code."""
    return pl.col("code_text").str.extract_all(pattern).list.eval(pl.element().str.extract(f"({IDENT})$"))


def _legal_share(names: pl.Expr, legal: str) -> pl.Expr:
    return ratio(names.list.eval(pl.element().str.contains(legal)).list.sum(), names.list.len())


def legal_var_name(language):
    def expr():
        """Declared variable names in lowerCamelCase ÷ declared variable names."""
        return for_language(language, _legal_share(_last_word(DECLARED_VAR[language]), LOWER_CAMEL))
    return expr


def legal_func_name(language):
    def expr():
        """Declared function names in lowerCamelCase ÷ declared function names."""
        names = pl.col("function_names") if language == "java" else _last_word(DECLARED_FUNC_JS)
        return for_language(language, _legal_share(names, LOWER_CAMEL))
    return expr


def legal_class_name(language):
    def expr():
        """Declared class names in UpperCamelCase ÷ declared class names."""
        return for_language(language, _legal_share(_last_word(rf"\bclass{WS}+{IDENT}"), UPPER_CAMEL))
    return expr


for _lang, _prefix in (("java", "qsc_codejava"), ("javascript", "qsc_codejavascript")):
    _register(f"{_prefix}_frac_words_legal_var_name", legal_var_name(_lang))
    _register(f"{_prefix}_frac_words_legal_func_name", legal_func_name(_lang))
    _register(f"{_prefix}_frac_words_legal_class_name", legal_class_name(_lang))

JAVA_DECL = rf"{CLASS_DECL}|{IDENT}(?:<[^<>]*>)?(?:\[\])*{WS}+{IDENT}{WS}*\([^;]*\){WS}*(?:throws[^{{;]*)?\{{"


@signal("qsc_codejava_frac_words_no_modifier")
def java_frac_words_no_modifier():
    """Class and method declaration lines without public/private/protected ÷ such lines."""
    decl = count_lines("_code_lines", JAVA_DECL)
    plain = pl.col("_code_lines").list.eval(
        pl.element().str.contains(JAVA_DECL) & ~pl.element().str.contains(r"\b(?:public|private|protected)\b")
    ).list.sum()
    return for_language("java", ratio(plain, decl))


@signal("qsc_codejavascript_num_statement_line")
def javascript_num_statement_line():
    """Statements per code line: semicolons in code lines ÷ code lines."""
    semis = pl.col("_code_lines").list.eval(pl.element().str.count_matches(";")).list.sum()
    return for_language("javascript", ratio(semis, n("_code_lines")))


@signal("qsc_codejavascript_cate_ast")
def javascript_cate_ast():
    """The file parses with esprima (as a script, or else as an ES module)."""
    return for_language("javascript", pl.col("js_parses"))


# --------------------------------------------------------------------------- HTML ---

@signal("qsc_codehtml_cate_ast")
def html_cate_ast():
    """BeautifulSoup's `html.parser` parses the file."""
    return for_language("html", pl.col("html_parses"))


@signal("qsc_codehtml_frac_words_text")
def html_frac_words_text():
    """Characters of visible text (script/style/template removed) ÷ characters of the file."""
    return for_language("html", ratio(pl.col("html_text").str.len_chars(), pl.col("_nchars")))


@signal("qsc_codehtml_num_chars_text")
def html_num_chars_text():
    """Characters of visible text (script/style/template removed)."""
    return for_language("html", pl.col("html_text").str.len_chars())


def compute(frame: pl.DataFrame, rule_ids: list[str]) -> pl.DataFrame:
    """One column per rule id: its signal over the prepared frame (each signal computed once)."""
    by_signal: dict[Signal, list[str]] = {}
    for rule_id in rule_ids:
        by_signal.setdefault(SIGNALS[rule_id], []).append(rule_id)
    names = {sig: f"signal_{i}" for i, sig in enumerate(by_signal)}
    values = frame.select([sig.expr().alias(names[sig]) for sig in by_signal if sig.expr])
    wanted = {sig.ngram for sig in by_signal if sig.ngram}
    grams = ngram_signals(frame["_words"], wanted) if wanted else {}
    columns = {}
    for sig, ids in by_signal.items():
        series = grams[sig.ngram] if sig.ngram else values[names[sig]]
        for rule_id in ids:
            columns[rule_id] = series.alias(rule_id)
    return pl.DataFrame(columns, height=frame.height)
