"""Every rule of the release: present in config with its group thresholds, and firing exactly on the
documents its definition describes (edge cases of each definition included)."""

from __future__ import annotations

import copy

import polars as pl
import pytest
import xxhash
import yaml

from filter_docs import C, CHINESE, CLEAN, ENGLISH, GO, HTML, JAVASCRIPT, PYTHON, decide, documents, engine, fired, value
from opencoder.core.config import DEFAULT_CONFIG, ConfigError, load, validate
from opencoder.data.filter.engine import Engine
from opencoder.data.filter.signals import SIGNALS

# Active rules per group in the release (opc_data_filtering, pipeline/code_filter_config.py).
ACTIVE = {"others": 31, "data": 28, "shell": 28, "sql": 31, "python": 39, "cpp": 36, "c": 36, "csharp": 35,
          "go": 35, "html": 28, "java": 35, "javascript": 36, "text_zh": 26, "text_en": 26,
          "notebook": 31}  # converted Jupyter notebooks: the code rules


# ------------------------------------------------------------------------- rule set as data ---

def test_config_holds_the_release_rule_set():
    groups = engine().groups
    assert set(groups) == set(ACTIVE)
    assert len({r for rules in groups.values() for r in rules}) == 117
    assert {g: sum(r.enabled for r in rules.values()) for g, rules in groups.items()} == ACTIVE
    assert set(SIGNALS) == {r for rules in groups.values() for r in rules}
    # thresholds that differ between groups
    assert groups["sql"]["qsc_code_frac_chars_digital"].gt == 0.3
    assert groups["python"]["qsc_code_frac_chars_digital"].gt == 0.2
    assert (groups["data"]["qsc_code_num_chars"].lt, groups["data"]["qsc_code_num_chars"].gt) == (50, 5000)
    assert groups["html"]["qsc_code_frac_chars_dupe_5grams"].gt == 0.6
    assert groups["others"]["qsc_code_frac_chars_dupe_5grams"].gt == 0.8
    assert groups["text_zh"]["qsc_doc_mean_word_length"].lt == 1.3
    assert groups["text_en"]["qsc_doc_mean_word_length"].lt == 3
    # off in the release: present and off
    assert not groups["others"]["qsc_code_frac_lines_string_concat"].enabled
    assert not groups["cpp"]["qsc_codecpp_cate_bitsstdc"].enabled
    assert not groups["java"]["qsc_codejava_frac_words_legal_var_name"].enabled
    assert not groups["text_en"]["qsc_doc_frac_words_full_bracket"].enabled
    assert groups["text_zh"]["qsc_doc_frac_words_full_bracket"].enabled
    # the drop-with-probability rules
    probabilistic = {r for rules in groups.values() for r, rule in rules.items() if rule.prob < 1}
    assert probabilistic == {f"qsc_code{lang}_score_lines_no_logic" for lang in
                             ("python", "c", "cpp", "csharp", "go", "java", "javascript")} | {"qsc_codego_cate_testfile"}


def test_every_signal_is_documented():
    assert all(len(sig.doc) > 20 for sig in SIGNALS.values())


def test_unknown_rule_or_bad_rule_is_a_config_error(tmp_path):
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    bad = copy.deepcopy(config)
    bad["filter"]["groups"]["python"]["qsc_code_no_such_signal"] = {"gt": 1}
    with pytest.raises(ConfigError, match="qsc_code_no_such_signal"):
        Engine(validate(bad)["filter"])
    bad = copy.deepcopy(config)
    bad["filter"]["groups"]["python"]["qsc_code_num_words"] = {"lt": 30, "above": 3}
    with pytest.raises(ConfigError, match="above"):
        validate(bad)
    bad = copy.deepcopy(config)
    bad["filter"]["groups"]["python"]["qsc_code_num_words"] = {"prob": 0.5}
    with pytest.raises(ConfigError):
        validate(bad)


def test_a_new_language_group_is_config_only():
    params = copy.deepcopy(load()["filter"])
    params["assign"]["languages"]["kotlin"] = "kotlin"
    params["groups"]["kotlin"] = {**params["groups"]["others"], "qsc_code_num_words": {"lt": 1000}}
    mine = Engine(params)
    docs = documents([("Shop.kt", PYTHON)])
    decisions, _ = mine.decide_chunk(docs)
    assert decisions["group"][0] == "kotlin"
    assert decisions["fired"][0].to_list() == ["qsc_code_num_words"]


def test_clean_files_pass_every_rule():
    decisions = decide(list(CLEAN.items()))
    assert decisions["group"].to_list() == ["python", "c", "go", "javascript", "html", "text_en", "text_zh"]
    assert decisions["fired"].to_list() == [[]] * len(CLEAN)
    assert decisions["kept"].all()


# ------------------------------------------------------------------------------- units ---

