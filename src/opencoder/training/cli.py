"""`opencoder train`: pretrain, anneal or fine-tune (SFT stages) a model.

Run by hand (one process, or under torchrun for several) or by the `pretrain`/`anneal`/`sft_stage1`/`sft_stage2` rules through
`opencoder.training.launch`, which starts one worker per GPU on every node. Nothing heavy is imported at the
top: dist_checkpointing spawns helper processes that re-import the entry module.
"""

from __future__ import annotations

import argparse
import logging

from opencoder.core.args import add_io
from opencoder.core.config import ConfigError, add_config_args, load, read_params
from opencoder.training.params import TRAIN_STAGES, stage_params


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="opencoder train", description=__doc__.splitlines()[0])
    p.add_argument("--stage", choices=TRAIN_STAGES, default="pretrain")
    add_io(p, "input", "--blend",
           help="blend.json of the token datasets to train on (SFT stages: packed.npz of sft-pack)")
    add_io(p, "output", "--out", help="final checkpoint directory")
    p.add_argument("--work", required=True, help="directory of intermediate checkpoints (the resume point)")
    p.add_argument("--metrics", required=True, help="metrics.jsonl, written at the end")
    p.add_argument("--init-from", help="checkpoint to start from (annealing: the pretrain checkpoint)")
    add_config_args(p)
    p.epilog = "--params: opencoder.training.params.stage_params as JSON (seed, model, train[, anneal | sft])"
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    params = read_params(args.params) if args.params else stage_params(load(*args.config), args.stage)
    if args.stage != "pretrain" and not args.init_from:
        raise ConfigError(f"--stage {args.stage} needs --init-from (the checkpoint it starts from)")
    logging.getLogger("megatron").setLevel(logging.WARNING)
    import torch.distributed as dist

    from opencoder.training.loop import run

    run(args.stage, params, blend_path=args.input, out=args.output, work=args.work,
        metrics_out=args.metrics, init_from=args.init_from)
    dist.destroy_process_group()
    return 0
