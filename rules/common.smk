# Shared names for all rule files: where outputs go, how a rule calls the library, its resources.
import sys

from opencoder.core.args import argument_file
from opencoder.core.config import settings_file
from opencoder.core.resources import rule_resources
from opencoder.training.params import stage_params as training_params

OUT = config["out_dir"]
PY = sys.executable  # the interpreter running Snakemake: the project's virtual environment
OPENCODER = f"{PY} -m opencoder"
# Training rules: `{LAUNCH} --nodes {resources.nodes} --gpus-per-node {resources.gpus}
# --cpus-per-task {threads} -- train ...` runs one process per GPU on every node (opencoder.training.launch).
LAUNCH = f"{PY} -m opencoder.training.launch"

wildcard_constraints:
    shard=r"[0-9]{5}",


def settings_param(name, value):
    """Params function: `value` as `{OUT}/settings/<name>.<digest>.json` for `--params FILE`. The path
    changes exactly when the settings do, so Snakemake's params trigger reruns the rule on a change,
    while the command line stays one short line. Written when a job is planned; a dry run writes nothing."""
    return lambda wildcards: str(settings_file(f"{OUT}/settings", name, value, write=not workflow.dryrun))


def settings(*keys):
    """The config section at `keys` (none: the whole config) as a settings file (see settings_param)."""
    node = config
    for key in keys:
        node = node[key]
    return settings_param(".".join(keys) or "config", node)


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
    return settings_param(f"{stage}.training", training_params(config, stage))


def res(rule_name):
    """Resources of a rule (opencoder.core.resources: default, the rule's overrides, the SLURM request)."""
    return rule_resources(config["resources"], rule_name)


def shards():
    """Shard ids produced by the ingest checkpoint (re-evaluated once ingest has run)."""
    ingest_dir = checkpoints.ingest.get().output[0]
    return sorted(glob_wildcards(f"{ingest_dir}/{{shard,[0-9]{{5}}}}.parquet").shard)


def per_shard(pattern):
    """Input function: `pattern` (with {shard}) expanded over every ingest shard."""
    return lambda wildcards: expand(pattern, shard=shards())
