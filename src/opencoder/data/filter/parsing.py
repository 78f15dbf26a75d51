"""The one per-document pass: everything that needs a lexer or a parser, done once per document.

Column-wise string kernels cannot lex code or build an AST, so this pass runs once per document
(in a process pool) and hands its results to the column-wise signals as plain columns:

| column            | meaning                                                                              |
|-------------------|--------------------------------------------------------------------------------------|
| `lexed`           | a lexer exists for the language (else comment/string signals are None): tree-sitter's |
|                   | grammars for Python (`lex_python`) and for C and C++ (`lex_tree_sitter`, the C++     |
|                   | grammar for both, `TREE_SITTER`), Pygments for every other language (`lex`)          |
| `code_text`       | the text with every comment token removed (the text itself when not lexed); Perl:   |
|                   | the release's line-based split (`perl_split`)                                         |
| `comments`        | comment tokens, consecutive ones merged (see `is_comment`)                           |
| `strings`         | string literals: maximal runs of consecutive string tokens, quotes included          |
| `function_names`  | names Pygments tags `Name.Function` (declarations and definitions in C-like lexers); |
|                   | for C and C++ the same rule on the syntax tree (`counted_functions`)                  |
| `py_parses` …     | Python `ast` results; `js_parses` (esprima); `html_parses`, `html_text` (BeautifulSoup) |
| `py_comment_chars`| Python: characters of the release's natural text (`python_comment_chars`)               |
| `java_functions` … | Java: the release's line patterns (`JAVA_PATTERNS`) counted on `code_text`: functions, |
|                   | `no_logic` lines, variable declarations (they need look-ahead, which Rust's regex lacks) |
| `text_language`   | ISO code from `py3langid` for `text` documents (its model ships inside the package)     |
| `zh_words`        | words of Chinese text files, by `jieba` (`chinese_words`)                            |
| `error`           | the exception of a document whose pass failed unexpectedly (it is dropped)           |
"""

from __future__ import annotations

import ast
import functools
import logging
import re
import warnings
from typing import NamedTuple

import polars as pl
from pygments.token import Comment, Name, String

from opencoder.data import lexing
from opencoder.data.filter.units import WORD

log = logging.getLogger(__name__)

TEXT_LANGID_CHARS = 10_000  # language id reads the first 10k characters: enough to tell English from Chinese


RELEASE_COMMENTS = frozenset({Comment.Multiline, Comment.Single, Comment.Hashbang, Comment.Special, String.Doc})


def is_comment(token_type) -> bool:
    """Comments are the Pygments token types the release takes as comments, exactly these
    (`RELEASE_COMMENTS`: multi-line, single-line, hashbang and special comments, docstrings): a plain
    `Comment` token (CMake, ...) or a subtype (`Comment.Preproc`: `#include`) is code."""
    return token_type in RELEASE_COMMENTS


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
    lexer = lexing.lexer_for(language)
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
def tree_sitter_parser(module: str, query: str):
    """The tree-sitter parser of a grammar module (compiled, shipped in its PyPI wheel) and its compiled query."""
    import importlib

    from tree_sitter import Language, Parser, Query

    grammar = Language(importlib.import_module(module).language())
    return Parser(grammar), Query(grammar, query)


PYTHON_QUERY = "(comment) @comment (expression_statement . (string) @statement . ) (string) @string"


TRIPLE_QUOTED = re.compile(rb"[rRuUbB]{0,2}(?:\"\"\"|''')")


def release_docstring(data: bytes, begin: int, end: int) -> bool:
    """A string statement the release takes as a comment (Pygments' `String.Doc`): a triple-quoted
    literal (prefix `r`/`u`/`b` at most) with only blanks before it on its line; a docstring in single
    quotes is code there."""
    before = data[data.rfind(b"\n", 0, begin) + 1:begin]
    return not before.strip(b" \t\f") and TRIPLE_QUOTED.match(data, begin) is not None