def test_lines_crlf_final_newline_and_empty_text():
    assert value("qsc_code_num_lines", "a.py", "a\r\nbb\r\n") == 2
    # as the release: a line's newline is one of its characters; CRLF is one (it reads in text mode)
    assert value("qsc_code_num_chars_line_max", "a.py", "a\r\nbb\r\n") == 3
    assert value("qsc_code_num_chars_line_max", "a.py", "a\nbb") == 2  # the last line has no newline
    assert value("qsc_code_num_chars_line_mean", "a.py", "a\nbb") == 2.0
    assert value("qsc_code_num_lines", "a.py", "a\n\n") == 2
    assert value("qsc_code_num_lines", "a.py", "a") == 1
    assert value("qsc_code_num_lines", "a.py", "") == 0
    assert value("qsc_code_num_chars_line_mean", "a.py", "") == 0.0
    assert value("qsc_code_frac_chars_whitespace", "a.py", "") == 1.0


def test_words_unicode_tabs_and_chinese():
    # the release's words: ASCII punctuation, `_` included, separates words
    assert value("qsc_code_num_words", "a.py", "héllo_wörld\tfoo2 + 3") == 4
    assert value("qsc_code_mean_word_length", "a.py", "ab\tabcd") == 3.0
    assert value("qsc_doc_num_words", "zh.txt", CHINESE) > 60  # jieba words, not characters
    assert value("qsc_code_num_words", "a.py", "") == 0
    assert value("qsc_code_mean_word_length", "a.py", "") is None


def test_whitespace_digits_and_letters_are_unicode_aware():
    text = "ab\u3000cd\u00a0²1"  # ideographic and no-break spaces are whitespace; ² is not a decimal digit
    assert value("qsc_code_frac_chars_whitespace", "a.py", text) == pytest.approx(2 / 8)
    assert value("qsc_code_frac_chars_digital", "a.py", text) == pytest.approx(1 / 6)
    assert value("qsc_code_frac_chars_alphabet", "a.py", text) == pytest.approx(4 / 6)


# ---------------------------------------------------------------------- general code rules ---

def test_replacement_symbols():
    assert "qsc_code_frac_chars_replacement_symbols" in fired("a.py", PYTHON + "\ufffd" * 40)
    assert "qsc_code_frac_chars_replacement_symbols" not in fired("a.py", PYTHON + "\ufffd")


def test_size_words_chars_and_lines():
    assert {"qsc_code_num_words", "qsc_code_num_chars", "qsc_code_num_lines"} <= set(fired("a.py", "x = 1\n"))
    long_line = "values = [" + ", ".join(["item"] * 300) + "]\n"
    assert "qsc_code_num_chars_line_max" in fired("a.py", PYTHON + long_line)
    assert "qsc_code_num_chars_line_mean" in fired("a.py", "\n".join(["x=1"] * 30))


def test_size_file_byte_uses_the_bytes_column():
    docs = documents([("a.py", PYTHON)]).with_columns(bytes=3_000_001)
    decisions, _ = engine().decide_chunk(docs)
    assert "qsc_code_size_file_byte" in decisions["fired"][0].to_list()


def test_top_and_duplicate_ngrams():
    repetitive = PYTHON + "print('spam eggs')\n" * 200
    hits = set(fired("a.py", repetitive))
    assert {"qsc_code_frac_chars_top_2grams", "qsc_code_frac_chars_dupe_5grams"} <= hits
    assert value("qsc_code_frac_chars_top_2grams", "a.py", "a b a b") == 1.0
    assert value("qsc_code_frac_chars_top_2grams", "a.py", "a b") == 0.0  # as the release: no n-gram occurs twice
    assert value("qsc_code_frac_chars_top_4grams", "a.py", "a b") == 0.0  # fewer words than n
    # ties: the n-gram seen first wins ("xx yy" before "a b")
    assert value("qsc_code_frac_chars_top_2grams", "a.py", "xx yy a b xx yy a b") == pytest.approx(8 / 12)
    # each word counts once, however many duplicated 5-grams cover it
    assert value("qsc_code_frac_chars_dupe_5grams", "a.py", "a b c d e a b c d e") == 1.0
    assert value("qsc_code_frac_chars_dupe_5grams", "a.py", "a b c d e f g h i j") == 0.0
    # documents of one shard never share an n-gram: one that would run into the next document is not counted
    from opencoder.data.filter.signals import ngram_signals

    words = pl.Series([["a", "b", "x", "a"], ["b", "y"], [], None, ["a", "a", "a"]], dtype=pl.List(pl.String))
    grams = ngram_signals(words, {("dupe", 2), ("top", 2)})
    assert grams[("dupe", 2)].to_list() == [0.0, 0.0, None, None, 1.0]
    assert grams[("top", 2)].to_list() == [0.0, 0.0, None, None, pytest.approx(4 / 3)]


