"""`opencoder train`: pretrain or anneal a model from a blend of token datasets.

Run by hand (one process, or under torchrun for several) or by the `pretrain`/`anneal` rules through
`opencoder.training.launch`, which starts one worker per GPU on every node. Nothing heavy is imported at the
top: dist_checkpointing spawns helper processes that re-import the entry module.
"""

from __future__ import annotations

import argparse
import logging

from opencoder.core.args import add_io
from opencoder.core.config import ConfigError, add_config_args, load, read_params
from opencoder.training.params import stage_params


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="opencoder train", description=__doc__.splitlines()[0])
    p.add_argument("--stage", choices=["pretrain", "anneal"], default="pretrain")
    add_io(p, "input", "--blend", help="blend.json of the token datasets to train on")
    add_io(p, "output", "--out", help="final checkpoint directory")
    p.add_argument("--work", required=True, help="directory of intermediate checkpoints (the resume point)")
    p.add_argument("--metrics", required=True, help="metrics.jsonl, written at the end")
    p.add_argument("--init-from", help="checkpoint to start from (annealing: the pretrain checkpoint)")
    add_config_args(p)
    p.epilog = "--params: opencoder.training.params.stage_params as JSON (seed, model, train[, anneal])"
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    params = read_params(args.params) if args.params else stage_params(load(*args.config), args.stage)
    if args.stage == "anneal" and not args.init_from:
        raise ConfigError("--stage anneal needs --init-from (the pretrain checkpoint)")
    logging.getLogger("megatron").setLevel(logging.WARNING)
    import torch.distributed as dist

    from opencoder.training.loop import run

    run(args.stage, params, blend_path=args.input, out=args.output, work=args.work,
        metrics_out=args.metrics, init_from=args.init_from)
    dist.destroy_process_group()
    return 0
