"""The one per-document pass: everything that needs a lexer or a parser, done once per document.

Column-wise string kernels cannot lex code or build an AST, so this pass runs once per document
(in a process pool) and hands its results to the column-wise signals as plain columns:

| column            | meaning                                                                              |
|-------------------|--------------------------------------------------------------------------------------|
| `lexed`           | a lexer exists for the language (else comment/string signals are None): tree-sitter's |
|                   | Python grammar for Python (`lex_python`), Pygments for every other language (`lex`)  |
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
import logging
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


@functools.cache
def token_kind(token_type) -> str | None:
    """"comment", "string", "function" (a `Name.Function`) or None, once per token type."""
    if is_comment(token_type):
        return "comment"
    if is_string(token_type):
        return "string"
    return "function" if token_type in Name.Function else None


def lex(text: str, language: str) -> dict:
    """Split `text` into code, comments and string literals with the language's Pygments lexer."""
    lexer = lexer_for(language) if language else None
    if lexer is None:
        return {"lexed": False, "code_text": text, "comments": [], "strings": [], "function_names": []}
    code, names = [], []
    runs = {"comment": [], "string": []}  # runs of tokens of one kind merge into one comment/string
    last = None  # kind of the previous token
    for _, token_type, value in lexer.get_tokens_unprocessed(text):  # the text verbatim (CRLF kept)
        kind = token_kind(token_type)
        if kind != "comment":
            code.append(value)
        if kind in runs:
            if last == kind:
                runs[kind][-1] += value
            else:
                runs[kind].append(value)
        elif kind == "function":
            names.append(value)
        last = kind
    comments, strings = runs["comment"], runs["string"]
    return {"lexed": True, "code_text": "".join(code), "comments": comments, "strings": strings,
            "function_names": names}


@functools.cache
def python_parser():
    """tree-sitter's Python grammar (compiled, shipped in the `tree-sitter-python` wheel) and its query."""
    import tree_sitter_python
    from tree_sitter import Language, Parser, Query

    language = Language(tree_sitter_python.language())
    query = Query(language, "(comment) @comment (expression_statement . (string) @statement . ) (string) @string "
                            "(named_expression) @walrus")
    return Parser(language), query


def alone_on_its_lines(data: bytes, begin: int, end: int) -> bool:
    """Nothing but blanks before `data[begin:end]` on its first line, and blanks or a comment after it."""
    before = data[data.rfind(b"\n", 0, begin) + 1:begin]
    after_end = data.find(b"\n", end)
    after = data[end:after_end if after_end >= 0 else len(data)].strip(b" \t\f\r")
    return not before.strip(b" \t\f") and (not after or after.startswith(b"#"))


def lex_python(text: str) -> dict:
    """Python through tree-sitter's Python grammar (C, about 5x faster than `tokenize`, same tokens).

    Comments are `comment` nodes (without a CR of a CRLF ending) and docstrings: string literals that
    form a statement by themselves, alone on their line(s) but for a trailing comment. String literals
    are the other outermost `string` nodes (each part of an implicit concatenation is one literal),
    prefix and quotes included. The grammar recovers from errors, so a file that does not parse is
    still lexed (its `ERROR` regions hold code). `walrus`: how many assignment expressions (`:=`) the
    grammar found, for `python_facts`.
    """
    from tree_sitter import QueryCursor

    parser, query = python_parser()
    data = text.encode("utf-8")
    captures = QueryCursor(query).captures(parser.parse(data).root_node)
    statements = {(node.start_byte, node.end_byte) for node in captures.get("statement", [])}
    spans = []  # (begin, end, is_comment), outermost first where spans nest (strings in f-strings)
    for node in captures.get("comment", []):
        end = node.end_byte - (data[node.end_byte - 1:node.end_byte] == b"\r")
        spans.append((node.start_byte, end, True))
    for node in captures.get("string", []):
        begin, end = node.start_byte, node.end_byte
        spans.append((begin, end, (begin, end) in statements and alone_on_its_lines(data, begin, end)))
    spans.sort(key=lambda span: (span[0], -span[1]))
    comments, strings, code, last, outer_end = [], [], [], 0, -1
    for begin, end, is_comment in spans:
        if begin < outer_end:
            continue  # inside a literal already taken
        outer_end = end
        piece = data[begin:end].decode("utf-8")
        if is_comment:
            comments.append(piece)
            code.append(data[last:begin])
            last = end
        else:
            strings.append(piece)
    code.append(data[last:])
    return {"lexed": True, "code_text": b"".join(code).decode("utf-8"), "comments": comments, "strings": strings,
            "function_names": [], "walrus": len(captures.get("walrus", []))}


def _simple_return(node) -> bool:
    return isinstance(node, ast.Return) and (node.value is None or isinstance(node.value, (ast.Constant, ast.Name)))


STATEMENT_LISTS = ("body", "orelse", "finalbody", "handlers", "cases")


def statements(tree: ast.Module):
    """Every statement of the tree, nested ones included, without visiting expressions.

    Statements only nest in the statement lists of other statements (an expression cannot hold one),
    so this visits a fraction of the nodes `ast.walk` does (except handlers and match cases, which
    carry a body and match no counted type).
    """
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        for field in STATEMENT_LISTS:
            stack.extend(getattr(node, field, ()))


def python_facts(text: str, walrus: int) -> dict:
    """Facts from Python's `ast` (None when the file does not parse).

    - `py_functions`: `def` and `async def` statements
    - `py_simple_functions`: functions whose body is a single `return` statement
    - `py_assignments`: assignment statements (`=`, annotated with a value, augmented, walrus)
    - `py_no_logic`: functions + import statements + classes + trivial returns (`return`, `return
      <constant or name>`) + trivial assignments (`name = <constant>`)

    Only statements are visited (`statements`): assignment expressions, which sit inside expressions,
    are counted by the caller's grammar (`walrus`, from `lex_python`: tree-sitter and `ast` agree on
    them in a file that parses), which saves walking every expression node in Python.
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
    for node in statements(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions += 1
            simple += len(node.body) == 1 and isinstance(node.body[0], ast.Return)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            imports += 1
        elif isinstance(node, ast.ClassDef):
            classes += 1
        elif isinstance(node, ast.Return):
            returns += _simple_return(node)
        elif isinstance(node, (ast.Assign, ast.AugAssign)) or (isinstance(node, ast.AnnAssign) and node.value is not None):
            assigns += 1
            trivial_assigns += isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
    assigns += walrus
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
        if language == "python":
            lexed = lex_python(text)
            out.update(lexed, **python_facts(text, lexed.pop("walrus")))
            return out
        out.update(lex(text, language))
        if language == "javascript":
            out["js_parses"] = javascript_parses(text)
        elif language == "html":
            out.update(html_facts(text))
    except Exception as exc:  # a crash in the pass drops the document, as the release does
        out = dict(EMPTY, code_text=text, error=f"{type(exc).__name__}: {exc}")
    return out