def test_html_duplicate_ngram_threshold_is_lower():
    text = HTML.replace("</body>", "<p>" + "open late on fridays and weekends " * 3 + "</p>\n" * 1 + "</body>")
    share = value("qsc_code_frac_chars_dupe_5grams", "a.html", text)
    assert 0.0 < share
    doc = "<html><body>" + "<p>alpha beta gamma delta epsilon zeta eta theta</p>\n" * 40 + "</body></html>\n"
    assert value("qsc_code_frac_chars_dupe_5grams", "a.html", doc) > 0.6
    assert "qsc_code_frac_chars_dupe_5grams" in fired("a.html", doc)


def test_duplicate_lines_ignore_whitespace_one_char_lines_and_brace_comma():
    assert value("qsc_code_frac_lines_dupe_lines", "a.js", "x = 1;\n x=1;\n}\n}\n},\n},\ny = 2;\n") == pytest.approx(2 / 7)
    assert value("qsc_code_frac_lines_dupe_lines", "a.py", "# only a comment\n") is None
    assert "qsc_code_frac_lines_dupe_lines" in fired("a.py", PYTHON + "total += 1\n" * 200)


def test_alphabet_digits_whitespace():
    table = "data = [\n" + "    1234567890, 2345678901, 3456789012,\n" * 30 + "]\n"
    assert {"qsc_code_frac_chars_alphabet", "qsc_code_frac_chars_digital"} <= set(fired("a.py", PYTHON + table))
    spaced = PYTHON.replace("\n", "\n" + " " * 80)
    assert "qsc_code_frac_chars_whitespace" in fired("a.py", spaced)


def test_sql_tolerates_more_digits():
    rows = "".join(f"INSERT INTO prices VALUES ({i}, 'item number {i}', 1{i}.50);\n" for i in range(1000, 1040))
    sql = "CREATE TABLE prices (id INTEGER, name TEXT, price REAL);\n" + rows
    share = value("qsc_code_frac_chars_digital", "a.sql", sql)
    assert 0.2 < share < 0.3
    assert "qsc_code_frac_chars_digital" not in fired("a.sql", sql)
    assert "qsc_code_frac_chars_digital" in fired("a.py", PYTHON + "# " + sql.replace("\n", "\n# "))


def test_comments_share_uses_the_lexer():
    commented = "/*\n" + " * an explanation of the code below, kept for history\n" * 60 + " */\n" + C
    assert "qsc_code_frac_chars_comments" in fired("a.c", commented)
    # the same characters inside a string literal are not a comment
    in_string = C + 'const char *doc = "' + "an explanation /* not a comment */ " * 80 + '";\n'
    assert value("qsc_code_frac_chars_comments", "a.c", in_string) < 0.1
    # preprocessor directives are code, docstrings are comments
    assert value("qsc_code_frac_chars_comments", "a.c", "#include <stdio.h>\n") == 0.0
    # Python: the release's natural text, the docstring without its quotes, comments without their `#`
    assert value("qsc_code_frac_chars_comments", "a.py", '"""Doc."""\n') == pytest.approx(4 / 11)
    assert value("qsc_code_frac_chars_comments", "a.py", "x = 1  # note\n") == pytest.approx(4 / 14)
    assert value("qsc_code_frac_chars_comments", "a.unknownext", "# text\n") is None  # no lexer


def test_perl_comments_are_split_by_lines_as_the_release_does():
    pod = "=head1 NAME\n\nThing - does things\n\n=cut\n"
    text = "package Thing;\n" + pod + "# a note\nsub f { return 1; }\n1;\n"
    assert value("qsc_code_frac_chars_comments", "Thing.pm", text) == pytest.approx((len(pod) + 9) / len(text))


def test_xml_declaration_and_autogen_headers():
    assert "qsc_code_cate_xml_start" in fired("a.py", '# <?xml version="1.0"?>\n' + PYTHON)
    assert "qsc_code_cate_xml_start" not in fired("a.py", PYTHON + ("#" * 100) + '<?xml version="1.0"?>\n')
    assert "qsc_code_cate_autogen" in fired("a.go", "// Code generated by protoc-gen-go. DO NOT EDIT.\n" + GO)
    assert "qsc_code_cate_autogen" in fired("a.py", "# AUTOGEN\n" + PYTHON)
    assert "qsc_code_cate_autogen" not in fired("a.py", PYTHON + "# generated\n")  # after 200 characters


def test_string_rules():
    words = " ".join(f"word{i}" for i in range(25))
    long_strings = PYTHON + "".join(f'MESSAGE_{i} = "{words}"\n' for i in range(20))
    assert "qsc_code_frac_lines_long_string" in fired("a.py", long_strings)
    assert "qsc_code_frac_chars_string_length" in fired("a.py", 'TEXT = """' + PYTHON.replace('"""', "'''") + '"""\n')
    blob = "".join(f'KEY_{i} = "{"a1B2c3D4" * 5}"\n' for i in range(60))
    assert "qsc_code_frac_chars_long_word_length" in fired("a.py", PYTHON + blob)
    urls = "".join(f'URL_{i} = "https://example.org/a/very/long/path/to/resource/{i}"\n' for i in range(60))
    assert value("qsc_code_frac_chars_long_word_length", "a.py", urls) == 0.0
    # comments are not strings; shell and data groups switch the rules off
    assert value("qsc_code_frac_chars_string_length", "a.py", "# 'quoted'\nx = 1\n") == 0.0
    assert "qsc_code_frac_lines_long_string" not in fired("a.sh", long_strings)


