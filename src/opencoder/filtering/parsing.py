"""The one per-document pass: everything that needs a lexer or a parser, done once per document.

Column-wise string kernels cannot lex code or build an AST, so this pass runs once per document
(in a process pool) and hands its results to the column-wise signals as plain columns:

| column            | meaning                                                                              |
|-------------------|--------------------------------------------------------------------------------------|
| `lexed`           | a lexer exists for the language (else comment/string signals are None): Python's   |
|                   | `tokenize` for Python (`lex_python`), Pygments for every other language (`lex`)     |
| `code_text`       | the text with every comment token removed (the text itself when not lexed)            |
| `comments`        | comment tokens, consecutive ones merged (see `is_comment`)                           |
| `strings`         | string literals: maximal runs of consecutive string tokens, quotes included          |
| `function_names`  | names Pygments tags `Name.Function` (declarations and definitions in C-like lexers)  |
| `py_parses` …     | Python `ast` results; `js_parses` (esprima); `html_parses`, `html_text` (BeautifulSoup) |
| `text_language`   | ISO code from `py3langid` for `text` documents (its model ships inside the package)     |
| `zh_words`        | words of Chinese text files, by `jieba` (`chinese_words`)                            |
| `error`           | the exception of a document whose pass failed unexpectedly (it is dropped)           |
"""

from __future__ import annotations

import ast
import functools
import io
import logging
import tokenize
import warnings

from pygments.lexers import get_lexer_by_name
from pygments.token import Comment, Name, String
from pygments.util import ClassNotFound

from opencoder.filtering.units import WORD

log = logging.getLogger(__name__)

TEXT_LANGID_CHARS = 10_000  # language id reads the first 10k characters: enough to tell English from Chinese


@functools.cache
def lexer_for(language: str):
    """The Pygments lexer of a language name (linguist names match Pygments aliases), or None."""
    try:
        return get_lexer_by_name(language)
    except ClassNotFound:
        return None


def is_comment(token_type) -> bool:
    """Comments are Pygments `Comment.*` tokens and docstrings (`String.Doc`).

    Preprocessor directives (`Comment.Preproc`, `Comment.PreprocFile`: `#include`, `#define`) are
    code, not comments, whatever the lexer's token hierarchy says.
    """
    if token_type in Comment.Preproc or token_type in Comment.PreprocFile:
        return False
    return token_type in Comment or token_type in String.Doc


def is_string(token_type) -> bool:
    """String literal tokens, except docstrings (comments) and prefixes such as `f`/`b` (`String.Affix`)."""
    return token_type in String and token_type not in String.Doc and token_type not in String.Affix


def lex(text: str, language: str) -> dict:
    """Split `text` into code, comments and string literals with the language's Pygments lexer."""
    lexer = lexer_for(language) if language else None
    if lexer is None:
        return {"lexed": False, "code_text": text, "comments": [], "strings": [], "function_names": []}
    code, comments, strings, names = [], [], [], []
    last = None  # kind of the previous token: runs of the same kind merge into one comment/string
    for _, token_type, value in lexer.get_tokens_unprocessed(text):  # the text verbatim (CRLF kept)
        if is_comment(token_type):
            if last == "comment":
                comments[-1] += value
            else:
                comments.append(value)
            last = "comment"
            continue
        code.append(value)
        if is_string(token_type):
            if last == "string":
                strings[-1] += value
            else:
                strings.append(value)
            last = "string"
            continue
        if token_type in Name.Function:
            names.append(value)
        last = None
    return {"lexed": True, "code_text": "".join(code), "comments": comments, "strings": strings,
            "function_names": names}


def lex_python(text: str) -> dict:
    """Python through its own tokenizer (`tokenize`, several times faster than Pygments on Python).

    Comments are `COMMENT` tokens and docstrings: string literals that form a statement by themselves.
    String literals are the other `STRING` tokens, prefix and quotes included. Source the tokenizer
    rejects (unterminated literal, inconsistent dedent) goes through Pygments' Python lexer instead.
    """
    starts = [0]  # offset of each line, as the tokenizer counts lines (split after "\n")
    for line in io.StringIO(text):
        starts.append(starts[-1] + len(line))
    offset = lambda pos: starts[pos[0] - 1] + pos[1]  # noqa: E731
    comments, strings, cut = [], [], []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return lex(text, "python3")
    statement_start = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, None}
    statement_end = {tokenize.NEWLINE, tokenize.ENDMARKER, tokenize.COMMENT}
    previous = None
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.COMMENT:
            comments.append(tok.string)
            cut.append((offset(tok.start), offset(tok.end)))
        elif tok.type == tokenize.STRING:
            following = tokens[i + 1].type if i + 1 < len(tokens) else None
            if previous in statement_start and following in statement_end:
                comments.append(tok.string)
                cut.append((offset(tok.start), offset(tok.end)))
            else:
                strings.append(tok.string)
        if tok.type not in (tokenize.NL, tokenize.COMMENT):
            previous = tok.type
    code, last = [], 0
    for begin, end in cut:
        code.append(text[last:begin])
        last = end
    code.append(text[last:])
    return {"lexed": True, "code_text": "".join(code), "comments": comments, "strings": strings,
            "function_names": []}


