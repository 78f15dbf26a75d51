"""Variants: named sets of overrides of the base config, built side by side, sharing what they share.

A config may hold `variants: {name: overrides}`; each variant is the base config with its overrides
merged over it (as `--configfile` merges files) and is checked by the same schema. The build then
keys every stage's directory by a digest of the settings that reach it: the stage's own config
sections and the keys of the stages it reads from. Two variants whose settings agree up to a stage
get the same directory for it, so Snakemake plans that stage's jobs once and both variants use its
files; the first stage where they differ, and everything after it, gets a directory per variant.

Without variants nothing changes: every stage writes under `out_dir` as before. With variants a
stage writes under `<out_dir>/<stage>-<key>/` with the usual layout below it (e.g.
`results/default/filter-3f2a9c1e07/filter/00000.parquet`), and `<out_dir>/variants/<name>/` links
each stage folder of one variant into the usual single-build layout.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from opencoder.core.args import add_io
from opencoder.core.config import ConfigError, deep_merge, read_params, validate
from opencoder.data.dedup.fuzzy.params import FuzzyParams
from opencoder.evaluation.benchmarks import available
from opencoder.synthesis import recipes

BASE = "base"  # the name the base config goes by among the variants
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")  # a variant_<name> rule
# keys a variant may not override: where the build goes, and how its jobs run
FIXED = ("out_dir", "resources", "variants")


def _imported(config: Mapping) -> bool:
    return bool(config["import"]["source"])


def stage_graph(config: Mapping) -> dict[str, tuple[list[str], list[str]]]:
    """stage -> (config keys it reads, dotted; stages it reads from), in pipeline order.

    Reading a key too many only costs sharing; reading one too few would share a stage that differs,
    so each list holds every key the stage's rules pass to their commands.
    """
    base = ["import"] if _imported(config) else ["anneal"]
    tokenizer = ["import"] if _imported(config) else ["tokenizer"]
    training = ["seed", "model", "train"]
    strategy = config["sft"].get("strategy", "two_stage")
    sft_common = [*training, "sft.strategy", "sft.decontamination", "sft.recipes"]
    # stage 1 takes stage 2's sources too when mixed; the chat model is the last stage trained
    stage1_reads = [*sft_common, "sft.stage1", *(["sft.stage2.sources"] if strategy == "mixed" else [])]
    sft = ["sft_stage1", "sft_stage2"] if strategy == "two_stage" else ["sft_stage1"]
    # of eval.languages, synthesis reads only the toolchains its diverse recipes run answers with
    toolchains = sorted({t for r in config["synthetic"]["recipes"].values() for t in recipes.toolchains(r).values()})
    return {
        "ingest": (["ingest"], []),
        "preprocess": (["preprocess"], ["ingest"]),
        "dedup": (["dedup"], ["preprocess"]),
        "transform": (["transform"], ["dedup"]),
        "filter": (["filter"], ["transform"]),
        "sample": (["sample"], ["ingest", "preprocess", "dedup", "transform", "filter"]),
        "tokenizer": (["tokenizer"], ["sample"]),
        "web": (["web"], ["filter", "tokenizer"]),
        "tokens": (["tokens"], ["sample", "tokenizer", "web"]),
        "synthetic": (["seed", "synthetic", "sft.decontamination", *(f"eval.languages.{t}" for t in toolchains)], ["sample"]),
        "pretrain": (training, ["tokens"]),
        "anneal": ([*training, "anneal"], ["sample", "tokenizer", "tokens", "pretrain", "synthetic"]),
        "import": (["import"], []),
        "sft_doctests": (["sft.doctests"], ["sample"]),
        "sft_stage1": (stage1_reads, ["sft_doctests", "synthetic", *base, *tokenizer]),
        "sft_stage2": ([*sft_common, "sft.stage2"], ["sft_stage1", "sft_doctests", "synthetic", *tokenizer]),
        "hf": (["export"], [*base, *tokenizer]),
        "hf_instruct": (["export"], [sft[-1], *tokenizer]),
        "eval": (["eval"], ["hf"]),
        "eval_instruct": (["eval"], ["hf_instruct"]),
        "model": ([*training, "anneal", "card"], ["hf", "sample", "pretrain", "anneal", "eval"]),
        "model_instruct": ([*training, "sft", "card"], ["hf_instruct", *sft, "eval", "eval_instruct"]),
        "report": (["model.name"], ["sample", "filter", "dedup", "tokens", "pretrain", "anneal", "eval", "eval_instruct", "web",
                                    "synthetic"]),
        "publish": (["*"], ["model", "model_instruct", "sample"]),  # the whole config goes along (the dataset card)
    }


# stage -> the folders it writes under its root (the single build's layout)
FOLDERS = {
    "ingest": ["ingest"], "preprocess": ["preprocess"], "dedup": ["exact", "fuzzy"], "transform": ["transform"],
    "filter": ["filter"], "sample": ["sample", "corpus"], "tokenizer": ["tokenizer"], "web": ["web"],
    "tokens": ["tokens"], "pretrain": ["pretrain"], "anneal": ["anneal_data", "anneal"], "import": ["import"],
    "synthetic": ["synthetic"],
    "sft_doctests": ["sft/doctests.jsonl", "sft/doctests.dropped.parquet", "sft/doctests.stats.json"],
    "sft_stage1": ["sft/stage1"], "sft_stage2": ["sft/stage2"], "hf": ["hf_export"], "hf_instruct": ["hf_instruct"], "eval": ["eval"],
    "eval_instruct": ["eval_instruct"], "model": ["model"], "model_instruct": ["model_instruct"],
    "report": ["report"], "publish": ["publish"],
}


def _get(config: Mapping, dotted: str):
    if dotted == "*":
        return {k: v for k, v in config.items() if k != "variants"}
    node = config
    for key in dotted.split("."):
        node = node.get(key) if isinstance(node, Mapping) else None  # absent (an older config): None
    return node


def digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:10]


def stage_keys(config: Mapping) -> dict[str, str]:
    """stage -> the digest of its settings and of the keys of the stages it reads from."""
    keys: dict[str, str] = {}
    for stage, (reads, upstream) in stage_graph(config).items():
        keys[stage] = digest({"stage": stage, "settings": {k: _get(config, k) for k in reads},
                              "upstream": {u: keys[u] for u in upstream}})
    return keys


def structure(config: Mapping) -> dict:
    """What shapes the build's graph of jobs rather than a job's work: one for all variants."""
    return {
        "import.source": _imported(config),
        "ingest.sources": any(s["type"] == "web" for s in config["ingest"]["sources"]),
        "tokens.groups": sorted(config["tokens"]["groups"]),
        "web.rounds": len(config["web"]["rounds"]),
        "dedup.fuzzy": len(FuzzyParams.from_config(config["dedup"]["fuzzy"]).band_ranges()),
        "eval.benchmarks": [b["name"] for b in config["eval"]["benchmarks"] if available(b) is None],
        "tokenizer.path": bool(config["tokenizer"]["path"]),
        "synthetic.recipes": sorted(config["synthetic"]["recipes"]),
    }


def differences(base: Mapping, other: Mapping, prefix: str = "") -> dict[str, tuple]:
    """dotted key -> (base value, other value) for every leaf where the two configs differ."""
    out: dict[str, tuple] = {}
    for key in sorted(set(base) | set(other), key=str):
        where = f"{prefix}{key}"
        a, b = base.get(key), other.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out.update(differences(a, b, where + "."))
        elif a != b:
            out[where] = (a, b)
    return out


def duplicate_names(path: str | Path) -> list[str]:
    """Variant names given twice in one config file (YAML keeps the last one silently)."""
    try:
        node = yaml.compose(Path(path).read_text())
    except (OSError, yaml.YAMLError):
        return []  # the config's own loading reports these
    if not isinstance(node, yaml.MappingNode):
        return []
    section = next((v for k, v in node.value if getattr(k, "value", None) == "variants"), None)
    if not isinstance(section, yaml.MappingNode):
        return []
    names = [k.value for k, _ in section.value]
    return sorted({n for n in names if names.count(n) > 1})


@dataclass
class Plan:
    """The build's variants (none: a single build) and where each one's stages go."""

    out_dir: str
    base: dict
    variants: dict[str, dict] = field(default_factory=dict)  # name -> full config; BASE first
    keys: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> stage -> key
    by_key: dict[str, tuple[dict, dict]] = field(default_factory=dict)  # key -> (a config having it, its keys)

    def root(self, stage: str, key: str | None = None) -> str:
        """The folder `stage` writes under, for the build a job of key `key` (any stage's) belongs to
        (none: the base): `out_dir`, or with variants `out_dir/<stage>-<its key>`."""
        if not self.variants:
            return self.out_dir
        keys = self._known(key)[1] if key is not None else self.keys[BASE]
        return f"{self.out_dir}/{stage}-{keys[stage]}"

    def _known(self, key: str) -> tuple[dict, dict]:
        if key not in self.by_key:
            raise ConfigError(f"{self.out_dir}: no stage of any variant has the key {key!r} (a path of an older "
                              "config?); ask for compare, variant_<name> or a path of this config")
        return self.by_key[key]

    def variant_root(self, name: str, stage: str) -> str:
        """The folder `stage` of variant `name` writes under."""
        return f"{self.out_dir}/{stage}-{self.keys[name][stage]}"

    def links(self, name: str) -> dict[str, str]:
        """Variant `name`'s folders in the single build's layout -> where they are (its view's links)."""
        return {sub: f"{self.variant_root(name, stage)}/{sub}" for stage, subs in FOLDERS.items() for sub in subs}

    def config_of(self, key: str | None) -> dict:
        """The config of the build a job of key `key` belongs to (none, or no variants: the base)."""
        return self._known(key)[0] if key is not None and self.variants else self.base


def plan(config: Mapping, files: Sequence[str | Path] = ()) -> Plan:
    """Check the `variants` section of a validated `config` (merged from `files`); return the plan.

    Each error is one line naming the variant and the key: an unknown key or a wrong type (the
    schema's check of the merged config), a key a variant may not change (`FIXED`, or one that shapes
    the graph of jobs: `structure`), a name given twice, a variant equal to the base.
    """
    where = next((str(f) for f in reversed(files) if "variants" in (_load(f) or {})), "config")
    for f in files:
        if dup := duplicate_names(f):
            raise ConfigError(f"{f}: variants: {dup[0]!r} is given twice")
    overrides = config.get("variants") or {}
    base = {k: copy.deepcopy(v) for k, v in config.items() if k != "variants"}
    result = Plan(out_dir=str(config["out_dir"]), base=base)
    if not overrides:
        return result
    shape = structure(base)
    result.variants[BASE] = base
    seen: dict[str, str] = {}
    for name, over in overrides.items():
        name = str(name)
        if name == BASE or not NAME.match(name):
            raise ConfigError(f"{where}: variants.{name}: {'reserved for the base config' if name == BASE else 'a name is a letter, then letters, digits or _'}")
        if not isinstance(over, Mapping):
            raise ConfigError(f"{where}: variants.{name}: overrides must be a mapping, got {type(over).__name__}")
        for key in FIXED:
            if key in over:
                raise ConfigError(f"{where}: variants.{name}.{key}: a variant cannot change {key} (one for the whole build)")
        merged = deep_merge(base, over)
        try:
            validate(merged)
        except ConfigError as exc:
            raise ConfigError(f"{where}: variants.{name}: {str(exc).split(': ', 1)[1]}") from None
        if merged == base:
            raise ConfigError(f"{where}: variants.{name}: equal to the base config (its overrides change nothing)")
        for key, value in structure(merged).items():
            if value != shape[key]:
                raise ConfigError(f"{where}: variants.{name}: changes {key}, which shapes the whole build's jobs;"
                                  " make it a separate build (its own out_dir)")
        ident = digest(merged)
        if ident in seen:
            raise ConfigError(f"{where}: variants.{name}: the same config as variant {seen[ident]!r}")
        seen[ident] = name
        result.variants[name] = merged
    for name, cfg in result.variants.items():
        result.keys[name] = stage_keys(cfg)
        for key in result.keys[name].values():
            result.by_key.setdefault(key, (cfg, result.keys[name]))
    return result


def _load(path):
    try:
        return yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError):
        return None


def write_view(folder: str | Path, stage_dirs: Mapping[str, str], manifest: Mapping) -> None:
    """`folder/<sub>` as a link to each stage's folder (`stage_dirs`: sub-folder -> its real path),
    so the variant reads as a single build; `folder/variant.json` is `manifest` with those links."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for sub, target in stage_dirs.items():
        link = folder / sub
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(target, link.parent))
    tmp = folder / "variant.json.tmp"
    tmp.write_text(json.dumps({**manifest, "links": dict(stage_dirs)}, indent=2, sort_keys=True) + "\n")
    tmp.replace(folder / "variant.json")


def main(argv: Sequence[str] | None = None) -> int:
    """`opencoder variant`: one variant's folder of links to its stage directories."""
    parser = argparse.ArgumentParser(prog="opencoder variant", description=main.__doc__)
    add_io(parser, "output", help="the variant's folder (out_dir/variants/<name>)")
    parser.add_argument("--params", required=True, metavar="FILE|JSON",
                        help="{name, overrides, links: {sub-folder: stage folder}}")
    args = parser.parse_args(argv)
    spec = read_params(args.params)
    write_view(args.output, spec["links"], spec)
    return 0