def test_string_concat_is_defined_but_off():
    text = PYTHON + 'GREETING = "hello " + "world"\n' * 30
    assert value("qsc_code_frac_lines_string_concat", "a.py", text) > 0.3
    assert "qsc_code_frac_lines_string_concat" not in fired("a.py", text)


def test_encoded_data():
    import base64

    blob = base64.b64encode(bytes(range(256)) * 8).decode()
    assert "qsc_code_cate_encoded_data" in fired("a.py", PYTHON + f'DATA = "{blob}"\n')
    hexes = ", ".join(f"0x{i:02x}" for i in range(256))
    escapes = "".join(f"\\x{i:02x}" for i in range(256)) * 2
    assert "qsc_code_cate_encoded_data" in fired("a.c", C + 'static const char *t = "' + escapes + '";\n')
    # as in the release, a run of hex bytes must not have spaces after its commas
    assert value("qsc_code_cate_encoded_data", "a.c", "int t[] = {" + hexes + "};\n") is False
    assert value("qsc_code_cate_encoded_data", "a.c", "int t[] = {" + hexes.replace(" ", "") + "};\n") is True
    assert "qsc_code_cate_encoded_data" not in fired("a.py", PYTHON + 'DATA = "' + "QUJD" * 10 + '"\n')
    assert "qsc_code_frac_chars_hex_words" in fired("a.c", "int t[] = {" + hexes + "};\n" * 3)


def test_prompt_comments_and_asserts():
    assert "qsc_code_frac_lines_prompt_comments" in fired("a.py", PYTHON + "# TODO: handle refunds\n")
    assert "qsc_code_frac_lines_prompt_comments" not in fired("a.py", PYTHON + 'NOTE = "todo"\n')
    # as the release: `#` comments run together into one line of comment text, so many count once
    todos = "x = 1\n" * 20 + "# TODO: a\n# TODO: b\n# TODO: c\n"
    assert value("qsc_code_frac_lines_prompt_comments", "a.py", todos) == pytest.approx(1 / 23)
    asserts = PYTHON + "".join(f"assert inventory.total() >= {i}\n" for i in range(40))
    assert "qsc_code_frac_lines_assert" in fired("a.py", asserts)
    assert "qsc_code_frac_lines_assert" not in fired("a.go", GO + "".join(f"// assert {i}\nassertOk({i})\n" for i in range(40)))


# ----------------------------------------------------------------------------- Python ---

def test_python_rules():
    assert "qsc_codepython_cate_ast" in fired("a.py", PYTHON + "print 'python 2'\n")
    assert value("qsc_codepython_frac_lines_func_ratio", "a.py", PYTHON + "def broken(:\n") is None
    stubs = "".join(f"def f{i}(x):\n    return x\n" for i in range(15))
    hits = set(fired("a.py", PYTHON + stubs))
    assert {"qsc_codepython_frac_lines_func_ratio", "qsc_codepython_frac_lines_simplefunc"} <= hits
    assert "qsc_codepython_cate_var_zero" in fired("a.py", 'import os\n\n\nprint(os.getcwd())\n' * 5 + "# " + "words " * 40)
    assert value("qsc_codepython_cate_var_zero", "a.py", PYTHON) is False
    assert "qsc_codepython_frac_lines_pass" in fired("a.py", PYTHON + "class E(Exception):\n    pass\n" * 5)
    assert "qsc_codepython_frac_lines_import" in fired("a.py", "".join(f"import module{i}\n" for i in range(30)) + PYTHON)
    assert "qsc_codepython_frac_lines_print" in fired("a.py", PYTHON + "".join(f"print('step', {i})\n" for i in range(60)))
    # `import` inside a docstring or comment is not a code line
    assert value("qsc_codepython_frac_lines_import", "a.py", '"""import x"""\n# import y\nz = 1\n') == 0.0
    assert value("qsc_codepython_cate_ast", "a.c", C) is None  # Python rules only judge Python


