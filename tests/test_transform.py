"""Transformation: copyright notices out of leading comments, PII masked; false positives left alone."""

from __future__ import annotations

import json

import pytest

from opencoder.core import config, shards

from opencoder.data import transform
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
