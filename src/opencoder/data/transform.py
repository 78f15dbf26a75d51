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


def transform(docs: pl.DataFrame, params: dict) -> tuple[pl.DataFrame, dict]:
    """(transformed documents, stats) of one shard."""
    masker = Masker(params["pii_kinds"], params["placeholders"]) if params["mask_pii"] else None
    copyright_blocks = copyright_docs = changed = 0
    texts = []
    rows = docs.select("text", "language", "path").iter_rows()
    for text, language, path in tqdm(rows, total=docs.height, desc="transform", unit=" docs", mininterval=10):
        new = text
        if params["remove_copyright"] and (lexer := lexer_for(language, path)) is not None:
            new, blocks = remove_copyright(new, lexer, params["copyright_scan_chars"])
            copyright_blocks += blocks
            copyright_docs += bool(blocks)
        if masker is not None:
            new = masker.mask(new)
        changed += new != text
        texts.append(new)
    out = docs.with_columns(text=pl.Series(texts, dtype=pl.String())).with_columns(
        bytes=pl.col("text").str.len_bytes().cast(pl.Int64))
    pii = Counter(masker.counts) if masker else Counter()
    extra = {"documents_changed": changed, "copyright_documents": copyright_docs,
             "copyright_blocks_removed": copyright_blocks,
             "pii_masked": {kind: pii[kind] for kind in params["pii_kinds"]}}
    return out, stage_stats("transform", docs, out, extra=extra)


def main(argv: list[str] | None = None) -> int:
    return shard_stage.main("transform", "transform", transform, __doc__.split("\n\n")[0], argv)