def split_spans(data: bytes, spans: list[tuple[int, int, str]], merge: bool) -> tuple[str, list[str], list[str]]:
    """Code text, comments and strings of `data` from its (begin, end, kind) byte spans.

    `kind` is "comment", "string" or "code" (a region whose literals are code, such as an `#include`
    path). Where spans nest, the outermost one wins (a string inside a comment or an f-string is not
    a literal of its own). With `merge`, spans of one kind that touch (one ends where the next begins)
    are one comment or string, as `lex` merges consecutive tokens of one kind. Comments are cut out
    of the code text; everything else stays, byte for byte.
    """
    spans = sorted(spans, key=lambda span: (span[0], -span[1]))
    pieces = {"comment": [], "string": [], "code": []}  # code spans only hide what they contain
    outer_end, last_kind, last_end = -1, None, -1
    for begin, end, kind in spans:
        if begin < outer_end:
            continue  # inside a span already taken
        outer_end = end
        if merge and kind == last_kind and begin == last_end:
            pieces[kind][-1] = (pieces[kind][-1][0], end)
        else:
            pieces[kind].append((begin, end))
        last_kind, last_end = kind, end
    code, last = [], 0
    for begin, end in pieces["comment"]:
        code.append(data[last:begin])
        last = end
    code.append(data[last:])
    comments, strings = ([data[b:e].decode("utf-8") for b, e in pieces[kind]] for kind in ("comment", "string"))
    return b"".join(code).decode("utf-8"), comments, strings


def lex_python(text: str) -> dict:
    """Python through tree-sitter's Python grammar (C, about 5x faster than `tokenize`, same tokens).

    Comments are `comment` nodes (without a CR of a CRLF ending) and docstrings: string literals that
    form a statement by themselves, triple-quoted and first on their line (`release_docstring`). String literals
    are the other outermost `string` nodes (each part of an implicit concatenation is one literal),
    prefix and quotes included. The grammar recovers from errors, so a file that does not parse is
    still lexed (its `ERROR` regions hold code).
    """
    from tree_sitter import QueryCursor

    parser, query = tree_sitter_parser("tree_sitter_python", PYTHON_QUERY)
    data = text.encode("utf-8")
    captures = QueryCursor(query).captures(parser.parse(data).root_node)
    statements = {(node.start_byte, node.end_byte) for node in captures.get("statement", [])}
    spans = []
    for node in captures.get("comment", []):
        end = node.end_byte - (data[node.end_byte - 1:node.end_byte] == b"\r")
        spans.append((node.start_byte, end, "comment"))
    for node in captures.get("string", []):
        begin, end = node.start_byte, node.end_byte
        docstring = (begin, end) in statements and release_docstring(data, begin, end)
        spans.append((begin, end, "comment" if docstring else "string"))
    code_text, comments, strings = split_spans(data, spans, merge=False)
    return {"lexed": True, "code_text": code_text, "comments": comments, "strings": strings,
            "function_names": []}


# The C++ grammar reads C too (C files that use C++ keywords as names are rare); the "c" files of the
# corpus are often C++ headers, which the C grammar cannot read.
C_FAMILY_QUERY = "\n".join([
    "(comment) @comment",
    "[(string_literal) (char_literal) (raw_string_literal)] @string",
    "(preproc_include path: (_) @code)",  # `#include "x.h"`: the path is code
    "(preproc_arg) @preproc_arg",  # `#define X "a" // why`: literals are code, `//` starts a comment
    *(f"({node} declarator: {declarator})" for node in ("function_definition", "declaration", "field_declaration")
      for declarator in ("(function_declarator declarator: (_) @function)",  # f(…)
                         "(pointer_declarator declarator: (function_declarator declarator: (_) @function))",
                         "(reference_declarator (function_declarator declarator: (_) @function))")),  # &f(…)
])


