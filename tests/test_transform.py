"""Transformation: copyright notices out of leading comments, PII masked; false positives left alone."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest

from opencoder.core import config, shards

from opencoder.data import pii, transform
from opencoder.data.pii import Masker

PARAMS = config.section(config.load(), "transform")


def masked(text: str, kinds=("email", "ip_address", "password", "key")) -> str:
    return Masker(list(kinds), PARAMS["placeholders"]).mask(text)


def strip(text: str, language: str, path: str) -> str:
    return transform.remove_copyright(text, transform.lexer_for(language, path), 20000)[0]


# ------------------------------------------------------------ copyright ---

def test_python_notice_block_goes_shebang_and_coding_stay():
    text = ("#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n# Copyright (C) 2001 Intel Corporation\n"
            "# Licensed under the MIT licence.\n\n# Parses things.\nimport os\n")
    assert strip(text, "python", "a.py") == "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n\n# Parses things.\nimport os\n"


def test_c_block_comment_notice_goes_code_and_later_comments_stay():
    text = ("/*\n * Copyright (c) 2015 Intel Corporation. All rights reserved.\n */\n\n"
            "#include <stdio.h>\n/* Copyright in a later comment stays */\nint main(void) { return 0; }\n")
    assert strip(text, "c", "x.c") == (
        "#include <stdio.h>\n/* Copyright in a later comment stays */\nint main(void) { return 0; }\n")


def test_crlf_file_keeps_its_line_endings():
    text = "// Copyright 2019 Google LLC\r\n//\r\n// Licensed under Apache 2.0\r\n\r\n// Package doc\r\npackage a\r\n"
    assert strip(text, "go", "a.go") == "// Package doc\r\npackage a\r\n"


@pytest.mark.parametrize(
    ("text", "language", "path"),
    [
        ("// Package a parses b.\npackage a\n", "go", "a.go"),  # a leading comment without a notice
        ("x = 1  # Copyright 2020 me\n", "python", "a.py"),  # after code
        ('"""Copyright 2020 me (a docstring, not a comment)."""\n', "python", "a.py"),
        ("# Copyright 2020 me\n", "no-such-language", "a.unknownext"),  # nothing can lex it
    ],
)
def test_what_is_not_a_leading_copyright_comment_is_untouched(text, language, path):
    lexer = transform.lexer_for(language, path)
    assert lexer is None or transform.remove_copyright(text, lexer, 20000) == (text, 0)


def test_comments_longer_than_the_scan_window_are_left_alone():
    text = "# Copyright 2020 me\n" + "# filler\n" * 100 + "x = 1\n"
    lexer = transform.lexer_for("python", "a.py")
    assert transform.remove_copyright(text, lexer, 200) == (text, 0)
    assert transform.remove_copyright(text, lexer, 20000)[0] == "x = 1\n"


# ------------------------------------------------------------------ PII ---

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# Author: Jane Doe <jane.doe@gmail.com>\n", "# Author: Jane Doe <<EMAIL>>\n"),
        ('SERVER = "93.184.216.34"\n', 'SERVER = "<IP_ADDRESS>"\n'),
        ('dns6 = "2001:4860:4860::8888"\n', 'dns6 = "<IP_ADDRESS>"\n'),
        ('password = "hunter2!"\n', 'password = "<PASSWORD>"\n'),
        ('DB_PASSWD: "s3cr3t-pw"\n', 'DB_PASSWD: "<PASSWORD>"\n'),
        ('url = "postgres://admin:pa55word@db.corp.org/x"\n', 'url = "postgres://admin:<PASSWORD>@db.corp.org/x"\n'),
        ('aws_id = "AKIAQWERTYUIOPASDFGH"\n', 'aws_id = "<KEY>"\n'),
        ('gh = "ghp_0123456789abcdefghijABCDEFGHIJ012345"\n', 'gh = "<KEY>"\n'),
        ('API_KEY = "9f8a7b6c5d4e3f2a1b0c9d8e"\n', 'API_KEY = "<KEY>"\n'),
        ('AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY1234"\n', 'AWS_SECRET_ACCESS_KEY = "<KEY>"\n'),
        ("k = '''-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----'''\n", "k = '''<KEY>'''\n"),
    ],
)
def test_pii_true_positives(text, expected):
    assert masked(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        '__version__ = "10.2.3.4"\n',  # version strings
        "requires lib v12.0.1.3\n",
        "# see section 8.2.4.44 of the spec\n",
        'HOST = "127.0.0.1"\n',  # loopback, private, unspecified, documentation ranges
        'bind("0.0.0.0", 80); other = "192.168.1.10"; doc = "203.0.113.7"\n',
        'LOCAL6 = "::1"\n',
        "std::vector<int> v; a::b();\n",  # C++ scopes are not IPv6
        "contact: someone@example.com, admin@mail.example.org, x@host.test\n",  # reserved example domains
        'remote = "git@github.com:owner/repo.git"\n',
        "y = x@self.weight\n",  # matrix product
        "@property\ndef f(self): ...\n",
        'digest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"\n',  # hash literals
        'EMPTY_SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"\n',
        'password = os.environ["PASSWORD"]\n',  # not a literal
        'password = "{{ vault_password }}"\n',  # template / placeholder values
        'api_key = "YOUR_API_KEY_HERE_0000"\n',
        'password = ""\n',
        'token_name = "access_token_cookie"\n',  # a name, not a secret
        "{'MODULE_PWD_STATE': 'disabled', 'password_hash': 'pbkdf2sha256abcdef0123'}\n",  # not a password
        "MULTICAST = IPv4Network('224.0.0.0/4')\n",
    ],
)
def test_pii_false_positives_that_matter_in_code(text):
    assert masked(text) == text


def test_only_configured_kinds_are_masked():
    text = 'a = "jane@gmail.com"; b = "93.184.216.34"\n'
    assert masked(text, kinds=["email"]) == 'a = "<EMAIL>"; b = "93.184.216.34"\n'


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown PII kinds"):
        Masker(["phone"], PARAMS["placeholders"])


# ---------------------------------------------------------------- stage ---

def test_stage_counts_changes_and_updates_bytes(tmp_path, documents):
    docs = documents([
        {"path": "a.py", "text": "# Copyright 2020 Jane <jane@gmail.com>\nx = 1\n"},
        {"path": "b.py", "text": 'HOST = "93.184.216.34"  # mail bob@corp.io\n'},
        {"path": "c.c", "text": "int x;\n", "language": "c"},
    ])
    shards.write_parquet(docs, tmp_path / "in.parquet")
    out = tmp_path / "transform" / "00000.parquet"
    assert transform.main(["--in", str(tmp_path / "in.parquet"), "--out", str(out), "--params", json.dumps(PARAMS)]) == 0
    result = shards.read_documents(out)
    assert result["text"].to_list() == ["x = 1\n", 'HOST = "<IP_ADDRESS>"  # mail <EMAIL>\n', "int x;\n"]
    assert result["bytes"].to_list() == [len(t.encode()) for t in result["text"]]
    assert result["id"].to_list() == docs["id"].to_list()
    stats = json.loads((tmp_path / "transform" / "00000.stats.json").read_text())
    assert stats["extra"] == {"documents_changed": 2, "copyright_documents": 1, "copyright_blocks_removed": 1,
                              "pii_masked": {"email": 1, "ip_address": 1, "password": 0, "key": 0}}
    assert stats["out"]["documents"] == 3 and stats["out"]["bytes"] < stats["in"]["bytes"]


def test_switches_turn_steps_off(documents):
    docs = documents([{"path": "a.py", "text": "# Copyright 2020 me\nmail = 'jane@gmail.com'\n"}])
    out, stats = transform.transform(docs, {**PARAMS, "remove_copyright": False, "mask_pii": False})
    assert out["text"].to_list() == docs["text"].to_list()
    assert stats["extra"]["documents_changed"] == 0


# ---------------------------------------------------- prefilters (speed) ---
# The stage decides with Rust regexes (polars) which texts the Python definitions may change and runs
# them on those only: each prefilter must match every text its step would change.

def _python_matches(pattern: str, flags: int, chars: list[str]) -> list[bool]:
    compiled = re.compile(pattern, flags)
    return [bool(compiled.fullmatch(c)) for c in chars]


EVERY_CODE_POINT = [chr(i) for i in range(0x110000) if not 0xD800 <= i < 0xE000]


@pytest.mark.parametrize(("python", "flags", "rust"), [
    *[(letter, re.I, f"(?i){letter}") for letter in sorted(set("apikeysecrttokenaccssprivatuhpasswordwdcopyrighltsv"))
      if letter != "i"],
    ("i", re.I, "(?i)" + pii._I),  # used in (?i) patterns
    (r"\s", 0, pii._S),
    ("[A-Za-z0-9+/=_.~-]", re.I, "(?i)[A-Za-z0-9+/=_.~\\u0130\\u0131-]"),
    (r"[^\s@/'\"]", re.I, r"[^\s/@'\"]"),
    (r"[^\s:/@'\"]", re.I, r"[^\s/@'\"]"),
    (r"[^\"'\s]", re.I, r"[^\"']"),
])
def test_prefilter_classes_cover_pythons_over_every_code_point(python, flags, rust):
    """Python's `re` and Rust's `regex` disagree on `\\s` and on case folding: the prefilters' classes must
    take in every character Python's do."""
    rust_hits = pl.Series(EVERY_CODE_POINT).str.contains(f"^(?:{rust})$").to_list()
    missing = [hex(ord(c)) for c, py, rs in zip(EVERY_CODE_POINT, _python_matches(python, flags, EVERY_CODE_POINT), rust_hits)
               if py and not rs]
    assert missing == []


