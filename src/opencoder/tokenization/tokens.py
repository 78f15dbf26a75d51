"""Tokens stage: encode the corpus into megatron-core indexed datasets, one per group, plus a blend.

A group (config `tokens.groups`) selects documents by `doc_types` and/or `languages` and has a
blend weight; a document goes to the first group that selects it (groups with `languages` first, then
config order), and documents
no group selects are counted as dropped (`no_group`). Each group becomes `<group>.bin`/`<group>.idx`
(`IndexedDatasetBuilder`; uint16 tokens when the vocabulary fits, else int32, as megatron's
GPTDataset expects) with the end-of-document token after every document.

Shards are encoded in parallel (`encode`), then concatenated per group (`merge`). Both write the
same self-contained folder: the group datasets, `stats.json` and `blend.json`:

    {"blend": [[weight, "<prefix relative to blend.json's folder>"], ...],
     "groups": {group: {"documents": n, "tokens": n}},
     "vocab_size": N, "eod_id": id, "pad_id": id, "tokenizer": "<folder relative to blend.json's>"}

`load_blend` reads it back with absolute paths, in the form `GPTDatasetConfig(blend=...)` takes.
`encode_documents` is the building block for any other indexed dataset (e.g. annealing data). It encodes
through `pretokenize.Encoder`: the ids of `tokenizers`' own encode, with the recipe tokenizer's
pre-tokenization done by polars over a batch of documents (~10x faster; see that module for why the
pieces are the same).

The `.bin`/`.idx` files are written here (`IndexWriter`), byte for byte as megatron-core's
`IndexedDatasetBuilder` writes them (tests/test_tokens.py compares): importing megatron-core (torch
with it) costs seconds per job, and the format is a header and three arrays.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from tqdm import tqdm

from opencoder.core import shards
from opencoder.core.args import add_io
from opencoder.core.config import add_config_args, stage_params
from opencoder.core.documents import empty
from opencoder.core.stats import merge, stage_stats
from opencoder.tokenization.pretokenize import Encoder
from opencoder.tokenization.tokenizer import load_backend

log = logging.getLogger(__name__)


def token_dtype(vocab_size: int) -> type[np.number]:
    """uint16 when every id fits, else int32: the rule megatron's GPTDatasetConfig applies."""
    return np.uint16 if vocab_size <= 65536 else np.int32


# megatron.core.datasets.indexed_dataset: header, version, dtype code, counts, then the arrays
INDEX_HEADER = b"MMIDIDX\x00\x00"
DTYPE_CODES = {np.uint8: 1, np.int8: 2, np.int16: 3, np.int32: 4, np.int64: 5, np.float64: 6, np.float32: 7, np.uint16: 8}


def read_index(idx_path: str | Path) -> tuple[type[np.number], np.ndarray, np.ndarray]:
    """(dtype, sequence lengths, document indices) of a megatron `.idx` file (not multimodal)."""
    data = Path(idx_path).read_bytes()
    if data[:9] != INDEX_HEADER or struct.unpack_from("<Q", data, 9)[0] != 1:
        raise ValueError(f"{idx_path}: not a megatron indexed dataset index")
    dtype = {code: t for t, code in DTYPE_CODES.items()}[data[17]]
    sequences, documents = struct.unpack_from("<QQ", data, 18)
    lengths = np.frombuffer(data, np.int32, sequences, 34)
    doc_indices = np.frombuffer(data, np.int64, documents, 34 + sequences * 12)
    return dtype, lengths, doc_indices


