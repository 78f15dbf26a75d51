"""Tokenizer stage: train a byte-level BPE on a sample of the corpus, or adopt a given tokenizer.

The OpenCoder release reuses the INF-34B SentencePiece tokenizer (96,640 entries, ChatML tokens
added); its training data is not published, so the recipe trains its own with `tokenizers`:

- **byte-level BPE**: the 256 bytes are the base alphabet, so no input is ever unknown and any
  text round-trips exactly (SentencePiece reaches the same with byte fallback);
- **digits split one by one** before the byte-level split (as StarCoder's and Llama-3's code
  tokenizers do), so numbers tokenise uniformly instead of as arbitrary frequent chunks;
- the **special tokens** of config `tokenizer.special_tokens`: `eod_token` (appended after every
  document by the tokens stage), `pad_token`, and the ChatML pair `<|im_start|>`/`<|im_end|>` used
  by the chat template written into `tokenizer_config.json`.

The training sample is drawn per document from (seed, document id), so it does not depend on how
the corpus is sharded. The output folder is what `transformers`' `save_pretrained` writes
(`tokenizer.json`, `tokenizer_config.json`, `chat_template.jinja`): `AutoTokenizer` loads it and
the model export copies it. With `tokenizer.path` set (a `tokenizer.json`, an HF tokenizer folder,
or a Hub id where the Hub is reachable) that tokenizer is validated, given the missing special
tokens, and saved in the same layout instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import polars as pl
from tqdm import tqdm

from opencoder.core.errors import InputError
from opencoder.core import shards
from opencoder.core.args import add_io
from opencoder.core.config import ConfigError, add_config_args, stage_params
from opencoder.core.draw import uniform
from opencoder.core.stats import stage_stats
from opencoder.tokenization.pretokenize import Encoder

log = logging.getLogger(__name__)

# ChatML, as OpenCoder's instruct models use it.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CHAT_TOKENS = ("<|im_start|>", "<|im_end|>")


def sample_corpus(paths: Sequence[str | Path], sample_bytes: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(sample, all documents' id/language/bytes): the documents with the smallest draw from
    (seed, id) until `sample_bytes` is reached, in draw order; the same whatever the sharding."""
    index = pl.concat(
        [shards.read_parquet(p, columns=["id", "language", "bytes"]).with_columns(shard=pl.lit(i)) for i, p in enumerate(paths)]
    ) if paths else pl.DataFrame(schema={"id": pl.String, "language": pl.String, "bytes": pl.Int64, "shard": pl.Int32})
    index = index.with_columns(draw=pl.Series(uniform(seed, index["id"].to_list(), "tokenizer"), dtype=pl.Float64)).sort("draw", "id")
    chosen = index.filter((pl.col("bytes").cum_sum() - pl.col("bytes")) < sample_bytes)
    texts = []
    for i, path in enumerate(paths):
        ids = chosen.filter(pl.col("shard") == i)["id"]
        if ids.len():
            texts.append(shards.read_parquet(path, columns=["id", "text"]).filter(pl.col("id").is_in(ids.implode())))
    sample = chosen.join(pl.concat(texts), on="id", how="left") if texts else chosen.with_columns(text=pl.lit(""))
    return sample.sort("draw", "id"), index


def train(texts: Iterable[str], vocab_size: int, special_tokens: Sequence[str], min_frequency: int = 2, length: int | None = None):
    """A byte-level BPE `tokenizers.Tokenizer` trained on `texts` (special tokens get the first ids)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer, length=length)
    return tokenizer


def _special_tokens(params: dict) -> list[str]:
    """Configured special tokens plus the ones the recipe needs, in a fixed order."""
    tokens = list(params["special_tokens"])
    for needed in (params["eod_token"], params["pad_token"], *CHAT_TOKENS):
        if needed not in tokens:
            tokens.append(needed)
    return tokens


def wrap(tokenizer, params: dict):
    """The `transformers` fast tokenizer around `tokenizer`, with the recipe's special tokens and chat template."""
    from transformers import PreTrainedTokenizerFast

    extra = [t for t in _special_tokens(params) if t not in (params["eod_token"], params["pad_token"])]
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=params["eod_token"],
        pad_token=params["pad_token"],
        additional_special_tokens=extra,
        chat_template=CHAT_TEMPLATE,
    )


