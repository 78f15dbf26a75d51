"""What a rule asks of the machine: threads, memory, runtime, GPUs and, on SLURM, its sbatch request.

`rule_resources(config["resources"], name)` is `resources.default`, overridden by
`resources.rules[name]`, completed with the keys the SLURM executor plugin reads from
`resources.cluster` (a local run ignores those). The rule files call it for every rule.
"""

from __future__ import annotations

from collections.abc import Mapping

SLURM_KEYS = (("partition", "slurm_partition"), ("account", "slurm_account"), ("extra", "slurm_extra"))


def rule_resources(resources: Mapping, rule_name: str, shards: int = 1) -> dict:
    """The resources of one rule (see the module doc); `shards`: a batch job of a per-shard rule runs that
    many shards one after the other (`resources.shards_per_job`), so its runtime is that many times one's."""
    merged = dict(resources["default"])
    merged.update(resources["rules"].get(rule_name, {}))
    merged["runtime"] *= shards
    cluster = resources["cluster"]
    if merged["gpus"] == "node":
        merged["gpus"] = cluster["gpus_per_node"]
    if merged["gpus"]:  # per node, so it also holds for multi-node jobs (sbatch --gpus is per job)
        merged["gres"] = ":".join(["gpu", *filter(None, [cluster["gpu_model"]]), str(merged["gpus"])])
    if merged["nodes"] > 1:  # the rule's own srun starts one launcher per node (opencoder.training.launch)
        merged.update(mpi="srun", tasks=merged["nodes"], tasks_per_gpu=0)
    for key, name in SLURM_KEYS:
        if cluster[key]:
            merged[name] = cluster[key]
    return merged
