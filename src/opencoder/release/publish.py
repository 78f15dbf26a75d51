"""Publish the build to the Hugging Face Hub: the models and the corpus, each with its card.

    opencoder publish --model results/default/model --instruct-model results/default/model_instruct \\
        --corpus results/default/corpus/*.parquet --funnel results/default/corpus/funnel.json \\
        --build-config my-config.json --output receipt.json

Up to three repositories, named in config `publish`:

- the dataset repo: the corpus shards as `data/<shard>.parquet` (loadable with
  `datasets.load_dataset("<repo>")` and `load_dataset("parquet", data_files=...)`), `funnel.json`
  and a card (sources, the funnel per stage and language, the filter rules and thresholds, the dedup
  parameters, licence notes);
- the model repo: the HF model folder, its card extended with the dataset repo it was trained on
  and the hash of the build config;
- the instruct model repo (given `--instruct-model`, the build's `model_instruct` folder): the chat
  model after SFT, its card naming the base model repo (`base_model`) and the same build hash.

Dry run is the default (`publish.enabled: false`): it prints every file and the repo it would go
to, and needs neither a token nor the network. Publishing compares each file with the Hub's listing
and commits only what differs, so republishing an unchanged build uploads nothing: a file the Hub
stores with LFS/Xet (parquet shards, safetensors, anything over 10 MiB) is listed with the blob id of
its pointer and the sha256 of its content, so it is compared by sha256; other files by git blob id.
The token comes from HF_TOKEN or the user's `hf auth login`; it is handed to `huggingface_hub`
only and never printed, logged or written. Cards are composed in memory: the local artifacts are
never modified.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from opencoder.core import shards
from opencoder.core.args import add_io
from opencoder.core.config import add_config_args, read_params, stage_params
from opencoder.core.errors import OpencoderError

log = logging.getLogger(__name__)

# config sections that do not change what is built (where it goes, how it is scheduled, published)
NOT_IN_BUILD_HASH = ("out_dir", "resources", "publish")


class PublishError(OpencoderError, RuntimeError):
    """Publishing cannot go on: the message says which repo or file and why (never the token)."""


@dataclass(frozen=True)
class RepoUpload:
    repo_id: str
    repo_type: str  # "model" or "dataset"
    files: dict[str, Path | bytes]  # path in repo -> local file, or generated content (cards)


def content_ids(source: Path | bytes) -> dict:
    """Size, git blob id (sha1 of the git blob) and sha256 of a file, read in chunks, or of generated content."""
    size = len(source) if isinstance(source, bytes) else source.stat().st_size
    blob, sha256 = hashlib.sha1(b"blob %d\0" % size), hashlib.sha256()
    with (BytesIO(source) if isinstance(source, bytes) else source.open("rb")) as fh:
        while chunk := fh.read(1 << 20):
            blob.update(chunk)
            sha256.update(chunk)
    return {"bytes": size, "blob_id": blob.hexdigest(), "sha256": sha256.hexdigest()}


def unchanged(remote, local: dict) -> bool:
    """Whether the Hub's listing entry (a `RepoFile`, or None) holds the content `content_ids` described."""
    if remote is None:
        return False
    if remote.lfs is not None:  # the blob id is the pointer's; the content is named by its sha256
        return remote.lfs.sha256 == local["sha256"]
    return remote.blob_id == local["blob_id"]


