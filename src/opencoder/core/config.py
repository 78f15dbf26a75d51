"""Load and validate the build config outside Snakemake (the CLI), with the schema Snakemake uses.

`config/config.yaml` is the embedded default; further files (e.g. `config/smoke.yaml`) are merged
over it key by key, as `snakemake --configfile` does. Validation runs before any work starts, so a
wrong type or an unknown key is reported with its place in the config and nothing is built.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path

import yaml

from opencoder.core.errors import OpencoderError

REPO = Path(__file__).resolve().parents[3]
DEFAULT_CONFIG = REPO / "config" / "config.yaml"
SCHEMA = REPO / "config" / "schema" / "config.schema.yaml"


class ConfigError(OpencoderError, ValueError):
    """An invalid config: the message names the file and the offending key."""


def deep_merge(base: Mapping, over: Mapping) -> dict:
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def validate(config: dict, where: str = "config") -> dict:
    """Validate against the schema (the same call Snakemake's `validate` makes); return config."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate as snakemake_validate

    try:
        snakemake_validate(config, str(SCHEMA))
    except WorkflowError as exc:
        raise ConfigError(f"{where}: invalid config: {exc}") from None
    return config


def load(*paths: str | Path, base: str | Path | None = DEFAULT_CONFIG) -> dict:
    """Merge `base` and `paths` in order, validate, and return the config."""
    config: dict = {}
    files = ([Path(base)] if base else []) + [Path(p) for p in paths]
    for path in files:
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: a config file must be a mapping, got {type(data).__name__}")
        config = deep_merge(config, data)
    return validate(config, where=" + ".join(str(p) for p in files))


def section(config: Mapping, dotted: str):
    """`section(cfg, "dedup.fuzzy")` → cfg["dedup"]["fuzzy"]."""
    node = config
    for key in dotted.split("."):
        node = node[key]
    return node


def add_config_args(parser) -> None:
    """CLI options every stage shares: where its parameters come from."""
    parser.add_argument(
        "--config", action="append", default=[], metavar="YAML",
        help="config file(s) merged over config/config.yaml (repeatable)",
    )
    parser.add_argument(
        "--params", metavar="FILE|JSON",
        help="this stage's config section: a JSON file (what the workflow passes) or JSON text; overrides --config",
    )


def read_params(value: str):
    """`--params`: JSON text (starting with `{` or `[`) or the path of a JSON file holding it."""
    where = "--params"
    if not value.lstrip().startswith(("{", "[")):
        where = value
        try:
            value = Path(value).read_text()
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read the settings file ({exc.strerror})") from None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not valid JSON ({exc})") from None


def stage_params(args, dotted: str) -> dict:
    """The stage's parameters: `--params` if given, else its section of the merged config."""
    if args.params:
        return read_params(args.params)
    return section(load(*args.config), dotted)


def settings_file(directory: str | Path, name: str, value, write: bool = True) -> Path:
    """`value` as the JSON file `<directory>/<name>.<digest>.json` for `--params` (see args.digest_file)."""
    from opencoder.core.args import digest_file

    return digest_file(directory, name, ".json", json.dumps(value, indent=2, sort_keys=True) + "\n", write)
