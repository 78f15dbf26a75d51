"""Conversations → token sequences with an assistant-only loss mask, packed to the stage's sequence
length so that neither attention nor positions cross conversations.

Rendering uses the tokenizer's own chat template (`tokenizer_config.json` / `chat_template.jinja`
of the tokenizer folder: the template the export ships, `opencoder.tokenization.tokenizer.CHAT_TEMPLATE`
for the build's tokenizer). The loss covers, for each assistant turn, the characters the template
adds for that turn after its generation prompt, up to and including the end-of-turn token: exactly
the assistant text and `<|im_end|>`. Spans are found by rendering the conversation's prefixes, so
templates that inject text (a default system prompt) are handled; a template whose prefixes are not
prefixes of the whole rendering is an error.

Packing is best-fit decreasing over the conversations' lengths. In a packed sequence each
conversation's labels are its own next tokens, its positions restart at 0, and the attention mask
is block-diagonal and causal (`attention_mask[i, j]` True = masked, megatron's convention); padding
attends only to itself and carries no loss. RoPE depends only on relative positions, so inside a
block the logits are those of the conversation alone.
"""

from __future__ import annotations

import bisect
import json
from pathlib import Path

import numpy as np
import torch

from opencoder.core.errors import InputError

END_OF_TURN = "<|im_end|>"


class TemplateError(InputError):
    """A tokenizer without a chat template, or one that renders a conversation's prefix differently
    from its start."""


def end_of_turn(tokenizer) -> str:
    """`<|im_end|>` where the tokenizer has it (ChatML), else its end-of-sequence token."""
    return END_OF_TURN if END_OF_TURN in tokenizer.get_vocab() else tokenizer.eos_token


def render(tokenizer, messages: list[dict]) -> tuple[list[int], list[int]]:
    """(token ids, loss mask) of one conversation rendered with the tokenizer's chat template."""
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    eot = end_of_turn(tokenizer)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        start = tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True) if i else ""
        through = tokenizer.apply_chat_template(messages[:i + 1], tokenize=False)
        if not text.startswith(through) or not through.startswith(start):
            raise TemplateError("the chat template's rendering of a prefix is not a prefix of the conversation")
        end = through.find(eot, len(start) + len(m["content"]))
        spans.append((len(start), end + len(eot) if end >= 0 else len(through)))
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    mask = [int(any(a <= s < b for a, b in spans)) for s, _ in enc["offset_mapping"]]
    return list(enc["input_ids"]), mask


