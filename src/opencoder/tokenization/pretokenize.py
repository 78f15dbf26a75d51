r"""The recipe tokenizer's pre-tokenization done by polars' Rust regex, and the encode built on it.

Why: the recipe's tokenizer (`tokenizer.train`) pre-tokenizes with Sequence[Digits(individual_digits=True),
ByteLevel(add_prefix_space=False, use_regex=True)]: every numeric character (Rust's `char::is_numeric`:
Unicode Nd, Nl, No) is a piece of its own, and the GPT-2 pattern (Oniguruma)

    's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+

splits each stretch between them separately; the model (BPE) then encodes every piece on its own. In
`tokenizers` each piece costs ~0.8 us of bookkeeping (a piece of code is ~4 bytes), so its encode ran
at ~1.4 MB/s per core, most of it that, not the model. `Encoder` gives the same ids faster:

1. `split` cuts a whole batch of documents into the same pieces with two polars regex passes (~25 MB/s);
2. each distinct piece is encoded once, by the tokenizer's model behind a pre-tokenizer that only maps
   bytes (ByteLevel(use_regex=False)): the model gets exactly the words it got before. The batch's distinct
   pieces come from a polars Categorical, and a table of those encoded so far (a join) means a piece is
   encoded once per `Encoder`;
3. a document's ids are its pieces' ids, gathered with numpy.

Why `split` gives the pieces of Digits-then-GPT-2 (the regex crate has no lookahead):

- Digits: a numeric character is matched alone (`[N]`, no leading space) and excluded from every other
  class, so no piece spans one, as if each stretch were split apart. Only `\s+(?!\S)` looks past its
  stretch, and a whitespace run at a stretch's end (before a numeric character or the text's end) is
  one piece whatever follows, which is what `\s+` gives.
- `\s+(?!\S)|\s+` elsewhere: a run of n >= 2 whitespace characters followed by a non-numeric,
  non-whitespace character gives the run minus its last character, then the last character, which a
  space joins to the next piece (` ?\p{L}+`, ` ?[^\s\p{L}\p{N}]+`; a contraction cannot start at a
  space) and anything else leaves alone. `WS_CUT` puts a separator between those two characters (a
  private-use character absent from the batch and excluded from every class, so no piece spans it);
  `\s+` then gives exactly those pieces. A single whitespace character needs nothing.
- Character classes: the regex crate's `\s` and `\p{L}` are Oniguruma's over every code point, and its
  `\p{N}` is `is_numeric` but for `NUMERIC_EXTRA` (Unicode 17 digits its tables lack); Oniguruma's
  `\p{N}` has nothing outside `is_numeric`. tests/test_pretokenize.py checks all 1,112,064 code points
  (and edge cases, random and real text) for the library versions in `VERIFIED`; with other versions,
  or another tokenizer, `Encoder` is `encode_batch_fast` as before.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import polars as pl

log = logging.getLogger(__name__)

# (tokenizers, polars) versions whose character classes tests/test_pretokenize.py checked code point by code point
VERIFIED = {("0.23.3", "2.1.0")}

# is_numeric() code points outside the regex crate's \p{N} (tokenizers' Rust std knows Unicode 17)
NUMERIC_EXTRA = r"\x{11DE0}-\x{11DE9}\x{16FF4}-\x{16FF6}"
NUMERIC = r"\p{N}" + NUMERIC_EXTRA  # what Digits isolates, as the inside of a class
# the last two whitespace characters of a run and the non-numeric one after it: the cut goes between the two
WS_CUT = rf"(\s)(\s[^\s{NUMERIC}])"
# private use characters: not \s, \p{L} or \p{N}; the first one a batch lacks is its separator
SEPARATORS = tuple(map(chr, itertools.chain(range(0xE000, 0xF900), range(0xF0000, 0xFFFFE), range(0x100000, 0x10FFFE))))

# the pre-tokenizer this module reproduces (ByteLevel's trim_offsets only moves offsets)
RECIPE_PRE_TOKENIZER = {
    "type": "Sequence",
    "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
    ],
}

BATCH = 256  # documents per batch: enough for the Rust thread pool and the regex passes, small in memory


@functools.cache
def pieces_pattern(separator: str) -> str:
    r"""The GPT-2 pattern with Digits folded in and `\s+(?!\S)` left to `WS_CUT`'s separator."""
    sep = rf"\x{{{ord(separator):X}}}"
    return rf"'s|'t|'re|'ve|'m|'ll|'d| ?\p{{L}}+|[{NUMERIC}]| ?[^\s\p{{L}}{NUMERIC}{sep}]+|\s+"


def separator(texts: pl.Series) -> str | None:
    """A character none of `texts` contains, for `split`; None if each one occurs."""
    for candidate in SEPARATORS:
        if not texts.str.contains(candidate, literal=True).any():
            return candidate
    return None


def split(texts: pl.Series, sep: str | None = None) -> pl.Series:
    """Each text's pieces (a list[str] column): what the recipe's pre-tokenizer gives, byte-mapping aside.
    `sep`: a character absent from `texts` (default: `separator(texts)`)."""
    sep = sep or separator(texts)
    if sep is None:
        raise ValueError("split: every separator character occurs in the texts")
    return texts.str.replace_all(WS_CUT, f"${{1}}{sep}${{2}}").str.extract_all(pieces_pattern(sep))


def _state(component) -> dict | None:
    return None if component is None else json.loads(component.__getstate__())


