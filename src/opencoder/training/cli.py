"""`opencoder train`: pretrain, anneal or fine-tune (SFT stages) a model.

Run by hand (one process, or under torchrun for several) or by the `pretrain`/`anneal` rules through
`opencoder.training.launch`, which starts one worker per GPU on every node. Nothing heavy is imported at the
top: dist_checkpointing spawns helper processes that re-import the entry module.
"""

from __future__ import annotations

import argparse
import json
import logging

from opencoder.core.config import add_config_args, load
from opencoder.training.params import SFT_STAGES, sft_params, stage_params

SFT_TRAIN_STAGES = [f"sft_{s}" for s in SFT_STAGES]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="opencoder train", description=__doc__.splitlines()[0])
    p.add_argument("--stage", choices=["pretrain", "anneal", *SFT_TRAIN_STAGES], default="pretrain")
    p.add_argument("--blend", required=True,
                   help="blend.json of the token datasets to train on (SFT stages: packed.npz of sft-pack)")
    p.add_argument("--out", required=True, help="final checkpoint directory")
    p.add_argument("--work", required=True, help="directory of intermediate checkpoints (the resume point)")
    p.add_argument("--metrics", required=True, help="metrics.jsonl, written at the end")
    p.add_argument("--init-from", help="checkpoint to start from (annealing: the pretrain checkpoint)")
    add_config_args(p)
    p.epilog = "--params: the JSON of opencoder.training.params.stage_params (seed, model, train[, anneal]) or sft_params"
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.params:
        params = json.loads(args.params)
    elif args.stage in SFT_TRAIN_STAGES:
        params = sft_params(load(*args.config), args.stage.removeprefix("sft_"))
    else:
        params = stage_params(load(*args.config), args.stage)
    if args.stage != "pretrain" and not args.init_from:
        raise SystemExit(f"opencoder train: --stage {args.stage} needs --init-from (the checkpoint it starts from)")
    logging.getLogger("megatron").setLevel(logging.WARNING)
    import torch.distributed as dist

    from opencoder.training.loop import run

    run(args.stage, params, blend_path=args.blend, out=args.out, work=args.work,
        metrics_out=args.metrics, init_from=args.init_from)
    dist.destroy_process_group()
    return 0