def test_python_lexer_comments_strings_and_assignment_expressions():
    from opencoder.data.filter.parsing import lex_python, python_facts

    lexed = lex_python('"""Doc."""  # note\nx = 1; "s"\n"t"; y = 2\nz = "a" "b"\n')
    assert lexed["comments"] == ['"""Doc."""', "# note"]  # a docstring is alone on its line(s)
    assert lexed["strings"] == ['"s"', '"t"', '"a"', '"b"']  # each part of a concatenation is a literal
    # CRLF: the comment ends before the CR; code keeps its line ends; offsets are bytes, text is characters
    crlf = lex_python('# café\r\ns = "ü"\r\n')
    assert crlf == {"lexed": True, "code_text": '\r\ns = "ü"\r\n', "comments": ["# café"], "strings": ['"ü"'],
                    "function_names": []}
    assert lex_python('v = f"{d[\'key\']} # no comment"\n')["strings"] == ['f"{d[\'key\']} # no comment"']
    # a file that does not parse is still lexed
    broken = lex_python('x = "unterminated\n# a comment\ndef broken(:\n')
    assert broken["comments"] == ["# a comment"] and broken["lexed"]
    # the release's variables: `=` and `for` name targets and `def` parameters, not `:=`, `+=` or tuples
    text = "if (n := len(a)) > [m := 1][0]:\n    print(n)\n"
    assert python_facts(text)["py_assignments"] == 0
    assert value("qsc_codepython_cate_var_zero", "a.py", text) is True
    assert value("qsc_codepython_cate_var_zero", "a.py", "def f(x):\n    return x\n") is False
    assert value("qsc_codepython_cate_var_zero", "a.py", "for i in a:\n    print(i)\n") is False
    assert value("qsc_codepython_cate_var_zero", "a.py", "a, b = 1, 2\nc += 1\nprint(a)\n") is True


def test_tree_sitter_lexer_for_c_family():
    from opencoder.data.filter.parsing import lex, lex_tree_sitter

    c = ('#include <stdio.h> // io\n#include "local.h"\n#define GREETING "hi" // why\n'
         '/* a */ /* b */\n// one\n// two\n\n// three\n'
         'static const char *name(int x);\nint add(int a, int b) { char c = \'x\'; return L"é" "ü"; }\n')
    lexed = lex_tree_sitter(c, "c")
    # `//` comments take their newline and touching comments merge, as in Pygments; an include's
    # trailing comment does not take it; preprocessor directives and include paths are code
    assert lexed["comments"] == ["// io", "// why\n/* a */", "/* b */", "// one\n// two\n", "// three\n"]
    assert lexed["strings"] == ["'x'", '"é"', '"ü"']  # prefixes are code, quotes kept, unicode intact
    assert lexed["function_names"] == ["name", "add"]
    assert lexed["code_text"].startswith('#include <stdio.h> \n#include "local.h"\n#define GREETING "hi" ')
    assert lexed == lex(c, "c")  # the same facts as Pygments here
    # CRLF is kept in the code; a `//` comment keeps its CR and takes the LF
    crlf = lex_tree_sitter("int x; // note\r\nint y;\r\n", "c")
    assert crlf["code_text"] == "int x; int y;\r\n" and crlf["comments"] == ["// note\r\n"]
    # a `//` in a `#define` runs to the end of its line, even after a continuation, as in Pygments
    assert lex_tree_sitter("#define X 1 // a \\\n  b\nint y;\n", "c")["comments"] == ["// a \\\n"]
    # a deliberate difference (module README): `#if 0` blocks are code here, comments for Pygments
    assert lex_tree_sitter("#if 0\nold();\n#endif\n", "c")["comments"] == []
    # a syntax error: the grammar recovers and the rest of the file is still lexed
    broken = lex_tree_sitter('int f( {\n/* still a comment */\nconst char *s = "ok";\n', "c")
    assert broken["comments"] == ["/* still a comment */"] and broken["strings"] == ['"ok"']
    # C++: raw strings, references, methods in class bodies, one unknown word before the type; not
    # macro-typed declarations, two unknown words, constructors, templates, nor definitions after a
    # definition Pygments misses (it reads them as one statement)
    cpp = ('namespace n {\nclass A {\n  int size() const;\n  A(int x);\n};\nstd::string &get(int i);\n'
           'auto r = R"(a "raw" one)";\nPyAPI_FUNC(int) Py_Thing(void);\nbool EXPORT ok();\n'
           'EXPORT at::Tensor no();\ntemplate <class T> T t(T x) { return x; }\nvoid hidden() {}\n}\n')
    lexed = lex_tree_sitter(cpp, "cpp")
    assert lexed["strings"] == ['"(a "raw" one)"']
    assert lexed["function_names"] == ["size", "get", "ok"]
    assert lexed["function_names"] == lex(cpp, "cpp")["function_names"]
    assert value("qsc_codec_frac_lines_func_ratio", "a.c", "int f(void);\nint g(void);\nint x = 1;\n") == 2 / 3


def test_no_logic_drops_with_seeded_probability():
    # the release counts names assigned in a class body, not at module level
    consts = "class Names:\n" + "".join(f"    NAME_{i} = {i}\n" for i in range(40))
    rule = "qsc_codepython_score_lines_no_logic"
    items = [(f"m{i}.py", "import os\n" + consts + f"# module {i}\n") for i in range(60)]
    decisions = decide(items)
    fired_all = [rule in f for f in decisions["fired"].to_list()]
    dropped = [rule in f for f in decisions["dropped_by"].to_list()]
    assert all(fired_all)
    # the draw of the release's port: xxh64 of "<rule>\0<id>" under the seed, over 2**64
    expected = [xxhash.xxh64_intdigest(f"{rule}\0{doc_id}".encode(), engine().seed) / 2**64 < 0.8
                for doc_id in decisions["id"].to_list()]
    assert dropped == expected
    assert 0 < sum(dropped) < 60  # some dropped, some kept at random
    again = decide(items)
    assert again["dropped_by"].to_list() == decisions["dropped_by"].to_list()


