# Shared names for all rule files: where outputs go, how a rule calls the library, its resources.
import os
import shlex
import sys

from opencoder.core.args import argument_file
from opencoder.core.config import DEFAULT_CONFIG, settings_file
from opencoder.core.resources import rule_resources
from opencoder.core.variants import plan as variant_plan
from opencoder.training.params import stage_params as training_params

OUT = config["out_dir"]
# Variants (config `variants`, opencoder.core.variants): none, and every stage writes under OUT as a
# single build; some, and a stage writes under OUT/<stage>-<key>, the key a digest of the settings that
# reach it, so variants agreeing up to a stage share its jobs. A rule's paths start with R("<stage>"),
# its inputs from other stages are up("<stage>", "<path under the stage root>"), and what it reads of
# the config comes from cfg(wildcards): the config of the build its job belongs to.
PLAN = variant_plan(config, [DEFAULT_CONFIG, *workflow.overwrite_configfiles])
VARIANTS = PLAN.variants  # name -> config, the base first; empty for a single build
PY = sys.executable  # the interpreter running Snakemake: the project's virtual environment
OPENCODER = f"{PY} -m opencoder"
# Training rules: `{LAUNCH} --nodes {resources.nodes} --gpus-per-node {resources.gpus}
# --cpus-per-task {threads} -- train ...` runs one process per GPU on every node (opencoder.training.launch).
LAUNCH = f"{PY} -m opencoder.training.launch"

wildcard_constraints:
    shard=r"[0-9]{5}",
    key=r"[0-9a-f]{10}",


def R(stage):
    """Where `stage`'s rules write: OUT, or with variants OUT/<stage>-{key} (the job's key wildcard)."""
    return f"{OUT}/{stage}-{{key}}" if VARIANTS else OUT


def cfg(wildcards=None):
    """The config of the build a job belongs to (its key wildcard); the base config without variants."""
    return PLAN.config_of(wildcards.get("key") if wildcards is not None else None)


def root(stage, wildcards=None):
    """`stage`'s root folder in the build of the job with these wildcards (see R)."""
    return PLAN.root(stage, wildcards.get("key") if wildcards is not None else None)


def up(stage, path, each=None):
    """Input function: `path` (wildcards in braces, e.g. "transform/{shard}.parquet") under `stage`'s root
    in the job's build; `each`: expanded over every ingest shard ({shard})."""
    def paths(wildcards):
        values = dict(wildcards.items())
        if each == "shard":
            return [f"{root(stage, wildcards)}/{path}".format(**values, shard=s) for s in shards(wildcards)]
        return f"{root(stage, wildcards)}/{path}".format(**values)
    return paths


def settings_param(name, value):
    """Params function: `value` (or `value(config)` of the job's build) as `{OUT}/settings/<name>.<digest>.json`
    for `--params FILE`. The path changes exactly when the settings do, so Snakemake's params trigger
    reruns the rule on a change, while the command line stays one short line. Written when a job is
    planned; a dry run writes nothing."""
    made = {}  # key -> path: once per build, not once per shard

    def param(wildcards):
        key = wildcards.get("key")
        if key not in made:
            given = value(cfg(wildcards)) if callable(value) else value
            made[key] = str(settings_file(f"{OUT}/settings", name, given, write=not workflow.dryrun))
        return made[key]
    return param


def settings(*keys):
    """The config section at `keys` (none: the whole config) as a settings file (see settings_param)."""
    def section(build):
        node = build
        for key in keys:
            node = node[key]
        return node
    return settings_param(".".join(keys) or "config", section)


def listed(key=None, each=str):
    """Params function: the rule's input list `key` (none: all its input), each item mapped by `each`,
    as `@{OUT}/args/<key>.<digest>.args` (one argument a line, expanded by `opencoder`), so a
    command stays one short line at any number of shards."""
    def param(wildcards, input):
        items = [each(item) for item in (getattr(input, key) if key else input)]
        return "@" + str(argument_file(f"{OUT}/args", key or "input", items, write=not workflow.dryrun))
    return param


def training_settings(stage):
    """A training stage's params (the model shape and its recipe: opencoder.training.params) as a settings file."""
    return settings_param(f"{stage}.training", lambda build: training_params(build, stage))


def res(rule_name):
    """Resources of a rule (opencoder.core.resources: default, the rule's overrides, the SLURM request)."""
    return rule_resources(config["resources"], rule_name)


_SHARDS = {}


def shards(wildcards=None):
    """Shard ids produced by the ingest checkpoint of the job's build (re-evaluated once ingest has run)."""
    ingest = root("ingest", wildcards)
    done = checkpoints.ingest.get(**({"key": ingest.rsplit("-", 1)[1]} if VARIANTS else {})).output[0]
    seen = (done, os.stat(done).st_mtime_ns)  # once per ingest run, not once per job (2,000 shards x every rule)
    if seen not in _SHARDS:
        _SHARDS[seen] = sorted(glob_wildcards(f"{done}/{{shard,[0-9]{{5}}}}.parquet").shard)
    return _SHARDS[seen]


def per_shard(stage, path):
    """Input function: `path` under `stage`'s root (see up) expanded over every ingest shard."""
    return up(stage, path, each="shard")