class IndexWriter:
    """Writes a megatron indexed dataset (`<prefix>.bin`, then `finalize` writes `.idx`) one document of one
    sequence at a time, or whole datasets (`add_index`), as `IndexedDatasetBuilder` does."""

    def __init__(self, bin_path: str | Path, dtype: type[np.number]):
        self.dtype = dtype
        self.data = open(bin_path, "wb")
        self.lengths: list[np.ndarray] = []
        self.doc_ends: list[np.ndarray] = []  # sequence index after each document
        self.sequences = 0

    def add_documents(self, tokens: np.ndarray, lengths: np.ndarray) -> None:
        """Documents of one sequence each: `tokens` (of `dtype`) concatenated, `lengths` theirs."""
        self.data.write(np.ascontiguousarray(tokens, dtype=self.dtype).tobytes())
        self.lengths.append(np.asarray(lengths, dtype=np.int32))
        self.doc_ends.append(self.sequences + np.arange(1, len(lengths) + 1, dtype=np.int64))
        self.sequences += len(lengths)

    def add_index(self, prefix: str | Path) -> None:
        dtype, lengths, doc_indices = read_index(f"{prefix}.idx")
        if dtype is not self.dtype:
            raise ValueError(f"{prefix}.idx holds {dtype.__name__} tokens, not {self.dtype.__name__}")
        self.lengths.append(lengths.copy())
        self.doc_ends.append(self.sequences + doc_indices[1:])
        self.sequences += len(lengths)
        with open(f"{prefix}.bin", "rb") as source:
            shutil.copyfileobj(source, self.data, 1 << 24)

    def finalize(self, idx_path: str | Path) -> None:
        self.data.close()
        lengths = np.concatenate([np.zeros(0, np.int32), *self.lengths])
        pointers = np.zeros(len(lengths), np.int64)
        np.cumsum(lengths[:-1].astype(np.int64) * np.dtype(self.dtype).itemsize, out=pointers[1:])
        doc_indices = np.concatenate([np.zeros(1, np.int64), *self.doc_ends])
        with open(idx_path, "wb") as out:
            out.write(INDEX_HEADER + struct.pack("<QB", 1, DTYPE_CODES[self.dtype]))
            out.write(struct.pack("<QQ", len(lengths), len(doc_indices)))
            out.write(lengths.tobytes() + pointers.tobytes() + doc_indices.tobytes())


def _texts(documents) -> Iterable[str]:
    if isinstance(documents, pl.DataFrame):
        yield from documents["text"]
        return
    for item in documents:
        if isinstance(item, pl.DataFrame):
            yield from item["text"]
        else:
            yield item


def encode_documents(documents, tokenizer, prefix: str | Path, *, eod_id: int | None = None, vocab_size: int | None = None) -> dict[str, int]:
    """Encode `documents` into the megatron indexed dataset `<prefix>.bin`/`<prefix>.idx`.

    `documents`: texts, a polars frame with a `text` column, or an iterable of such frames.
    `tokenizer`: a tokenizer folder (see `tokenizer.load_backend`) or a `tokenizers.Tokenizer` (then give
    `eod_id`). The end-of-document id follows every document. Both files appear atomically, only
    when all documents are written. Returns `{"documents": n, "tokens": n}` (EOD tokens included).
    """
    if isinstance(tokenizer, (str, Path)):
        tokenizer, ids = load_backend(tokenizer)
        eod_id = ids["eod_id"] if eod_id is None else eod_id
    if eod_id is None:
        raise ValueError("encode_documents: eod_id is needed with a tokenizers.Tokenizer")
    dtype = token_dtype(vocab_size or tokenizer.get_vocab_size(with_added_tokens=True))
    prefix = Path(prefix)
    counts = {"documents": 0, "tokens": 0}
    # `Encoder`: encode_batch_fast's ids with encode_special_tokens set (a file that contains
    # "<|endoftext|>" literally, as tokenizer code does, is text, not a boundary), pre-tokenized by polars
    # (pretokenize.py: the same pieces, ~10x faster)
    encoder = Encoder(tokenizer)
    with shards.atomic_path(prefix.with_name(prefix.name + ".bin")) as bin_tmp, \
            shards.atomic_path(prefix.with_name(prefix.name + ".idx")) as idx_tmp:
        writer = IndexWriter(bin_tmp, dtype)
        for ids, lengths in encoder.iter_encode(_texts(documents)):
            flat = np.insert(ids, np.cumsum(lengths), eod_id).astype(dtype)  # the end-of-document id after each
            writer.add_documents(flat, lengths + 1)
            counts["documents"] += len(lengths)
            counts["tokens"] += int(lengths.sum()) + len(lengths)
        writer.finalize(idx_tmp)
    return counts