class TreeSitterLanguage(NamedTuple):
    module: str  # the grammar's module (a PyPI wheel)
    query: str  # captures: comment, string, code (literals that are code), preproc_arg, function (names)
    keywords: frozenset  # node types Pygments' lexer reads as keywords before a return type


C_KEYWORDS = frozenset({"storage_class_specifier", "type_qualifier"})  # static, inline, const, ...
TREE_SITTER = {
    "c": TreeSitterLanguage("tree_sitter_cpp", C_FAMILY_QUERY, C_KEYWORDS),
    "cpp": TreeSitterLanguage("tree_sitter_cpp", C_FAMILY_QUERY, C_KEYWORDS | {"virtual", "explicit_function_specifier"}),
}
AFFIX = re.compile(rb"[A-Za-z0-9_]*")  # a literal's prefix (`L"…"`, `u8"…"`, `R"(…)"`): code, as in Pygments


DECLARATORS = ("function_declarator", "pointer_declarator", "reference_declarator")
TYPE_WORDS = {"primitive_type", "sized_type_specifier"}  # `int`, `unsigned long`: words Pygments may skip
ONE_WORD = re.compile(rb"[\w$:]+")  # an identifier, `::` allowed (Pygments' `_namespaced_ident`)


def in_function_body(node) -> bool:
    """`node` is a statement of a function body. A body without a function declarator is the grammar's
    misreading of a class with an export macro (`class TORCH_API A : public B {…}`): a class body."""
    body = node.parent
    if body.type != "compound_statement":
        return False
    owner = body.parent.child_by_field_name("declarator") if body.parent.type == "function_definition" else None
    if owner is None:
        return True  # a block statement's body
    inner = owner.child_by_field_name("declarator")  # f(…) under *f(…)
    return "function_declarator" in (owner.type, inner.type if inner is not None else None)


def counted_functions(names: list, keywords: frozenset) -> list[str]:
    """The declared function names (`function` captures) that Pygments' C-family lexers tag `Name.Function`.

    Pygments tags `name` in `word name(…)` followed by `{` or `;`, tried where a statement starts
    outside function bodies after skipping keywords (`static`, `const`, C++'s `virtual`) and primitive
    types (`unsigned`, `char`), `word` being one identifier (`int`, `PyObject *`, `at::Tensor &`,
    `TORCH_API` in `bool TORCH_API f();`, `explicit` for the C lexer). So a declaration counts when:

    - it is outside a function body and not a template's;
    - the words before its declarator, keywords aside, are primitive types and at most one other
      identifier, last (not a macro call such as `PyAPI_FUNC(int)`, a template, a `struct`, two
      unknown words as in `TORCH_API at::Tensor f();`, nor nothing as for a constructor);
    - its name is an identifier, possibly qualified, or `operator()` (tagged `operator`); in
      `F(x)(…)` (a macro making the name) the name is `F`;
    - it does not directly follow what Pygments reads as the start of a statement still open: an
      access label (`public:`), a closing brace (of a namespace, of a template's definition), unless
      it ends a function definition that counts itself (so one missed definition hides the
      definitions that follow it).
    """
    verdicts = {}  # declaration node id: counts; names come in document order, so earlier ones are known
    out = []
    for name in sorted(names, key=lambda node: node.start_byte):
        if name.type == "function_declarator":
            name = name.child_by_field_name("declarator")  # F(x)(…)
        declaration = name.parent
        while declaration.type not in ("function_definition", "declaration", "field_declaration"):
            declaration = declaration.parent
        counts = counted(declaration, name, keywords, verdicts)
        verdicts[declaration.id] = counts
        if counts:
            out.append("operator" if name.type == "operator_name" else name.text.decode("utf-8"))
    return out