PII_PIECES = ["jane@gmail.com", "a@b.c", "x@self.w", "git@github.com", "@", ".", ":", "::", "2001:4860:4860::8888",
              "2a00:1450::1", "fe80::1", "93.184.216.34", "10.0.0.1", "8.8.8.8", "version 93.184.216.34", "v1.2.3.4",
              "password", 'PASSWORD = "hunter2xyz"', "pwd: 's3cr3t!'", "db_passwd=>'x'", "https://u:p4ss@host/",
              "ftp://user:secret@x.org", "api_key", 'API-KEY: "AKIAIOSFODNN7EXAMPLE"', "token = 'abcd1234efgh5678ijkl'",
              'secret="0123456789abcdefXYZ"', "AKIAIOSFODNN7EXAMPL3", "ghp_" + "a1" * 18, "xoxb-1234567890-abc",
              "AIza" + "B" * 35, "sk_live_" + "c" * 24, "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
              "\u0130", "\u0131", "\u212a", "\u017f", "\x1c", "\x1f", "\u3000", " ", "\n", "'", '"', "=", "=>", ":=",
              "©", "Copyright", "COPYR\u0130GHT", "all r\u0131ghts reserved", "# ", "/*", "*/", "x", "1", "٣", "é"]


def test_prefilters_pass_every_text_the_steps_change():
    """Random texts built from pieces that make and break PII and notices: a text the prefilters leave
    out is one the steps leave alone (and count nothing in)."""
    import random

    rng = random.Random(17)
    texts = ["".join(rng.choice(PII_PIECES) for _ in range(rng.randint(1, 12))) for _ in range(6000)]
    masker = Masker(list(pii.KINDS), PARAMS["placeholders"])
    candidates = masker.candidates(pl.Series(texts))
    rule_hits = list(candidates.iter_rows())
    candidates = [any(row) for row in rule_hits]
    notice = transform.copyright_candidates(pl.Series(texts), 20000).to_list()
    lexer = transform.lexer_for("python", "a.py")
    assert 0 < sum(candidates) < len(texts) and 0 < sum(notice) < len(texts)
    for text, candidate, hits, has_notice in zip(texts, candidates, rule_hits, notice):
        if not candidate:
            assert masker.mask(text) == text and not masker.counts, text
        full, skipping = (Masker(list(pii.KINDS), PARAMS["placeholders"]) for _ in range(2))
        assert skipping.mask(text, hits) == full.mask(text), text  # skipping the rules that miss changes nothing
        assert skipping.counts == full.counts, text
        if not has_notice:
            assert transform.remove_copyright(text, lexer, 20000) == (text, 0), text


