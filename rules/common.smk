# Shared names for all rule files: where outputs go, how a rule calls the library, its resources.
import json
import sys

from opencoder.core.resources import rule_resources

OUT = config["out_dir"]
PY = sys.executable  # the interpreter running Snakemake: the project's virtual environment
OPENCODER = f"{PY} -m opencoder"
# Training rules: `{LAUNCH} --nodes {resources.nodes} --gpus-per-node {resources.gpus}
# --cpus-per-task {threads} -- train ...` runs one process per GPU on every node (opencoder.training.launch).
LAUNCH = f"{PY} -m opencoder.training.launch"

wildcard_constraints:
    shard=r"[0-9]{5}",


def params_json(*keys):
    """A config section as compact JSON for `--params`; a change to it reruns the rule (params trigger)."""
    node = config
    for key in keys:
        node = node[key]
    return json.dumps(node, sort_keys=True, separators=(",", ":"))


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