def adopt(path: str, params: dict):
    """A given tokenizer (tokenizer.json, HF folder or Hub id), with any missing special tokens added."""
    from tokenizers import Tokenizer

    source = Path(path)
    try:
        if source.is_file():
            backend = Tokenizer.from_file(str(source))
        else:
            from transformers import AutoTokenizer

            loaded = AutoTokenizer.from_pretrained(path)
            backend = getattr(loaded, "backend_tokenizer", None)
            if backend is None:
                raise ConfigError(f"tokenizer.path {path}: not a fast (tokenizers-backed) tokenizer")
    except ConfigError:
        raise
    except Exception as exc:  # tokenizers and transformers raise many types for a bad file or folder
        raise ConfigError(f"tokenizer.path {path}: cannot load a tokenizer ({type(exc).__name__}: {exc})") from None
    added = [t for t in _special_tokens(params) if backend.token_to_id(t) is None]
    if added:
        log.info("%s: adding special tokens %s", path, added)
        backend.add_special_tokens(added)
    return wrap(backend, params)


def load(folder: str | Path):
    """The tokenizer this stage wrote (an HF folder), as a `transformers` tokenizer."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


def load_backend(tokenizer_dir: str | Path):
    """(tokenizers.Tokenizer, {"eod_id", "pad_id", "vocab_size"}) of a tokenizer folder written by
    the tokenizer stage (or any HF folder with `tokenizer.json` and `tokenizer_config.json`): the one
    reading of the special-token ids, for this stage's stats, the tokens and the annealing data."""
    from tokenizers import Tokenizer

    folder = Path(tokenizer_dir)
    try:
        backend = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception as exc:  # tokenizers raises a bare Exception for a missing or damaged file
        raise ValueError(f"{folder / 'tokenizer.json'}: not a readable tokenizer ({exc})") from None
    config = shards.read_json(folder / "tokenizer_config.json")
    ids = {}
    for key, name in (("eod_id", "eos_token"), ("pad_id", "pad_token")):
        token = config.get(name)
        token = token.get("content") if isinstance(token, Mapping) else token
        ids[key] = backend.token_to_id(token) if token else None
    if ids["eod_id"] is None:
        raise ValueError(f"{folder}: tokenizer has no end-of-document (eos) token")
    ids["vocab_size"] = backend.get_vocab_size(with_added_tokens=True)
    return backend, ids


def build(paths: Sequence[str | Path], out_dir: str | Path, params: dict) -> dict:
    """Train (or adopt) the tokenizer, save it into `out_dir`, and return the stage's stats."""
    out_dir = Path(out_dir)
    if params.get("path"):
        tokenizer = adopt(params["path"], params)
        index = pl.DataFrame(schema={"language": pl.String, "bytes": pl.Int64})
        sample, texts = index, []
    else:
        sample, index = sample_corpus(paths, params["sample_bytes"], params["seed"])
        if sample.height == 0:
            raise InputError(f"no documents to train a tokenizer on in {len(paths)} corpus shard(s)")
        texts = sample["text"].to_list()
        log.info("training a %d-entry byte-level BPE on %d documents (%d bytes)", params["vocab_size"], len(texts), sample["bytes"].sum())
        backend = train(
            tqdm(texts, desc="tokenizer", unit="doc", mininterval=5),
            params["vocab_size"],
            _special_tokens(params),
            params["min_frequency"],
            length=len(texts),
        )
        tokenizer = wrap(backend, params)
    with shards.atomic_dir(out_dir) as tmp:
        tokenizer.save_pretrained(str(tmp))
    backend, ids = load_backend(out_dir)
    # the sample's tokens as the tokens stage writes them (its `Encoder`, EOD aside: special-token text is text)
    encoded = sum(int(lengths.sum()) for _, lengths in Encoder(backend).iter_encode(texts))
    extra = {
        **ids,
        "trained": not params.get("path"),
        "sample_tokens": encoded,
        "bytes_per_token": round(int(sample["bytes"].sum()) / encoded, 4) if encoded else None,
    }
    dropped = {"not_in_sample": index.join(sample.select("id"), on="id", how="anti")} if sample.height else {}
    return stage_stats("tokenizer", index, sample, dropped=dropped, extra=extra)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder tokenizer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", nargs="*", default=[], metavar="PARQUET", help="corpus shards to train on")
    add_io(parser, "output", "--output-dir", help="the tokenizer folder to write")
    parser.add_argument("--stats", help="stats JSON to write (default: <output>/stats.json)")
    parser.add_argument("--threads", type=int, help="training threads (default: all cores)")
    add_config_args(parser)
    args = parser.parse_args(argv)
    if args.threads:
        os.environ["RAYON_NUM_THREADS"] = str(args.threads)  # read when the tokenizers thread pool starts
    params = stage_params(args, "tokenizer")
    stats = build(sorted(args.input), args.output, params)
    shards.write_json(stats, args.stats or Path(args.output) / "stats.json")
    log.info("tokenizer: %s", json.dumps(stats["extra"], sort_keys=True))
    return 0