def test_stage_output_is_the_definitions_output(documents):
    """The prefiltered stage gives what running both steps on every document gives."""
    rng_texts = [f"# Copyright {i} x\n" * (i % 2) + PII_PIECES[i % len(PII_PIECES)] + "\nprint(1)\n" for i in range(200)]
    docs = documents([{"path": f"{i}.py", "text": t} for i, t in enumerate(rng_texts)])
    out, stats = transform.transform(docs, PARAMS)
    masker = Masker(PARAMS["pii_kinds"], PARAMS["placeholders"])
    lexer = transform.lexer_for("python", "a.py")
    expected = [masker.mask(transform.remove_copyright(t, lexer, PARAMS["copyright_scan_chars"])[0]) for t in rng_texts]
    assert out["text"].to_list() == expected
    assert stats["extra"]["pii_masked"] == {kind: masker.counts[kind] for kind in PARAMS["pii_kinds"]}
    assert stats["extra"]["documents_changed"] == sum(a != b for a, b in zip(rng_texts, expected))


def test_no_pii_kinds_and_an_empty_shard(documents):
    docs = documents([{"path": "a.py", "text": "# Copyright x\nmail = 'jane@gmail.com'\n"}])
    out, stats = transform.transform(docs, {**PARAMS, "pii_kinds": []})
    assert out["text"].to_list() == ["mail = 'jane@gmail.com'\n"] and stats["extra"]["pii_masked"] == {}
    out, stats = transform.transform(docs.head(0), PARAMS)
    assert out.height == 0 and stats["extra"]["documents_changed"] == 0
