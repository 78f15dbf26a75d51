"""Publishing against a Hub-compatible server on loopback (tests/hub_server.py): dry run, upload,
republish with no change, a changed shard, download back with snapshot_download and datasets, load
the model with transformers; a missing token and a refused upload fail clearly, change nothing
locally, and the token is never printed or written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from opencoder.core import config as cfg
from opencoder.core import documents, shards, stats
from opencoder.data import funnel
from opencoder.release.publish import config_hash

sys.path.insert(0, str(Path(__file__).parent))
from hub_server import HubServer, git_blob_id  # noqa: E402

TOKEN = "hf_test_SECRET_9f3c2a71d0"
MODEL_REPO, DATASET_REPO, INSTRUCT_REPO = "tester/tiny-coder", "tester/tiny-corpus", "tester/tiny-coder-instruct"


def _documents(files: list[Path], root: Path) -> pl.DataFrame:
    rows = []
    for f in files:
        text = f.read_text()
        path = f.relative_to(root).as_posix()
        rows.append({"id": documents.document_id("stdlib", "cpython", path), "text": text, "path": path,
                     "language": "python", "doc_type": "code", "repo": "cpython", "stars": None,
                     "commit_time": None, "source": "stdlib", "bytes": len(text.encode())})
    return documents.conform(pl.DataFrame(rows, schema=documents.SCHEMA))


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """A small real build output: corpus shards with stats and funnel, an HF model folder with card."""
    import json as json_module

    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = tmp_path_factory.mktemp("build")
    stdlib = Path(json_module.__file__).parent.parent
    files = sorted((stdlib / "json").glob("*.py")) + sorted((stdlib / "email").glob("_*.py"))
    for i, part in enumerate((files[: len(files) // 2], files[len(files) // 2:])):
        docs = _documents(part, stdlib)
        shards.write_parquet(docs, out / "corpus" / f"{i:05d}.parquet")
        shards.write_json(stats.stage_stats("sample", docs, docs), out / "corpus" / f"{i:05d}.stats.json")
    shards.write_json(funnel.gather(out), out / "corpus" / "funnel.json")

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator([f.read_text() for f in files], trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    model_dir = out / "model"
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>").save_pretrained(model_dir)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2))
    model.save_pretrained(model_dir)
    (model_dir / "README.md").write_text("---\nlicense: apache-2.0\n---\n# tiny-coder\n\nA test model.\n")
    shutil.copytree(model_dir, out / "model_instruct")  # the chat model: same files, its own card
    (out / "model_instruct" / "README.md").write_text("---\nlicense: apache-2.0\n---\n# tiny-coder-instruct\n\nA chat model.\n")
    return out


def _config(enabled: bool) -> dict:
    c = cfg.load()
    c["publish"].update(enabled=enabled, model_repo=MODEL_REPO, dataset_repo=DATASET_REPO, instruct_repo=INSTRUCT_REPO,
                        private=False)
    return c


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def publish(build: Path, receipt: Path, *, enabled: bool, env: dict) -> subprocess.CompletedProcess:
    c = _config(enabled)
    cmd = [sys.executable, "-m", "opencoder", "publish", "--model", str(build / "model"),
           "--instruct-model", str(build / "model_instruct"),
           "--corpus", *map(str, sorted((build / "corpus").glob("*.parquet"))),
           "--funnel", str(build / "corpus" / "funnel.json"), "--build-config", json.dumps(c),
           "--receipt", str(receipt), "--params", json.dumps(c["publish"])]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture
def hub():
    with HubServer(TOKEN) as server:
        yield server


def _env(hub, tmp_path, token: str | None = TOKEN) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "hf-home"), HF_HUB_DISABLE_TELEMETRY="1",
               HF_HUB_DISABLE_XET="1")
    if token:
        env["HF_TOKEN"] = token
    return env


def test_dry_run_lists_every_file_and_sends_nothing(build, hub, tmp_path):
    before = _digest(build)
    proc = publish(build, tmp_path / "receipt.json", enabled=False, env=_env(hub, tmp_path, token=None))
    assert proc.returncode == 0, proc.stderr
    receipt = json.loads((tmp_path / "receipt.json").read_text())
    assert receipt["dry_run"] is True and hub.requests == []
    listed = {r["repo_id"]: [f["path"] for f in r["files"]] for r in receipt["repos"]}
    assert "data/00000.parquet" in listed[DATASET_REPO] and "README.md" in listed[DATASET_REPO]
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md"} <= set(listed[MODEL_REPO])
    assert set(listed[INSTRUCT_REPO]) == set(listed[MODEL_REPO])
    for repo, paths in listed.items():
        assert f"repo {repo} at {hub.endpoint}" in proc.stdout
        assert all(f"  {p}  (" in proc.stdout for p in paths)
    assert _digest(build) == before


def test_publish_republish_and_download_back(build, hub, tmp_path):
    env = _env(hub, tmp_path)
    before = _digest(build)
    first = publish(build, tmp_path / "r1.json", enabled=True, env=env)
    assert first.returncode == 0, first.stderr
    r1 = {r["repo_id"]: r for r in json.loads((tmp_path / "r1.json").read_text())["repos"]}
    assert set(r1[MODEL_REPO]["uploaded"]) == {f["path"] for f in r1[MODEL_REPO]["files"]}
    assert hub.repo("datasets", DATASET_REPO).files["data/00001.parquet"] == (build / "corpus/00001.parquet").read_bytes()

    # unchanged build: nothing uploaded, no new commit on either repo
    commits = {k: len(r.commits) for k, r in hub.repos.items()}
    again = publish(build, tmp_path / "r2.json", enabled=True, env=env)
    assert again.returncode == 0, again.stderr
    for r in json.loads((tmp_path / "r2.json").read_text())["repos"]:
        assert r["uploaded"] == [] and r["commit"] is None and r["unchanged"]
    assert {k: len(r.commits) for k, r in hub.repos.items()} == commits
    assert _digest(build) == before, "publishing changed a local artifact"

    # downloaded back: the model loads and computes what the local one does; the corpus loads
    # with datasets from the files and by repo id; the cards say where the model came from
    check = f"""
