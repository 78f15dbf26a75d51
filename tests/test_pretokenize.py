"""The recipe tokenizer's pre-tokenization in polars: the same pieces and ids as `tokenizers`' own, always."""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from opencoder.tokenization import pretokenize, tokenizer

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]

WHITESPACE = [" ", "\n", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\xa0", "\u1680",
              *map(chr, range(0x2000, 0x200B)), "\u2028", "\u2029", "\u202f", "\u205f", "\u3000",
              "\u180e", "\u200b", "\u2060", "\ufeff"]  # the last four are not whitespace
DIGITS = ["0", "7", "٣", "۴", "७", "৯", "๕", "０", "９", "²", "¼", "½", "Ⅻ", "ⅷ", "〇", "①", "𝟘", "𒐀",
          "\U00011de0", "\U00011de9", "\U00016ff4", "\U00016ff6"]  # the last four: is_numeric, not the regex crate's \p{N}
LETTERS = ["a", "Z", "s", "t", "re", "ve", "m", "ll", "d", "é", "ß", "Ω", "ж", "א", "ب", "中", "文", "の", "한",
           "ǅ", "ʰ", "ª", "𝒜", "\U00030000"]
OTHER = ["'", "'", "'", "!", ".", "_", "-", "(", "}", "#", "\\", "\"", "`", "’", "\u0301", "\u0308", "\u200d",
         "😀", "👍🏽", "🇫🇷", "\ue000", "\ue001", "\U0010fffd", "\x00", "\x7f", "\ufffd", "\uffff"]
EDGE_CASES = [
    "", " ", "  ", "\n", "\n\n", " \n", "\n ", "a ", "a  ", "a   b", "a \n b", "a\n\n b", "a \t\n  \tb", " a", "  a",
    "\t a", "\ta", "a 1", "a  1", "a\n1", "1 ", "1  a", "12 34", " 1", "  1", "x=1", "x = 12.5e-3", "foo(  )",
    "'s", " 's", "  's", "it's", "it's's", "'re'", "we're", "you've", "I'm", "we'll", "he'd", "'S", "'ll'd",
    "'t", "''s", "  'rest", " '", "  '''s", "don't", "\u00a0a", "a\u00a0 b", "a \u00a0b", "a\u3000\u3000b",
    "a\u2028b", "a \u2028 \u2028b", "\u2028\u2028", "a\u00a0", "a \u3000", "日本語 テキスト", "中文 1 ２",
    "x\u0301y", " \u0301", "  \u0301", "a😀b", " 😀", "  😀", "e\u0308\u0301", "<|endoftext|>", " <|im_start|> x",
    "\ue000a\ue000 b", "a\ue000\ue000", "\U00011de0\U00011de1 x", " \U00016ff4", "Ⅻ ⅷ ①", "²³",
    "def f(x):\n    return x  # done\n\n\n", "\r\n\r\n  \r\n", "\t\t\tif a:\n\t\t\t\tb\n", "a" * 300 + " " * 300 + "b",
]


def reference_pieces(pre, text: str) -> list[str]:
    return [text[start:end] for _, (start, end) in pre.pre_tokenize_str(text)]


def fast_pieces(texts: list[str]) -> list[list[str]]:
    return pretokenize.split(pl.Series(texts, dtype=pl.String)).to_list()


@pytest.fixture(scope="module")
def backend():
    """A small BPE trained as the recipe trains its tokenizer, on real code."""
    texts = [f.read_text() for f in sorted((STDLIB / "json").glob("*.py"))]
    return tokenizer.train(texts, 800, SPECIAL)


@pytest.fixture(scope="module")
def pre(backend):
    return backend.pre_tokenizer


def assert_same(backend, pre, texts: list[str]) -> None:
    """Pieces equal `tokenizers`' own, and `Encoder` ids equal `encode_batch_fast`'s with special tokens as text."""
    got = fast_pieces(texts)
    for text, pieces in zip(texts, got):
        assert pieces == reference_pieces(pre, text), repr(text)
    encoder = pretokenize.Encoder(backend)
    assert encoder.why_not is None
    ids, lengths = map(np.concatenate, zip(*encoder.iter_encode(texts, 64)))
    backend.encode_special_tokens = True
    try:
        expected = [e.ids for e in backend.encode_batch_fast(texts, add_special_tokens=False)]
    finally:
        backend.encode_special_tokens = False
    assert lengths.tolist() == [len(e) for e in expected]
    assert ids.tolist() == [i for e in expected for i in e]