# ------------------------------------------------------------------------ C-family rules ---

def test_c_rules():
    two_mains = C + "\nint main(void) {\n    return 0;\n}\n"
    assert "qsc_codec_nums_lines_main" in fired("a.c", two_mains)
    assert value("qsc_codec_nums_lines_main", "a.c", C) == 1
    assert value("qsc_codec_nums_lines_main", "a.c", C + "/* int main(void) { } */\n") == 1  # comments do not count
    headers = "".join(f"#define LIMIT_{i} {i}\n" for i in range(60)) + "int limit(void);\n"
    assert "qsc_codec_frac_lines_preprocessor_directives" in fired("a.c", headers)
    prints = C + "".join(f'void say{i}(void) {{ printf("{i}\\n"); }}\n' for i in range(40))
    assert {"qsc_codec_frac_lines_print", "qsc_codec_frac_lines_func_ratio"} <= set(fired("a.c", prints))
    assert "qsc_codecpp_frac_lines_print" in fired("a.cpp", "#include <iostream>\nint main() {\n" + '    std::cout << "hi";\n' * 30 + "}\n")
    assert value("qsc_codecpp_cate_bitsstdc", "a.cpp", "#include <bits/stdc++.h>\n") is True  # present, off
    assert "qsc_codecpp_cate_bitsstdc" not in fired("a.cpp", "#include <bits/stdc++.h>\n" + C)


def test_csharp_java_go_javascript_rules():
    cs = "using System;\nclass P {\n" + "".join(f"    static void M{i}() {{ Console.WriteLine({i}); }}\n" for i in range(30)) + "}\n"
    assert {"qsc_codecsharp_frac_lines_print", "qsc_codecsharp_cate_var_zero"} <= set(fired("a.cs", cs))
    java = "public class P {\n" + "".join(f'    void m{i}() {{ System.out.println("{i}"); }}\n' for i in range(30)) + "}\n"
    assert {"qsc_codejava_frac_lines_print", "qsc_codejava_cate_var_zero"} <= set(fired("P.java", java))
    assert value("qsc_codejava_cate_var_zero", "P.java", "class P {\n    int count = 0;\n}\n") is False
    # the release's pattern: a declaration at the start of a line, so not after `class P {` on its line
    assert value("qsc_codejava_cate_var_zero", "P.java", "class P { int count = 0; }\n") is True
    assert "qsc_codego_frac_lines_print" in fired("a.go", GO + "".join(f"func p{i}() {{ fmt.Println({i}) }}\n" for i in range(40)))
    assert value("qsc_codego_cate_var_zero", "a.go", GO) is False
    assert value("qsc_codego_cate_testfile", "pkg/shop_test.go", GO) is True
    assert value("qsc_codego_cate_testfile", "pkg/shop.go", GO) is False
    assert "qsc_codejavascript_cate_ast" in fired("a.js", JAVASCRIPT + "function (\n")
    assert value("qsc_codejavascript_cate_ast", "a.js", "import x from 'y';\nexport default x;\n") is True
    logs = JAVASCRIPT + "".join(f"console.log('step {i}');\n" for i in range(40))
    assert "qsc_codejavascript_frac_lines_print" in fired("a.js", logs)
    assert value("qsc_codejavascript_cate_var_zero", "a.js", JAVASCRIPT) is False


# --------------------------------------------------------------------------------- HTML ---

def test_html_rules():
    assert value("qsc_codehtml_cate_ast", "a.html", HTML) is True
    script = "<html><head><script>\n" + "var x = 1;\n" * 80 + "</script></head><body><p>Hi</p></body></html>\n"
    hits = set(fired("a.html", script))
    assert {"qsc_codehtml_frac_words_text", "qsc_codehtml_num_chars_text"} <= hits
    assert value("qsc_codehtml_num_chars_text", "a.html", "<p>Hi <b>there</b></p>") == len("Hi there")


# ------------------------------------------------------------------- natural-language text ---

def test_text_rules_english():
    assert "qsc_doc_num_sentences" in fired("a.md", ENGLISH.replace(".", ","))
    assert "qsc_doc_entropy_unigram" in fired("a.txt", "spam eggs " * 100 + "\n" * 10)
    readmore = ENGLISH.replace(".\n", " and more...\n")
    assert "qsc_doc_frac_lines_end_with_readmore" in fired("a.txt", readmore)
    bullets = "\n".join(f"* item {line}" for line in ENGLISH.splitlines() if line) + "\n"
    assert "qsc_doc_frac_lines_start_with_bullet" in fired("a.md", bullets)
    assert "qsc_doc_frac_words_all_caps" in fired("a.txt", ENGLISH.upper())
    links = ENGLISH + "".join(f"[l{i}](https://example.org/{'x' * 60}/{i})\n" for i in range(30))
    assert "qsc_doc_frac_chars_hyperlink_html_tag" in fired("a.md", links)
    assert "qsc_doc_frac_lines_dupe_lines" in fired("a.txt", ENGLISH + "Open every day of the week.\n" * 30)
    assert value("qsc_doc_frac_chars_dupe_lines", "a.txt", "ab\nab\ncd\n") == pytest.approx(4 / 6)


