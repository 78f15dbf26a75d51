"""The units every signal counts in: characters, whitespace, lines and words, defined once.

Both the column-wise engine (Rust regex through polars) and any per-document implementation
(the `regex` package) read these patterns, so the two agree character for character. The classes
are spelled with Unicode properties (`\\p{L}`, ...) because Python's `re` and Rust's regex disagree
on `\\w`, `\\s` and `isdigit` at the edges (combining marks, superscript digits, U+001C..U+001F).

- **character**: a Unicode code point (Python `len`).
- **whitespace**: the Unicode White_Space property (`WHITESPACE`); *visible* characters are the rest.
- **letter**: `\\p{L}`; **digit**: `\\p{Nd}` (decimal digits only).
- **line**: the text split at `\\n`; a `\\r` before it belongs to the terminator (CRLF files measure
  like LF files); a final terminator does not start an extra line; the empty text has no lines.
- **code line**: a line of the code (comments removed) with a visible character.
- **word**: a run of letters, marks, numbers and connector punctuation, lower-cased (as the release's
  `wordpunct` split, a run of Han ideographs is one word); in text files identified as Chinese, the
  segments of `jieba` that contain a word character, lower-cased (`parsing.chinese_words`).
- **token** (`TOKEN`): a word (case kept), or one punctuation/symbol character.
"""

from __future__ import annotations

WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
WS = f"[{WHITESPACE}]"  # one whitespace character, as a regex class
NOT_WS = f"[^{WHITESPACE}]"
WORD_CHARS = r"\p{L}\p{N}\p{M}\p{Pc}"
WORD = f"[{WORD_CHARS}]+"
TOKEN = f"[{WORD_CHARS}]+|[^{WORD_CHARS}{WHITESPACE}]"
LETTER = r"\p{L}"
DIGIT = r"\p{Nd}"