def applies(tokenizer) -> str | None:
    """Why `split` cannot stand in for `tokenizer`'s pre-tokenization, or None when it can: the recipe's
    pre-tokenizer, no normalizer, truncation, padding or BPE dropout, every added token special (with
    `encode_special_tokens` they stay text; a non-special one would be matched across pieces), and
    library versions whose character classes were checked."""
    import tokenizers

    pre = _state(tokenizer.pre_tokenizer)
    if pre is not None:
        for step in pre.get("pretokenizers", []):
            step.pop("trim_offsets", None)
    if pre != RECIPE_PRE_TOKENIZER:
        return f"pre-tokenizer {pre}"
    if tokenizer.normalizer is not None:
        return "a normalizer"
    if tokenizer.truncation or tokenizer.padding:
        return "truncation or padding"
    if getattr(tokenizer.model, "dropout", None):
        return "BPE dropout"
    if not all(token.special for token in tokenizer.get_added_tokens_decoder().values()):
        return "non-special added tokens"
    versions = (tokenizers.__version__, pl.__version__)
    if versions not in VERIFIED:
        return f"tokenizers {versions[0]} with polars {versions[1]} (character classes not checked)"
    return None


def batches(texts: Iterable[str], size: int = BATCH) -> Iterator[list[str]]:
    texts = iter(texts)
    while batch := list(itertools.islice(texts, size)):
        yield batch


class Encoder:
    """`encode(texts)`: the ids `tokenizer.encode_batch_fast(texts, add_special_tokens=False)` gives with
    `encode_special_tokens` set (added tokens in a text are text), through `split` when `applies`."""

    def __init__(self, tokenizer):
        from tokenizers import Tokenizer, pre_tokenizers

        self.tokenizer = tokenizer
        self.why_not = applies(tokenizer)
        if self.why_not:
            log.info("encoding through tokenizers' own pre-tokenizer: %s", self.why_not)
            return
        # the same model (shared, not copied) behind a pre-tokenizer that only maps bytes; no added tokens:
        # with encode_special_tokens and none but special ones, the recipe's tokenizer leaves them as text
        self.words = Tokenizer(tokenizer.model)
        self.words.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
        # every piece encoded so far: its ids are store[start:start + length]
        self.known = pl.DataFrame(schema={"piece": pl.String, "start": pl.Int64, "length": pl.Int64})
        self.store = np.zeros(0, np.int64)

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(every text's ids, concatenated; each text's number of ids)."""
        if not self.why_not:
            series = pl.Series(texts, dtype=pl.String)
            if series.null_count():
                raise TypeError("encode: texts must be strings, not None")
            sep = separator(series)
            if sep is not None:
                return self._encode_pieces(split(series, sep))
        return self._encode_texts(texts)

    def iter_encode(self, texts: Iterable[str], size: int = BATCH) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for batch in batches(texts, size):
            yield self.encode(batch)

    def _encode_texts(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        before, self.tokenizer.encode_special_tokens = self.tokenizer.encode_special_tokens, True
        try:
            # encode_batch_fast: the ids of encode_batch, without the character offsets nobody reads
            encoded = [e.ids for e in self.tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)]
        finally:
            self.tokenizer.encode_special_tokens = before
        return _flatten(encoded)

    def _encode_pieces(self, pieces: pl.Series) -> tuple[np.ndarray, np.ndarray]:
        counts = pieces.list.len().to_numpy().astype(np.int64)
        flat = pieces.explode().drop_nulls()  # an empty text has no pieces (and a piece is never empty)
        assert len(flat) == counts.sum()
        # a code per distinct piece of the batch (categories of its own: a Categories object's codes
        # last only as long as some column uses them)
        codes = flat.cast(pl.Categorical(pl.Categories.random()))
        distinct = codes.unique()
        table = self._learn(distinct.cast(pl.String))
        by_code = np.zeros((2, int(distinct.to_physical().max()) + 1 if len(distinct) else 0), np.int64)
        by_code[:, distinct.to_physical().to_numpy()] = table.select("start", "length").to_numpy().T
        starts, lengths = by_code[:, codes.to_physical().to_numpy()]
        ends = np.cumsum(lengths)
        ids = self.store[np.arange(int(ends[-1]) if len(ends) else 0) + np.repeat(starts - (ends - lengths), lengths)]
        bounds = np.concatenate([np.zeros(1, np.int64), ends])[np.concatenate([np.zeros(1, np.int64), np.cumsum(counts)])]
        return ids, np.diff(bounds)

    def _learn(self, pieces: pl.Series) -> pl.DataFrame:
        """`known`'s rows for `pieces` (distinct), in their order, encoding those not seen before."""
        table = pieces.to_frame("piece").join(self.known, on="piece", how="left", maintain_order="left")
        new = table.filter(pl.col("start").is_null())["piece"]
        if len(new):
            ids, lengths = _flatten([e.ids for e in self.words.encode_batch_fast(new.to_list(), add_special_tokens=False)])
            added = pl.DataFrame({"piece": new, "start": len(self.store) + np.cumsum(lengths) - lengths, "length": lengths})
            self.store = np.concatenate([self.store, ids])
            self.known = pl.concat([self.known, added])
            table = table.join(added, on="piece", how="left", maintain_order="left", suffix="_new").select(
                "piece", start=pl.coalesce("start", "start_new"), length=pl.coalesce("length", "length_new"))
        return table


def _flatten(encoded: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
    return np.fromiter(itertools.chain.from_iterable(encoded), np.int64, int(lengths.sum())), lengths
