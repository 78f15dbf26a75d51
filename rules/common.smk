# Shared names for all rule files: where outputs go, how a rule calls the library, its resources.
import json
import sys

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
    """Resources of a rule: resources.default, overridden by resources.rules[rule_name], completed
    with the SLURM request from resources.cluster (keys the plugin reads; local runs ignore them)."""
    merged = dict(config["resources"]["default"])
    merged.update(config["resources"]["rules"].get(rule_name, {}))
    cluster = config["resources"]["cluster"]
    if merged["gpus"] == "node":
        merged["gpus"] = cluster["gpus_per_node"]
    if merged["gpus"]:  # per node, so it also holds for multi-node jobs (sbatch --gpus is per job)
        merged["gres"] = ":".join(["gpu", *filter(None, [cluster["gpu_model"]]), str(merged["gpus"])])
    if merged["nodes"] > 1:  # the rule's own srun starts one launcher per node (opencoder.training.launch)
        merged.update(mpi="srun", tasks=merged["nodes"], tasks_per_gpu=0)
    for key, name in (("partition", "slurm_partition"), ("account", "slurm_account"), ("extra", "slurm_extra")):
        if cluster[key]:
            merged[name] = cluster[key]
    return merged


def shards():
    """Shard ids produced by the ingest checkpoint (re-evaluated once ingest has run)."""
    ingest_dir = checkpoints.ingest.get().output[0]
    return sorted(glob_wildcards(f"{ingest_dir}/{{shard,[0-9]{{5}}}}.parquet").shard)


def per_shard(pattern):
    """Input function: `pattern` (with {shard}) expanded over every ingest shard."""
    return lambda wildcards: expand(pattern, shard=shards())