def counted(declaration, name, keywords: frozenset, verdicts: dict) -> bool:
    """The rule of `counted_functions` for one declaration of `name`."""
    if not (ONE_WORD.fullmatch(name.text) or name.text == b"operator()"):
        return False
    if declaration.parent.type == "template_declaration" or in_function_body(declaration):
        return False
    words = []  # the children before the declarator, keywords and comments aside
    for child in declaration.children:
        if child.type in DECLARATORS:
            break
        if child.type not in keywords and child.type != "comment":
            words.append(child)
    if not words or any(word.type not in TYPE_WORDS for word in words[:-1]):
        return False
    if words[-1].type not in TYPE_WORDS and not ONE_WORD.fullmatch(words[-1].text):
        return False
    before = declaration.prev_sibling
    while before is not None and before.type == "comment":
        before = before.prev_sibling
    if before is None:
        return True
    if before.type == "function_definition":
        return verdicts.get(before.id, True)
    return before.type != ":" and not before.text.endswith(b"}")  # `public:`; a namespace's, a template's body


def lex_tree_sitter(text: str, language: str) -> dict:
    """Comments, strings and function names of a language of `TREE_SITTER`, by its tree-sitter grammar.

    The facts follow the definitions of `lex` (Pygments) in tree-sitter's terms:

    - comments: `comment` nodes; a `//` comment followed by a newline takes it (as Pygments'
      single-line comment token does, so the next line joins its line in `code_text`), and so does a
      `//` comment inside a preprocessor argument (`#define X 1 // why`), which the grammar leaves in
      the argument. Comments that touch are one (`// a` NL `// b` NL is one comment; a blank or an
      indent between them makes two).
    - strings: string and character literal nodes with their quotes, without a prefix (`L`, `u8`,
      `R`); literals that touch are one. Literals in preprocessor arguments (`#define X "a"`) and
      `#include` paths are code, as in Pygments.
    - function_names: names of functions declared or defined with a one-word return type outside
      function bodies (`int f(void);`, `static char *g(int) {…}`, `at::Tensor &h();`), in order; see
      `counted_functions` for the exact rule, which follows Pygments' `Name.Function`.

    Preprocessor directives are code. The grammar recovers from errors, so a file that does not
    parse is still lexed (its `ERROR` regions hold code).
    """
    from tree_sitter import QueryCursor

    grammar = TREE_SITTER[language]
    parser, query = tree_sitter_parser(grammar.module, grammar.query)
    data = text.encode("utf-8")
    captures = QueryCursor(query).captures(parser.parse(data).root_node)
    spans = [(node.start_byte, node.end_byte, "code") for node in captures.get("code", [])]
    for node in captures.get("comment", []):
        begin, end = node.start_byte, node.end_byte
        if (data.startswith(b"//", begin) and data[end:end + 1] == b"\n"
                and node.parent.type != "preproc_include"):
            end += 1
        spans.append((begin, end, "comment"))
    for node in captures.get("preproc_arg", []):
        begin = data.find(b"//", node.start_byte, node.end_byte)
        if begin >= 0:  # to the end of its line, newline included, even after a `\` (as in Pygments)
            end = data.find(b"\n", begin, node.end_byte + 1)
            spans.append((begin, end + 1 if end >= 0 else node.end_byte, "comment"))
    for node in captures.get("string", []):
        begin = AFFIX.match(data, node.start_byte).end()
        spans.append((begin, node.end_byte, "string"))
    code_text, comments, strings = split_spans(data, spans, merge=True)
    names = counted_functions(captures.get("function", []), grammar.keywords)
    return {"lexed": True, "code_text": code_text, "comments": comments, "strings": strings,
            "function_names": names}


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


