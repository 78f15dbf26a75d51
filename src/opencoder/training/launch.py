"""Start a stage with one process per GPU on every node of the job: `python -m opencoder.training.launch`.

    python -m opencoder.training.launch --nodes N --gpus-per-node G --cpus-per-task C -- train --params ...

megatron-core trains with one process per GPU (torch.distributed). Three cases:

- one node with at most one GPU (a laptop, CI, a one-GPU job): the stage runs in this process;
- one node with several GPUs: `torchrun --standalone`, one worker per GPU;
- several nodes (a SLURM job): in the job's batch step this module calls `srun` to start itself
  once per node; each copy starts torchrun with the node's rank (SLURM_NODEID) and the first host
  of the allocation (SLURM_JOB_NODELIST, expanded by `scontrol show hostnames`) as the rendezvous.

Nodes, tasks and CPUs are passed to srun explicitly: the Snakemake SLURM plugin clears the job's
SLURM_* variables before the rule runs (a bare srun would start one task on one node); inside the
srun tasks SLURM sets them again. The rule's resources give the numbers (rules/common.smk: res).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys

log = logging.getLogger(__name__)

PER_NODE_ENV = "OPENCODER_LAUNCH_PER_NODE"  # set by the srun path: this copy is one node's launcher


def _scontrol(*args: str) -> str:
    return subprocess.run(["scontrol", *args], capture_output=True, text=True, check=True).stdout


def master_address(nodelist: str) -> str:
    """Address of the first node of a SLURM node list such as `gpu[01-04],gpu07`: the NodeAddr
    SLURM itself reaches it at (a node name need not resolve in DNS)."""
    hosts = _scontrol("show", "hostnames", nodelist).split()
    if not hosts:
        raise RuntimeError(f"scontrol show hostnames {nodelist!r} returned no host")
    fields = dict(f.split("=", 1) for f in _scontrol("show", "node", "-o", hosts[0]).split() if "=" in f)
    return fields.get("NodeAddr") or hosts[0]


def torchrun_command(stage_argv: list[str], *, nnodes: int, nproc: int, node_rank: int = 0,
                     master: str | None = None, port: int = 29500, module: str = "opencoder") -> list[str]:
    """torchrun running `python -m <module> <stage_argv>` with `nproc` workers on this node."""
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}"]
    if nnodes == 1:
        cmd.append("--standalone")
    else:
        cmd += [f"--nnodes={nnodes}", f"--node-rank={node_rank}", f"--master-addr={master}", f"--master-port={port}"]
    return cmd + ["-m", module, *stage_argv]


def srun_command(argv: list[str], *, nodes: int, cpus_per_task: int) -> list[str]:
    """srun starting this module once per node with the same arguments."""
    return ["srun", f"--nodes={nodes}", f"--ntasks={nodes}", "--ntasks-per-node=1",
            f"--cpus-per-task={cpus_per_task}", "--kill-on-bad-exit=1",
            sys.executable, "-m", "opencoder.training.launch", *argv]


def plan(argv: list[str], env: dict[str, str]) -> list[str] | None:
    """The command to run for `argv` in `env`, or None to run the stage in this process."""
    args, stage_argv = _parse(argv)
    if args.nodes == 1:
        if args.gpus_per_node > 1:
            return torchrun_command(stage_argv, nnodes=1, nproc=args.gpus_per_node, module=args.module)
        return None if args.module == "opencoder" else [sys.executable, "-m", args.module, *stage_argv]
    if env.get(PER_NODE_ENV) != "1":
        if "SLURM_JOB_ID" not in env:
            raise RuntimeError(f"--nodes {args.nodes} needs a SLURM allocation (SLURM_JOB_ID is not set)")
        return srun_command(argv, nodes=args.nodes, cpus_per_task=args.cpus_per_task)
    nnodes = int(env["SLURM_NNODES"])
    if nnodes != args.nodes:
        raise RuntimeError(f"the allocation has {nnodes} nodes, the rule asked for {args.nodes}")
    return torchrun_command(stage_argv, nnodes=nnodes, nproc=max(1, args.gpus_per_node),
                            node_rank=int(env["SLURM_NODEID"]), master=master_address(env["SLURM_JOB_NODELIST"]),
                            port=args.port, module=args.module)


def _parse(argv: list[str]):
    if "--" not in argv:
        raise SystemExit("usage: python -m opencoder.training.launch [options] -- <stage> [stage options]")
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="python -m opencoder.training.launch", description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--gpus-per-node", type=int, default=0)
    parser.add_argument("--cpus-per-task", type=int, default=1, help="CPUs of each node's launcher (srun)")
    parser.add_argument("--port", type=int, default=29500, help="rendezvous port on the first node")
    parser.add_argument("--module", default="opencoder", help="module the workers run (default: the stage CLI)")
    args = parser.parse_args(argv[:split])
    stage_argv = argv[split + 1:]
    if not stage_argv:
        parser.error("no stage after --")
    if args.nodes < 1 or args.gpus_per_node < 0:
        parser.error("--nodes must be >= 1 and --gpus-per-node >= 0")
    return args, stage_argv


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    cmd = plan(argv, dict(os.environ))
    if cmd is None:
        from opencoder.cli import main as stage_main

        return stage_main(_parse(argv)[1])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log.info("launching: %s", " ".join(cmd))
    env = dict(os.environ)
    if cmd[0] == "srun":
        env[PER_NODE_ENV] = "1"
    return subprocess.run(cmd, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