def config_hash(config: dict) -> str:
    """sha256 of the config sections that shape the artifacts (canonical JSON)."""
    build = {k: v for k, v in config.items() if k not in NOT_IN_BUILD_HASH}
    return hashlib.sha256(json.dumps(build, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# --- cards ---------------------------------------------------------------------------------------

def _condition(rule: dict) -> str:
    text = " or ".join(f"{op} {rule[key]}" for key, op in (("lt", "<"), ("gt", ">"), ("eq", "=")) if key in rule)
    return (text or "-") + (f" (dropped with p = {rule['prob']})" if rule.get("prob", 1) < 1 else "")


def dataset_card(config: dict, funnel: dict, *, model_repo: str, build_hash: str) -> str:
    """README.md of the dataset repo: what went in, what each stage removed, and by which rules."""
    from huggingface_hub import DatasetCardData

    from opencoder.release.card import card_text, funnel_table, markdown_table

    data = DatasetCardData(
        pretty_name="OpenCoder Cookbook corpus", license="other", task_categories=["text-generation"],
        tags=["code", "refinecode", "opencoder-cookbook"],
        configs=[{"config_name": "default", "data_files": [{"split": "train", "path": "data/*.parquet"}]}],
    )
    sources = [[s["name"], s["type"], ", ".join(s.get("include", [])) or "-"] for s in config["ingest"]["sources"]]
    stages = [r["stage"] for r in funnel["stages"]]
    languages = [[lang, *(f"{counts.get(s, {}).get('documents', 0):,}" for s in stages)]
                 for lang, counts in sorted(funnel["languages"].items())]
    rules = [[group, rule, _condition(spec)] for group, specs in sorted(config["filter"]["groups"].items())
             for rule, spec in sorted(specs.items()) if spec.get("enabled", True)]
    fuzzy = config["dedup"]["fuzzy"]
    body = f"""
# OpenCoder Cookbook corpus

A RefineCode-style code pretraining corpus, built by the OpenCoder Cookbook workflow (build config
hash `{build_hash}`). The model trained on it: [{model_repo}](../../{model_repo}).
Load it with `datasets.load_dataset("<this repo>", split="train")`; the shards in `data/` are parquet
in the workflow's document schema (id, text, path, language, doc_type, repo, stars, commit_time,
source, bytes). `funnel.json` has every stage's counts per language and drop reason.

## Sources

{markdown_table(["name", "type", "include"], sources, align="lll")}

## Funnel per stage

{funnel_table(funnel)}

## Documents per language after each stage

{markdown_table(["language", *stages], languages)}

## Deduplication

- exact: {config["dedup"]["exact"]["hash"]} of the file content; of identical files the one with the most
  stars, then the latest commit is kept.
- fuzzy: file-level MinHash, {fuzzy["ngram"]}-gram shingles, {fuzzy["num_perm"]} permutations, LSH with
  {fuzzy["bands"]} bands x {fuzzy["rows"]} rows (seed {fuzzy["seed"]}).

## Filter rules (enabled ones; a document is dropped when a rule of its group fires)

{markdown_table(["group", "rule", "fires when"], rules, align="lll")}

## Licence notes

Every file keeps the licence of the repository or package it came from; the `source`, `repo` and
`path` columns say where each file came from. The collection is published for research on code
models; check the licences of the sources before other uses. Personal data (emails, IP addresses,
keys) was masked and copyright headers removed by the transform stage where configured.
"""
    return card_text(data, body)


def model_card(model_dir: Path, *, dataset_repo: str, build_hash: str, base_model: str | None = None) -> str:
    """The model folder's card with the dataset repo and the build's config hash added; for the chat
    model, the base model repo it was fine-tuned from (`base_model`)."""
    from huggingface_hub import ModelCard

    readme = model_dir / "README.md"
    card = ModelCard(readme.read_text()) if readme.is_file() else ModelCard("---\n---\n# Model\n")
    datasets = list(card.data.get("datasets") or [])
    card.data.datasets = sorted(set(datasets) | {dataset_repo})
    tuned = ""
    if base_model:
        card.data.base_model = base_model
        tuned = f"Fine-tuned from [{base_model}](../{base_model}), which was pretrained on "
    card.text = card.text.rstrip() + (
        f"\n\n## Build\n\n{tuned or 'Trained on '}[{dataset_repo}](../datasets/{dataset_repo}); "
        f"build config hash `{build_hash}` (sha256 of the config sections that shape the artifacts).\n"
    )
    return str(card)


def _model_files(model_dir: Path, card: str) -> dict[str, Path | bytes]:
    """Every file of an HF model folder (hidden ones aside), its README replaced by `card`."""
    if not (model_dir / "config.json").is_file():
        raise PublishError(f"{model_dir}: not an HF model folder (no config.json)")
    files: dict[str, Path | bytes] = {
        p.relative_to(model_dir).as_posix(): p for p in sorted(model_dir.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(model_dir).parts)
    }
    files["README.md"] = card.encode()
    return files


# --- plan and upload -----------------------------------------------------------------------------

def plan(params: dict, *, model_dir: Path, corpus: list[Path], funnel_path: Path, config: dict,
         instruct_dir: Path | None = None) -> list[RepoUpload]:
    """The repo uploads (corpus, model, and the chat model if given), cards included; checks that
    every local artifact is there."""
    missing = [str(p) for p in corpus if not Path(p).is_file()]
    if not corpus or missing:
        raise PublishError(f"corpus shards missing: {missing or 'none given'}")
    funnel = shards.read_json(funnel_path)
    build_hash = config_hash(config)
    dataset_repo = params["dataset_repo"]
    model_files = _model_files(Path(model_dir), model_card(Path(model_dir), dataset_repo=dataset_repo, build_hash=build_hash))
    data_files: dict[str, Path | bytes] = {f"data/{Path(p).name}": Path(p) for p in sorted(corpus)}
    data_files["funnel.json"] = Path(funnel_path)
    data_files["README.md"] = dataset_card(config, funnel, model_repo=params["model_repo"], build_hash=build_hash).encode()
    uploads = [RepoUpload(dataset_repo, "dataset", data_files), RepoUpload(params["model_repo"], "model", model_files)]
    if instruct_dir is not None:
        card = model_card(Path(instruct_dir), dataset_repo=dataset_repo, build_hash=build_hash, base_model=params["model_repo"])
        uploads.append(RepoUpload(params["instruct_repo"], "model", _model_files(Path(instruct_dir), card)))
    return uploads


def _listing(upload: RepoUpload) -> list[dict]:
    return [{"path": path, **content_ids(src), "source": "generated card" if isinstance(src, bytes) else str(src)}
            for path, src in sorted(upload.files.items())]


def dry_run(uploads: list[RepoUpload], endpoint: str) -> dict:
    """What would be uploaded where: printed to stdout and returned as the receipt."""
    repos = []
    for up in uploads:
        files = _listing(up)
        print(f"would upload to {up.repo_type} repo {up.repo_id} at {endpoint}: {len(files)} files")
        for f in files:
            print(f"  {f['path']}  ({f['bytes']} bytes, from {f['source']})")
        repos.append({"repo_id": up.repo_id, "repo_type": up.repo_type, "files": files})
    print("dry run: nothing uploaded; set publish.enabled: true to publish")
    return {"dry_run": True, "endpoint": endpoint, "repos": repos}


def upload(uploads: list[RepoUpload], *, endpoint: str | None, private: bool, token: str | None = None) -> dict:
    """Create the repos if needed and commit the files whose content differs from the Hub's."""
    from huggingface_hub import CommitOperationAdd, HfApi, RepoFile, get_token
    from huggingface_hub.errors import HfHubHTTPError

    token = token or get_token()
    if not token:
        raise PublishError("no Hugging Face token: set HF_TOKEN or log in with `hf auth login` "
                           "(or keep publish.enabled: false for a dry run)")
    api = HfApi(endpoint=endpoint, token=token)
    repos = []
    for up in uploads:
        files = _listing(up)
        try:
            api.create_repo(up.repo_id, repo_type=up.repo_type, private=private, exist_ok=True)
            remote = {e.path: e for e in api.list_repo_tree(up.repo_id, repo_type=up.repo_type, recursive=True)
                      if isinstance(e, RepoFile)}
            changed = [f for f in files if not unchanged(remote.get(f["path"]), f)]
            commit = None
            if changed:
                ops = [CommitOperationAdd(path_in_repo=f["path"], path_or_fileobj=(
                    src if isinstance(src := up.files[f["path"]], bytes) else str(src))) for f in changed]
                info = api.create_commit(up.repo_id, operations=ops, repo_type=up.repo_type,
                                         commit_message=f"Publish {len(changed)} changed file(s) from the build")
                commit = info.oid
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            raise PublishError(f"{up.repo_type} repo {up.repo_id} at {api.endpoint}: the Hub refused the upload "
                               f"(HTTP {status}: {exc.server_message or 'no message'}); nothing local was changed") from None
        log.info("%s repo %s: %d file(s) uploaded, %d unchanged%s", up.repo_type, up.repo_id, len(changed),
                 len(files) - len(changed), f" (commit {commit})" if commit else "")
        repos.append({"repo_id": up.repo_id, "repo_type": up.repo_type, "commit": commit,
                      "uploaded": [f["path"] for f in changed],
                      "unchanged": [f["path"] for f in files if f not in changed], "files": files})
    return {"dry_run": False, "endpoint": api.endpoint, "repos": repos}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opencoder publish", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="HF model folder")
    parser.add_argument("--instruct-model", type=Path, help="the chat model's HF folder (to `publish.instruct_repo`)")
    parser.add_argument("--corpus", type=Path, nargs="+", required=True, help="corpus parquet shards")
    parser.add_argument("--funnel", type=Path, required=True, help="corpus/funnel.json")
    parser.add_argument("--build-config", metavar="FILE|JSON", required=True,
                        help="the whole build config: a JSON file or JSON text")
    add_io(parser, "output", "--receipt", type=Path, help="where to write what was (or would be) uploaded")
    add_config_args(parser)
    args = parser.parse_args(argv)
    params = stage_params(args, "publish")
    config = read_params(args.build_config)
    uploads = plan(params, model_dir=args.model, corpus=args.corpus, funnel_path=args.funnel, config=config,
                   instruct_dir=args.instruct_model)
    if params["enabled"]:
        receipt = upload(uploads, endpoint=params.get("endpoint"), private=params["private"])
    else:
        from huggingface_hub import constants

        receipt = dry_run(uploads, params.get("endpoint") or constants.ENDPOINT)
    shards.write_json(receipt, args.output)
    return 0
