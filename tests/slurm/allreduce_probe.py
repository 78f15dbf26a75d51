"""Worker for the multi-node launch test: every rank joins one gloo process group, sums its rank and
gathers its SLURM node; rank 0 writes what it saw to the JSON file named by argv[1]."""

import json
import os
import sys

import torch
import torch.distributed as dist

dist.init_process_group("gloo")
total = torch.tensor([dist.get_rank() + 1])
dist.all_reduce(total)
nodes = [None] * dist.get_world_size()
dist.all_gather_object(nodes, {"rank": dist.get_rank(), "node_id": os.environ["SLURM_NODEID"],
                               "node": os.environ["SLURMD_NODENAME"]})
if dist.get_rank() == 0:
    with open(sys.argv[1], "w") as f:
        json.dump({"world_size": dist.get_world_size(), "sum": int(total), "ranks": nodes}, f)
dist.destroy_process_group()