def test_text_rules_chinese():
    assert value("qsc_doc_frac_chars_alphabet", "zh.txt", CHINESE) is None  # English-only signal
    brackets = "\n".join(f"【通知】【公告】{line}" for line in CHINESE.splitlines()) + "\n"
    assert "qsc_doc_frac_words_full_bracket" in fired("zh.txt", brackets)
    assert "qsc_doc_frac_words_full_bracket" not in fired("en.txt", ENGLISH.replace("The", "【The】"))
    more = CHINESE.replace("。\n", "，详情\n")
    assert "qsc_doc_frac_lines_end_with_readmore" in fired("zh.txt", more)


# -------------------------------------------------- every other signal, value by value ---

TEN = "a b c d e f g h i j "
VALUES = [
    # repetition: every word of a text repeated as a whole is covered by a duplicated n-gram
    *[(f"qsc_code_frac_chars_dupe_{n}grams", "a.py", TEN * 2, 1.0) for n in range(6, 11)],
    *[(f"qsc_doc_frac_chars_dupe_{n}grams", "a.txt", TEN * 2, 1.0) for n in range(5, 11)],
    *[(f"qsc_doc_frac_chars_dupe_{n}grams", "a.txt", TEN, 0.0) for n in range(5, 11)],
    ("qsc_code_frac_chars_top_3grams", "a.py", "xx yy zz a b c xx yy zz", 12 / 15),
    ("qsc_code_frac_chars_top_3grams", "a.py", "xx yy zz a b c", 0.0),  # seen once: 0.0, as the release
    ("qsc_doc_frac_chars_top_2grams", "a.txt", "xx yy zz ww xx yy", 8 / 12),
    ("qsc_doc_frac_chars_top_3grams", "a.txt", "xx yy zz ww xx yy zz", 12 / 14),
    ("qsc_doc_frac_chars_top_4grams", "a.txt", "xx yy zz ww xx yy zz ww", 1.0),
    ("qsc_code_frac_words_unique", "a.json", "a a a a a b", 2 / 6),
    ("qsc_doc_frac_words_unique", "a.txt", "A a b B", 0.5),  # lower-cased
    ("qsc_doc_num_chars", "a.txt", "abc\n", 4),
    ("qsc_doc_num_lines", "a.txt", "a\r\nb\r\n", 2),
    ("qsc_doc_frac_chars_curly_bracket", "a.txt", "{a}", 2 / 3),
    ("qsc_doc_frac_chars_digital", "a.txt", "a1 \n", 0.5),
    ("qsc_doc_frac_chars_whitespace", "a.txt", "a b", 1 / 3),
    ("qsc_doc_frac_chars_hex_words", "a.txt", "0xff zz", 4 / 7),
    ("qsc_doc_frac_chars_hex_words", "a.txt", "x0xff zz", 0.0),  # a hex literal is a whole word
    ("qsc_doc_frac_chars_replacement_symbols", "a.txt", "\ufffdabc", 0.25),
    ("qsc_doc_frac_words_redpajama_stop", "zh.txt", CHINESE, None),  # English only
    ("qsc_doc_cate_code_related_file_name", "docs/README.md", ENGLISH, True),
    ("qsc_doc_cate_code_related_file_name", "requirements-dev.txt", ENGLISH, True),
    ("qsc_doc_cate_code_related_file_name", "notes2.txt", ENGLISH, False),
    # C and C++
    ("qsc_codec_cate_bitsstdc", "a.c", "#include <bits/stdc++.h>\n", True),
    ("qsc_codec_cate_var_zero", "a.c", C, False),
    ("qsc_codec_cate_var_zero", "a.c", "void f(void);\n", True),
    ("qsc_codecpp_cate_var_zero", "a.cpp", "auto x = f();\n", False),
    ("qsc_codec_frac_lines_goto", "a.c", "int f(void) {\n  goto end;\nend:\n  return 0;\n}\n", 1 / 5),
    ("qsc_codecpp_frac_lines_goto", "a.cpp", "void f() {\n  // goto\n}\n", 0.0),  # comments are not code
    # the release's count: an include, a declaration without a value, a trivial return (not `int x = 1;`)
    ("qsc_codec_score_lines_no_logic", "a.c", "#include <a.h>\nint x = 1;\nreturn 0;\n", 2 / 3),
    ("qsc_codec_score_lines_no_logic", "a.c", "#include <a.h>\nint x;\nreturn 0;\n", 1.0),
    ("qsc_codec_frac_lines_preprocessor_directives", "a.h", "#include <a>\n#define X 1\nint y;\n", None),
    ("qsc_codecpp_score_lines_no_logic", "a.cpp", "#include <a.h>\nint f(int a) {\n  return a * 2 + 1;\n}\n", 2 / 4),
    ("qsc_codecpp_frac_lines_func_ratio", "a.cpp", "int add(int a, int b) {\n  return a + b;\n}\n", 1 / 3),
    ("qsc_codecpp_frac_lines_preprocessor_directives", "a.cpp", "#include <a>\n#define X 1\nint y;\n", 2 / 3),
    ("qsc_codecpp_nums_lines_main", "a.cpp", "int main() {\n}\nint main(int c, char **v) {\n}\n", 2),
    # C#, Go, Java, JavaScript
    ("qsc_codecsharp_frac_lines_func_ratio", "a.cs", "class P {\n    static void Main() {\n    }\n}\n", 1 / 4),
    ("qsc_codecsharp_score_lines_no_logic", "a.cs", "using System;\nclass P {\n    int x = 1;\n}\n", 3 / 4),
    ("qsc_codego_frac_lines_func_ratio", "a.go", "package p\nfunc a() {}\nfunc b() {}\n", 2 / 3),
    ("qsc_codego_score_lines_no_logic", "a.go", "package p\nfunc a() {}\nfunc b() {}\n", 1.0),
    ("qsc_codejava_frac_lines_func_ratio", "P.java", "class P {\n    void run() {\n    }\n}\n", 1 / 4),
    ("qsc_codejava_score_lines_no_logic", "P.java", "import a.B;\nclass P {\n}\n", 2 / 3),
    ("qsc_codejava_frac_words_legal_class_name", "P.java", "class shop {}\nclass Shop {}\n", 0.5),
    ("qsc_codejava_frac_words_legal_func_name", "P.java", "class P {\n  void Run() {}\n  void run() {}\n}\n", 0.5),
    ("qsc_codejava_frac_words_legal_var_name", "P.java", "class P { int Count = 1; int count = 2; }\n", 0.5),
    ("qsc_codejava_frac_words_no_modifier", "P.java", "public class P {\n  void run() {\n  }\n}\n", 0.5),
    ("qsc_codejavascript_frac_lines_func_ratio", "a.js", "function a() {}\nconst b = () => 1;\n", 1.0),
    ("qsc_codejavascript_score_lines_no_logic", "a.js", "import x from 'y';\nconst n = 5;\n", 1.0),
    ("qsc_codejavascript_frac_words_legal_func_name", "a.js", "function doIt() {}\nfunction DoIt() {}\n", 0.5),
    ("qsc_codejavascript_frac_words_legal_class_name", "a.js", "class shop {}\n", 0.0),
    ("qsc_codejavascript_frac_words_legal_var_name", "a.js", "let fooBar = 1;\nvar Foo = 2;\n", 0.5),
    ("qsc_codejavascript_num_statement_line", "a.js", "a(); b();\nc();\n", 1.5),
    ("qsc_codejavascript_frac_words_legal_var_name", "a.py", "let x = 1;\n", None),  # JavaScript only
]


