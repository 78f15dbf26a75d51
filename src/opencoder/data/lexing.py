"""Pygments, as the data stages use it: which lexer a document gets, and what counts as a comment.

Transform (copyright removal) and the filter's per-document pass both lex code with Pygments; this
module is their one definition of the lexer of a document and of a comment token.
"""

from __future__ import annotations

import functools

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment
from pygments.util import ClassNotFound

OPTIONS = {"stripnl": False, "ensurenl": False}  # `get_tokens` keeps the text's own leading and trailing newlines


@functools.cache
def _lexer_for_language(language: str) -> Lexer | None:
    try:
        return get_lexer_by_name(language, **OPTIONS)
    except ClassNotFound:
        return None


@functools.lru_cache(maxsize=1 << 16)
def _lexer_for_filename(name: str) -> Lexer | None:
    """By file name alone, Pygments' choice depends on the name only: a shard repeats names (`README.md`,
    `__init__.py`), and each uncached look-up matches the name against every lexer's patterns."""
    try:
        return get_lexer_for_filename(name, **OPTIONS)
    except ClassNotFound:
        return None


def lexer_for(language: str, path: str | None = None) -> Lexer | None:
    """The Pygments lexer of a document: by language name (linguist names match Pygments aliases),
    else, given `path`, by its file name; None if neither."""
    lexer = _lexer_for_language(language) if language else None
    if lexer is None and path is not None:
        lexer = _lexer_for_filename(path.rsplit("/", 1)[-1])
    return lexer


def is_comment(token_type) -> bool:
    """A Pygments `Comment.*` token; preprocessor directives (`Comment.Preproc`, `Comment.PreprocFile`:
    `#include`, `#define`) are code, whatever the lexer's token hierarchy says."""
    if token_type in Comment.Preproc or token_type in Comment.PreprocFile:
        return False
    return token_type in Comment
