"""Load and validate the build config outside Snakemake (the CLI), with the schema Snakemake uses.

`config/config.yaml` is the embedded default; further files (e.g. `config/smoke.yaml`) are merged
over it key by key, as `snakemake --configfile` does. Validation runs before any work starts, so a
wrong type or an unknown key is reported with its place in the config and nothing is built.

The files are found through the package: `src/opencoder/config` is a link to the checkout's
`config/` (the one copy users edit and Snakemake reads), and a built wheel carries them as package
data, so an installed `opencoder <stage>` has its defaults and schemas outside any checkout.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import yaml

from opencoder.core.errors import OpencoderError

CONFIG_DIR = (Path(__file__).parents[1] / "config").resolve()
DEFAULT_CONFIG = CONFIG_DIR / "config.yaml"
SCHEMA = CONFIG_DIR / "schema" / "config.schema.yaml"


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


@functools.cache
def _validator():
    """A JSON-schema validator of config.schema.yaml, its `$ref`s resolved against its folder."""
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    def retrieve(uri: str) -> Resource:
        return Resource.from_contents(yaml.safe_load(Path(url2pathname(urlparse(uri).path)).read_text()))

    schema = yaml.safe_load(SCHEMA.read_text())
    schema["$id"] = SCHEMA.resolve().as_uri()
    return Draft202012Validator(schema, registry=Registry(retrieve=retrieve))


def _has(data, keys: Sequence) -> bool:
    for key in keys:
        if isinstance(data, Mapping) and key in data:
            data = data[key]
        elif isinstance(data, list) and isinstance(key, int) and key < len(data):
            data = data[key]
        else:
            return False
    return True


def references(config: Mapping) -> Iterator[tuple[list, str]]:
    """(keys, problem) for each key naming a synthetic recipe that `synthetic.recipes` lacks: checks
    of one key against another, which the schema cannot express."""
    known = config["synthetic"]["recipes"]
    named = [(["anneal", "data", "synthetic", name], name) for name in config["anneal"]["data"]["synthetic"]]
    named += [(["sft", stage, "sources", i, "synthetic"], source["synthetic"])
              for stage in ("stage1", "stage2") for i, source in enumerate(config["sft"][stage]["sources"])
              if "synthetic" in source]
    for keys, name in named:
        if name not in known:
            close = difflib.get_close_matches(str(name), list(known), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(known)) or 'none'}"
            yield keys, f"{name!r} is not a recipe of synthetic.recipes ({hint})"


def validate(config: dict, files: Sequence[str | Path] = (), where: str = "config", given: Mapping | None = None) -> dict:
    """Check `config` against the schema and its cross-key `references` (the workflow's and the CLI's
    one check); return it.

    An error is one line: where the offending key was set (`where` if `given`, the values given on the
    command line over every file, holds it; else the last of `files` holding it; else `where`), the
    key, and what is wrong with it; never the config itself.
    """
    error = next(iter(sorted(_validator().iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))), None)
    if error is None:
        for keys, message in references(config):
            _fail(keys, message, files, where, given)
        return config
    keys = list(error.absolute_path)
    message = error.message
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        keys.append(unknown[0])
        close = difflib.get_close_matches(str(unknown[0]), list(error.schema.get("properties", {})), n=1)
        message = "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    elif len(message) > 200:  # messages of composite checks repeat the whole value
        message = f"fails the schema's {error.validator!r} check"
    _fail(keys, message, files, where, given)


def _fail(keys: list, message: str, files: Sequence[str | Path], where: str, given: Mapping | None):
    """Raise the one-line error for `keys`, naming where they were set (see validate)."""
    source = where if given and _has(given, keys) else next(
        (str(f) for f in reversed(files) if _has(yaml.safe_load(Path(f).read_text()), keys)), where)
    raise ConfigError(f"{source}: {'.'.join(map(str, keys)) or '(top level)'}: {message}")


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
    return validate(config, files, where=" + ".join(str(p) for p in files))


def typed_overrides(overrides: Mapping) -> dict:
    """Snakemake's `--config` values with their types: a nested value (`resources={shards_per_job: 100}`,
    which a workflow profile's `config:` mapping becomes) reaches the workflow with every leaf a string
    ("100"), so each leaf below the top level is read back as YAML. Top-level values are typed already."""
    def typed(value):
        if isinstance(value, Mapping):
            return {key: typed(item) for key, item in value.items()}
        if isinstance(value, list):
            return [typed(item) for item in value]
        if isinstance(value, str):
            try:
                return yaml.safe_load(value)
            except yaml.YAMLError:
                return value
        return value

    return {key: typed(value) if isinstance(value, (Mapping, list)) else value for key, value in overrides.items()}


def check_shards_per_job(files: Sequence[str | Path], overrides: Mapping) -> None:
    """Stop when a config file sets `resources.shards_per_job` and `--config` (the command line's, or the
    workflow profile's `config:` — profiles/slurm sets 100) sets another value: `--config` would win
    without a word, and the user who wrote the file would build at a job size they did not choose."""
    given = (overrides.get("resources") or {}).get("shards_per_job") if isinstance(overrides.get("resources"), Mapping) else None
    if given is None:
        return
    for path in reversed([Path(f) for f in files]):
        data = yaml.safe_load(path.read_text()) if path.is_file() else None
        if _has(data, ["resources", "shards_per_job"]):
            value = data["resources"]["shards_per_job"]
            if value != given:
                raise ConfigError(
                    f"{path}: resources.shards_per_job: {value!r} here, but --config sets {given!r} (given on the command"
                    f" line, or by the workflow profile's `config:`: profiles/slurm sets 100) and would win; choose one:"
                    f" remove the key from {path} to build at {given!r}, or pass --config 'resources={{shards_per_job:"
                    f" {value!r}}}' (it replaces the profile's) to build at {value!r}")
            return


def with_overrides(config: dict, overrides: Mapping, files: Sequence[str | Path]) -> dict:
    """Snakemake's `config` with the `--config` values (`overrides`) typed (`typed_overrides`), once
    `check_shards_per_job` has passed; changed in place, as the rule files share it."""
    typed = typed_overrides(overrides)
    check_shards_per_job(files, typed)
    config.update(deep_merge(config, typed))
    return config


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