def assign_groups(df: pl.DataFrame, groups: Mapping[str, Mapping]) -> pl.Series:
    """Group name per document: the first group selecting it, else null. Groups naming `languages` come
    first (the more specific choice), then config order: the order of a JSON mapping is not kept everywhere
    (`--params` sorts keys), so a `web` language group must win over a `text` doc_type group by rule."""
    assigned = pl.lit(None, dtype=pl.String)
    ordered = sorted(groups.items(), key=lambda item: "languages" not in item[1])  # stable: config order within
    for name, spec in reversed(ordered):
        cond = pl.lit(True)
        if "doc_types" in spec:
            cond &= pl.col("doc_type").is_in(list(spec["doc_types"]))
        if "languages" in spec:
            cond &= pl.col("language").is_in(list(spec["languages"]))
        assigned = pl.when(cond).then(pl.lit(name)).otherwise(assigned)
    return df.select(assigned.alias("group"))["group"]


def write_blend(out_dir: Path, blend: Sequence[tuple[float, str]], groups: Mapping[str, Mapping], ids: Mapping,
                tokenizer_dir: str | Path) -> dict:
    """Write `out_dir/blend.json` (the format above): `blend` is (weight, prefix relative to
    `out_dir`) pairs, `groups` what is known of each group, `ids` the tokenizer's (see `tokenizer.load_backend`)."""
    doc = {
        "blend": [[weight, prefix] for weight, prefix in blend],
        "groups": dict(groups),
        "vocab_size": ids["vocab_size"],
        "eod_id": ids["eod_id"],
        "pad_id": ids["pad_id"],
        "tokenizer": os.path.relpath(Path(tokenizer_dir).resolve(), Path(out_dir).resolve()),
    }
    shards.write_json(doc, Path(out_dir) / "blend.json")
    return doc


def write_group_blend(out_dir: Path, groups: Mapping[str, Mapping], counts: Mapping[str, Mapping], ids: Mapping,
                      tokenizer_dir: Path, level: int = logging.WARNING, allow_empty: bool = False) -> dict:
    """blend.json of a folder of group datasets; empty groups are left out of the blend (logged at `level`);
    a blend with no group at all is an error unless `allow_empty` (one shard's folder)."""
    blend = []
    for name, spec in groups.items():
        if counts[name]["documents"]:
            blend.append((spec["weight"], name))
        else:
            log.log(level, "%s: group %r has no documents and is left out of the blend", out_dir, name)
    if not blend and not allow_empty:
        raise ValueError(f"{out_dir}: no group has any documents; nothing to blend")
    return write_blend(out_dir, blend, {name: dict(counts[name]) for name in groups}, ids, tokenizer_dir)


def encode(input_paths: Sequence[str | Path], tokenizer_dir: str | Path, out_dir: str | Path, groups: Mapping[str, Mapping]) -> dict:
    """Encode corpus shards into `out_dir`: one dataset per group, stats.json and blend.json."""
    out_dir = Path(out_dir)
    backend, ids = load_backend(tokenizer_dir)
    frames = [shards.read_documents(p) for p in input_paths]
    df = pl.concat(frames) if frames else empty()
    df = df.with_columns(group=assign_groups(df, groups))
    counts = {}
    for name in groups:
        part = df.filter(pl.col("group") == name)
        texts = tqdm(part["text"], total=part.height, desc=f"tokens {name}", unit="doc", mininterval=5)
        counts[name] = encode_documents(texts, backend, out_dir / name, eod_id=ids["eod_id"], vocab_size=ids["vocab_size"])
    kept = df.filter(pl.col("group").is_not_null())
    stats = stage_stats("tokens", df, kept, dropped={"no_group": df.filter(pl.col("group").is_null())}, extra={"groups": counts})
    shards.write_json(stats, out_dir / "stats.json")
    # one shard may well lack a group, or every document (a shard of web pages, which enter through web
    # recall); only the merged blend warns about it
    write_group_blend(out_dir, groups, counts, ids, Path(tokenizer_dir), level=logging.INFO, allow_empty=True)
    return stats