def best_fit_decreasing(lengths: list[int], capacity: int) -> list[list[int]]:
    """Bins of item indices, each bin's total length <= capacity (items longer than it excluded)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    free: list[tuple[int, int]] = []  # (room left, bin) sorted
    bins: list[list[int]] = []
    for i in order:
        n = lengths[i]
        k = bisect.bisect_left(free, (n, -1))
        if k == len(free):
            bins.append([i])
            room, b = capacity - n, len(bins) - 1
        else:
            room, b = free.pop(k)
            bins[b].append(i)
            room -= n
        bisect.insort(free, (room, b))
    return bins


def pack(sequences: list[tuple[list[int], list[int]]], seq_length: int) -> dict:
    """Pack rendered conversations (each contributes len − 1 positions) into `seq_length` rows.

    Returns the flat arrays of `PackedDataset` and the indices of conversations too long to fit.
    """
    positions = [len(ids) - 1 for ids, _ in sequences]
    fits = [i for i, n in enumerate(positions) if 0 < n <= seq_length]
    too_long = [i for i, n in enumerate(positions) if n > seq_length]
    bins = [[fits[j] for j in b] for b in best_fit_decreasing([positions[i] for i in fits], seq_length)]
    bins.sort(key=lambda b: min(b))  # a stable order independent of the packing's internals
    lengths = np.array([len(ids) for ids, _ in sequences], dtype=np.int64)
    return {
        "tokens": np.concatenate([np.asarray(ids, np.int32) for ids, _ in sequences] or [np.zeros(0, np.int32)]),
        "loss_mask": np.concatenate([np.asarray(m, np.uint8) for _, m in sequences] or [np.zeros(0, np.uint8)]),
        "offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        "bins": np.asarray([i for b in bins for i in b], np.int64),
        "bin_offsets": np.concatenate([[0], np.cumsum([len(b) for b in bins])]).astype(np.int64),
        "too_long": too_long,
        "used_positions": int(sum(positions[i] for i in fits)),
    }


class PackedDataset:
    """Packed rows of `packed.npz` as megatron batch items: tokens, labels, loss_mask, position_ids,
    attention_mask ([1, s, s], True = masked), each of `seq_length` positions.

    `sample(i)` for any i ≥ 0 walks epochs: epoch e is a permutation of the rows seeded by (seed, e),
    so the batch of step k is a pure function of k and a resumed run sees the same batches.
    """

    def __init__(self, path: str | Path, seed: int):
        try:
            with np.load(path) as z:
                self.arrays = {k: z[k] for k in z.files}
            meta = json.loads(str(self.arrays.pop("meta")))
        except (OSError, ValueError, KeyError) as exc:  # missing, not an npz, not sft-pack's
            raise InputError(f"{path}: not a packed SFT set of `opencoder sft-pack` ({exc})") from None
        self.seq_length, self.pad_id = meta["seq_length"], meta["pad_id"]
        self.vocab_size, self.eod_id = meta["vocab_size"], meta["eod_id"]
        self.rows = len(self.arrays["bin_offsets"]) - 1
        if not self.rows:
            raise InputError(f"{path}: no packed rows (no conversation fits the sequence length)")
        self.seed = seed
        self._perm: dict[int, np.ndarray] = {}

    def row(self, r: int) -> dict:
        a, s = self.arrays, self.seq_length
        tokens = np.full(s, self.pad_id, np.int64)
        labels = np.full(s, self.pad_id, np.int64)
        loss = np.zeros(s, np.float32)
        pos = np.arange(s, dtype=np.int64)
        segment = np.full(s, -1, np.int64)
        at = 0
        for c in a["bins"][a["bin_offsets"][r]:a["bin_offsets"][r + 1]]:
            ids = a["tokens"][a["offsets"][c]:a["offsets"][c + 1]]
            mask = a["loss_mask"][a["offsets"][c]:a["offsets"][c + 1]]
            n = len(ids) - 1
            tokens[at:at + n], labels[at:at + n], loss[at:at + n] = ids[:-1], ids[1:], mask[1:]
            pos[at:at + n], segment[at:at + n] = np.arange(n), c
            at += n
        seg = torch.from_numpy(segment)
        same = (seg[:, None] == seg[None, :]) & (seg[:, None] >= 0)
        allowed = torch.tril(same | torch.eye(s, dtype=torch.bool))
        return {"tokens": torch.from_numpy(tokens), "labels": torch.from_numpy(labels),
                "loss_mask": torch.from_numpy(loss), "position_ids": torch.from_numpy(pos),
                "attention_mask": ~allowed.unsqueeze(0)}

    def __getitem__(self, i: int) -> dict:
        epoch, j = divmod(i, self.rows)
        if epoch not in self._perm:
            self._perm[epoch] = np.random.default_rng([self.seed, epoch]).permutation(self.rows)
        return self.row(int(self._perm[epoch][j]))


def save(path: str | Path, packed: dict, meta: dict) -> None:
    arrays = {k: v for k, v in packed.items() if isinstance(v, np.ndarray)}
    tmp = Path(path).with_name(Path(path).name + ".tmp.npz")
    np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    """`opencoder sft-pack`: conversations → packed.npz, dropped.parquet, packed.stats.json."""
    import argparse
    import logging

    import polars as pl
    from transformers import AutoTokenizer

    from opencoder.core import shards
    from opencoder.core.args import add_io
    from opencoder.core.config import add_config_args, load, read_params
    from opencoder.training.params import SFT_STAGES, sft_params
    from opencoder.training.sft.data import read_conversations

    log = logging.getLogger(__name__)
    parser = argparse.ArgumentParser(prog="opencoder sft-pack", description=__doc__.splitlines()[0])
    add_io(parser, "input", help="conversations (jsonl of decontaminate or sft-data)")
    parser.add_argument("--tokenizer", required=True, help="tokenizer folder (with its chat template)")
    add_io(parser, "output", help="packed.npz; dropped.parquet and packed.stats.json beside it")
    parser.add_argument("--stage", choices=SFT_STAGES, default="stage1",
                        help="the SFT stage whose sequence length --config gives")
    add_config_args(parser)
    parser.epilog = "--params: {\"seq_length\": N} (default: the stage's, resolved from --config)"
    args = parser.parse_args(argv)
    if args.params:
        seq_length = read_params(args.params)["seq_length"]
    else:
        seq_length = sft_params(load(*args.config), args.stage)["train"]["seq_length"]
    try:
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    except (OSError, ValueError) as exc:
        raise InputError(f"{args.tokenizer}: not a tokenizer folder ({str(exc).strip().splitlines()[0]})") from None
    if not tokenizer.chat_template:
        raise TemplateError(f"{args.tokenizer}: the tokenizer has no chat template")
    rows = read_conversations(args.input)
    rendered = []
    for r in rows:
        try:
            rendered.append(render(tokenizer, r["messages"]))
        except TemplateError as exc:
            raise TemplateError(f"{r.get('file', args.input)}: row {r.get('row', '?')}: {exc}") from None
    packed = pack(rendered, seq_length)
    dropped = []
    for i in packed["too_long"]:
        r = rows[i]
        reason = f"{len(rendered[i][0]) - 1} tokens > seq_length {seq_length}"
        log.warning("%s: row %d: conversation of %s (dropped, not truncated)", r["file"], r["row"], reason)
        dropped.append({"id": r["id"], "file": r["file"], "row": r["row"], "reason": reason})
    n_rows = len(packed["bin_offsets"]) - 1
    if not n_rows:
        raise InputError(f"{args.input}: no conversation fits seq_length {seq_length} "
                         f"({len(rows)} conversations, {len(dropped)} too long)")
    meta = {"seq_length": seq_length, "pad_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None
            else tokenizer.eos_token_id, "vocab_size": len(tokenizer), "eod_id": tokenizer.eos_token_id,
            "tokenizer": str(args.tokenizer)}
    out = Path(args.output)
    save(out, packed, meta)
    shards.write_parquet(pl.DataFrame(dropped, schema={"id": pl.String, "file": pl.String, "row": pl.Int64,
                                                       "reason": pl.String}), out.with_name("dropped.parquet"))
    too_long = set(packed["too_long"])
    loss_tokens = int(sum(sum(m[1:]) for i, (_, m) in enumerate(rendered) if i not in too_long))
    stats = {"stage": "sft-pack", "conversations": len(rows), "packed_conversations": len(rows) - len(dropped),
             "dropped_too_long": len(dropped), "rows": n_rows, "seq_length": seq_length,
             "tokens": packed["used_positions"], "loss_tokens": loss_tokens,
             "packing_efficiency": packed["used_positions"] / (n_rows * seq_length)}
    shards.write_json(stats, out.with_name("packed.stats.json"))
    log.info("packed %d conversations into %d rows of %d (efficiency %.3f; %d too long)", stats["packed_conversations"],
             n_rows, seq_length, stats["packing_efficiency"], len(dropped))
    return 0
