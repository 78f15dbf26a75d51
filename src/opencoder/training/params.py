"""The parameters of a training stage: the chosen model shape and its training recipe, and nothing else.

A rule's params are exactly what this returns, so changing an evaluation setting (or the shape of a
model not being built) does not retrain, while changing the model or its training does. Kept free
of heavy imports: the workflow calls it while it parses the rules.
"""

from __future__ import annotations

import copy

from opencoder.core.config import ConfigError


def _with_recipe(section: dict, model_name: str) -> dict:
    """A section's common settings with the chosen model's recipe merged over them."""
    merged = {k: copy.deepcopy(v) for k, v in section.items() if k not in ("recipes", "data")}
    merged.update(copy.deepcopy(section.get("recipes", {}).get(model_name, {})))
    return merged


SFT_STAGES = ("stage1", "stage2")
# sft.strategy (paper 7, Table 10): both stages in turn (the recipe), stage 1 alone, or one stage on both
# stages' data shuffled together ("Mix"); the paper: two stages 70.1 HumanEval, stage 1 alone 52.4, Mix 55.5
SFT_STRATEGIES = ("two_stage", "stage1", "mixed")


def sft_stages(config: dict) -> tuple[str, ...]:
    """The SFT stages `config` trains, in order: the last one is the chat model."""
    return SFT_STAGES if config["sft"].get("strategy", "two_stage") == "two_stage" else SFT_STAGES[:1]


def sft_sources(config: dict, stage: str) -> list[dict]:
    """The instruction sources of SFT `stage`: its own; with strategy `mixed`, stage 1 takes both stages'
    (a source both name, e.g. the embedded default's doctests, once, at stage 1's weight)."""
    sources = [dict(s) for s in config["sft"][stage]["sources"]]
    if stage == "stage1" and config["sft"].get("strategy", "two_stage") == "mixed":
        seen = {(s["name"], s.get("path"), s.get("builtin"), s.get("synthetic")) for s in sources}
        sources += [dict(s) for s in config["sft"]["stage2"]["sources"]
                    if (s["name"], s.get("path"), s.get("builtin"), s.get("synthetic")) not in seen]
    return sources


def synthetic_recipes(config: dict) -> list[str]:
    """The synthetic recipes the build trains on (anneal.data.synthetic, the trained SFT stages'
    `synthetic:` sources), once each in that order; the others are built by the `synthetic` target only."""
    names = [*config["anneal"]["data"]["synthetic"],
             *(s["synthetic"] for stage in sft_stages(config) for s in sft_sources(config, stage) if "synthetic" in s)]
    return list(dict.fromkeys(names))


# every stage `opencoder train --stage` runs
TRAIN_STAGES = ("pretrain", "anneal", *(f"sft_{s}" for s in SFT_STAGES))


def stage_params(config: dict, stage: str) -> dict:
    """`{"seed", "model", "train"[, "anneal"]}` for stage "pretrain" or "anneal"; an SFT stage
    ("sft_stage1", "sft_stage2"): `sft_params`."""
    if stage.startswith("sft_"):
        return sft_params(config, stage.removeprefix("sft_"))
    name = config["model"]["name"]
    shapes = config["model"]["shapes"]
    if name not in shapes:
        raise ConfigError(f"model.name {name!r} is not one of model.shapes ({', '.join(shapes)})")
    params = {
        "seed": config["seed"],
        "model": {"name": name, **copy.deepcopy(shapes[name])},
        "train": _with_recipe(config["train"], name),
    }
    if stage == "anneal":
        params["anneal"] = _with_recipe(config["anneal"], name)
    return params


# pretraining's schedule keys, which an SFT stage replaces with its own (cosine over its epochs)
_PRETRAIN_SCHEDULE = ("steps", "warmup_steps", "decay_steps", "decay_style")


def sft_params(config: dict, stage: str) -> dict:
    """`{"seed", "model", "train", "sft"}` of SFT stage "stage1"/"stage2": the training recipe with the
    stage's own batch, length and schedule over it (`sft.recipes.<model>.<stage>` over `sft.<stage>`)
    and the local layer spec; the sources are the data rule's, not the training's."""
    params = stage_params(config, "pretrain")
    own = {k: copy.deepcopy(v) for k, v in config["sft"][stage].items() if k != "sources"}
    own.update(copy.deepcopy(config["sft"].get("recipes", {}).get(params["model"]["name"], {}).get(stage, {})))
    train = {k: v for k, v in params["train"].items() if k not in _PRETRAIN_SCHEDULE}
    # packed conversations need their block-diagonal attention mask, which only the local spec's SDPA
    # core attention applies (Transformer Engine's causal attention would ignore it)
    train["layer_spec"] = "local"
    sft = {"stage": stage}
    for key, value in own.items():
        (sft if key in ("epochs", "warmup_steps") else train)[key] = value
    params.update(train=train, sft=sft)
    return params
