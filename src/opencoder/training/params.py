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


def stage_params(config: dict, stage: str) -> dict:
    """`{"seed", "model", "train"[, "anneal"]}` for stage "pretrain" or "anneal"."""
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