def test_recipe_tokenizer_takes_the_fast_path(backend):
    assert pretokenize.applies(backend) is None


def test_edge_cases(backend, pre):
    assert_same(backend, pre, EDGE_CASES)
    # and each one alone, once per batch (a batch's separator and the piece cache differ)
    for text in EDGE_CASES:
        assert_same(backend, pre, [text])


def test_random_strings(backend, pre):
    rng = random.Random(20261203)
    kinds = [WHITESPACE, DIGITS, LETTERS, OTHER, [" "], ["\n"], ["    "]]
    texts = []
    for _ in range(4000):
        n = rng.randrange(0, 40)
        text = []
        for _ in range(n):
            if rng.random() < 0.1:  # any code point but a surrogate
                c = rng.randrange(0x110000 - 0x800)
                text.append(chr(c + 0x800 if c >= 0xD800 else c))
            else:
                text.append(rng.choice(rng.choice(kinds)))
        texts.append("".join(text))
    assert_same(backend, pre, texts)


def test_real_code(backend, pre):
    files = sorted(STDLIB.glob("*.py"))[::6] + sorted((STDLIB / "email").glob("*.py"))
    texts = [f.read_text(errors="replace") for f in files]
    assert sum(map(len, texts)) > 1_000_000
    assert_same(backend, pre, texts)


def test_every_code_point_has_the_same_class(pre):
    """Probe `acc!cc` per code point c: letters, Oniguruma's other \\p{N}, Digits' numerics, whitespace and
    the rest each give different pieces; a digit between probes splits them apart in both."""
    points = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    differ = []
    for i in range(0, len(points), 1 << 15):
        chunk = points[i:i + (1 << 15)]
        texts = ["".join(f"a{c}{c}!{c}{c}0" for c in map(chr, chunk[j:j + 256])) for j in range(0, len(chunk), 256)]
        for j, (text, pieces) in enumerate(zip(texts, fast_pieces(texts))):
            if pieces != reference_pieces(pre, text):
                differ += [hex(c) for c in chunk[j * 256:(j + 1) * 256]
                           if fast_pieces([f"a{chr(c)}{chr(c)}!{chr(c)}{chr(c)}"])[0]
                           != reference_pieces(pre, f"a{chr(c)}{chr(c)}!{chr(c)}{chr(c)}")]
    assert differ == []
    import tokenizers

    assert (tokenizers.__version__, pl.__version__) in pretokenize.VERIFIED, "checked: add these versions to VERIFIED"


def test_other_tokenizers_take_tokenizers_path(backend):
    from tokenizers import Tokenizer, pre_tokenizers

    texts = ["x = 12  # it's\n\n  y", "<|endoftext|> is text", ""]
    other = Tokenizer.from_str(backend.to_str())
    other.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    assert "pre-tokenizer" in pretokenize.applies(other)
    added = Tokenizer.from_str(backend.to_str())
    added.add_tokens(["it's"])
    assert pretokenize.applies(added) == "non-special added tokens"
    for tok in (other, added):
        ids, lengths = pretokenize.Encoder(tok).encode(texts)
        tok.encode_special_tokens = True
        expected = [e.ids for e in tok.encode_batch_fast(texts, add_special_tokens=False)]
        assert lengths.tolist() == list(map(len, expected)) and ids.tolist() == sum(expected, [])


def test_a_separator_the_texts_contain_is_not_used(backend, pre):
    taken = "".join(pretokenize.SEPARATORS[:3])
    texts = [f"a  b{taken}  c", f"{taken}\n\n x"]
    assert pretokenize.separator(pl.Series(texts)) == pretokenize.SEPARATORS[3]
    assert_same(backend, pre, texts)