def merge_folders(folders: Sequence[str | Path], tokenizer_dir: str | Path, out_dir: str | Path, groups: Mapping[str, Mapping]) -> dict:
    """Concatenate per-shard folders (from `encode`) group by group, in the given order."""
    out_dir = Path(out_dir)
    _, ids = load_backend(tokenizer_dir)
    dtype = token_dtype(ids["vocab_size"])
    for name in groups:
        prefix = out_dir / name
        with shards.atomic_path(prefix.with_name(name + ".bin")) as bin_tmp, shards.atomic_path(prefix.with_name(name + ".idx")) as idx_tmp:
            writer = IndexWriter(bin_tmp, dtype)
            for folder in tqdm(folders, desc=f"merge {name}", unit="shard", mininterval=5):
                writer.add_index(Path(folder) / name)
            writer.finalize(idx_tmp)
    stats = merge(shards.read_json(Path(f) / "stats.json") for f in folders) if folders else {}
    counts = {name: stats.get("extra", {}).get("groups", {}).get(name, {"documents": 0, "tokens": 0}) for name in groups}
    shards.write_json(stats, out_dir / "stats.json")
    write_group_blend(out_dir, groups, counts, ids, Path(tokenizer_dir))
    return stats


@dataclass(frozen=True)
class BlendTokenizer:
    """What megatron-core's GPTDatasetConfig needs of a tokenizer: sizes and ids, plus a cache key."""

    vocab_size: int
    eod: int
    pad: int
    unique_identifiers: dict


@dataclass(frozen=True)
class Blend:
    """blend.json with absolute paths."""

    prefixes: list[str]
    weights: list[float]
    groups: dict
    vocab_size: int
    eod_id: int
    pad_id: int | None
    tokenizer: str

    def megatron(self) -> tuple[list[str], list[float]]:
        """The `blend=` argument of megatron's GPTDatasetConfig."""
        return list(self.prefixes), list(self.weights)

    def megatron_tokenizer(self) -> BlendTokenizer:
        pad = self.pad_id if self.pad_id is not None else -1
        return BlendTokenizer(self.vocab_size, self.eod_id, pad, {"tokenizer": self.tokenizer, "vocab_size": self.vocab_size})


def load_blend(path: str | Path) -> Blend:
    path = Path(path)
    doc = shards.read_json(path)
    base = path.resolve().parent
    return Blend(
        prefixes=[str(base / prefix) for _, prefix in doc["blend"]],
        weights=[float(w) for w, _ in doc["blend"]],
        groups=doc["groups"],
        vocab_size=doc["vocab_size"],
        eod_id=doc["eod_id"],
        pad_id=doc["pad_id"],
        tokenizer=str((base / doc["tokenizer"]).resolve()),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder tokens", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_enc = sub.add_parser("encode", help="encode corpus shards into one folder of group datasets")
    p_enc.add_argument("--input", nargs="+", required=True, metavar="PARQUET")
    p_merge = sub.add_parser("merge", help="concatenate folders written by `encode`, in order")
    p_merge.add_argument("--input", nargs="+", required=True, metavar="FOLDER")
    for p in (p_enc, p_merge):
        p.add_argument("--tokenizer", required=True, help="tokenizer folder (tokenizer.json + tokenizer_config.json)")
        add_io(p, "output", "--output-dir", help="folder to write the group datasets, blend.json and stats.json to")
        p.add_argument("--threads", type=int, help="encoding threads (default: all cores)")
        add_config_args(p)
    args = parser.parse_args(argv)
    if args.threads:
        os.environ["RAYON_NUM_THREADS"] = str(args.threads)  # read when the tokenizers thread pool starts
    groups = stage_params(args, "tokens")["groups"]
    run = encode if args.command == "encode" else merge_folders
    stats = run(args.input, args.tokenizer, args.output, groups)
    log.info("tokens: %s", stats.get("extra", {}).get("groups"))
    return 0