def _simple_return(node) -> bool:
    return isinstance(node, ast.Return) and (node.value is None or isinstance(node.value, (ast.Constant, ast.Name)))


def python_facts(text: str) -> dict:
    """Facts from Python's `ast` (None when the file does not parse).

    - `py_functions`: `def` and `async def` statements
    - `py_simple_functions`: functions whose body is a single `return` statement
    - `py_assignments`: assignment statements (`=`, annotated with a value, augmented, walrus)
    - `py_no_logic`: functions + import statements + classes + trivial returns (`return`, `return
      <constant or name>`) + trivial assignments (`name = <constant>`)
    """
    facts = {"py_parses": False, "py_functions": None, "py_simple_functions": None,
             "py_assignments": None, "py_no_logic": None}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences etc. are not parse failures
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return facts
    functions = simple = assigns = imports = classes = returns = trivial_assigns = 0
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions += 1
            simple += len(node.body) == 1 and isinstance(node.body[0], ast.Return)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            imports += 1
        elif isinstance(node, ast.ClassDef):
            classes += 1
        elif isinstance(node, ast.Return):
            returns += _simple_return(node)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.NamedExpr)) or (
            isinstance(node, ast.AnnAssign) and node.value is not None
        ):
            assigns += 1
            trivial_assigns += isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
    facts.update(py_parses=True, py_functions=functions, py_simple_functions=simple, py_assignments=assigns,
                 py_no_logic=functions + imports + classes + returns + trivial_assigns)
    return facts


def javascript_parses(text: str) -> bool:
    """The file parses with esprima as a script or, failing that, as an ES module."""
    import esprima

    for parse in (esprima.parseScript, esprima.parseModule):
        try:
            parse(text)
            return True
        except Exception:  # esprima raises its own Error and, on odd input, Python errors
            continue
    return False


def html_facts(text: str) -> dict:
    """BeautifulSoup (`html.parser`) parse; visible text excludes `script`, `style` and `template`.

    `html_text` is the visible text, its pieces stripped and joined by single spaces.
    """
    from bs4 import BeautifulSoup

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            soup = BeautifulSoup(text, "html.parser")
            for element in soup(["script", "style", "template"]):
                element.decompose()
            visible = soup.get_text(separator=" ", strip=True)
    except Exception:  # html.parser raises on some malformed markup (e.g. bad declarations)
        return {"html_parses": False, "html_text": None}
    return {"html_parses": True, "html_text": visible}


def text_language(text: str) -> str:
    """Language of a natural-language file (ISO 639-1), by langid's model (bundled in py3langid)."""
    import py3langid

    return py3langid.classify(text[:TEXT_LANGID_CHARS])[0]


def chinese_words(text: str) -> list[str]:
    """Words of Chinese text: jieba's segments that contain a word character, lower-cased."""
    import jieba
    import regex

    jieba.setLogLevel(logging.WARNING)
    return [w.lower() for w in jieba.lcut(text) if regex.search(WORD, w)]


EMPTY = {
    "lexed": False, "code_text": None, "comments": [], "strings": [], "function_names": [],
    "py_parses": None, "py_functions": None, "py_simple_functions": None, "py_assignments": None,
    "py_no_logic": None, "js_parses": None, "html_parses": None, "html_text": None,
    "text_language": None, "zh_words": None, "error": None,
}


def analyse(item: tuple[str, str, str]) -> dict:
    """The per-document pass for one (text, language, doc_type); never raises."""
    text, language, doc_type = item
    out = dict(EMPTY)
    try:
        if doc_type == "text":
            out["code_text"] = text
            out["text_language"] = text_language(text)
            if out["text_language"] == "zh":
                out["zh_words"] = chinese_words(text)
            return out
        out.update(lex_python(text) if language == "python" else lex(text, language))
        if language == "python":
            out.update(python_facts(text))
        elif language == "javascript":
            out["js_parses"] = javascript_parses(text)
        elif language == "html":
            out.update(html_facts(text))
    except Exception as exc:  # a crash in the pass drops the document, as the release does
        out = dict(EMPTY, code_text=text, error=f"{type(exc).__name__}: {exc}")
    return out