def parse_python(text: str) -> ast.Module | None:
    """`ast.parse` of the text, None when it does not parse (the definition of `cate_ast`)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences etc. are not parse failures
            return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def python_facts(text: str, comments: list[str] = ()) -> dict:
    """Facts from Python's `ast` (None when the file does not parse), as the release counts them.

    - `py_functions`: `def` statements, nested included (not `async def`, as in the release)
    - `py_simple_functions`: `def`s whose body is a single `return` statement
    - `py_assignments`: the release's "variables": names bound by `=` (a name target; not tuple,
      annotated or augmented assignments, not `:=`), by a `for` loop's name target, and the
      positional parameters of a `def` (so `def f(x): ...` declares one); `async` forms not counted
    - `py_no_logic`: the release's syntax-tree part of `score_lines_no_logic`: `def` statements (not
      `async def`) + classes + names assigned (`=`, or annotated) directly in the body of a class that
      is not itself inside a class; the signal adds code lines containing `import` and `return` lines

    - `py_comment_chars`: `python_comment_chars` of the lexer's `comments` (also without a parse)

    Only statements are visited (`statements`), which saves walking every expression node.
    """
    facts = {"py_parses": False, "py_functions": None, "py_simple_functions": None,
             "py_assignments": None, "py_no_logic": None}
    tree = parse_python(text)
    facts["py_comment_chars"] = python_comment_chars(list(comments), tree)
    if tree is None:
        return facts
    simple = variables = defs = classes = members = 0
    for node in statements(tree):
        if isinstance(node, ast.FunctionDef):  # not `async def`, as in the release
            simple += len(node.body) == 1 and isinstance(node.body[0], ast.Return)
            defs += 1
            variables += len(node.args.args)
        elif isinstance(node, ast.ClassDef):
            classes += 1
        elif isinstance(node, ast.Assign):
            variables += sum(isinstance(t, ast.Name) for t in node.targets)
        elif isinstance(node, ast.For):
            variables += isinstance(node.target, ast.Name)
    stack = [(node, False) for node in tree.body]  # class members: classes not inside a class
    while stack:
        node, in_class = stack.pop()
        if isinstance(node, ast.ClassDef):
            if in_class:
                continue
            for item in node.body:
                if isinstance(item, ast.Assign):
                    members += sum(isinstance(t, ast.Name) for t in item.targets)
                elif isinstance(item, ast.AnnAssign):
                    members += isinstance(item.target, ast.Name)
            stack.extend((child, True) for child in node.body)
            continue
        for field in STATEMENT_LISTS:
            stack.extend((child, in_class) for child in getattr(node, field, ()))
    facts.update(py_parses=True, py_functions=defs, py_simple_functions=simple, py_assignments=variables,
                 py_no_logic=defs + classes + members)
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


# The pass's columns (the table above): dtype, and the value where the pass has nothing to say.
COLUMNS = {
    "lexed": (pl.Boolean(), False), "code_text": (pl.String(), None), "comments": (pl.List(pl.String()), []),
    "strings": (pl.List(pl.String()), []), "function_names": (pl.List(pl.String()), []),
    "py_parses": (pl.Boolean(), None), "py_functions": (pl.Int64(), None), "py_simple_functions": (pl.Int64(), None),
    "py_assignments": (pl.Int64(), None), "py_no_logic": (pl.Int64(), None), "js_parses": (pl.Boolean(), None),
    "html_parses": (pl.Boolean(), None), "html_text": (pl.String(), None), "text_language": (pl.String(), None),
    "zh_words": (pl.List(pl.String()), None), "error": (pl.String(), None),
    "py_comment_chars": (pl.Int64(), None),
    "java_functions": (pl.Int64(), None), "java_no_logic": (pl.Int64(), None), "java_variables": (pl.Int64(), None),
}
SCHEMA = {column: dtype for column, (dtype, _) in COLUMNS.items()}
EMPTY = {column: default for column, (_, default) in COLUMNS.items()}


# Java's counts as the release defines them: multi-line patterns anchored at a line start (`^\s*`, which
# may pass over blank lines), matched without overlap on the code without comments.
_MODIFIERS = r"(?:(?:public|protected|private|static)\s+)*"
JAVA_PATTERNS = {
    # [modifiers] [<T>] type name(params) [throws A, B]; the type is not a modifier, `if` or `else`
    "function": _MODIFIERS + r"(?!\s*(?:public|private|protected|else|if)\s*)(?:<\w+>)?\s*\w+\s+\w+\s*"
                r"\([^)]*\)(?:\s*throws\s+[\w, ]+)?",
    "import": r"import\s+[\w.*]+\s*;\s*$",
    # a declaration without a value: [modifiers] primitive/String/Capitalised type name;
    "simple_variable": r"(?:(?:public|protected|private|final|static)\s+)*"
                       r"(?:int|float|boolean|char|double|String|[A-Z][\w<>]*)\s+\w+\s*;",
    "variable": r"(?:(?:public|protected|private|final|static)\s+)*"
                r"(?:int|float|boolean|char|double|String|[A-Z][\w<>]*)\s+\w+\s*(?:\s*=\s*[^;]+)?;",
    # `return;`, `return name;` or `return "literal";` alone on its line
    "simple_return": r'return(?:;|\s+(?:\w*|"[^"\\]*(?:\\.[^"\\]*)*")\s*;\s*)$',
    "class": r"(?:public\s+|protected\s+|private\s+)?(?:final\s+|abstract\s+)?class\s+[\w<>]+",
}


@functools.cache
def _java_regex(kind: str):
    import regex

    return regex.compile(r"^\s*(?:" + JAVA_PATTERNS[kind] + ")", regex.MULTILINE)


def python_comment_chars(comments: list[str], tree: ast.Module | None) -> int:
    """Characters of the release's "comments" of a Python file (its `get_text_python`): the cleaned
    docstrings (`ast.get_docstring`) of the module, classes and `def`s (not `async def`; none if the
    file does not parse), one per line, then a newline, then the `#` comments run together with every
    `#` removed, the whole stripped of surrounding whitespace."""
    docstrings = []
    if tree is not None:
        nodes = [tree] + [n for n in statements(tree) if isinstance(n, (ast.ClassDef, ast.FunctionDef))]
        docstrings = [d for d in (ast.get_docstring(n) for n in nodes) if d]
    hashes = "".join(c for c in comments if c.startswith("#")).replace("#", "")
    return len(("\n".join(docstrings) + "\n" + hashes).strip())


def perl_split(text: str) -> dict:
    """Perl's code and comments as the release splits them, by lines rather than with its lexer: a line
    starting with `=` opens POD, which runs to a line starting with `=cut` (included); lines starting
    with `#` and POD lines are comments (with their newline), every other line is code."""
    code, comments, pod = [], [], False
    for match in re.finditer(r"[^\n]*\n|[^\n]+$", text):
        line = match.group()
        head = line.strip()
        if head.startswith("=cut"):
            pod = False
            comments.append(line)
        elif head.startswith("="):
            pod = True
            comments.append(line)
        elif head.startswith("#") or pod:
            comments.append(line)
        else:
            code.append(line)
    return {"code_text": "".join(code), "comments": ["".join(comments)] if comments else []}


def java_facts(code: str) -> dict:
    """The release's Java counts (see `JAVA_PATTERNS`) on the code without comments."""
    count = {kind: sum(1 for _ in _java_regex(kind).finditer(code)) for kind in JAVA_PATTERNS}
    return {
        "java_functions": count["function"], "java_variables": count["variable"],
        "java_no_logic": sum(count[k] for k in ("function", "import", "simple_variable", "simple_return", "class")),
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
            out.update(lexed, **python_facts(text, lexed["comments"]))
            return out
        out.update(lex_tree_sitter(text, language) if language in TREE_SITTER else lex(text, language))
        if language == "javascript":
            out["js_parses"] = javascript_parses(text)
        elif language == "java":
            out.update(java_facts(out["code_text"]))
        elif language == "perl" and out["lexed"]:
            out.update(perl_split(text))
        elif language == "html":
            out.update(html_facts(text))
    except Exception as exc:  # a crash in the pass drops the document, as the release does
        out = dict(EMPTY, code_text=text, error=f"{type(exc).__name__}: {exc}")
    return out
