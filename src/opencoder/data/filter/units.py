r"""The units every signal counts in: characters, whitespace, lines and words, defined once.

Both the column-wise engine (Rust regex through polars) and any per-document implementation
(the `regex` package) read these patterns, so the two agree character for character. The classes
are spelled with Unicode properties (`\\p{L}`, ...) because Python's `re` and Rust's regex disagree
on `\w`, `\s` and `isdigit` at the edges (combining marks, superscript digits, U+001C..U+001F).

- **character**: a Unicode code point (Python `len`).
- **whitespace**: the Unicode White_Space property (`WHITESPACE`); *visible* characters are the rest.
- **letter**: `\\p{L}`; **digit**: `\\p{Nd}` (decimal digits only).
- **line**: the text split at `\\n`; a `\\r` before it belongs to the terminator (CRLF files measure
  like LF files); a final terminator does not start an extra line; the empty text has no lines.
- **code line**: a line of the code (comments removed) with a visible character.
- **word** (`words`): the release's words (its `normalized_words`): the text with the control
  characters of its table removed (`NORM_DELETE`), ASCII punctuation (`_` included), its full-width
  and CJK punctuation and U+2009/U+200B turned into spaces (`NORM_SPACE`), lower-cased, then NFKC;
  then NLTK's `wordpunct` split of that, `\w+|[^\w\s]+` with Python's `\w` (letters and numbers;
  `NORM_TOKEN`): `snake_case` is two words, a run of other symbols (`→`, `©`, `...` from NFKC of `…`)
  is one, a combining mark that NFKC leaves alone splits a word. In text files identified as Chinese,
  the segments of `jieba` that contain a letter or number, lower-cased (`parsing.chinese_words`).
- **token** (`TOKEN`): a word (case kept), or one punctuation/symbol character.
"""

from __future__ import annotations

import unicodedata

import regex

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
# the release's word normalisation (`utils.text_utils.normalize_text` with its settings) and split
NORM_DELETE = "[\\x00-\\x07\\x0e-\\x1a\\x1c-\\x1f\\u202c]"
NORM_SPACE = ("[\\x21-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7e\\u2009\\u200b\\uff01-\\uff0f\\uff1a-\\uff20\\uff3b-\\uff40"
              "\\uff5b-\\uff5e\\u3001\\u3002\\u300a\\u300b\\u300c\\u300d\\u3010\\u3011\\u2018\\u2019\\u201c\\u201d]")
NORM_TOKEN = r"[\p{L}\p{N}_]+|[^\p{L}\p{N}_\s]+"


def words(text: str) -> list[str]:
    """The words of one text (see the module docstring); `signals.prepare` computes the same column-wise."""
    normal = unicodedata.normalize("NFKC", regex.sub(NORM_SPACE, " ", regex.sub(NORM_DELETE, "", text)).lower())
    return regex.findall(NORM_TOKEN, normal)