@pytest.mark.parametrize("rule_id,path,text,expected", VALUES, ids=[f"{v[0]}:{v[1]}" for v in VALUES])
def test_signal_values(rule_id, path, text, expected):
    got = value(rule_id, path, text)
    if isinstance(expected, float):
        assert got == pytest.approx(expected)
    else:
        assert got == expected


def test_stop_words_share_of_english_text():
    assert 0.05 < value("qsc_doc_frac_words_redpajama_stop", "a.txt", ENGLISH) < 0.3


def test_every_rule_id_is_tested_here():
    source = open(__file__, encoding="utf-8").read()
    spelled = {f"qsc_code_frac_chars_dupe_{n}grams" for n in range(6, 11)} | {
        f"qsc_doc_frac_chars_dupe_{n}grams" for n in range(5, 11)}
    assert [r for r in SIGNALS if r not in source and r not in spelled] == []


def test_a_group_switched_off_lets_its_documents_pass_and_the_others_are_judged():
    """`filter.groups_off`: an ablation of a rule group; an unknown group name is a config error."""
    params = copy.deepcopy(load()["filter"])
    short = [("tiny.py", "x = 1\n"), ("tiny.go", "package x\n")]  # too few words and lines for their groups
    assert Engine(params).decide_chunk(documents(short))[0]["kept"].to_list() == [False, False]
    params["groups_off"] = ["python"]
    decisions, _ = Engine(params).decide_chunk(documents(short))
    assert decisions["kept"].to_list() == [True, False] and decisions["fired"][0].to_list() == []
    decisions, values = Engine(params).decide_chunk(documents(short[:1]))  # a chunk of that group alone
    assert decisions["kept"].to_list() == [True] and values.height == 1
    params["groups_off"] = ["pyhton"]
    with pytest.raises(ConfigError, match=r"filter.groups_off: \['pyhton'\]"):
        Engine(params)
