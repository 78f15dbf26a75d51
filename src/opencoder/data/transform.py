"""Transformation (paper 1.5): fix documents rather than drop them.

1. Copyright removal: the paper found over 15% of code files opening with boilerplate notices and
   deletes them from the leading comments. We lex the file's head with Pygments (the lexer of the
   document's language, else of its file name), split the comments before the first code token into
   blocks at blank lines, and delete each block that mentions a copyright (`copyright`, `©`,
   `all rights reserved`), keeping a shebang and encoding/modeline comments in it. Notices inside a
   docstring or after the first line of code are left alone; so are languages Pygments cannot lex.
2. PII masking (`opencoder.data.pii`): e-mail addresses, IP addresses, passwords and secret keys become
   `<EMAIL>`, `<IP_ADDRESS>`, `<PASSWORD>`, `<KEY>` (configurable).

Stats `extra`: documents changed, copyright blocks removed, PII replaced per kind.
"""

from __future__ import annotations

import logging
import re
from collections import Counter

import polars as pl
from pygments.lexer import Lexer
from tqdm import tqdm

from opencoder.core import stage_cli as shard_stage
from opencoder.data.lexing import is_comment, lexer_for
from opencoder.data.pii import Masker
from opencoder.core.stats import stage_stats

log = logging.getLogger(__name__)

NOTICE = re.compile(r"\bcopyright\b|©|all rights reserved", re.I)
FUNCTIONAL_COMMENT = re.compile(r"^#!|coding[:=]|-\*-.*-\*-|\bvim?:", re.I)


def _leading_comment_blocks(head: str, lexer: Lexer) -> tuple[list[list[tuple[int, int]]], int | None]:
    """Blocks of comment spans before the first code token, and where that token starts (None if
    `head` holds no code at all)."""
    blocks: list[list[tuple[int, int]]] = [[]]
    pos, gap_newlines = 0, 0
    for ttype, value in lexer.get_tokens(head):
        if is_comment(ttype):  # docstrings are code here: notices inside one are left alone
            if gap_newlines >= 2 and blocks[-1]:
                blocks.append([])
            blocks[-1].append((pos, pos + len(value)))
            gap_newlines = 1 if value.endswith("\n") else 0
        elif value.strip() == "":
            gap_newlines += value.count("\n")
        else:
            return [b for b in blocks if b], pos
        pos += len(value)
    return [b for b in blocks if b], None


def remove_copyright(text: str, lexer: Lexer, scan_chars: int) -> tuple[str, int]:
    """(text without leading copyright comment blocks, number of blocks removed)."""
    head = text[:scan_chars]
    if "\r" in head:  # Pygments turns CRLF into LF; work on LF and map back where that is exact
        lf_head = head.replace("\r\n", "\n")
        if "\r" in lf_head:
            return text, 0
        crlf = True
    else:
        lf_head, crlf = head, False
    blocks, code_start = _leading_comment_blocks(lf_head, lexer)
    if code_start is None and len(text) > scan_chars:
        return text, 0  # the comments run past what we scanned: do not cut blindly
    region_end = len(lf_head) if code_start is None else code_start
    doomed: list[tuple[int, int]] = []
    removed_blocks = 0
    for block in blocks:
        if any(NOTICE.search(lf_head[s:e]) for s, e in block):
            removed_blocks += 1
            doomed += [(s, e) for s, e in block if not FUNCTIONAL_COMMENT.search(lf_head[s:e])]
    if not doomed:
        return text, 0
    kept, pos = [], 0
    for start, end in doomed:
        kept.append(lf_head[pos:start])
        pos = end + 1 if lf_head[end:end + 1] == "\n" else end  # the line's newline goes with it
    kept.append(lf_head[pos:region_end])
    region = re.sub(r"\n{3,}", "\n\n", "".join(kept)).lstrip("\n")
    original_end = region_end
    if crlf:
        original_end = region_end + lf_head[:region_end].count("\n")
        if text[:original_end].replace("\r\n", "\n") != lf_head[:region_end]:
            return text, 0  # mixed line endings: the mapping is not exact
        region = region.replace("\n", "\r\n")
    return region + text[original_end:], removed_blocks


def copyright_candidates(texts: pl.Series, scan_chars: int) -> pl.Series:
    """Per text, whether `remove_copyright` may change it: only a head mentioning a notice can (the
    notice test without its word boundaries, which a comment's own boundaries could add)."""
    return texts.str.slice(0, scan_chars).str.contains(r"(?i)copyr[i\u0130\u0131]ght|©|all r[i\u0130\u0131]ghts reserved").fill_null(False)


def _replaced(texts: pl.Series, rows: list[int], new_texts: list[str]) -> pl.Series:
    return texts.scatter(rows, pl.Series(new_texts, dtype=pl.String())) if rows else texts


def transform(docs: pl.DataFrame, params: dict) -> tuple[pl.DataFrame, dict]:
    """(transformed documents, stats) of one shard.

    Which documents each step may change is decided first over the whole shard by polars (Rust regex
    prefilters, `copyright_candidates` and `Masker.candidates`); the Python definitions run only on those.
    """
    masker = Masker(params["pii_kinds"], params["placeholders"]) if params["mask_pii"] else None
    copyright_blocks = copyright_docs = 0
    texts = docs["text"]
    if params["remove_copyright"]:
        work = (docs.select("text", "language", "path").with_row_index("row")
                .filter(copyright_candidates(texts, params["copyright_scan_chars"])))
        rows, new_texts = [], []
        for row, text, language, path in tqdm(work.iter_rows(), total=work.height, desc="copyright", unit=" docs", mininterval=10):
            if (lexer := lexer_for(language, path)) is not None:
                new, blocks = remove_copyright(text, lexer, params["copyright_scan_chars"])
                if blocks:
                    copyright_blocks += blocks
                    copyright_docs += 1
                    rows.append(row)
                    new_texts.append(new)
        texts = _replaced(texts, rows, new_texts)
    if masker is not None and masker.rules:
        hits = masker.candidates(texts)
        work = pl.concat([texts.to_frame("text").with_row_index("row"), hits], how="horizontal").filter(
            pl.any_horizontal(hits.columns))
        rows, new_texts = [], []
        for row, text, *rule_hits in tqdm(work.iter_rows(), total=work.height, desc="pii", unit=" docs", mininterval=10):
            rows.append(row)
            new_texts.append(masker.mask(text, tuple(rule_hits)))
        texts = _replaced(texts, rows, new_texts)
    changed = int((texts != docs["text"]).sum())
    out = docs.with_columns(text=texts, bytes=texts.str.len_bytes().cast(pl.Int64))
    pii = Counter(masker.counts) if masker else Counter()
    extra = {"documents_changed": changed, "copyright_documents": copyright_docs,
             "copyright_blocks_removed": copyright_blocks,
             "pii_masked": {kind: pii[kind] for kind in params["pii_kinds"]}}
    return out, stage_stats("transform", docs, out, extra=extra)


def main(argv: list[str] | None = None) -> int:
    return shard_stage.main("transform", "transform", transform, __doc__.split("\n\n")[0], argv)