import json, sys, torch, datasets, polars as pl
from huggingface_hub import snapshot_download
from transformers import AutoModelForCausalLM, AutoTokenizer
m = snapshot_download({MODEL_REPO!r}, cache_dir=sys.argv[1] + "/m")
d = snapshot_download({DATASET_REPO!r}, repo_type="dataset", cache_dir=sys.argv[1] + "/d")
tok = AutoTokenizer.from_pretrained(m)
ids = torch.tensor([tok("def f(x):\\n    return x")["input_ids"]])
remote = AutoModelForCausalLM.from_pretrained(m)(ids).logits
local = AutoModelForCausalLM.from_pretrained({str(build / 'model')!r})(ids).logits
files = datasets.load_dataset("parquet", data_files=d + "/data/*.parquet", split="train", cache_dir=sys.argv[1] + "/c1")
by_id = datasets.load_dataset({DATASET_REPO!r}, split="train", cache_dir=sys.argv[1] + "/c2")
print(json.dumps({{"same_logits": bool(torch.equal(remote, local)), "files_ids": sorted(files["id"]),
                  "by_id_ids": sorted(by_id["id"]), "model_card": open(m + "/README.md").read(),
                  "dataset_card": open(d + "/README.md").read()}}))
"""
    proc = subprocess.run([sys.executable, "-c", check, str(tmp_path / "dl")], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-5000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    corpus_ids = sorted(pl.concat([pl.read_parquet(p) for p in sorted((build / "corpus").glob("*.parquet"))])["id"])
    assert got["same_logits"]
    assert got["files_ids"] == corpus_ids and got["by_id_ids"] == corpus_ids
    build_hash = config_hash(_config(True))
    assert DATASET_REPO in got["model_card"] and build_hash in got["model_card"] and "A test model." in got["model_card"]
    chat = hub.repo("models", INSTRUCT_REPO).files["README.md"].decode()
    assert f"base_model: {MODEL_REPO}" in chat and f"Fine-tuned from [{MODEL_REPO}]" in chat and "A chat model." in chat
    assert hub.repo("models", INSTRUCT_REPO).files["model.safetensors"] == (build / "model_instruct" / "model.safetensors").read_bytes()
    card = got["dataset_card"]
    assert "| sample |" in card and "qsc_code_num_words" in card and "2048 permutations" in card

    # one shard changed: only it is uploaded (the cards and the model are unchanged)
    shard = build / "corpus" / "00001.parquet"
    docs = shards.read_parquet(shard)
    shards.write_parquet(docs.head(docs.height - 1), shard)
    third = publish(build, tmp_path / "r3.json", enabled=True, env=env)
    assert third.returncode == 0, third.stderr
    r3 = {r["repo_id"]: r for r in json.loads((tmp_path / "r3.json").read_text())["repos"]}
    assert r3[DATASET_REPO]["uploaded"] == ["data/00001.parquet"] and r3[MODEL_REPO]["uploaded"] == []
    assert r3[INSTRUCT_REPO]["uploaded"] == []

    # the secret is nowhere: not in any output, receipt, card or file the Hub holds
    texts = [p.stdout + p.stderr for p in (first, again, third)]
    texts += [(tmp_path / f"r{i}.json").read_text() for i in (1, 2, 3)]
    assert all(TOKEN not in t for t in texts)
    assert all(TOKEN.encode() not in data for repo in hub.repos.values() for data in repo.files.values())


UPLOAD = """
import json, sys
from pathlib import Path
from opencoder.release.publish import RepoUpload, upload
files = {"data/train.jsonl": Path(sys.argv[1]), "data/00000.parquet": Path(sys.argv[2]), "notes.md": b"# notes\\n"}
print(json.dumps(upload([RepoUpload("tester/lfs", "dataset", files)], endpoint=sys.argv[3], private=False)))
"""


def test_republish_compares_lfs_files_by_their_sha256(build, hub, tmp_path):
    """LFS files (a parquet shard by the Hub's patterns, a JSONL file by its size over 10 MiB) are listed
    with the blob id of their pointer: unchanged, they are recognised by sha256 and not sent again."""
    from huggingface_hub import HfApi

    big = tmp_path / "train.jsonl"
    big.write_bytes(b"".join(b'{"i": %d}\n' % i for i in range(1_000_000)))
    shard = build / "corpus" / "00000.parquet"
    env = _env(hub, tmp_path)

    def publish_files() -> dict:
        proc = subprocess.run([sys.executable, "-c", UPLOAD, str(big), str(shard), hub.endpoint], capture_output=True,
                              text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        (repo,) = json.loads(proc.stdout.strip().splitlines()[-1])["repos"]
        return repo

    def lfs_puts() -> int:
        return sum(method == "PUT" for method, _ in hub.requests)

    first = publish_files()
    assert sorted(first["uploaded"]) == ["data/00000.parquet", "data/train.jsonl", "notes.md"]
    assert lfs_puts() == 2  # the two LFS files went through the LFS batch API, notes.md inline
    tree = {e.path: e for e in HfApi(endpoint=hub.endpoint).list_repo_tree("tester/lfs", repo_type="dataset",
                                                                          recursive=True) if hasattr(e, "blob_id")}
    for path, local in (("data/train.jsonl", big), ("data/00000.parquet", shard)):
        data = local.read_bytes()
        assert tree[path].lfs is not None and tree[path].lfs.sha256 == hashlib.sha256(data).hexdigest()
        assert tree[path].blob_id != git_blob_id(data)  # the pointer's blob id, as on the Hub
    assert tree["notes.md"].lfs is None and tree["notes.md"].blob_id == git_blob_id(b"# notes\n")

    commits = len(hub.repo("datasets", "tester/lfs").commits)
    again = publish_files()
    assert again["uploaded"] == [] and again["commit"] is None and len(again["unchanged"]) == 3
    assert len(hub.repo("datasets", "tester/lfs").commits) == commits and lfs_puts() == 2

    with big.open("ab") as fh:
        fh.write(b'{"i": -1}\n')
    third = publish_files()
    assert third["uploaded"] == ["data/train.jsonl"] and lfs_puts() == 3
    assert hub.repo("datasets", "tester/lfs").files["data/train.jsonl"] == big.read_bytes()


def test_missing_token_is_a_clear_error_and_changes_nothing(build, hub, tmp_path):
    before = _digest(build)
    proc = publish(build, tmp_path / "receipt.json", enabled=True, env=_env(hub, tmp_path, token=None))
    assert proc.returncode == 1
    assert "no Hugging Face token" in proc.stderr and "HF_TOKEN" in proc.stderr
    assert not (tmp_path / "receipt.json").exists() and hub.repos == {}
    assert _digest(build) == before


def test_refused_upload_is_a_clear_error_and_never_shows_the_token(build, hub, tmp_path):
    wrong = "hf_test_WRONG_51c0be77"
    before = _digest(build)
    proc = publish(build, tmp_path / "receipt.json", enabled=True, env=_env(hub, tmp_path, token=wrong))
    assert proc.returncode == 1
    assert f"repo {DATASET_REPO}" in proc.stderr and "refused" in proc.stderr and "401" in proc.stderr
    assert wrong not in proc.stdout + proc.stderr
    assert not (tmp_path / "receipt.json").exists() and hub.repos == {}
    assert _digest(build) == before
