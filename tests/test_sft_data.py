"""SFT data: instruction sources with bad rows, the assistant-only loss mask, packing that keeps
conversations apart (same logits packed as alone), the corpus doctest set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from test_train_resume import make_tokenizer

from opencoder.training.sft import packing
from opencoder.training.sft.data import collect
from opencoder.training.sft.sources import InstructionError, read_source, weighted


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(make_tokenizer(tmp_path_factory.mktemp("tok"))))


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_bad_rows_are_named_and_good_rows_kept(tmp_path):
    f = write_jsonl(tmp_path / "mixed.jsonl", [
        {"instruction": "Add two numbers.", "output": "def add(a, b):\n    return a + b"},
        {"instruction": "no output"},
        {"instruction": 3, "output": "x"},
        {"messages": []},
        "{not json",
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "robot", "content": "beep"}]},
    ])
    good, bad = read_source("mixed", str(f))
    assert [g["row"] for g in good] == [1, 6]
    assert {b["row"]: b["reason"] for b in bad} == {
        2: "missing field output",
        3: "field instruction: expected a string, got int",
        4: "empty conversation",
        5: bad[3]["reason"],
        7: "message 1: unknown role 'robot'",
    }
    assert "not valid JSON" in bad[3]["reason"] and all(b["file"] == str(f) for b in bad)
    assert good[0]["messages"][1] == {"role": "assistant", "content": "def add(a, b):\n    return a + b"}
    with pytest.raises(InstructionError, match="no such instruction file"):
        read_source("missing", str(tmp_path / "nope.jsonl"))


def test_weights_are_seeded_and_counted(tmp_path):
    rows = [{"instruction": f"q{i}", "output": f"a{i}"} for i in range(10)]
    a = write_jsonl(tmp_path / "a.jsonl", rows)
    pl.DataFrame(rows).write_parquet(tmp_path / "b.parquet")
    sources = [{"name": "a", "path": str(a), "weight": 2.0}, {"name": "b", "path": str(tmp_path / "b.parquet"), "weight": 0.5}]
    out, rejected, stats = collect(sources, seed=7)
    assert (stats["a"]["conversations"], stats["b"]["conversations"], rejected) == (20, 5, [])
    assert len({c["id"] for c in out}) == 25  # repeats get their own ids
    assert [c["id"] for c in collect(sources, seed=7)[0]] == [c["id"] for c in out]
    good, _ = read_source("a", str(a))
    draws = {tuple(c["id"] for c in weighted(good, 0.5, seed, "a")) for seed in range(10)}
    assert len(draws) > 5  # the seed decides which half is drawn


def test_loss_mask_covers_exactly_the_assistant_text_and_end_of_turn(tokenizer):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Square x."},
                {"role": "assistant", "content": "def square(x):\n    return x * x"},
                {"role": "user", "content": "And cube?"}, {"role": "assistant", "content": "return x ** 3"}]
    ids, mask = packing.render(tokenizer, messages)
    assert tokenizer.decode(ids) == tokenizer.apply_chat_template(messages, tokenize=False)
    runs, current = [], []
    for i, m in zip(ids, mask):
        if m:
            current.append(i)
        elif current:
            runs.append(tokenizer.decode(current))
            current = []
    assert runs == ["def square(x):\n    return x * x<|im_end|>", "return x ** 3<|im_end|>"]


def test_packing_keeps_conversations_apart_and_drops_the_too_long(tokenizer):
    convs = [[{"role": "user", "content": "q" * n}, {"role": "assistant", "content": "a" * n}] for n in (5, 30, 8, 400)]
    rendered = [packing.render(tokenizer, c) for c in convs]
    lengths = [len(ids) - 1 for ids, _ in rendered]
    packed = packing.pack(rendered, seq_length=100)
    assert packed["too_long"] == [3] and lengths[3] > 100
    assert packed["used_positions"] == sum(lengths[:3])
    bins = [list(packed["bins"][a:b]) for a, b in zip(packed["bin_offsets"][:-1], packed["bin_offsets"][1:])]
    assert all(sum(lengths[i] for i in b) <= 100 for b in bins) and sorted(i for b in bins for i in b) == [0, 1, 2]


@pytest.fixture
def tiny_gpt(monkeypatch):
    """A tiny megatron GPT in this process (one rank); its process group and megatron's parallel state
    are torn down after the test, so a later test can start its own."""
    import torch.distributed as dist
    from megatron.core import parallel_state

    from opencoder.training.loop import init_distributed
    from opencoder.training.model import build_gpt, transformer_config

    from test_train_resume import tiny_params

    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):  # init_distributed sets them
        monkeypatch.setenv(name, "")  # (restored after the test, whatever it sets)
        monkeypatch.delenv(name)
    init_distributed(1, 1, 0)
    shape = tiny_params()["model"]
    yield build_gpt(shape, transformer_config(shape), 512).eval()
    parallel_state.destroy_model_parallel()
    dist.destroy_process_group()


def test_packed_conversation_gives_the_same_logits_as_alone(tmp_path, tokenizer, tiny_gpt):
    convs = [[{"role": "user", "content": f"x{i} " * (i + 1)}, {"role": "assistant", "content": f"y = {i}"}]
             for i in range(3)]
    rendered = [packing.render(tokenizer, c) for c in convs]
    packed = packing.pack(rendered, seq_length=128)
    meta = {"seq_length": 128, "pad_id": tokenizer.pad_token_id, "vocab_size": len(tokenizer), "eod_id": 0}
    packing.save(tmp_path / "p.npz", packed, meta)
    data = packing.PackedDataset(tmp_path / "p.npz", seed=0)
    assert data.rows == 1
    row = data.row(0)
    model = tiny_gpt
    with torch.no_grad():
        together = model(row["tokens"][None], row["position_ids"][None], row["attention_mask"][None])[0]
        at = 0
        for c in packed["bins"]:
            ids = torch.tensor(rendered[c][0][:-1])[None]
            alone = model(ids, torch.arange(ids.shape[1])[None], None)[0]
            n = ids.shape[1]
            assert torch.equal(row["tokens"][at:at + n], ids[0])
            assert torch.equal(row["labels"][at:at + n], torch.tensor(rendered[c][0][1:]))
            assert row["position_ids"][at] == 0
            torch.testing.assert_close(together[at:at + n], alone, atol=1e-4, rtol=1e-4)
            at += n
        assert row["loss_mask"][at:].sum() == 0  # padding carries no loss
        # without the block-diagonal mask the later conversations would see the earlier ones
        crossed = model(row["tokens"][None], row["position_ids"][None], None)[0]
        assert not torch.allclose(crossed[at - n:at], alone, atol=1e-3)


def test_corpus_doctest_set_keeps_only_functions_whose_doctests_pass():
    from opencoder.core.config import load
    from opencoder.training.sft.doctests import candidates

    ok = 'import math\n\ndef hyp(a, b):\n    """Hypotenuse.\n\n    >>> hyp(3, 4)\n    5.0\n    """\n    return math.hypot(a, b)\n'
    wrong = 'def inc(x):\n    """Add one.\n\n    >>> inc(1)\n    3\n    """\n    return x + 1\n'
    needs_module = 'def g(x):\n    """Uses a helper.\n\n    >>> g(1)\n    2\n    """\n    return _helper(x)\n'
    found = [c for text in (ok, wrong, needs_module) for c in candidates(text, "d", "m.py")]
    assert [c["name"] for c in found] == ["hyp", "inc", "g"]
    assert found[0]["output"].startswith("```python\nimport math\n\ndef hyp")
    # ">>>" in a docstring whose source does not hold it: adjacent literals, a continuation, an escape
    spelled = ['def a():\n    ">>" """> a()\n    1\n    """\n    return 1\n',
               'def b():\n    ">>\\\n> b()\\n1\\n"\n    return 1\n',
               'def c():\n    "\\x3e\\N{greater-than sign}\\76 c()\\n1\\n"\n    return 1\n']
    assert [c["name"] for text in spelled for c in candidates(text, "d", "m.py")] == ["a", "b", "c"]
    from opencoder.evaluation.sandbox import Limits, Sandbox

    params = load()["sft"]["doctests"]["sandbox"]
    outcomes = Sandbox(Limits.from_config(params), uid=params["uid"]).judge_many([c["program"] for c in found],
                                                                                 progress=False)
    # the judge's own test finds the failed doctests: a wrong answer, a function needing its module
    assert [o.status for o in outcomes] == ["passed", "failed: AssertionError", "failed: AssertionError"]


def test_commands_count_what_they_drop_and_fail_in_one_line_naming_file_and_row(tmp_path, tokenizer):
    """Bad rows and too-long conversations are counted in the stats (and named in the log and the
    set-aside table); a stage left with nothing usable is one error line naming the file."""
    from test_cli import assert_one_line, run

    tokenizer.save_pretrained(str(tmp_path / "tok"))
    source = write_jsonl(tmp_path / "mixed.jsonl", [
        {"instruction": "Add two numbers.", "output": "def add(a, b):\n    return a + b"},
        {"instruction": "no output"},
        {"instruction": "Long. " * 200, "output": "x"},
    ])
    sources = json.dumps([{"name": "mixed", "path": str(source), "weight": 1.0}])
    done = run("sft-data", "--output", str(tmp_path / "data.jsonl"), "--params", sources)
    assert done.returncode == 0, done.stderr
    assert f"{source}: row 2: missing field output" in done.stderr
    stats = json.loads((tmp_path / "data.stats.json").read_text())
    assert (stats["conversations"], stats["rejected"]) == (2, 1)
    assert pl.read_parquet(tmp_path / "rejected.parquet")["row"].to_list() == [2]

    done = run("sft-pack", "--input", str(tmp_path / "data.jsonl"), "--tokenizer", str(tmp_path / "tok"),
               "--output", str(tmp_path / "packed.npz"), "--params", '{"seq_length": 64}')
    assert done.returncode == 0, done.stderr
    assert f"{source}: row 3: conversation of" in done.stderr and "dropped, not truncated" in done.stderr
    stats = json.loads((tmp_path / "packed.stats.json").read_text())
    assert (stats["conversations"], stats["packed_conversations"], stats["dropped_too_long"]) == (2, 1, 1)
    assert pl.read_parquet(tmp_path / "dropped.parquet")["row"].to_list() == [3]

    nothing = write_jsonl(tmp_path / "bad.jsonl", [{"instruction": 3, "output": "x"}, {"messages": []}])
    assert_one_line(run("sft-data", "--output", str(tmp_path / "none.jsonl"), "--params",
                        json.dumps([{"name": "bad", "path": str(nothing), "weight": 1.0}])), "sft-data", nothing)
    assert_one_line(run("sft-data", "--output", str(tmp_path / "none.jsonl"), "--params",
                        json.dumps([{"name": "gone", "path": str(tmp_path / "gone.jsonl"), "weight": 1.0}])),
                    "sft-data", tmp_path / "gone.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "data.jsonl").read_text().splitlines()]
    too_long = write_jsonl(tmp_path / "long.jsonl", [r for r in rows if r["row"] == 3])
    assert_one_line(run("sft-pack", "--input", str(too_long), "--tokenizer", str(tmp_path / "tok"),
                        "--output", str(tmp_path / "p.npz"), "--params", '{"seq_length": 64}'), "sft-pack", too_long)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "a", "messages": []}\n{oops\n')
    assert_one_line(run("decontaminate", "--input", str(broken), "--output", str(tmp_path / "c.jsonl"),
                        "--removed", str(tmp_path / "r.parquet")), "decontaminate", broken, "line 2")


def test_sft_strategy_chooses_the_stages_and_mixed_gives_stage_1_both_stages_sources():
    """Paper 7 (Table 10): stage 1 then stage 2, stage 1 alone, or both stages' data in one stage."""
    from opencoder.core.config import load
    from opencoder.training.params import sft_sources, sft_stages

    config = load()
    config["sft"]["stage2"]["sources"] = [*config["sft"]["stage2"]["sources"], {"name": "own", "path": "own.jsonl", "weight": 2}]
    assert sft_stages(config) == ("stage1", "stage2")
    assert [s["name"] for s in sft_sources(config, "stage1")] == ["doctests"]
    config["sft"]["strategy"] = "stage1"
    assert sft_stages(config) == ("stage1",) and [s["name"] for s in sft_sources(config, "stage1")] == ["doctests"]
    config["sft"]["strategy"] = "mixed"
    assert sft_stages(config) == ("stage1",)
    assert sft_sources(config, "stage1") == [{"name": "doctests", "builtin": "doctests", "weight": 1.0},
                                             {"name": "educational", "synthetic": "educational", "weight": 1.0},
                                             {"name": "own", "path": "own.jsonl", "weight": 2}]
